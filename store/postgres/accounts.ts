/**
 * Operators' accounts and their sessions in PostgreSQL, with the semantics of
 * store/duckdb/accounts.ts: users listed by name (byte order), exact-case lookups, a duplicate
 * name refused, `false` from updateUser and deleteUser when there is no such user.
 */
import type { AccountRepository, SessionRecord, UserRecord } from '../types.js';
import { ms, num, strOrNull, type PostgresDatabase, type Row } from './database.js';

const USER_COLUMNS = 'username, role, password_hash, created_at, disabled, district';

export class PgAccounts implements AccountRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async getUser(username: string): Promise<UserRecord | null> {
    const rows = await this.db.rows(`SELECT ${USER_COLUMNS} FROM users WHERE username = $1`, [username]);
    return rows[0] ? toUser(rows[0]) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return (await this.db.rows(`SELECT ${USER_COLUMNS} FROM users ORDER BY username`)).map(toUser);
  }

  async insertUser(u: UserRecord): Promise<void> {
    await this.db.run(`INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`,
      [u.username, u.role, u.passwordHash, ms(u.createdAt), u.disabled, u.district]);
  }

  /**
   * One statement whatever the patch holds: a field left out keeps its value (role, hash and
   * disabled are never NULL, so NULL stands for "left out"; district may be set to NULL, so it
   * has a flag of its own). An empty patch still finds the user: true, nothing changed.
   */
  async updateUser(username: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'district'>>): Promise<boolean> {
    const changed = await this.db.run(`UPDATE users SET role = coalesce($2::text, role), password_hash = coalesce($3::text, password_hash),
      disabled = coalesce($4::boolean, disabled), district = CASE WHEN $5::boolean THEN $6::text ELSE district END WHERE username = $1`,
    [username, patch.role ?? null, patch.passwordHash ?? null, patch.disabled ?? null, patch.district !== undefined, patch.district ?? null]);
    return changed > 0;
  }

  /** The user first: with no such user, sessions under the name are left as DuckDB leaves them. */
  deleteUser(username: string): Promise<boolean> {
    return this.db.tx(async (c) => {
      const gone = (await c.query('DELETE FROM users WHERE username = $1', [username])).rowCount ?? 0;
      if (!gone) return false;
      await c.query('DELETE FROM sessions WHERE username = $1', [username]);
      return true;
    });
  }

  async loadSessions(): Promise<SessionRecord[]> {
    return (await this.db.rows('SELECT token_hash, username, created_at, expires_at FROM sessions')).map(sessionOf);
  }

  /** Every session of these users, for a node told another changed them (cluster/changeBus.ts). */
  async sessionsOf(usernames: readonly string[]): Promise<SessionRecord[]> {
    return (await this.db.rows('SELECT token_hash, username, created_at, expires_at FROM sessions WHERE username = ANY($1::text[])', [[...usernames]])).map(sessionOf);
  }

  /** One session by its token's hash (cluster mode: a token another node has just issued, accounts/sessions.ts). */
  async sessionByHash(tokenHash: string): Promise<SessionRecord | null> {
    return (await this.db.rows('SELECT token_hash, username, created_at, expires_at FROM sessions WHERE token_hash = $1', [tokenHash])).map(sessionOf)[0] ?? null;
  }

  async insertSession(s: SessionRecord): Promise<void> {
    await this.db.run('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      [s.tokenHash, s.username, ms(s.createdAt), ms(s.expiresAt)]);
  }

  async deleteSessions(tokenHashes: readonly string[]): Promise<void> {
    if (!tokenHashes.length) return;
    // one statement, one array parameter: all of them or none
    await this.db.run('DELETE FROM sessions WHERE token_hash = ANY($1::text[])', [[...tokenHashes]]);
  }
}

function toUser(r: Row): UserRecord {
  return {
    username: String(r.username), role: String(r.role) as UserRecord['role'], passwordHash: String(r.password_hash), createdAt: num(r.created_at),
    disabled: r.disabled === true, district: strOrNull(r.district),
  };
}

function sessionOf(r: Row): SessionRecord {
  return { tokenHash: String(r.token_hash), username: String(r.username), createdAt: num(r.created_at), expiresAt: num(r.expires_at) };
}
