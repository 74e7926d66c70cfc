/**
 * Migration 10: a reading is stored once in the cluster, whichever nodes took it. A device that
 * lost its PUBACK in a node's crash sends the reading again, with the same msgId and payload,
 * through another node, whose dedupe window never saw it; and the crashed node writes its
 * journal on at restart. A unique index on (device, device time, msgId) per table (the
 * partition key ts is in it, as PostgreSQL requires of a partitioned table) lets the writer
 * skip the copy that came second (store/postgres/readings.ts). It replaces the (device_id, ts)
 * index, its prefix.
 */
import { allReadingTables } from '../../readingTables.js';
import type { Migration } from '../migrations.js';

export const readingsOnceMigration: Migration = {
  version: 10,
  name: 'readings once',
  statements: allReadingTables.flatMap((t) => [
    `CREATE UNIQUE INDEX ${t.table}_device_ts_msg ON ${t.table} (device_id, ts, msg_id)`,
    `DROP INDEX ${t.table}_device_ts`,
  ]),
};
