/**
 * Group commit. Readings and dead letters queue here; whenever no commit is running, the
 * whole queue (up to INGEST_BATCH_MAX_ROWS) is written in one transaction. While a commit
 * runs, the next batch gathers, so the batch size follows the load with no timer: one row at
 * a time when idle, thousands under load.
 *
 * Every entry carries a callback fired after its batch commits (or fails). Ingest holds the
 * aedes `authorizePublish` callback on it for QoS 1, so the PUBACK means "stored".
 */
import type { DeadLetter, Reading, Store } from '../store/types.js';

export type Done = (err: Error | null) => void;

export interface BatchResult {
  /** the batch, as addReading returned it */
  token: BatchToken;
  readings: readonly Reading[];
  deadLetters: readonly DeadLetter[];
  /** the journal's frame of the batch, when the store journals (Store.readings.appendBatch) */
  frame: Uint8Array | null;
  durationMs: number;
}

export interface BatchWriterEvents {
  /** after a successful commit, before the callbacks fire */
  committed(result: BatchResult): void;
  /**
   * after a successful commit's callbacks fired (the PUBACKs are on their way), in the same
   * tick: for work that needs the commit but must not delay the acknowledgements
   */
  acknowledged?(result: BatchResult): void;
  /** after a failed commit; the callbacks get the error */
  failed(err: Error, result: BatchResult): void;
}

interface Batch {
  readings: Reading[];
  /** each reading's payload as the device sent it, same index (Store.readings.appendBatch) */
  payloads: Uint8Array[];
  deadLetters: DeadLetter[];
  callbacks: Done[];
}

/** An opaque handle on the batch a reading joined. */
export type BatchToken = object;

const emptyBatch = (): Batch => ({ readings: [], payloads: [], deadLetters: [], callbacks: [] });

export class BatchWriter {
  /** Full batches waiting, oldest first; the last one is the one gathering. */
  private queue: Batch[] = [emptyBatch()];
  private rows = 0;
  private writing = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly maxRows: number,
    private readonly events: BatchWriterEvents,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Rows waiting for a commit (not counting the one being written). */
  get pending(): number {
    return this.rows;
  }

  get busy(): boolean {
    return this.writing;
  }

  /** Queue a reading; the returned batch can be waited on by a duplicate of it (`attach`). */
  addReading(r: Reading, payload: Uint8Array, done: Done | null): BatchToken {
    const b = this.gathering();
    b.readings.push(r);
    b.payloads.push(payload);
    if (done) b.callbacks.push(done);
    this.rows++;
    this.kick();
    return b;
  }

  addDeadLetter(d: DeadLetter, done: Done | null): void {
    const b = this.gathering();
    b.deadLetters.push(d);
    if (done) b.callbacks.push(done);
    this.rows++;
    this.kick();
  }

  /**
   * Call `done` with the outcome of a batch still queued or being written: the PUBACK of a
   * duplicate waits for the commit of the original.
   */
  attach(token: BatchToken, done: Done): void {
    (token as Batch).callbacks.push(done);
  }

  /** Resolves when everything queued so far is written (used at shutdown). */
  flushed(): Promise<void> {
    if (!this.writing && this.rows === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
  }

  /** The batch that new rows join; a full one is closed and a new one opened. */
  private gathering(): Batch {
    let b = this.queue[this.queue.length - 1]!;
    if (b.readings.length + b.deadLetters.length >= this.maxRows) {
      b = emptyBatch();
      this.queue.push(b);
    }
    return b;
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    // Let the rest of this tick's packets join the batch before it is cut.
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    for (;;) {
      const batch = this.queue.shift()!;
      if (this.queue.length === 0) this.queue.push(emptyBatch());
      const size = batch.readings.length + batch.deadLetters.length;
      if (size === 0 && batch.callbacks.length === 0) break;
      this.rows -= size;
      const started = this.clock();
      try {
        if (this.stopped) throw new Error('ingest is stopping');
        const frame = size ? await this.store.readings.appendBatch(batch.readings, batch.deadLetters, batch.payloads) : undefined;
        const result = { token: batch, readings: batch.readings, deadLetters: batch.deadLetters, frame: frame instanceof Uint8Array ? frame : null, durationMs: this.clock() - started };
        this.safely(() => this.events.committed(result));
        for (const cb of batch.callbacks) cb(null);
        if (this.events.acknowledged) this.safely(() => this.events.acknowledged!(result));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.safely(() => this.events.failed(err, { token: batch, readings: batch.readings, deadLetters: batch.deadLetters, frame: null, durationMs: this.clock() - started }));
        for (const cb of batch.callbacks) cb(err);
      }
    }
    this.writing = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private safely(fn: () => void): void {
    try { fn(); } catch { /* a listener's bug must not lose a commit's callbacks */ }
  }
}
