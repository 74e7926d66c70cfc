/**
 * The DuckDB file and its connections, each behind a queue of its own, and the checkpoints.
 * The repositories (readings.ts, devices.ts, ...) run their statements through it.
 *
 * Connections: one writer (appenders inside explicit transactions: the appender work is
 * synchronous and cheap, the COMMIT with its WAL fsync runs off the event loop), one for
 * control writes (registry, users, state), one for reads of readings, one for reads of alerts
 * and cases, one for history maintenance. DuckDB allows a single writing process per file
 * (docs/domain.md §7), so CLIs write through the service's API, never directly.
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { migrate } from '../migrations.js';
import { Serial } from '../serial.js';
import { all } from './sql.js';

export interface DuckDbOptions {
  /** DuckDB `memory_limit`, e.g. "512MB" (default: DuckDB's, 80% of RAM) */
  memoryLimit?: string;
  /** DuckDB worker threads (default: DuckDB's, one per core) */
  threads?: number;
  /** readings fetched per scan when readings.after must search device-sorted runs (default 50,000) */
  backfillChunk?: number;
  /** the write-ahead log's size that starts a checkpoint (default 16 MiB, DuckDB's own default) */
  checkpointWalBytes?: number;
  /** after a failed CHECKPOINT, none is tried again for this long (default 1,000 ms) */
  checkpointRetryMs?: number;
}

/** After a failed CHECKPOINT (another write transaction open, e.g. a long merge), wait this long. */
const CHECKPOINT_RETRY_MS = 1000;

export interface CheckpointStatus {
  /** CHECKPOINTs run since open */
  checkpoints: number;
  /** CHECKPOINTs that failed since open */
  failures: number;
  /** failed attempts since the last one that succeeded (0 while they succeed) */
  consecutiveFailures: number;
  /** the last failure's message while they keep failing, null once one succeeds */
  lastError: string | null;
  /** when the current run of failures began (ms since the epoch), null while they succeed */
  failingSince: number | null;
  lastCheckpointAt: number | null;
}

type Which = 'writer' | 'control' | 'reader' | 'records' | 'maint';

export class DuckDbDatabase {
  private instance: DuckDBInstance | null = null;
  private readonly conns: Record<Which, DuckDBConnection | null> = { writer: null, control: null, reader: null, records: null, maint: null };
  private readonly queues: Record<Which, Serial> = { writer: new Serial(), control: new Serial(), reader: new Serial(), records: new Serial(), maint: new Serial() };
  /** set from close() until the connections are gone: no new maintenance step, no checkpoint */
  closing = false;
  private checkpointing = false;
  private checkpointRetryAt = 0;
  private checkpoints: CheckpointStatus = { checkpoints: 0, failures: 0, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: null };

  /** `runCheckpoint` runs the CHECKPOINT statement (a seam: tests make it fail). */
  constructor(readonly file: string, readonly options: DuckDbOptions, private readonly runCheckpoint: () => Promise<void>) {}

  async open(): Promise<void> {
    if (this.file !== ':memory:') mkdirSync(path.dirname(this.file), { recursive: true });
    // DuckDB's buffer pool defaults to 80% of RAM and grows into it as the file is read;
    // a bound keeps the service's RSS predictable next to 100k connections (DuckDB spills
    // large query state to disk rather than fail).
    const settings: Record<string, string> = {};
    if (this.options.memoryLimit) settings.memory_limit = this.options.memoryLimit;
    if (this.options.threads) settings.threads = String(this.options.threads);
    // No automatic checkpoints: see checkpointIfDue.
    if (this.file !== ':memory:') settings.wal_autocheckpoint = '1000GB';
    this.instance = await DuckDBInstance.create(this.file, settings);
    for (const which of Object.keys(this.conns) as Which[]) this.conns[which] = await this.instance.connect();
    await migrate(this.conn('control'));
  }

  /** Stop taking long steps: interrupt a history merge (its transaction rolls back, the inputs stay). */
  async quiesce(): Promise<void> {
    this.closing = true;
    this.conns.maint?.interrupt();
    for (const which of ['maint', 'writer', 'control', 'reader', 'records'] as const) await this.queues[which].idle();
  }

  /** Close every connection and the file (after quiesce and after the appenders are closed). */
  closeConnections(): void {
    for (const c of Object.values(this.conns)) c?.closeSync();
    // CHECKPOINT is implicit on the last close: the WAL is folded into the file.
    this.instance?.closeSync();
    for (const which of Object.keys(this.conns) as Which[]) this.conns[which] = null;
    this.instance = null;
    this.closing = false;
  }

  conn(which: Which): DuckDBConnection {
    const c = this.conns[which];
    if (!c) throw new Error('store is not open');
    return c;
  }

  /** Reads of readings, dead letters, devices, users, settings. */
  read<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.queues.reader.run(() => fn(this.conn('reader')));
  }

  /**
   * Reads of alerts and rescue cases (the operators' lists, details and statistics) on a
   * connection of their own: they never wait behind reading-history scans, the replay or the
   * history's catalog changes, which the reader connection serialises.
   */
  readRecords<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.queues.records.run(() => fn(this.conn('records')));
  }

  /** The readings' writer (its appenders and transactions are the caller's). */
  write<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.queues.writer.run(() => fn(this.conn('writer')));
  }

  /** A job on the control connection outside a transaction (a staging step of an import). */
  control<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.queues.control.run(() => fn(this.conn('control')));
  }

  /** Like control(), with null for the connection once the store is closed. */
  controlIfOpen<T>(fn: (c: DuckDBConnection | null) => Promise<T>): Promise<T> {
    return this.queues.control.run(() => fn(this.conns.control));
  }

  /** Device-clustered history's seals and merges: long statements of their own. Null once closing. */
  maintain<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T | null> {
    return this.queues.maint.run(async () => (this.closing ? null : fn(this.conn('maint'))));
  }

  interruptMaintenance(): void {
    this.conns.maint?.interrupt();
  }

  /** One transaction on the control connection; a checkpoint may follow its commit. */
  controlTx<T = void>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.control(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const result = await fn(c);
        await c.run('COMMIT');
        // every write path, not only readings: alerts, notes, cases, users and imports grow
        // the WAL too, and a WAL DuckDB cannot replay within its memory limit stops a restart
        this.checkpointIfDue();
        return result;
      } catch (err) {
        try { await c.run('ROLLBACK'); } catch { /* nothing to roll back */ }
        throw err;
      }
    });
  }

  /** Bytes DuckDB holds in memory, every buffer of it (for /metrics and the tests). */
  memoryBytes(): Promise<number> {
    return this.readRecords(async (c) => Number((await all(c, 'SELECT coalesce(sum(memory_usage_bytes), 0)::DOUBLE AS m FROM duckdb_memory()'))[0]?.m ?? 0));
  }

  checkpointStatus(): CheckpointStatus {
    return { ...this.checkpoints };
  }

  /**
   * Checkpoints run here, not inside a COMMIT. DuckDB checkpoints automatically in the commit
   * that takes the WAL past 16 MiB, on a worker thread, for 200-250 ms; meanwhile any
   * synchronous call into DuckDB from another connection waits for its lock on the event
   * loop's thread. That was the writer's appender flush holding the event loop ~200 ms every
   * few seconds at 20k readings/s (P2 profile: the three longest stalls of the run, gone with
   * automatic checkpoints off). So the automatic checkpoint is off, and once the WAL passes
   * the same size a CHECKPOINT is queued behind the writer's and the control connection's
   * work, holding both queues: no appender of ours can then be inside DuckDB, and the
   * statement runs off the event loop. The journal (when on) keeps acknowledging meanwhile.
   * Another write transaction open (a history merge) makes DuckDB refuse it; it is tried
   * again after the next commit, at most once a second, as DuckDB itself would skip it.
   * Every committing path calls it: readings, control transactions, history steps.
   */
  checkpointIfDue(): void {
    if (this.file === ':memory:' || this.checkpointing || this.closing || Date.now() < this.checkpointRetryAt) return;
    let walBytes: number;
    try {
      walBytes = statSync(`${this.file}.wal`).size;
    } catch {
      return; // no WAL: nothing to fold in
    }
    if (walBytes < (this.options.checkpointWalBytes ?? 16 * 1024 * 1024)) return;
    this.checkpointing = true;
    void this.queues.writer.run(() => this.queues.control.run(async () => {
      if (this.closing) return;
      await this.runCheckpoint();
      this.checkpoints = { ...this.checkpoints, checkpoints: this.checkpoints.checkpoints + 1, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: Date.now() };
    })).catch((err: unknown) => {
      // a WAL that is never folded in grows without bound, and the next start replays all of it:
      // /healthz reports a run of failures (service/health.ts)
      const c = this.checkpoints;
      this.checkpoints = {
        ...c, failures: c.failures + 1, consecutiveFailures: c.consecutiveFailures + 1,
        lastError: err instanceof Error ? err.message : String(err), failingSince: c.failingSince ?? Date.now(),
      };
      this.checkpointRetryAt = Date.now() + (this.options.checkpointRetryMs ?? CHECKPOINT_RETRY_MS);
    }).finally(() => {
      this.checkpointing = false;
    });
  }
}
