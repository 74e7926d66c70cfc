/**
 * Migration 7: the cylinder registry and the versions of its records
 * (store/postgres/cylinders.ts), the same columns as DuckDB's (store/migrations.ts) with times
 * as BIGINT epoch ms. The scans of a code are not here: they are the readings of
 * r_cylinder_scan (migration 6, with its index on (cylinder_code, ts)).
 *
 *  - `cylinders` keeps a record as JSON text (`doc`, not JSONB: the text is what a changed
 *    record is told by, store/cylinderRows.ts), keyed by code in byte order (COLLATE "C"),
 *    as DuckDB sorts `load`. `updated_at`: when the record last changed.
 *  - `cylinder_versions`: every new or changed record from the time of its write. `id` orders
 *    versions of one code with the same `valid_from` by their writing, as DuckDB's rowid does;
 *    the index serves `versions(code)` in its order (a few rows per code).
 */
import type { Migration } from '../migrations.js';

export const cylindersMigration: Migration = {
  version: 7,
  name: 'cylinders',
  statements: [
    `CREATE TABLE cylinders (code TEXT COLLATE "C" PRIMARY KEY, owner_station_id TEXT NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL,
      updated_at BIGINT NOT NULL)`,
    `CREATE TABLE cylinder_versions (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, code TEXT COLLATE "C" NOT NULL,
      valid_from BIGINT NOT NULL, doc TEXT NOT NULL)`,
    'CREATE INDEX cylinder_versions_code ON cylinder_versions (code, valid_from, id)',
  ],
};
