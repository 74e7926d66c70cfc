/**
 * The cylinder registry (一瓶一码) in PostgreSQL, with the meaning of store/duckdb/cylinders.ts:
 * records keyed by code (a code given twice in one upsert keeps the last), every new or changed
 * record a version from the write's time (the same record again is none), versions oldest
 * first, and the scans of a code read from the readings of every node (r_cylinder_scan,
 * migration 6), the newest `limit` of them, oldest first.
 *
 * Several nodes may write the registry at once (each imports, or one re-imports while another
 * does). Telling a changed record and writing it are one step per code, under that code's row
 * lock: the upsert's ON CONFLICT DO UPDATE locks the stored row and compares against its latest
 * committed text (not the statement's snapshot), a code inserted by another transaction not yet
 * committed makes this one wait for it, then compare; the versions are the rows the upsert
 * returned, inserted by the same statement. So each change is one version whatever runs
 * alongside, and the last version of a code is its stored record. Codes are taken in one order
 * (sorted here) by every writer, so two imports that share codes wait for each other instead of
 * deadlocking.
 */
import type { CylinderRecord } from '../../core/alerts/types.js';
import type { CylinderVersion, ScanQuery, StoredScan } from '../../core/cylinders/trace.js';
import { cylinderDoc, cylinderOf, cylinderVersionOf, scanPage } from '../cylinderRows.js';
import type { CylinderRepository } from '../types.js';
import { ms, unnest, type PostgresDatabase } from './database.js';
import { fromPgText, toPgText } from './text.js';

/** A text column of a scan row as the device sent it. */
const scanText = (v: unknown): string => fromPgText(String(v));

/**
 * One statement for a whole import, of array parameters: $1-$4 the columns (sorted by code),
 * $5 the time written, $6 the versions' start. A record written again as it is stored is not
 * updated (no dead row for each unchanged cylinder of a re-import), so `updated_at` is when it
 * last changed.
 */
const UPSERT = `WITH written AS (
    INSERT INTO cylinders (code, owner_station_id, status, doc, updated_at)
    SELECT code, owner_station_id, status, doc, $5::int8
      FROM ${unnest(['text', 'text', 'text', 'text'])} WITH ORDINALITY AS s (code, owner_station_id, status, doc, n) ORDER BY n
    ON CONFLICT (code) DO UPDATE SET owner_station_id = excluded.owner_station_id, status = excluded.status, doc = excluded.doc,
      updated_at = excluded.updated_at
      WHERE cylinders.doc IS DISTINCT FROM excluded.doc
    RETURNING code, doc)
  INSERT INTO cylinder_versions (code, valid_from, doc) SELECT code, $6::int8, doc FROM written ORDER BY code`;

export class PgCylinders implements CylinderRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async upsert(records: readonly CylinderRecord[], at: number = Date.now()): Promise<void> {
    // the last of a code given twice, as DuckDB keeps it (and ON CONFLICT may meet a key only
    // once); codes as stored (a U+0000 encoded, text.ts), the record itself is JSON text
    const last = [...new Map(records.map((r) => [toPgText(r.code), r])).entries()];
    if (!last.length) return;
    // every writer locks codes in this order: overlapping imports queue rather than deadlock
    last.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.db.run(UPSERT, [
      last.map(([code]) => code), last.map(([, r]) => toPgText(r.ownerStationId)), last.map(([, r]) => toPgText(r.status)),
      last.map(([, r]) => cylinderDoc(r)),
      ms(Date.now()),
      // truncated, as DuckDB's import does with a fraction of a ms
      Math.trunc(at),
    ]);
  }

  async load(): Promise<CylinderRecord[]> {
    return (await this.db.rows('SELECT doc FROM cylinders ORDER BY code')).map((r) => cylinderOf(r.doc));
  }

  /** These codes' records as stored (those that are), for a node told another changed them (cluster/changeBus.ts). */
  async loadByCodes(codes: readonly string[]): Promise<CylinderRecord[]> {
    // codes are stored encoded when they hold what PostgreSQL cannot (store/postgres/text.ts)
    return (await this.db.rows('SELECT doc FROM cylinders WHERE code = ANY($1::text[]) ORDER BY code', [codes.map(toPgText)])).map((r) => cylinderOf(r.doc));
  }

  async versions(code: string): Promise<CylinderVersion[]> {
    return (await this.db.rows('SELECT valid_from AS at, doc FROM cylinder_versions WHERE code = $1 ORDER BY valid_from, id', [toPgText(code)])).map(cylinderVersionOf);
  }

  /**
   * The newest `limit` scans of the code by every device of every node, by the index on
   * (cylinder_code, ts), months outside [from, to] left out by the partitions' bounds. Equal
   * device times are ordered by seq, as DuckDB does, then by node (each node numbers its own).
   */
  async scans(q: ScanQuery): Promise<{ scans: StoredScan[]; more: boolean }> {
    const params: unknown[] = [toPgText(q.code)];
    const where = ['cylinder_code = $1'];
    if (q.from !== undefined) where.push(`ts >= $${params.push(ms(q.from))}`);
    if (q.to !== undefined) where.push(`ts <= $${params.push(ms(q.to))}`);
    const rows = await this.db.rows(`SELECT seq, device_id, msg_id, ts, received_at, station_id, point, operator_id, net_kg
      FROM r_cylinder_scan WHERE ${where.join(' AND ')} ORDER BY ts DESC, seq DESC, node_id DESC LIMIT $${params.push(q.limit + 1)}`, params);
    return scanPage(rows, q.limit, scanText);
  }
}
