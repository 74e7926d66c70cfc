/** The settings repository in PostgreSQL (store/postgres/settings.ts), by the contract every store keeps (test/store/contract/settings.ts). */
import { PgSettings } from '../../../store/postgres/settings.js';
import { settingsContract } from '../contract/settings.js';
import { onPostgres } from '../contract/stores.js';

onPostgres((db) => new PgSettings(db), settingsContract);
