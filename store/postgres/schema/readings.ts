/**
 * Migration 6: the readings of cluster mode in PostgreSQL, one table per (family, channel) with
 * the same typed columns as DuckDB's (store/readingTables.ts), so history and the cylinder
 * trace read real columns, and the dead letters of the same group commits.
 *
 * Each node keeps its own journal and numbers its own readings and dead letters (the PUBACK
 * still means fsynced on that node), so a row is keyed by (node_id, seq): `after` and
 * `lastSequences` are per node (the node's replay and InfluxDB forwarding), while reads by
 * device, history and the cylinder trace see every node's rows. A dead letter also gets an id
 * of the whole cluster (`id`, an identity) that the API pages and selects by; `node_letter_id`
 * is the node's own number.
 *
 * Readings are partitioned by device time (`ts`, epoch ms) a calendar month (UTC) a partition,
 * created on demand by the writer before it copies rows into a month (store/postgres/
 * readings.ts); old months can be detached and dropped whole. No default partition: a row
 * whose month has no partition would make that month's later CREATE fail.
 */
import { allReadingTables, type ColumnType } from '../../readingTables.js';
import type { Migration } from '../migrations.js';

const pgType: Record<ColumnType, string> = {
  VARCHAR: 'TEXT', DOUBLE: 'DOUBLE PRECISION', INTEGER: 'INTEGER', BIGINT: 'BIGINT', BOOLEAN: 'BOOLEAN',
};

/** Columns every reading table starts with, in COPY order; the typed columns follow, then `extra`. */
export const pgCommonColumns = ['node_id', 'seq', 'device_id', 'msg_id', 'ts', 'received_at', 'qos'] as const;

export const readingsMigration: Migration = {
  version: 6,
  name: 'readings',
  statements: [
    ...allReadingTables.flatMap((t) => [
      `CREATE TABLE ${t.table} (node_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, device_id TEXT COLLATE "C" NOT NULL,
        msg_id TEXT COLLATE "C" NOT NULL, ts BIGINT NOT NULL, received_at BIGINT NOT NULL, qos SMALLINT NOT NULL,
        ${t.columns.map((c) => `${c.name} ${pgType[c.type]}`).join(', ')}, extra TEXT) PARTITION BY RANGE (ts)`,
      // reads by device (query, history) and by position (after, lastSequences)
      `CREATE INDEX ${t.table}_device_ts ON ${t.table} (device_id, ts)`,
      `CREATE INDEX ${t.table}_node_seq ON ${t.table} (node_id, seq)`,
      // the dedupe window at start (recentMessageKeys)
      `CREATE INDEX ${t.table}_received ON ${t.table} (received_at)`,
    ]),
    // the trace of one cylinder code (store/postgres/cylinders.ts)
    'CREATE INDEX r_cylinder_scan_code_ts ON r_cylinder_scan (cylinder_code, ts)',
    `CREATE TABLE dead_letters (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, node_id TEXT COLLATE "C" NOT NULL,
      node_letter_id BIGINT NOT NULL, received_at BIGINT NOT NULL, device_id TEXT COLLATE "C", client_id TEXT, topic TEXT NOT NULL,
      qos SMALLINT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL, issues TEXT, msg_id TEXT, raw BYTEA NOT NULL,
      raw_size INTEGER NOT NULL, remote_address TEXT, UNIQUE (node_id, node_letter_id))`,
    'CREATE INDEX dead_letters_device ON dead_letters (device_id, id)',
    'CREATE INDEX dead_letters_received ON dead_letters (received_at)',
  ],
};
