/**
 * The cylinder repository in DuckDB (store/duckdb/cylinders.ts) by the contract every store
 * keeps (test/store/contract/cylinders.ts), scans written through the store's own readings.
 * DuckDB's own cases (memory limit, schema 7 upgrade, scans in archived runs) are in
 * cylinders.test.ts.
 */
import { cylindersContract } from '../contract/cylinders.js';
import { duckDbStores } from '../contract/stores.js';

cylindersContract('DuckDB', duckDbStores((s) => ({ cylinders: s.cylinders, readings: s.readings })));
