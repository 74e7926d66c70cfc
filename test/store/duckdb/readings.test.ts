/**
 * The readings repository in DuckDB (store/duckdb/readings.ts), by the contract every store
 * keeps (test/store/contract/readings.ts). Its device-clustered history (runs, the archive)
 * is DuckDB's own: test/store/readingArchive.test.ts, readingRuns.test.ts.
 */
import { readingsContract } from '../contract/readings.js';
import { duckDbStores } from '../contract/stores.js';

readingsContract('DuckDB', duckDbStores((s) => ({ readings: s.readings, deadLetters: s.deadLetters, devices: s.devices })));
