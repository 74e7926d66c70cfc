/**
 * The embedded default store: one DuckDB file under DATA_DIR, a repository per aggregate
 * (store/duckdb/), over one database object that owns the connections, their queues and the
 * checkpoints (store/duckdb/database.ts).
 */
import type { ArchiveTarget } from './readingArchiver.js';
import type { ArchiveStep, RunPolicy } from './readingRuns.js';
import type { Store } from './types.js';
import { DuckDbAccounts } from './duckdb/accounts.js';
import { DuckDbAudit } from './duckdb/audit.js';
import { DuckDbAlerts } from './duckdb/alerts.js';
import { DuckDbCylinders } from './duckdb/cylinders.js';
import { DuckDbDatabase, type CheckpointStatus, type DuckDbOptions } from './duckdb/database.js';
import { DuckDbDeadLetters } from './duckdb/deadLetters.js';
import { DuckDbDevices } from './duckdb/devices.js';
import { DuckDbReadings } from './duckdb/readings.js';
import { DuckDbSettings } from './duckdb/settings.js';

export type { CheckpointStatus, DuckDbOptions };

/**
 * The embedded store as the service runs it: the repositories, device-clustered history's
 * steps, and what /healthz and /metrics read of DuckDB. DuckDbStore in this thread, or
 * WorkerStore (store/worker/) with the same DuckDbStore in a worker thread.
 */
export interface EmbeddedStore extends Store, ArchiveTarget {
  interruptMaintenance(): void;
  readingRuns(): Array<{ base: string; runs: number; rows: number }>;
  memoryBytes(): Promise<number>;
  checkpointStatus(): CheckpointStatus;
}

export class DuckDbStore implements EmbeddedStore {
  private readonly db: DuckDbDatabase;
  readonly readings: DuckDbReadings;
  readonly deadLetters: DuckDbDeadLetters;
  readonly devices: DuckDbDevices;
  readonly accounts: DuckDbAccounts;
  readonly alerts: DuckDbAlerts;
  readonly cylinders: DuckDbCylinders;
  readonly settings: DuckDbSettings;
  readonly audit: DuckDbAudit;

  constructor(file: string, readonly options: DuckDbOptions = {}) {
    this.db = new DuckDbDatabase(file, options, () => this.runCheckpoint());
    this.readings = new DuckDbReadings(this.db);
    this.deadLetters = new DuckDbDeadLetters(this.db);
    this.devices = new DuckDbDevices(this.db);
    this.accounts = new DuckDbAccounts(this.db);
    this.alerts = new DuckDbAlerts(this.db);
    this.cylinders = new DuckDbCylinders(this.db);
    this.settings = new DuckDbSettings(this.db);
    this.audit = new DuckDbAudit(this.db);
  }

  async open(): Promise<void> {
    await this.db.open();
    await this.readings.load();
  }

  async close(): Promise<void> {
    // a merge may take minutes: abandon it (its transaction rolls back, the inputs stay), and
    // start no other step on a connection about to close
    await this.db.quiesce();
    this.readings.closeAppenders();
    this.db.closeConnections();
    this.devices.closed();
  }

  /** One step of device-clustered history (store/duckdb/readings.ts), or null when none is due. */
  maintainReadings(safeSeq: number, policy: RunPolicy, now: number): Promise<ArchiveStep | null> {
    return this.readings.maintain(safeSeq, policy, now);
  }

  /** Abandon the seal or merge in progress: its transaction rolls back, the data stays where it was. */
  interruptMaintenance(): void {
    this.db.interruptMaintenance();
  }

  /** Runs per reading table, for /metrics and the benchmarks. */
  readingRuns(): Array<{ base: string; runs: number; rows: number }> {
    return this.readings.runs();
  }

  /** Bytes DuckDB holds in memory, every buffer of it (for /metrics and the tests). */
  memoryBytes(): Promise<number> {
    return this.db.memoryBytes();
  }

  checkpointStatus(): CheckpointStatus {
    return this.db.checkpointStatus();
  }

  /** The CHECKPOINT statement itself (a seam: tests make it fail). */
  protected async runCheckpoint(): Promise<void> {
    await this.db.conn('writer').run('CHECKPOINT');
  }
}
