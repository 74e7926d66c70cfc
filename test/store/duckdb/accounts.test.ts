/** The accounts repository (store/duckdb/accounts.ts) in a temp dir, by the contract every store keeps (test/store/contract/accounts.ts). */
import { accountsContract } from '../contract/accounts.js';
import { duckDbStores } from '../contract/stores.js';

accountsContract('DuckDB', duckDbStores((s) => s.accounts));
