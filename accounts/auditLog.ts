/**
 * The audit log (docs/security.md, Audit log): the one place entries are recorded. A route
 * calls `record` after it succeeded (a refused login before it answers); the entry is kept in
 * memory and written with the others of the same moment in one transaction on the store's
 * control connection a moment later, so a request never waits for the audit write. Reads flush
 * first, so a list shows everything recorded before it was asked for.
 *
 * Bounded: the table by age and rows (pruned at start and hourly), memory by `maxPending`
 * entries waiting while the store fails (the oldest go first, counted in `dropped`).
 */
import type { Store, AuditEntry, AuditQuery } from '../store/types.js';
import { auditActions, boundedDetails, boundedText, type AuditAction, type AuditDetails } from '../core/audit.js';
import type { Subscriber } from '../core/eventBus.js';
import type { ImportJobEvents } from '../devices/importJobs.js';

export interface AuditOptions {
  /** entries older than this many days are deleted (AUDIT_RETENTION_DAYS) */
  retentionDays: number;
  /** at most this many entries are kept, the newest (AUDIT_MAX_ROWS) */
  maxRows: number;
  /** how long an entry may wait in memory before its batch is written */
  flushMs?: number;
  /** entries waiting at most (while the store fails) */
  maxPending?: number;
  pruneEveryMs?: number;
}

/** What a caller says; the time is the log's, the kind of target the action's (core/audit.ts). */
export interface AuditInput {
  action: AuditAction;
  actor: string | null;
  targetId: string | null;
  address: string | null;
  details?: AuditDetails;
}

const BATCH = 1000;
const RETRY_MS = 5000;
const DAY_MS = 86_400_000;
/** longest username, device or alert id kept (usernames and ids are 64 at most; a typed username is cut) */
const ID_MAX = 128;

export class AuditLog {
  /** entries lost because more than `maxPending` waited while the store failed (named in the error log) */
  dropped = 0;
  private pending: Array<Omit<AuditEntry, 'id'>> = [];
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private readonly opts: Required<AuditOptions>;

  constructor(
    private readonly store: Pick<Store, 'audit'>,
    opts: AuditOptions,
    private readonly onError: (err: unknown, what: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { flushMs: 200, maxPending: 10_000, pruneEveryMs: 3_600_000, ...opts };
  }

  async start(): Promise<void> {
    await this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), this.opts.pruneEveryMs);
    this.pruneTimer.unref();
  }

  /** Write what waits; no more timers. */
  async stop(): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  record(input: AuditInput): void {
    this.pending.push({
      at: this.now(),
      actor: input.actor === null ? null : boundedText(input.actor, ID_MAX),
      action: input.action,
      targetKind: auditActions[input.action],
      targetId: input.targetId === null ? null : boundedText(input.targetId, ID_MAX),
      address: input.address === null ? null : boundedText(input.address, 64),
      details: boundedDetails(input.details),
    });
    if (this.pending.length > this.opts.maxPending) {
      const over = this.pending.length - this.opts.maxPending;
      this.pending.splice(0, over);
      this.dropped += over;
    }
    this.schedule(this.pending.length >= BATCH ? 0 : this.opts.flushMs);
  }

  /** Entries matching `q`, newest first, after writing what waits. */
  async list(q: AuditQuery): Promise<{ total: number; items: AuditEntry[] }> {
    await this.flush();
    return this.store.audit.query(q);
  }

  /** Write every waiting entry (one flush at a time, in order); a failure keeps them for a retry. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  /** Delete what is past the retention (age, then rows). */
  async prune(): Promise<number> {
    try {
      return await this.store.audit.prune(this.now() - this.opts.retentionDays * DAY_MS, this.opts.maxRows);
    } catch (err) {
      this.onError(err, 'pruning the audit log failed; retried within the hour');
      return 0;
    }
  }

  private schedule(ms: number): void {
    if (this.timer) {
      if (ms > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => { this.timer = null; void this.flush(); }, ms);
    this.timer.unref();
  }

  private async writePending(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, BATCH);
      try {
        await this.store.audit.append(batch);
      } catch (err) {
        // back in front, in order; entries recorded meanwhile stay behind them
        this.pending.unshift(...batch);
        this.onError(err, `writing ${this.pending.length} audit entries failed; retried in ${RETRY_MS / 1000} s`
          + (this.dropped ? ` (${this.dropped} dropped so far: more than ${this.opts.maxPending} waited)` : ''));
        this.schedule(RETRY_MS);
        return;
      }
    }
  }
}

/**
 * A device import's end, recorded by who started it (the job runs after the request answered):
 * done with its counts, or failed with its code. Never the result's rows: they hold the secrets.
 */
export function auditImportJobs(bus: Subscriber<ImportJobEvents>, audit: AuditLog): () => void {
  return bus.on('importJob.changed', (job) => {
    if (job.status !== 'done' && job.status !== 'failed') return;
    const r = job.result;
    audit.record({
      action: 'device.imported', actor: job.by, targetId: job.id, address: null,
      details: {
        status: job.status, rows: job.total, format: job.format, onConflict: job.onConflict,
        ...(r ? { created: r.created.length, updated: r.updated.length, skipped: r.skipped.length } : {}),
        ...(job.error ? { error: job.error.code, badRows: job.errors?.length ?? 0 } : {}),
      },
    });
  });
}
