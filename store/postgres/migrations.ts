/**
 * The PostgreSQL schema of the shared store, created and upgraded at every open: numbered
 * migrations, each applied once, in order, in a transaction of its own, and recorded in
 * `schema_migrations`. Opening again applies nothing (idempotent). Never edit a shipped
 * migration: add a new one.
 *
 * Column choices, the same in every table:
 *  - times are BIGINT epoch ms, as store/types.ts has them: no time zone to convert, and read
 *    back exactly (DuckDB's TIMESTAMP keeps µs, read back as whole ms: the same values);
 *  - JSON documents (meta, details) are TEXT, not JSONB: JSONB reorders keys and refuses
 *    "\u0000", so what JSON.stringify wrote would not come back as it was;
 *  - keys that lists are ordered by are COLLATE "C": byte order, as DuckDB sorts strings,
 *    whatever locale the database was created with.
 */
import type { Sql } from './database.js';
import { alertsMigration } from './schema/alerts.js';
import { clusterMigration } from './schema/cluster.js';
import { cylindersMigration } from './schema/cylinders.js';
import { readingsMigration } from './schema/readings.js';
import { slotsMigration } from './schema/slots.js';
import { readingsOnceMigration } from './schema/readingsOnce.js';

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** The device registry (store/postgres/devices.ts) and the devices' connection states. */
const registry: Migration = {
  version: 1,
  name: 'devices',
  statements: [
    `CREATE TABLE devices (id TEXT COLLATE "C" PRIMARY KEY, family TEXT NOT NULL, name TEXT, lat DOUBLE PRECISION, lng DOUBLE PRECISION,
      district TEXT, meta TEXT NOT NULL, secret_hash TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
    `CREATE TABLE device_state (device_id TEXT COLLATE "C" PRIMARY KEY, connected BOOLEAN NOT NULL, last_seen BIGINT,
      last_connected_at BIGINT, last_disconnected_at BIGINT, remote_address TEXT)`,
  ],
};

/**
 * Operators' accounts and sessions (store/postgres/accounts.ts). No foreign key from sessions
 * to users: DuckDB has none, and a session of an unknown user is stored there, not refused.
 */
const accounts: Migration = {
  version: 2,
  name: 'accounts',
  statements: [
    `CREATE TABLE users (username TEXT COLLATE "C" PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at BIGINT NOT NULL,
      disabled BOOLEAN NOT NULL DEFAULT false, district TEXT)`,
    `CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)`,
    // deleteUser removes a user's sessions by name
    'CREATE INDEX sessions_username ON sessions (username)',
  ],
};

const settings: Migration = {
  version: 3,
  name: 'settings',
  statements: ['CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)'],
};

/**
 * The audit log (store/postgres/audit.ts). The key on id serves the newest-first pages, the
 * next number (max) and prune's bound on ids.
 */
const audit: Migration = {
  version: 4,
  name: 'audit_log',
  statements: [
    `CREATE TABLE audit_log (id BIGINT PRIMARY KEY, happened_at BIGINT NOT NULL, actor TEXT, action TEXT NOT NULL, target_kind TEXT,
      target_id TEXT, address TEXT, details TEXT)`,
  ],
};

export const migrations: readonly Migration[] = [registry, accounts, settings, audit, alertsMigration, readingsMigration, cylindersMigration, clusterMigration, slotsMigration, readingsOnceMigration];

/**
 * Every node of a cluster runs this at start, maybe at the same moment: a session-level
 * advisory lock lets one of them create and upgrade while the others wait, then find nothing
 * to do. (Without it, two concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog.)
 */
const MIGRATION_LOCK = 0x5355_5056; // "SUPV"

export async function migrate(c: Sql, list: readonly Migration[] = migrations): Promise<{ from: number; to: number }> {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} is numbered ${m.version}, expected ${i + 1}`);
  });
  // no statement timeout meanwhile: a node waits for another's migrations as long as they take,
  // and a migration may rewrite a large table (RESET below: the pool's timeout again)
  await c.query('SET statement_timeout = 0');
  await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  let result: { from: number; to: number };
  try {
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const rows = (await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations')).rows;
    const from = rows[0]?.v ?? 0;
    if (from > list.length) {
      throw new Error(`the database holds schema version ${from}, newer than this build knows (${list.length}); run a newer build`);
    }
    for (const m of list.slice(from)) {
      await c.query('BEGIN');
      try {
        for (const statement of m.statements) await c.query(statement);
        await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw new Error(`schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
    }
    result = { from, to: list.length };
  } catch (err) {
    await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    throw err;
  }
  // not swallowed: a connection still holding the lock must not go back to the pool (open() drops it)
  await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  await c.query('RESET statement_timeout');
  return result;
}
