/**
 * The scans of one cylinder code, for its trace: read from the readings themselves (the
 * `cylinder/scan` table, r_cylinder_scan, whose typed column cylinder_code holds the code), in
 * the hot table and in every run of device-clustered history (store/readingRuns.ts), by every
 * device. Nothing is written at ingest for it.
 *
 * Cost: the predicate `cylinder_code = ?` is on a typed column and pushed into each table's
 * scan, so DuckDB reads that one column of the rows it rejects; runs outside [from, to] are
 * left out by their time range. The runs are sorted by device, not by code, so every row group
 * of the remaining ones is looked at: measured 0.6-2.5 s for 20M scans on 2 cores (about a
 * year of a 162,000-cylinder city), holding the read connection meanwhile. A trace bounded by
 * from/to reads only the runs of its period. Beyond that, a copy of the scans clustered by code
 * (sealed with the runs, store/readingArchive.ts) would make it a lookup.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ScanQuery, StoredScan } from '../../core/cylinders/trace.js';
import { scanPage } from '../cylinderRows.js';
import { readingTables } from '../readingTables.js';
import { runsMatching, runTable, type ReadingRun } from '../readingRuns.js';
import { all } from './sql.js';

const SCAN_TABLE = readingTables.cylinder.scan!.table;

/** The runs of the scan table, from the catalog as committed (read in the caller's snapshot). */
async function scanRuns(c: DuckDBConnection): Promise<ReadingRun[]> {
  const rows = await all(c, `SELECT id::DOUBLE AS id, level, rows::DOUBLE AS rows, seq_min::DOUBLE AS seq_min, seq_max::DOUBLE AS seq_max,
    epoch_ms(ts_min)::DOUBLE AS ts_min, epoch_ms(ts_max)::DOUBLE AS ts_max, epoch_ms(received_max)::DOUBLE AS received_max
    FROM reading_runs WHERE base = ? ORDER BY id`, [SCAN_TABLE]);
  return rows.map((r) => ({
    id: Number(r.id), base: SCAN_TABLE, level: Number(r.level), rows: Number(r.rows), seqMin: Number(r.seq_min), seqMax: Number(r.seq_max),
    tsMin: Number(r.ts_min), tsMax: Number(r.ts_max), receivedMax: Number(r.received_max),
  }));
}

/**
 * The newest `q.limit` scans of the code (device time in [from, to]), oldest first, and
 * whether older ones were left out. Runs inside the read queue: history's seals and merges
 * commit on that queue too (readingArchive.ts), so the catalog and the tables agree.
 */
export async function scansOf(c: DuckDBConnection, q: ScanQuery): Promise<{ scans: StoredScan[]; more: boolean }> {
  const tables = [SCAN_TABLE, ...runsMatching(await scanRuns(c), { from: q.from, to: q.to }).map((r) => runTable(SCAN_TABLE, r.id))];
  const where = ['cylinder_code = ?'];
  const params: DuckDBValue[] = [q.code];
  if (q.from !== undefined) { where.push('ts >= epoch_ms(?::BIGINT)'); params.push(q.from); }
  if (q.to !== undefined) { where.push('ts <= epoch_ms(?::BIGINT)'); params.push(q.to); }
  const branches = tables.map((t) => `SELECT seq, device_id, msg_id, ts, received_at, station_id, point, operator_id, net_kg FROM ${t} WHERE ${where.join(' AND ')}`);
  const rows = await all(c, `SELECT seq::DOUBLE AS seq, device_id, msg_id, epoch_ms(ts)::DOUBLE AS ts, epoch_ms(received_at)::DOUBLE AS received_at,
      station_id, point, operator_id, net_kg
    FROM (${branches.join(' UNION ALL ')}) ORDER BY ts DESC, seq DESC LIMIT ?`, [...tables.flatMap(() => params), q.limit + 1]);
  return scanPage(rows, q.limit);
}
