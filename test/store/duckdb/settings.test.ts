/** The settings repository (store/duckdb/settings.ts) in a temp dir, by the contract every store keeps (test/store/contract/settings.ts). */
import { duckDbStores } from '../contract/stores.js';
import { settingsContract } from '../contract/settings.js';

settingsContract('DuckDB', duckDbStores((s) => s.settings));
