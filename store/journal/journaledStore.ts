/**
 * The ingest journal in front of a store (docs/journal.md). A group commit is durable once its
 * frame is appended to the journal and fsynced (about a millisecond); the store behind (DuckDB)
 * receives the readings a moment later, in larger batches, from the applier below. So the
 * PUBACK and the alert engine no longer wait for DuckDB's commit, whose automatic checkpoint
 * stalls it for 200-250 ms now and then (README, P2).
 *
 * Guarantees:
 * - Nothing acknowledged is lost: a batch leaves the journal only after the store behind has
 *   committed it; at open, whatever the journal holds beyond the store's last seq is applied
 *   before anything else runs (readings with seq, dead letters with id above the store's).
 * - Reads see every batch journaled before they were asked (read-your-writes), by waiting for
 *   the applier to get that far, at most `readWaitMs` (a failing store must not hang the API).
 *   readings.after does not wait: its callers (alert replay, InfluxDB forwarder) follow the
 *   store's own progress.
 * - Only the readings and dead letters go through the journal; every other repository is the
 *   store's own (a cylinder's scans, which are readings, wait for it as reads do).
 * - Memory is bounded: past `maxBacklogRows` not yet applied, appends wait (ingest's
 *   backpressure then slows the devices, as when the store itself is slow).
 * - A failing store behind is retried with back-off; the journal keeps every batch meanwhile.
 */
import { Serial } from '../serial.js';
import type { DeadLetter, DeadLetterRepository, Reading, ReadingRepository, Store } from '../types.js';
import { encodeFrame } from './frame.js';
import { JournalFiles, type Segment } from './journalFiles.js';

export interface JournalOptions {
  dir: string;
  /** readings and dead letters journaled but not yet applied, beyond which appends wait */
  maxBacklogRows: number;
  /** a segment file is closed past this size (default 64 MiB) */
  segmentBytes?: number;
  /** most rows the applier writes to the store in one batch (default 50,000) */
  applyMaxRows?: number;
  /**
   * how long journaled batches gather before the applier writes them to the store (default
   * 100 ms); a read waiting for them, a backlog of `applyMaxRows`, or closing starts it at once
   */
  applyDelayMs?: number;
  /** longest a read waits for the applier to reach it (default 2,000 ms) */
  readWaitMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  onError?: (err: Error) => void;
}

export interface JournalRecovery {
  segments: number;
  readings: number;
  deadLetters: number;
  /** bytes of a last frame cut short by a crash (never acknowledged) */
  droppedBytes: number;
}

export interface JournalStatus {
  /** readings and dead letters journaled, not yet in the store */
  backlogRows: number;
  segments: number;
  bytes: number;
  /** batches applied to the store since start */
  appliedBatches: number;
  applyFailures: number;
  /** the store's last error while it keeps failing, null once a batch goes through */
  lastError: Error | null;
  /** failed writes to the store since the last one that went through */
  consecutiveFailures: number;
  /** when the current run of failures began (ms since the epoch), null while writes go through */
  failingSince: number | null;
  /** when the oldest batch not yet in the store was journaled (ms since the epoch), null when none waits */
  oldestPendingAt: number | null;
  /** the backlog at which appends wait (INGEST_JOURNAL_MAX_BACKLOG) */
  maxBacklogRows: number;
  recovered: JournalRecovery | null;
}

interface Pending {
  /** the batch as objects, kept only for a store behind that takes no frames */
  readings: readonly Reading[];
  deadLetters: readonly DeadLetter[];
  /** the batch as written to the journal, kept for a store behind that takes frames */
  frame: Uint8Array | null;
  rows: number;
  segment: Segment;
  /** when it was journaled (ms since the epoch) */
  at: number;
}

interface Waiter {
  /** checks its condition; settles and leaves the list when it holds */
  resolve: () => void;
}

export class JournaledStore implements Store {
  readonly readings: ReadingRepository;
  readonly deadLetters: DeadLetterRepository;
  readonly devices: Store['devices'];
  readonly accounts: Store['accounts'];
  readonly alerts: Store['alerts'];
  readonly cylinders: Store['cylinders'];
  readonly settings: Store['settings'];
  readonly audit: Store['audit'];
  private readonly files: JournalFiles;
  private readonly writes = new Serial();
  private queue: Pending[] = [];
  private backlogRows = 0;
  /** batches journaled / applied since open; a read waits for applied >= journaled-at-ask */
  private journaled = 0;
  private applied = 0;
  private waiters: Waiter[] = [];
  private applying: Promise<void> | null = null;
  /** the applier's gathering delay, while it runs */
  private applyTimer: NodeJS.Timeout | null = null;
  private closing = false;
  private failures = 0;
  private consecutiveFailures = 0;
  private lastError: Error | null = null;
  private failingSince: number | null = null;
  private retryTimer: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  private recovered: JournalRecovery | null = null;

  constructor(readonly inner: Store, private readonly opts: JournalOptions) {
    this.files = new JournalFiles(opts.dir, opts.segmentBytes ?? 64 * 1024 * 1024);
    const readings = inner.readings;
    const history = readings.history?.bind(readings);
    this.readings = {
      appendBatch: (r, d, payloads) => this.appendBatch(r, d, payloads),
      lastSequences: async () => { await this.visible(); return readings.lastSequences(); },
      recentMessageKeys: async (since, max) => { await this.visible(); return readings.recentMessageKeys(since, max); },
      query: async (q) => { await this.visible(); return readings.query(q); },
      count: async () => { await this.visible(); return readings.count(); },
      ...(history ? { history: async (q: Parameters<typeof history>[0]) => { await this.visible(); return history(q); } } : {}),
      after: (after, limit) => readings.after(after, limit),
    };
    this.deadLetters = {
      list: async (q) => { await this.visible(); return inner.deadLetters.list(q); },
      count: async () => { await this.visible(); return inner.deadLetters.count(); },
    };
    this.devices = inner.devices;
    this.accounts = inner.accounts;
    this.audit = inner.audit;
    this.alerts = inner.alerts;
    // a cylinder's scans are readings: they wait for the journal like any read of readings
    const cylinders = inner.cylinders;
    this.cylinders = {
      upsert: (records, at) => cylinders.upsert(records, at),
      load: () => cylinders.load(),
      versions: (code) => cylinders.versions(code),
      scans: async (q) => { await this.visible(); return cylinders.scans(q); },
    };
    this.settings = inner.settings;
  }

  async open(): Promise<void> {
    await this.inner.open();
    this.recovered = await replayJournal(this.inner, this.files, this.opts.applyMaxRows ?? 50_000);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.writes.idle();
    this.applyNow();
    // a store that is failing is not waited for: its batches stay in the journal for next start
    await this.until(() => this.queue.length === 0 || this.consecutiveFailures > 0);
    this.retryTimer?.wake();
    await this.applying;
    await this.files.close(true);
    await this.inner.close();
  }

  status(): JournalStatus {
    return {
      backlogRows: this.backlogRows, segments: this.files.segments, bytes: this.files.bytes, appliedBatches: this.applied,
      applyFailures: this.failures, lastError: this.consecutiveFailures > 0 ? this.lastError : null,
      consecutiveFailures: this.consecutiveFailures, failingSince: this.consecutiveFailures > 0 ? this.failingSince : null,
      oldestPendingAt: this.queue[0]?.at ?? null, maxBacklogRows: this.opts.maxBacklogRows, recovered: this.recovered,
    };
  }

  /**
   * Durable once the frame is fsynced; the store behind gets it from the applier. The payloads
   * go into the frame as they are (store/journal/frame.ts) and are not kept past the write.
   */
  private appendBatch(readings: readonly Reading[], deadLetters: readonly DeadLetter[], payloads?: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.writes.run(async () => {
      if (this.closing) throw new Error('the journal is closing');
      if (this.backlogRows >= this.opts.maxBacklogRows) {
        this.applyNow();
        await this.until(() => this.backlogRows < this.opts.maxBacklogRows || this.closing);
      }
      if (this.closing) throw new Error('the journal is closing');
      const frame = encodeFrame(readings, deadLetters, payloads);
      const segment = await this.files.append(frame);
      const rows = readings.length + deadLetters.length;
      // a store in another thread takes the frame itself: the objects are not kept
      this.queue.push(this.inner.readings.appendFrames
        ? { readings: [], deadLetters: [], frame, rows, segment, at: Date.now() }
        : { readings, deadLetters, frame: null, rows, segment, at: Date.now() });
      this.backlogRows += readings.length + deadLetters.length;
      this.journaled++;
      this.scheduleApply();
      return frame;
    });
  }

  /**
   * DuckDB's append has a cost per batch that dwarfs its cost per row at small batches (P2
   * profile at 20k readings/s, commits ~1 ms apart: ~7 µs a row applied commit by commit,
   * ~1 µs at P1's batches of thousands), so the applier lets batches gather first. Nothing
   * waits for it meanwhile: the journal has made them durable, and reads ask for them.
   */
  private scheduleApply(): void {
    if (this.applying || this.applyTimer) return;
    if (this.backlogRows >= (this.opts.applyMaxRows ?? 50_000)) { this.applyNow(); return; }
    this.applyTimer = setTimeout(() => this.applyNow(), this.opts.applyDelayMs ?? 100);
    // the batches are durable in the journal: a process about to exit need not wait for this
    this.applyTimer.unref();
  }

  private applyNow(): void {
    if (this.applyTimer) { clearTimeout(this.applyTimer); this.applyTimer = null; }
    if (this.queue.length) this.applying ??= this.apply();
  }

  // ---- the applier -------------------------------------------------------------------------

  private async apply(): Promise<void> {
    const max = this.opts.applyMaxRows ?? 50_000;
    while (this.queue.length) {
      let k = 0;
      let rows = 0;
      while (k < this.queue.length && (k === 0 || rows + size(this.queue[k]!) <= max)) rows += size(this.queue[k++]!);
      const take = this.queue.slice(0, k);
      try {
        await this.write(take);
      } catch (e) {
        this.failures++;
        if (this.consecutiveFailures++ === 0) this.failingSince = Date.now();
        this.lastError = e instanceof Error ? e : new Error(String(e));
        this.opts.onError?.(this.lastError);
        this.notify();
        if (this.closing) break;
        await this.backOff();
        continue;
      }
      this.consecutiveFailures = 0;
      this.queue.splice(0, k);
      this.backlogRows -= rows;
      this.applied += k;
      for (const p of take) {
        try {
          await this.files.applied(p.segment);
        } catch (e) {
          // a segment that could not be deleted is read again at the next start and skipped there
          this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
        }
      }
      this.notify();
    }
    this.applying = null;
    this.notify();
  }

  private write(take: readonly Pending[]): Promise<unknown> {
    const inner = this.inner.readings;
    if (take[0]!.frame && inner.appendFrames) return inner.appendFrames(take.map((p) => p.frame!));
    const readings = take.length === 1 ? take[0]!.readings : take.flatMap((p) => p.readings);
    const deadLetters = take.length === 1 ? take[0]!.deadLetters : take.flatMap((p) => p.deadLetters);
    return inner.appendBatch(readings, deadLetters);
  }

  private backOff(): Promise<void> {
    const min = this.opts.retryMinMs ?? 100;
    const ms = Math.min(this.opts.retryMaxMs ?? 1000, min * 2 ** Math.min(this.consecutiveFailures - 1, 16));
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); this.retryTimer = null; resolve(); };
      const timer = setTimeout(wake, ms);
      this.retryTimer = { timer, wake };
    });
  }

  /** Resolves once `ready()` holds, checked whenever the applier makes progress or fails. */
  private until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const w: Waiter = { resolve: () => { if (ready()) { this.forget(w); resolve(); } } };
      this.waiters.push(w);
    });
  }

  private forget(w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w.resolve();
  }

  /** Wait until every batch journaled before this call is in the store, or readWaitMs passed. */
  private visible(): Promise<void> {
    const target = this.journaled;
    if (this.applied >= target) return Promise.resolve();
    this.applyNow();
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.forget(w); resolve(); }, this.opts.readWaitMs ?? 2000);
      const w: Waiter = { resolve: () => { if (this.applied >= target) { clearTimeout(timer); this.forget(w); resolve(); } } };
      this.waiters.push(w);
    });
  }
}

/**
 * Write what the journal's segments hold beyond the store's last seq (and dead-letter id) into
 * the store, then delete the segments. Runs at open, before anything reads or writes; also
 * when the journal has been turned off since a crash (INGEST_JOURNAL=false), so that nothing
 * it acknowledged is left behind.
 */
export async function replayJournal(inner: Store, files: JournalFiles | string, applyMaxRows = 50_000): Promise<JournalRecovery> {
  const journal = typeof files === 'string' ? new JournalFiles(files, Infinity) : files;
  const segments = await journal.existing();
  const info: JournalRecovery = { segments: segments.length, readings: 0, deadLetters: 0, droppedBytes: 0 };
  if (!segments.length) return info;
  const last = await inner.readings.lastSequences();
  let readings: Reading[] = [];
  let deadLetters: DeadLetter[] = [];
  const flush = async () => {
    if (!readings.length && !deadLetters.length) return;
    await inner.readings.appendBatch(readings, deadLetters);
    info.readings += readings.length;
    info.deadLetters += deadLetters.length;
    readings = [];
    deadLetters = [];
  };
  for (const file of segments) {
    const seg = await journal.read(file);
    info.droppedBytes += seg.droppedBytes;
    for (const b of seg.batches) {
      for (const r of b.readings) if (r.seq > last.readingSeq) readings.push(r);
      for (const d of b.deadLetters) if (d.id > last.deadLetterId) deadLetters.push(d);
      if (readings.length + deadLetters.length >= applyMaxRows) await flush();
    }
  }
  await flush();
  for (const file of segments) await journal.remove(file);
  return info;
}

function size(p: Pending): number {
  return p.rows;
}
