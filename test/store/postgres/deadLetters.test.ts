/**
 * The dead-letter repository in PostgreSQL (store/postgres/deadLetters.ts), by the contract
 * every store keeps (test/store/contract/deadLetters.ts); the cluster ids of several nodes'
 * letters are in test/store/postgres/readings.test.ts (cluster mode).
 */
import { PgDeadLetters } from '../../../store/postgres/deadLetters.js';
import { PgDevices } from '../../../store/postgres/devices.js';
import { PgReadings } from '../../../store/postgres/readings.js';
import { deadLettersContract } from '../contract/deadLetters.js';
import { onPostgres } from '../contract/stores.js';

onPostgres((db) => ({ readings: new PgReadings(db, 'node-a'), deadLetters: new PgDeadLetters(db), devices: new PgDevices(db) }), deadLettersContract);
