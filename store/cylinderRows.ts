/**
 * The cylinder registry's rows, written and read back the same way by both stores
 * (store/duckdb/cylinders.ts, store/postgres/cylinders.ts): a record is stored as the text
 * JSON.stringify makes of it, and that text is also what tells a changed record from the same
 * one written again (so both stores make a version on exactly the same writes); versions and
 * scans come back from rows named as these expect (BIGINT values may come as strings).
 */
import type { CylinderRecord } from '../core/alerts/types.js';
import type { CylinderVersion, StoredScan } from '../core/cylinders/trace.js';
import type { ScanPoint } from '../core/schemas/index.js';
import { numOrNull } from './rows.js';

type Row = Record<string, unknown>;

/**
 * A record as stored, and what it is compared by: a record whose text differs from the stored
 * one is a new version. (Key order counts: the importer builds records in one order.)
 */
export function cylinderDoc(r: CylinderRecord): string {
  return JSON.stringify(r);
}

export function cylinderOf(doc: unknown): CylinderRecord {
  return JSON.parse(String(doc)) as CylinderRecord;
}

/** Columns: at (valid from, epoch ms), doc. */
export function cylinderVersionOf(r: Row): CylinderVersion {
  return { from: Number(r.at), record: cylinderOf(r.doc) };
}

/**
 * Columns: seq, device_id, msg_id, ts, received_at (epoch ms), station_id, point, operator_id,
 * net_kg. `text` reads a text column back as it was given (PostgreSQL stores some strings
 * encoded: store/postgres/text.ts).
 */
export function storedScanOf(r: Row, text: (v: unknown) => string = String): StoredScan {
  return {
    seq: Number(r.seq),
    deviceId: text(r.device_id),
    msgId: text(r.msg_id),
    ts: Number(r.ts),
    receivedAt: Number(r.received_at),
    stationId: text(r.station_id),
    point: text(r.point) as ScanPoint,
    operatorId: text(r.operator_id),
    netKg: numOrNull(r.net_kg),
  };
}

/**
 * A page of scans from rows read newest first, at most `limit + 1` of them (the one beyond the
 * page only tells that older ones were left out): the newest `limit`, oldest first.
 */
export function scanPage(newestFirst: readonly Row[], limit: number, text?: (v: unknown) => string): { scans: StoredScan[]; more: boolean } {
  return { scans: newestFirst.slice(0, limit).reverse().map((r) => storedScanOf(r, text)), more: newestFirst.length > limit };
}
