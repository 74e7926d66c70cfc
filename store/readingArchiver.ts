/**
 * The background loop of device-clustered history (readingRuns.ts): one step at a time, back
 * to back while there is work, otherwise a look every `intervalMs`. A failed step is logged
 * and retried on the next look; the data stays where it was (each step is one transaction).
 */
import type { ArchiveStep, RunPolicy } from './readingRuns.js';

export interface ArchiveTarget {
  maintainReadings(safeSeq: number, policy: RunPolicy, now: number): Promise<ArchiveStep | null>;
  /** abandon the step in progress (it rolls back); a merge may otherwise hold a stop for minutes */
  interruptMaintenance?(): void;
}

export interface ReadingArchiverOptions {
  policy: RunPolicy;
  intervalMs: number;
  /**
   * The highest seq that may leave the hot tables: readers that go through readings in seq
   * order (the alert engine's replay, the InfluxDB forwarder) find what is after it there.
   */
  safeSeq: () => number;
  now?: () => number;
  onError?: (err: unknown) => void;
  onStep?: (step: ArchiveStep, ms: number) => void;
}

export interface ReadingArchiverStatus {
  seals: number;
  merges: number;
  failures: number;
}

export class ReadingArchiver {
  private readonly counts: ReadingArchiverStatus = { seals: 0, merges: 0, failures: 0 };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly target: ArchiveTarget, private readonly opts: ReadingArchiverOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) this.target.interruptMaintenance?.();
    await this.running;
  }

  status(): ReadingArchiverStatus {
    return { ...this.counts };
  }

  /** Every step there is to do now, in order (benchmarks and tests; the loop does the same). */
  async drain(): Promise<number> {
    let steps = 0;
    while (await this.step()) steps++;
    return steps;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.step().then(
        (did) => this.schedule(did ? 0 : this.opts.intervalMs),
        (err) => {
          // a step interrupted by stop() is not a failure: it rolled back and is done again later
          if (!this.stopped) { this.counts.failures++; this.opts.onError?.(err); }
          this.schedule(this.opts.intervalMs);
        },
      ).finally(() => { this.running = null; });
    }, ms);
    this.timer.unref?.();
  }

  private async step(): Promise<boolean> {
    const t = performance.now();
    const now = (this.opts.now ?? Date.now)();
    const step = await this.target.maintainReadings(this.opts.safeSeq(), this.opts.policy, now);
    if (step) {
      if (step.kind === 'seal') this.counts.seals++; else this.counts.merges++;
      this.opts.onStep?.(step, performance.now() - t);
    }
    return step !== null;
  }
}
