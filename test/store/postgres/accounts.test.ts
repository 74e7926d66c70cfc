/** The accounts repository in PostgreSQL (store/postgres/accounts.ts), by the contract every store keeps (test/store/contract/accounts.ts). */
import { PgAccounts } from '../../../store/postgres/accounts.js';
import { accountsContract } from '../contract/accounts.js';
import { onPostgres } from '../contract/stores.js';

onPostgres((db) => new PgAccounts(db), accountsContract);
