/**
 * The embedded store, run in a worker thread (storeHost.ts): the same repositories as
 * DuckDbStore, each call a message (protocol.ts). Readings go as journal frames, transferred;
 * the rest is structured-cloned. Why: DuckDB's appender flush and the conversion of query
 * results run on the thread that calls them, and on the event loop they held PUBACKs, scan
 * replies and the wall's pushes behind them (docs/architecture.md, Threads; the P4).
 *
 * The worker stopping on its own (a bug, an out-of-memory) fails every call waiting and every
 * later one ("the store's worker thread stopped"): the journal keeps the readings meanwhile,
 * and /healthz reports the store's failing writes.
 */
import type { Worker } from 'node:worker_threads';
import type { CheckpointStatus, DuckDbOptions, EmbeddedStore } from '../duckdbStore.js';
import { encodeFrame } from '../journal/frame.js';
import type { ArchiveStep, RunPolicy } from '../readingRuns.js';
import type { DeadLetter, DeviceImportWriter, Reading, Store } from '../types.js';
import { startWorker } from './startWorker.js';
import { REPOSITORY_METHODS, reviveError, type RepositoryName, type Request, type StoreStatus, type WorkerData, type WorkerMessage } from './protocol.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
/** A request without its id (the id is given when it is sent). */
type Ask = Request extends infer R ? R extends { id: number } ? Omit<R, 'id'> : never : never;

export interface WorkerStoreOptions extends DuckDbOptions {
  /** accept fault injection (tests only): `failCheckpoints` */
  seams?: boolean;
  /** the worker stopped while the store was open (not at close): for the service's log */
  onStopped?: (err: Error) => void;
}

export class WorkerStore implements EmbeddedStore {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopped: Error | null = null;
  private closing = false;
  /** the worker said it is ready: a stop after that is reported (onStopped), one during open is open's error */
  private opened = false;
  private latest: StoreStatus = {
    checkpoint: { checkpoints: 0, failures: 0, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: null },
    runs: [],
  };

  readonly readings: Store['readings'];
  readonly deadLetters: Store['deadLetters'];
  readonly devices: Store['devices'];
  readonly accounts: Store['accounts'];
  readonly alerts: Store['alerts'];
  readonly cylinders: Store['cylinders'];
  readonly settings: Store['settings'];
  readonly audit: Store['audit'];

  constructor(readonly file: string, readonly options: WorkerStoreOptions = {}) {
    this.readings = {
      ...this.repository('readings'),
      appendBatch: (r: readonly Reading[], d: readonly DeadLetter[], payloads?: readonly Uint8Array[]) => this.appendFrames([encodeFrame(r, d, payloads)]),
      appendFrames: (frames: readonly Uint8Array[]) => this.appendFrames(frames),
    };
    this.deadLetters = this.repository('deadLetters');
    this.devices = { ...this.repository('devices'), beginImport: () => this.beginImport() };
    this.accounts = this.repository('accounts');
    this.alerts = this.repository('alerts');
    this.cylinders = this.repository('cylinders');
    this.settings = this.repository('settings');
    this.audit = this.repository('audit');
  }

  async open(): Promise<void> {
    const data: WorkerData = {
      file: this.file,
      options: { ...(this.options.memoryLimit ? { memoryLimit: this.options.memoryLimit } : {}), ...(this.options.threads ? { threads: this.options.threads } : {}) },
      seams: this.options.seams === true,
    };
    const worker = this.worker = startWorker(import.meta.url, './storeHost', data);
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'ready') { this.latest = m.status; this.opened = true; resolve(); } else if (m.kind === 'openFailed') reject(reviveError(m.error));
        else this.onMessage(m);
      });
      worker.once('error', (err) => { reject(err); this.fail(err); });
      worker.once('exit', (code) => {
        const err = new Error(this.closing ? 'the store is closed' : `the store's worker thread stopped (exit code ${code})`);
        reject(err);
        this.fail(err);
      });
    });
    await ready;
  }

  async close(): Promise<void> {
    if (!this.worker || this.stopped) return;
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker!.once('exit', () => resolve()));
    await this.ask({ kind: 'close' });
    await exited;
  }

  maintainReadings(safeSeq: number, policy: RunPolicy, now: number): Promise<ArchiveStep | null> {
    return this.ask({ kind: 'store', method: 'maintainReadings', args: [safeSeq, policy, now] }) as Promise<ArchiveStep | null>;
  }

  interruptMaintenance(): void {
    if (this.worker && !this.stopped) this.worker.postMessage({ kind: 'interrupt' } satisfies Request);
  }

  readingRuns(): Array<{ base: string; runs: number; rows: number }> {
    return this.latest.runs;
  }

  memoryBytes(): Promise<number> {
    return this.ask({ kind: 'store', method: 'memoryBytes', args: [] }) as Promise<number>;
  }

  checkpointStatus(): CheckpointStatus {
    return { ...this.latest.checkpoint };
  }

  /** Tests only (started with `seams`): every CHECKPOINT fails with `message`, or works again (null). */
  async failCheckpoints(message: string | null, options: { checkpointWalBytes?: number; checkpointRetryMs?: number } = {}): Promise<void> {
    await this.ask({ kind: 'seam', checkpointError: message, options });
  }

  /** Tests only (started with `seams`): the worker closes DuckDB and ends, as a worker that failed would. */
  stopWorkerForTest(code: number): void {
    this.worker?.postMessage({ kind: 'exitSeam', code } satisfies Request);
  }

  /**
   * One message for the frames of several group commits: copied into one fresh buffer (a
   * Buffer may be a slice of Node's shared pool, which must not be transferred) and moved.
   */
  private appendFrames(frames: readonly Uint8Array[]): Promise<void> {
    let total = 0;
    for (const f of frames) total += f.byteLength;
    const joined = new Uint8Array(total);
    let at = 0;
    for (const f of frames) { joined.set(f, at); at += f.byteLength; }
    return this.ask({ kind: 'frames', frames: joined }, [joined.buffer]) as Promise<void>;
  }

  private async beginImport(): Promise<DeviceImportWriter> {
    const handle = await this.ask({ kind: 'beginImport' }) as number;
    const step = (method: 'stage' | 'commit' | 'abort', args: unknown[]) => this.ask({ kind: 'import', handle, method, args }) as Promise<void>;
    return {
      stage: (created, updated) => step('stage', [created, updated]),
      commit: () => step('commit', []),
      abort: () => step('abort', []),
    };
  }

  private repository<R extends RepositoryName>(repo: R): Store[R] {
    const proxy: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const method of REPOSITORY_METHODS[repo]) proxy[method] = (...args) => this.ask({ kind: 'call', repo, method, args });
    return proxy as unknown as Store[R];
  }

  private ask(req: Ask, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (!this.worker) return Promise.reject(new Error('the store is not open'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ ...req, id } as Request, transfer);
    });
  }

  private onMessage(m: WorkerMessage): void {
    if (m.kind === 'status') { this.latest = m.status; return; }
    if (m.kind !== 'reply') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(reviveError(m.error));
  }

  private fail(err: Error): void {
    if (!this.stopped && !this.closing && this.opened) this.options.onStopped?.(err);
    this.stopped ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
