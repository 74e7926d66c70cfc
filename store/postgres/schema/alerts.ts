/**
 * Migration 5: alerts with their timelines, rescue cases and the rule engine's states
 * (store/postgres/alerts.ts), the columns of DuckDB's tables (store/migrations.ts v2, v5, v6,
 * v10) in the conventions of migrations.ts: times BIGINT epoch ms, documents JSON as TEXT,
 * keys that lists are ordered or paged by COLLATE "C".
 *
 * What differs from DuckDB, for the reads to use indexes rather than sort the table:
 *  - `priority_rank` and `next_deadline` are the priority sort's first two keys
 *    (core/alerts/alertQuery.ts alertSortKey: the severity's rank; the deadline the alert works
 *    towards now, 9007199254740991 = NO_DEADLINE when none), kept by PostgreSQL from the
 *    columns they derive from, so that sort is an index scan like the others;
 *  - rescue cases keep the case's own district as a column (DuckDB reads it from the document),
 *    for the district filter without parsing documents;
 *  - an index per list order (each ending with the id, as the keys do), the active sets as
 *    partial indexes (they are read at every start), the filters lists are asked for most
 *    (device, district prefix: `district` is COLLATE "C", so `^@` can range-scan it).
 * A timeline is read by (alert_id, n), its primary key; the engine state is a handful of rows.
 * (Generated columns need PostgreSQL 12 or later; a range scan for `^@`, 15.)
 */
import type { Migration } from '../migrations.js';

export const alertsMigration: Migration = {
  version: 5,
  name: 'alerts',
  statements: [
    `CREATE TABLE alerts (id TEXT COLLATE "C" PRIMARY KEY, family TEXT NOT NULL, rule TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
      device_id TEXT NOT NULL, district TEXT COLLATE "C", first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, updated_at BIGINT NOT NULL,
      doc TEXT NOT NULL, ack_by BIGINT, resolve_by BIGINT, acknowledged_at BIGINT, resolved_at BIGINT, closed_by TEXT,
      priority_rank SMALLINT NOT NULL GENERATED ALWAYS AS (CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END) STORED,
      next_deadline BIGINT NOT NULL GENERATED ALWAYS AS (coalesce(CASE status WHEN 'open' THEN ack_by WHEN 'acknowledged' THEN resolve_by END, 9007199254740991)) STORED)`,
    'CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, id)',
    // also the outcomes' period (first seen in [from, to)) and the `until` filter
    'CREATE INDEX alerts_first_seen ON alerts (first_seen DESC, id)',
    'CREATE INDEX alerts_priority ON alerts (priority_rank, next_deadline, first_seen DESC, id)',
    "CREATE INDEX alerts_active ON alerts (last_seen, id) WHERE status IN ('open', 'acknowledged')",
    'CREATE INDEX alerts_device ON alerts (device_id, last_seen DESC, id)',
    'CREATE INDEX alerts_district ON alerts (district)',
    `CREATE TABLE alert_timeline (alert_id TEXT COLLATE "C" NOT NULL, n INTEGER NOT NULL, happened_at BIGINT NOT NULL, actor TEXT NOT NULL,
      action TEXT NOT NULL, note TEXT, code TEXT, params TEXT, PRIMARY KEY (alert_id, n))`,
    `CREATE TABLE rescue_cases (id TEXT COLLATE "C" PRIMARY KEY, elevator_id TEXT NOT NULL, alert_id TEXT NOT NULL, status TEXT NOT NULL,
      alarm_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, district TEXT, doc TEXT NOT NULL)`,
    'CREATE INDEX rescue_cases_alarm ON rescue_cases (alarm_at DESC, id)',
    'CREATE INDEX rescue_cases_elevator ON rescue_cases (elevator_id, alarm_at DESC, id)',
    "CREATE INDEX rescue_cases_active ON rescue_cases (alarm_at, id) WHERE status NOT IN ('closed', 'false_alarm')",
    'CREATE TABLE engine_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  ],
};
