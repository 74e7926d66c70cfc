/**
 * Cluster mode's shared store (docs/cluster.md): every repository of store/types.ts in one
 * PostgreSQL database that every node opens, with the same meaning as the embedded DuckDB
 * store (the contract suites of test/store/contract/ run against both).
 *
 * Readings and dead letters are written under this node's id: each node keeps its journal and
 * numbers what it receives, so `readings.after` and `lastSequences` are this node's (its
 * replay, its InfluxDB forwarding) while every read by device, history and trace sees all.
 */
import type { Store } from './types.js';
import { PgAccounts } from './postgres/accounts.js';
import { PgAlerts } from './postgres/alerts.js';
import { PgAudit } from './postgres/audit.js';
import { PgCylinders } from './postgres/cylinders.js';
import { PostgresDatabase, type PostgresOptions } from './postgres/database.js';
import { PgDeadLetters } from './postgres/deadLetters.js';
import { PgDevices } from './postgres/devices.js';
import { PgReadings } from './postgres/readings.js';
import { PgSettings } from './postgres/settings.js';

export interface PostgresStoreOptions extends PostgresOptions {
  /** this node's name in the readings and dead letters it writes (NODE_ID) */
  nodeId: string;
}

export class PostgresStore implements Store {
  readonly db: PostgresDatabase;
  readonly readings: PgReadings;
  readonly deadLetters: PgDeadLetters;
  readonly devices: PgDevices;
  readonly accounts: PgAccounts;
  readonly alerts: PgAlerts;
  readonly cylinders: PgCylinders;
  readonly settings: PgSettings;
  readonly audit: PgAudit;

  constructor(readonly options: PostgresStoreOptions) {
    this.db = new PostgresDatabase(options);
    this.readings = new PgReadings(this.db, options.nodeId);
    this.deadLetters = new PgDeadLetters(this.db);
    this.devices = new PgDevices(this.db);
    this.accounts = new PgAccounts(this.db);
    this.alerts = new PgAlerts(this.db);
    this.cylinders = new PgCylinders(this.db);
    this.settings = new PgSettings(this.db);
    this.audit = new PgAudit(this.db);
  }

  /** Connect and migrate (one node at a time: store/postgres/migrations.ts). */
  open(): Promise<void> {
    return this.db.open();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
