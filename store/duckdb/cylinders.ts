/**
 * The cylinder registry (一瓶一码) in DuckDB: the records, every version of them
 * (`cylinder_versions`, migration v7), and the scans of a code read from the readings
 * (cylinderScans.ts), for its trace.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { CylinderRecord } from '../../core/alerts/types.js';
import type { CylinderVersion, ScanQuery, StoredScan } from '../../core/cylinders/trace.js';
import { cylinderDoc, cylinderOf, cylinderVersionOf } from '../cylinderRows.js';
import type { CylinderRepository } from '../types.js';
import { scansOf } from './cylinderScans.js';
import type { DuckDbDatabase } from './database.js';
import { all } from './sql.js';

/** Cylinder records per INSERT into the staging table of an import. */
const CYLINDER_ROWS_PER_INSERT = 250;

export class DuckDbCylinders implements CylinderRepository {
  constructor(private readonly db: DuckDbDatabase) {}

  upsert(records: readonly CylinderRecord[], at: number = Date.now()): Promise<void> {
    // staged, then one statement: a row at a time took ~1.5 ms a row (162,000 cylinders, minutes
    // of the control connection held); slices of rows with the event loop free between them
    return this.db.controlTx(async (c) => {
      await c.run('CREATE TEMP TABLE IF NOT EXISTS cylinder_stage (code VARCHAR, owner_station_id VARCHAR, status VARCHAR, doc VARCHAR)');
      await c.run('DELETE FROM cylinder_stage');
      for (let i = 0; i < records.length; i += CYLINDER_ROWS_PER_INSERT) {
        const slice = records.slice(i, i + CYLINDER_ROWS_PER_INSERT);
        const params: DuckDBValue[] = [];
        for (const r of slice) params.push(r.code, r.ownerStationId, r.status, cylinderDoc(r));
        await c.run(`INSERT INTO cylinder_stage VALUES ${slice.map(() => '(?, ?, ?, ?)').join(', ')}`, params);
      }
      // a record that changes (or is new) becomes a version from `at`; one written again as it was does not
      await c.run(`INSERT INTO cylinder_versions (code, valid_from, doc)
        SELECT s.code, epoch_ms(?::BIGINT), s.doc FROM (SELECT code, last(doc ORDER BY rowid) AS doc FROM cylinder_stage GROUP BY code) s
        LEFT JOIN cylinders c ON c.code = s.code WHERE c.doc IS DISTINCT FROM s.doc ORDER BY s.code`, [Math.trunc(at)]);
      // a code given twice in one import: the last one wins, as row by row it did
      await c.run(`INSERT OR REPLACE INTO cylinders (code, owner_station_id, status, doc, updated_at)
        SELECT code, last(owner_station_id ORDER BY rowid), last(status ORDER BY rowid), last(doc ORDER BY rowid), now() FROM cylinder_stage GROUP BY code`);
      await c.run('DELETE FROM cylinder_stage');
    });
  }

  load(): Promise<CylinderRecord[]> {
    return this.db.read(async (c) => (await all(c, 'SELECT doc FROM cylinders ORDER BY code')).map((r) => cylinderOf(r.doc)));
  }

  versions(code: string): Promise<CylinderVersion[]> {
    return this.db.read(async (c) => (await all(c, 'SELECT epoch_ms(valid_from)::DOUBLE AS at, doc FROM cylinder_versions WHERE code = ? ORDER BY valid_from, rowid', [code]))
      .map(cylinderVersionOf));
  }

  scans(q: ScanQuery): Promise<{ scans: StoredScan[]; more: boolean }> {
    return this.db.read((c) => scansOf(c, q));
  }
}
