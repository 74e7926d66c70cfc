/**
 * InfluxDB forwarding, driven by the local store rather than by live messages.
 *
 * The forwarder keeps one number, the position: the seq of the last reading the server has
 * confirmed (HTTP 204 on /api/v2/write). It is persisted in the store's settings
 * (`influx_position`). The loop reads the readings after the position in seq order, writes
 * them as one request, and only after the server's confirmation advances the position and
 * saves it. So:
 *  - an InfluxDB outage loses nothing: the readings stay in the store and the loop retries
 *    with exponential back-off (INFLUX_RETRY_MIN_MS .. INFLUX_RETRY_MAX_MS);
 *  - a restart resumes at the saved position: nothing confirmed is sent again, except after a
 *    crash between the confirmation and the save of the position, when the last batch (at
 *    most INFLUX_BATCH_SIZE readings) is sent a second time. Identical points (same series
 *    and timestamp) overwrite each other in InfluxDB, so that resend is harmless there;
 *  - the backlog drains in batches of INFLUX_BATCH_SIZE back to back, with the devices' own
 *    timestamps.
 *
 * The client's WriteApi is deliberately not used: its retry buffer drops lines past
 * maxBufferLines and close() drops what is left (docs/domain.md §7). We send each batch with the
 * client's transport and treat anything but success as "not written".
 *
 * Ordering: the group commit writes batches one at a time in seq order, each in one
 * transaction, so once seq N is committed every smaller seq that will ever be stored is too.
 * The loop forwards only up to the highest seq committed before its read began, so the
 * position never skips a reading.
 */
import { InfluxDB } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import type { Reading, Store } from '../types.js';
import { toLines, type DeviceTags } from './points.js';

export const POSITION_KEY = 'influx_position';

export interface InfluxForwarderOptions {
  url: string;
  token: string;
  org: string;
  bucket: string;
  /** readings per write request */
  batchSize: number;
  /** per-request timeout */
  timeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** when caught up, look for new readings at least this often (new commits also wake it) */
  pollMs: number;
  /**
   * The setting the position is kept under (default POSITION_KEY). On cluster mode's shared
   * store each node forwards the readings it stored, numbered by itself, so each keeps its own
   * (positionKeyOf).
   */
  positionKey?: string;
}

/** The position's setting for a node of cluster mode (its readings, its numbers), or the embedded store's. */
export function positionKeyOf(nodeId: string | null): string {
  return nodeId === null ? POSITION_KEY : `${POSITION_KEY}:${nodeId}`;
}

export interface InfluxStatus {
  running: boolean;
  /** seq of the last reading confirmed by the server */
  position: number;
  /** highest seq known to be stored */
  latestSeq: number;
  /** readings stored but not yet confirmed (seq difference: an upper bound, failed commits leave gaps) */
  lagReadings: number;
  /** age of the oldest unconfirmed reading (receive time), 0 when caught up */
  lagSeconds: number;
  forwarded: number;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
}

export class InfluxForwarder {
  private position = 0;
  private latestSeq = 0;
  /** receive time of the oldest reading after the position, when known */
  private headReceivedAt: number | null = null;
  private forwarded = 0;
  private failures = 0;
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private lastSuccessAt: number | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private sleepTimer: NodeJS.Timeout | null = null;
  private client: InfluxDB | null = null;
  private writePath = '';

  private get positionKey(): string {
    return this.opts.positionKey ?? POSITION_KEY;
  }

  constructor(
    private readonly store: Store,
    private readonly opts: InfluxForwarderOptions,
    private readonly device: (id: string) => DeviceTags | undefined,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Load the position and start the loop. With no saved position, everything stored so far is
   * forwarded (a new InfluxDB gets the whole history).
   */
  async start(): Promise<void> {
    if (this.running) return;
    const saved = await this.store.settings.get(this.positionKey);
    this.position = saved === null ? 0 : Number(saved);
    if (!Number.isFinite(this.position)) throw new Error(`setting ${this.positionKey} is not a number: ${saved}`);
    this.latestSeq = Math.max(this.position, (await this.store.readings.lastSequences()).readingSeq);
    this.client = new InfluxDB({ url: this.opts.url, token: this.opts.token, timeout: this.opts.timeoutMs });
    const q = new URLSearchParams({ org: this.opts.org, bucket: this.opts.bucket, precision: 'ms' });
    this.writePath = `/api/v2/write?${q.toString()}`;
    this.running = true;
    this.loop = this.run();
    this.log.info({ position: this.position, latestSeq: this.latestSeq, url: this.opts.url }, 'influx forwarding started');
  }

  /** Finish the write in flight (if any), then stop. Nothing is lost: the rest stays in the store. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
  }

  /** Tell the forwarder that readings were committed (ingest's onStored). */
  notify(readings: readonly Reading[]): void {
    const last = readings[readings.length - 1];
    if (!last) return;
    if (last.seq > this.latestSeq) this.latestSeq = last.seq;
    if (this.headReceivedAt === null && this.position < last.seq) this.headReceivedAt = readings.find((r) => r.seq > this.position)?.receivedAt ?? null;
    if (this.consecutiveFailures === 0) this.wake();
  }

  status(): InfluxStatus {
    const lagReadings = Math.max(0, this.latestSeq - this.position);
    const lagSeconds = lagReadings > 0 && this.headReceivedAt !== null ? Math.max(0, (this.now() - this.headReceivedAt) / 1000) : 0;
    return {
      running: this.running,
      position: this.position,
      latestSeq: this.latestSeq,
      lagReadings,
      lagSeconds,
      forwarded: this.forwarded,
      failures: this.failures,
      consecutiveFailures: this.consecutiveFailures,
      lastError: this.lastError,
      lastSuccessAt: this.lastSuccessAt,
    };
  }

  private async run(): Promise<void> {
    let delay = this.opts.retryMinMs;
    while (this.running) {
      let batch: Reading[];
      try {
        // readings.after reads table by table, not from one snapshot: a commit landing between
        // two of its queries could show a later seq without an earlier one. Only readings up
        // to the highest seq committed before the read started are taken (lastSequences is a
        // single statement, hence one snapshot).
        const safe = (await this.store.readings.lastSequences()).readingSeq;
        if (safe > this.latestSeq) this.latestSeq = safe;
        batch = safe > this.position ? await this.store.readings.after(this.position, this.opts.batchSize) : [];
        let keep = batch.length;
        while (keep > 0 && batch[keep - 1]!.seq > safe) keep--;
        batch.length = keep;
      } catch (err) {
        this.log.error({ err }, 'influx forwarder could not read the store');
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
        continue;
      }
      if (batch.length === 0) {
        this.headReceivedAt = null;
        await this.sleep(this.opts.pollMs);
        continue;
      }
      this.headReceivedAt = batch[0]!.receivedAt;
      const last = batch[batch.length - 1]!.seq;
      if (last > this.latestSeq) this.latestSeq = last;
      try {
        await this.write(toLines(batch, this.device));
      } catch (err) {
        this.failures++;
        this.consecutiveFailures++;
        this.lastError = (err as Error).message;
        if (this.consecutiveFailures === 1) this.log.warn({ err, position: this.position }, 'influx write failed: retrying with back-off, readings stay in the store');
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.opts.retryMaxMs);
        continue;
      }
      // confirmed by the server: advance, then persist
      if (this.consecutiveFailures > 0) this.log.info({ position: this.position }, 'influx writes succeed again');
      delay = this.opts.retryMinMs;
      this.consecutiveFailures = 0;
      this.lastError = null;
      this.lastSuccessAt = this.now();
      this.position = last;
      this.forwarded += batch.length;
      try {
        await this.store.settings.set(this.positionKey, String(last));
      } catch (err) {
        // the next successful save covers this one; a crash before it resends these readings
        this.log.warn({ err }, 'could not save the influx position');
      }
    }
  }

  private async write(lines: string[]): Promise<void> {
    if (!lines.length) return;
    await this.client!.transport.request(this.writePath, lines.join('\n'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      this.sleepTimer = setTimeout(() => this.wake(), ms);
    });
  }

  private wake(): void {
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.sleepTimer = null;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }
}
