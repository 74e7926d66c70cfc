/** The dead-letter repository in DuckDB (store/duckdb/deadLetters.ts), by the contract every store keeps (test/store/contract/deadLetters.ts). */
import { deadLettersContract } from '../contract/deadLetters.js';
import { duckDbStores } from '../contract/stores.js';

deadLettersContract('DuckDB', duckDbStores((s) => ({ readings: s.readings, deadLetters: s.deadLetters, devices: s.devices })));
