/** The devices repository in PostgreSQL (store/postgres/devices.ts), by the contract every store keeps (test/store/contract/devices.ts). */
import { PgDevices } from '../../../store/postgres/devices.js';
import { devicesContract } from '../contract/devices.js';
import { onPostgres } from '../contract/stores.js';

onPostgres((db) => new PgDevices(db), devicesContract);
