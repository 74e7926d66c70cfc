/** Operators' accounts and their sessions in DuckDB. */
import type { AccountRepository, SessionRecord, UserRecord } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { all, placeholders, type Row } from './sql.js';

const USER_COLUMNS = 'username, role, password_hash, epoch_ms(created_at)::DOUBLE AS created_at, coalesce(disabled, false) AS disabled, district';

export class DuckDbAccounts implements AccountRepository {
  constructor(private readonly db: DuckDbDatabase) {}

  getUser(username: string): Promise<UserRecord | null> {
    return this.db.read(async (c) => {
      const rows = await all(c, `SELECT ${USER_COLUMNS} FROM users WHERE username = ?`, [username]);
      return rows[0] ? toUser(rows[0]) : null;
    });
  }

  listUsers(): Promise<UserRecord[]> {
    return this.db.read(async (c) => (await all(c, `SELECT ${USER_COLUMNS} FROM users ORDER BY username`)).map(toUser));
  }

  insertUser(u: UserRecord): Promise<void> {
    return this.db.controlTx(async (c) => {
      await c.run('INSERT INTO users (username, role, password_hash, created_at, disabled, district) VALUES (?, ?, ?, epoch_ms(?::BIGINT), ?, ?)',
        [u.username, u.role, u.passwordHash, u.createdAt, u.disabled, u.district]);
    });
  }

  updateUser(username: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'district'>>): Promise<boolean> {
    const sets: string[] = [];
    const values: Array<string | boolean | null> = [];
    if (patch.role !== undefined) { sets.push('role = ?'); values.push(patch.role); }
    if (patch.passwordHash !== undefined) { sets.push('password_hash = ?'); values.push(patch.passwordHash); }
    if (patch.disabled !== undefined) { sets.push('disabled = ?'); values.push(patch.disabled); }
    if (patch.district !== undefined) { sets.push('district = ?'); values.push(patch.district); }
    return this.db.controlTx(async (c) => {
      const found = await all(c, 'SELECT 1 AS x FROM users WHERE username = ?', [username]);
      if (!found.length) return false;
      if (sets.length) await c.run(`UPDATE users SET ${sets.join(', ')} WHERE username = ?`, [...values, username]);
      return true;
    });
  }

  deleteUser(username: string): Promise<boolean> {
    return this.db.controlTx(async (c) => {
      const found = await all(c, 'SELECT 1 AS x FROM users WHERE username = ?', [username]);
      if (!found.length) return false;
      await c.run('DELETE FROM sessions WHERE username = ?', [username]);
      await c.run('DELETE FROM users WHERE username = ?', [username]);
      return true;
    });
  }

  loadSessions(): Promise<SessionRecord[]> {
    return this.db.read(async (c) => (await all(c, 'SELECT token_hash, username, epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(expires_at)::DOUBLE AS expires_at FROM sessions'))
      .map((r) => ({ tokenHash: String(r.token_hash), username: String(r.username), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) })));
  }

  insertSession(s: SessionRecord): Promise<void> {
    return this.db.controlTx(async (c) => {
      await c.run('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))', [s.tokenHash, s.username, s.createdAt, s.expiresAt]);
    });
  }

  deleteSessions(tokenHashes: readonly string[]): Promise<void> {
    if (!tokenHashes.length) return Promise.resolve();
    return this.db.controlTx(async (c) => {
      for (let i = 0; i < tokenHashes.length; i += 500) {
        const part = tokenHashes.slice(i, i + 500);
        await c.run(`DELETE FROM sessions WHERE token_hash IN (${placeholders(part.length)})`, [...part]);
      }
    });
  }
}

function toUser(r: Row): UserRecord {
  return {
    username: String(r.username), role: String(r.role) as UserRecord['role'], passwordHash: String(r.password_hash), createdAt: Number(r.created_at), disabled: r.disabled === true,
    district: r.district === null || r.district === undefined ? null : String(r.district),
  };
}
