/**
 * Device imports as background jobs (`POST /api/devices/import` answers 202 with the job;
 * README, HTTP API; docs/dashboard.md, Device import jobs). One job runs at a time, the others
 * wait in order, a few at most (each holds its rows); a job goes
 * queued -> validating -> writing -> done, or -> failed with the reason and, for bad rows,
 * every problem. DeviceRegistry.import does the work in chunks with the event loop running
 * between them, and writes everything in one store transaction or nothing.
 *
 * Finished jobs stay in memory for a while, bounded (the last `keepFinished`, fewer when their
 * results and row problems pass `keepRows` rows together), so that the user who started one
 * can fetch its result, with the new devices' secrets, after the POST has answered.
 */
import { randomUUID } from 'node:crypto';
import type { DeviceRegistry, ImportOptions, ImportResult, OnConflict, RowProblem } from './deviceRegistry.js';
import { CodedError, type Code } from '../core/codes.js';
import type { Role } from '../core/roles.js';
import type { Emitter } from '../core/eventBus.js';

export type ImportJobStatus = 'queued' | 'validating' | 'writing' | 'done' | 'failed';

export interface ImportJob {
  readonly id: string;
  status: ImportJobStatus;
  readonly onConflict: OnConflict;
  readonly format: 'json' | 'csv';
  /** rows in the import */
  readonly total: number;
  validated: number;
  /** rows through the write phase (created, updated or skipped); visible only once the job is done */
  written: number;
  /** username of who started it */
  readonly by: string;
  readonly createdAt: number;
  finishedAt: number | null;
  /** why it failed */
  error: { code: Code; message: string } | null;
  /** every bad row, when it failed on them (code `validation`) */
  errors: RowProblem[] | null;
  /** when done: as the synchronous import returned it, secrets included */
  result: ImportResult | null;
}

export interface ImportJobsOptions {
  /** finished jobs kept (the newest) */
  keepFinished: number;
  /** result rows and row problems of the kept finished jobs together, at most (the newest job is always kept) */
  keepRows: number;
  /** progress changes announced per phase at most (every phase change and the end are announced too) */
  progressSteps: number;
  /** jobs that may wait behind the running one; past that an import is refused (`import_running`) */
  maxQueued: number;
  /** rows per step of the import (DeviceRegistry.import) */
  chunkRows?: number;
  now?: () => number;
}

export const defaultImportJobsOptions: ImportJobsOptions = { keepFinished: 20, keepRows: 250_000, progressSteps: 10, maxQueued: 4 };

/** Every announced change of a job: creation, phase changes, progress steps, the end. */
export interface ImportJobEvents {
  'importJob.changed': Readonly<ImportJob>;
}

const finished = (j: ImportJob): boolean => j.status === 'done' || j.status === 'failed';
const rowsHeld = (j: ImportJob): number => (j.result ? j.result.created.length + j.result.updated.length + j.result.skipped.length : 0) + (j.errors?.length ?? 0);

export class ImportJobs {
  private readonly opts: ImportJobsOptions;
  private readonly now: () => number;
  /** in creation order */
  private readonly jobs = new Map<string, ImportJob>();
  private running: { job: ImportJob; abort: AbortController; done: Promise<void> } | null = null;
  /** waiting, in order, with their rows */
  private readonly queue: Array<{ job: ImportJob; rows: readonly unknown[] }> = [];
  private readonly waiters = new Set<{ id: string; wake: () => void }>();
  private stopped = false;

  constructor(private readonly registry: Pick<DeviceRegistry, 'import'>, private readonly events: Emitter<ImportJobEvents>, opts: Partial<ImportJobsOptions> = {}) {
    this.opts = { ...defaultImportJobsOptions, ...opts };
    this.now = this.opts.now ?? Date.now;
  }

  /** `import_running` (409) while a job runs and `maxQueued` wait already; `unavailable` once stopping. */
  assertIdle(): void {
    if (this.stopped) throw new CodedError('unavailable', 'the service is stopping; import again once it runs');
    const active = this.running?.job;
    if (active && this.queue.length >= this.opts.maxQueued) {
      throw new CodedError('import_running', `import job ${active.id} (started by ${active.by}) is still ${active.status} and ${this.queue.length} more wait; `
        + 'retry once one has ended', { jobId: active.id, waiting: this.queue.map((q) => q.job.id) });
    }
  }

  /** Queue an import; it starts after the current turn of the event loop (the 202 goes out first), after those before it. */
  start(rows: readonly unknown[], onConflict: OnConflict, by: string, format: 'json' | 'csv'): Readonly<ImportJob> {
    this.assertIdle();
    const job: ImportJob = {
      id: randomUUID(), status: 'queued', onConflict, format, total: rows.length, validated: 0, written: 0, by,
      createdAt: this.now(), finishedAt: null, error: null, errors: null, result: null,
    };
    this.jobs.set(job.id, job);
    this.queue.push({ job, rows });
    this.emit(job);
    this.next();
    return job;
  }

  private next(): void {
    if (this.running || this.stopped) return;
    const q = this.queue.shift();
    if (!q) return;
    const abort = new AbortController();
    this.running = { job: q.job, abort, done: this.run(q.job, q.rows, abort.signal) };
  }

  get(id: string): Readonly<ImportJob> | undefined {
    return this.jobs.get(id);
  }

  /** Every kept job, newest first. */
  list(): Array<Readonly<ImportJob>> {
    return [...this.jobs.values()].reverse();
  }

  /** Resolves when the job is finished or `ms` passed (or the jobs stop), whichever is first. */
  waitFor(id: string, ms: number): Promise<void> {
    const job = this.jobs.get(id);
    if (!job || finished(job) || ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { id, wake: () => { clearTimeout(timer); this.waiters.delete(w); resolve(); } };
      const timer = setTimeout(w.wake, ms);
      this.waiters.add(w);
    });
  }

  /** Abort the job in progress (it fails, nothing written) and wait for it; refuse new ones. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const q of this.queue.splice(0)) {
      q.job.status = 'failed';
      q.job.error = { code: 'unavailable', message: 'the service stopped before the import started; nothing was imported' };
      q.job.finishedAt = this.now();
      this.emit(q.job);
    }
    const r = this.running;
    if (r) {
      r.abort.abort(new CodedError('unavailable', 'the service stopped during the import; nothing was imported'));
      await r.done;
    }
    for (const w of [...this.waiters]) w.wake();
  }

  private async run(job: ImportJob, rows: readonly unknown[], signal: AbortSignal): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    const step = Math.max(1, Math.ceil(job.total / this.opts.progressSteps));
    let announced = { validated: 0, written: 0 };
    const options: ImportOptions = {
      signal,
      ...(this.opts.chunkRows ? { chunkRows: this.opts.chunkRows } : {}),
      onProgress: (p) => {
        const phaseChanged = job.status !== p.phase;
        job.status = p.phase;
        job.validated = p.validated;
        job.written = p.written;
        if (phaseChanged || p.validated >= announced.validated + step || p.written >= announced.written + step) {
          announced = { validated: p.validated, written: p.written };
          this.emit(job);
        }
      },
    };
    try {
      signal.throwIfAborted();
      job.result = await this.registry.import(rows, job.onConflict, options);
      job.status = 'done';
    } catch (e) {
      job.status = 'failed';
      if (e instanceof CodedError) {
        job.error = { code: e.code, message: e.message };
        if (e.code === 'validation' && Array.isArray(e.details)) job.errors = e.details as RowProblem[];
      } else {
        job.error = { code: 'internal', message: `the import failed, nothing was imported: ${(e as Error)?.message ?? String(e)}` };
      }
    }
    job.finishedAt = this.now();
    this.running = null;
    this.evict();
    this.emit(job);
    for (const w of [...this.waiters]) if (w.id === job.id) w.wake();
    this.next();
  }

  private evict(): void {
    const done = [...this.jobs.values()].filter(finished);
    let rows = done.reduce((n, j) => n + rowsHeld(j), 0);
    let kept = done.length;
    // oldest first; the newest finished job always stays
    for (const j of done) {
      if (kept <= 1 || (kept <= this.opts.keepFinished && rows <= this.opts.keepRows)) break;
      this.jobs.delete(j.id);
      kept--;
      rows -= rowsHeld(j);
    }
  }

  private emit(job: ImportJob): void {
    // a listener's failure is its own: the bus isolates it
    this.events.emit('importJob.changed', job);
  }
}

/** Who looks at a job: secrets are shown to the user who started it and to admins only. */
export interface JobViewer {
  username: string;
  role: Role;
}

const isoTime = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * A job as the API and the live push show it. `detail`: the row problems and the result
 * (with secrets only for `viewer` when it started the job or is admin); without it, counts
 * only (lists, the /ws event: never a secret, and small whatever the import's size).
 */
export function jobView(job: Readonly<ImportJob>, opts: { detail: boolean; viewer?: JobViewer }): ImportJobView {
  const view: ImportJobView = {
    id: job.id, status: job.status, onConflict: job.onConflict, format: job.format, total: job.total, validated: job.validated,
    written: job.written, by: job.by, createdAt: isoTime(job.createdAt)!, finishedAt: isoTime(job.finishedAt),
    ...(job.error ? { error: job.error } : {}),
    ...(finished(job)
      ? { counts: { created: job.result?.created.length ?? 0, updated: job.result?.updated.length ?? 0, skipped: job.result?.skipped.length ?? 0, errors: job.errors?.length ?? 0 } }
      : {}),
  };
  if (!opts.detail) return view;
  if (job.errors) view.errors = job.errors;
  if (job.result) {
    const secrets = opts.viewer !== undefined && (opts.viewer.role === 'admin' || opts.viewer.username === job.by);
    view.result = {
      created: secrets ? job.result.created : job.result.created.map(({ id, family }) => ({ id, family })),
      updated: job.result.updated,
      skipped: job.result.skipped,
    };
  }
  return view;
}

export interface ImportJobView {
  id: string;
  status: ImportJobStatus;
  onConflict: OnConflict;
  format: 'json' | 'csv';
  total: number;
  validated: number;
  written: number;
  by: string;
  createdAt: string;
  finishedAt: string | null;
  error?: { code: string; message: string };
  counts?: { created: number; updated: number; skipped: number; errors: number };
  errors?: RowProblem[];
  result?: { created: Array<{ id: string; family: ImportResult['created'][number]['family']; secret?: string }>; updated: string[]; skipped: string[] };
}

/** Rows serialised per step of jobJsonText. */
const JSON_SLICE_ROWS = 2000;

/**
 * A job view as JSON text, a slice of its rows at a time with the event loop free between
 * slices: the result of a 200,000-row import is ~15 MB of JSON, ~0.2 s to serialise in one go.
 */
export async function* jobJsonText(view: ImportJobView): AsyncGenerator<string> {
  const { errors, result, ...head } = view;
  yield JSON.stringify(head).slice(0, -1);
  if (errors) {
    yield ',"errors":';
    yield* jsonArray(errors);
  }
  if (result) {
    yield ',"result":{"created":';
    yield* jsonArray(result.created);
    yield ',"updated":';
    yield* jsonArray(result.updated);
    yield ',"skipped":';
    yield* jsonArray(result.skipped);
    yield '}';
  }
  yield '}';
}

async function* jsonArray(rows: readonly unknown[]): AsyncGenerator<string> {
  yield '[';
  for (let at = 0; at < rows.length; at += JSON_SLICE_ROWS) {
    if (at > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      yield ',';
    }
    yield rows.slice(at, at + JSON_SLICE_ROWS).map((r) => JSON.stringify(r)).join(',');
  }
  yield ']';
}
