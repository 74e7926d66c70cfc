/**
 * Schema creation and upgrades, run at every start. Each migration runs once, in order, in
 * its own transaction; `schema_version` records the last one applied. Never edit a shipped
 * migration: add a new one.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { allReadingTables, commonColumnsSql } from './readingTables.js';

const v1: Migration[] = [
  ...allReadingTables.map((t) => `CREATE TABLE ${t.table} (${commonColumnsSql}, ${t.columns.map((c) => `${c.name} ${c.type}`).join(', ')}, extra VARCHAR)`),
  `CREATE TABLE dead_letters (id BIGINT NOT NULL, received_at TIMESTAMP NOT NULL, device_id VARCHAR, client_id VARCHAR,
    topic VARCHAR NOT NULL, qos TINYINT NOT NULL, reason VARCHAR NOT NULL, detail VARCHAR NOT NULL, issues VARCHAR,
    msg_id VARCHAR, raw BLOB NOT NULL, raw_size INTEGER NOT NULL, remote_address VARCHAR)`,
  `CREATE TABLE devices (id VARCHAR PRIMARY KEY, family VARCHAR NOT NULL, name VARCHAR, lat DOUBLE, lng DOUBLE, district VARCHAR,
    meta VARCHAR NOT NULL, secret_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE device_state (device_id VARCHAR PRIMARY KEY, connected BOOLEAN NOT NULL, last_seen TIMESTAMP,
    last_connected_at TIMESTAMP, last_disconnected_at TIMESTAMP, remote_address VARCHAR)`,
  `CREATE TABLE device_state_stage (device_id VARCHAR, connected BOOLEAN, last_seen TIMESTAMP,
    last_connected_at TIMESTAMP, last_disconnected_at TIMESTAMP, remote_address VARCHAR)`,
  `CREATE TABLE users (username VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
];

/** The alert engine: alerts, rescue cases, rule state checkpoints, cylinder registry, store flags. */
const v2: Migration[] = [
  `CREATE TABLE alerts (id VARCHAR PRIMARY KEY, family VARCHAR NOT NULL, rule VARCHAR NOT NULL, severity VARCHAR NOT NULL,
    status VARCHAR NOT NULL, device_id VARCHAR NOT NULL, district VARCHAR, first_seen TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL, doc VARCHAR NOT NULL)`,
  `CREATE TABLE rescue_cases (id VARCHAR PRIMARY KEY, elevator_id VARCHAR NOT NULL, alert_id VARCHAR NOT NULL, status VARCHAR NOT NULL,
    alarm_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, doc VARCHAR NOT NULL)`,
  `CREATE TABLE engine_state (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
  `CREATE TABLE cylinders (code VARCHAR PRIMARY KEY, owner_station_id VARCHAR NOT NULL, status VARCHAR NOT NULL, doc VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL)`,
];

/** Device-clustered history (readingRuns.ts): the catalog of sealed, sorted runs. */
const v3: Migration[] = [
  `CREATE TABLE reading_runs (id BIGINT PRIMARY KEY, base VARCHAR NOT NULL, level INTEGER NOT NULL, rows BIGINT NOT NULL,
    seq_min BIGINT NOT NULL, seq_max BIGINT NOT NULL, ts_min TIMESTAMP NOT NULL, ts_max TIMESTAMP NOT NULL, received_max TIMESTAMP NOT NULL)`,
];

/**
 * Sessions (docs/security.md, Tokens): opaque bearer tokens kept as their SHA-256, so a token
 * can be revoked (logout, user disabled, deleted or given a new password) and nothing in the
 * file lets anyone mint one; the HMAC key of the tokens before is removed. DuckDB cannot add a
 * column with a constraint: `disabled` is NULL-able, read as false.
 */
const v4: Migration[] = [
  `ALTER TABLE users ADD COLUMN disabled BOOLEAN DEFAULT false`,
  `CREATE TABLE sessions (token_hash VARCHAR PRIMARY KEY, username VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)`,
  `DELETE FROM settings WHERE key = 'token_key'`,
];

/**
 * Alert timelines as rows of their own (docs/dashboard.md, Alert timelines): a note appends one
 * row instead of rewriting the whole alert document, so neither the write-ahead log nor memory
 * grows with the square of the notes. The deadline moments become columns, for the on-time
 * statistics and the priority order without reading documents. Existing documents are split.
 */
const v5: Migration[] = [
  `CREATE TABLE alert_timeline (alert_id VARCHAR NOT NULL, n INTEGER NOT NULL, happened_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL, note VARCHAR, PRIMARY KEY (alert_id, n))`,
  'ALTER TABLE alerts ADD COLUMN ack_by TIMESTAMP',
  'ALTER TABLE alerts ADD COLUMN resolve_by TIMESTAMP',
  'ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMP',
  'ALTER TABLE alerts ADD COLUMN resolved_at TIMESTAMP',
  splitAlertTimelines,
];

/**
 * Who closed each alert (the on-time rates leave out what the system closed without a
 * person): the actor of its last closing entry on the timeline (`system` for auto_resolved).
 */
const v6: Migration[] = [
  'ALTER TABLE alerts ADD COLUMN closed_by VARCHAR',
  `UPDATE alerts SET closed_by = t.actor FROM (
     SELECT alert_id, arg_max(actor, n) AS actor FROM alert_timeline WHERE action IN ('resolved', 'auto_resolved', 'false_positive') GROUP BY alert_id
   ) t WHERE alerts.id = t.alert_id AND alerts.status IN ('resolved', 'false_positive')`,
];

/**
 * The cylinder trace (docs/rules/cylinder.md, The trace of a cylinder): every version of a
 * cylinder's record, so each stored scan is judged by the record as it stood when it was
 * received. Records registered before kept no history: each becomes one version from 0.
 * (Looked up by code with a filter scan: a few rows per cylinder, no index to keep.)
 */
const v7: Migration[] = [
  'CREATE TABLE cylinder_versions (code VARCHAR NOT NULL, valid_from TIMESTAMP NOT NULL, doc VARCHAR NOT NULL)',
  'INSERT INTO cylinder_versions SELECT code, epoch_ms(0::BIGINT), doc FROM cylinders ORDER BY code',
];

/**
 * District scope of accounts (accounts/scope.ts; docs/security.md, District scope): the code
 * prefix a user sees and handles. Users from before keep the whole city (NULL).
 */
const v8: Migration[] = [
  'ALTER TABLE users ADD COLUMN district VARCHAR',
];

/**
 * The audit log (docs/security.md, Audit log; store/duckdb/audit.ts): who did what to which
 * user, device, alert, case or store, from where. Numbered by the one writer (no key to keep:
 * the table is bounded by AUDIT_RETENTION_DAYS and AUDIT_MAX_ROWS). Databases from before start
 * with an empty log.
 */
const v9: Migration[] = [
  `CREATE TABLE audit_log (id BIGINT NOT NULL, happened_at TIMESTAMP NOT NULL, actor VARCHAR, action VARCHAR NOT NULL, target_kind VARCHAR,
    target_id VARCHAR, address VARCHAR, details VARCHAR)`,
];

/**
 * System notes by code (core/alerts/systemNotes.ts; docs/api.md, Alert timeline entries): the
 * code of a note the system wrote on a timeline and its parameters (JSON), beside the English
 * `note`. Rows from before keep NULL: the UI shows their stored note as it is.
 */
const v10: Migration[] = [
  'ALTER TABLE alert_timeline ADD COLUMN code VARCHAR',
  'ALTER TABLE alert_timeline ADD COLUMN params VARCHAR',
];

type Migration = string | ((c: DuckDBConnection) => Promise<void>);

/** Index i holds the statements that take the schema from version i to i + 1. */
export const migrations: Migration[][] = [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10];

interface OldAlertDoc {
  timeline?: Array<{ at: number; by: string; action: string; note?: string }>;
  deadlines: { ackBy: number | null; resolveBy: number | null; acknowledgedAt: number | null; resolvedAt: number | null };
  [k: string]: unknown;
}

/** v5: each stored alert's embedded timeline to rows, a thousand alerts at a time. */
async function splitAlertTimelines(c: DuckDBConnection): Promise<void> {
  let after = '';
  for (;;) {
    const rows = (await c.runAndReadAll('SELECT id, doc FROM alerts WHERE id > ? ORDER BY id LIMIT 1000', [after])).getRowObjectsJS();
    if (!rows.length) return;
    const entry = await c.prepare('INSERT INTO alert_timeline VALUES (?, ?, epoch_ms(?::BIGINT), ?, ?, ?)');
    const update = await c.prepare(`UPDATE alerts SET doc = ?, ack_by = epoch_ms(?::BIGINT), resolve_by = epoch_ms(?::BIGINT),
      acknowledged_at = epoch_ms(?::BIGINT), resolved_at = epoch_ms(?::BIGINT) WHERE id = ?`);
    for (const r of rows) {
      const id = String(r.id);
      const { timeline = [], ...doc } = JSON.parse(String(r.doc)) as OldAlertDoc;
      for (const [n, e] of timeline.entries()) {
        entry.bind([id, n, e.at, e.by, e.action, e.note ?? null]);
        await entry.run();
      }
      const notes = timeline.filter((e) => e.by !== 'system' && e.note !== undefined).length;
      const d = doc.deadlines;
      update.bind([JSON.stringify({ ...doc, events: timeline.length, notes }), d.ackBy, d.resolveBy, d.acknowledgedAt, d.resolvedAt, id]);
      await update.run();
    }
    after = String(rows.at(-1)!.id);
  }
}

export async function migrate(c: DuckDBConnection): Promise<{ from: number; to: number }> {
  await c.run('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const rows = (await c.runAndReadAll('SELECT max(version) AS v FROM schema_version')).getRowObjectsJS();
  const from = Number(rows[0]?.v ?? 0);
  if (from > migrations.length) {
    throw new Error(`the data directory holds schema version ${from}, newer than this build knows (${migrations.length}); run a newer build`);
  }
  for (let v = from; v < migrations.length; v++) {
    await c.run('BEGIN TRANSACTION');
    try {
      for (const step of migrations[v]!) {
        if (typeof step === 'string') await c.run(step); else await step(c);
      }
      await c.run('INSERT INTO schema_version VALUES (?)', [v + 1]);
      await c.run('COMMIT');
    } catch (err) {
      await c.run('ROLLBACK');
      throw new Error(`schema migration ${v + 1} failed: ${(err as Error).message}`);
    }
  }
  return { from, to: migrations.length };
}
