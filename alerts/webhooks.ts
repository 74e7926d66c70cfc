/**
 * Webhook delivery: every alert change is POSTed as JSON to each configured URL, with
 * retries and exponential back-off. Delivery runs beside the engine on a bounded queue: a
 * slow or failing webhook never blocks the engine; past the bound the oldest pending
 * delivery is dropped and counted.
 */
import type { Logger } from 'pino';

export interface WebhookOptions {
  urls: readonly string[];
  maxAttempts: number;
  timeoutMs: number;
  maxQueue: number;
  /** first retry delay; doubles per attempt */
  backoffMs: number;
}

interface Delivery {
  url: string;
  body: string;
  attempt: number;
}

export class Webhooks {
  private readonly queue: Delivery[] = [];
  private inFlight = 0;
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  delivered = 0;
  failed = 0;
  dropped = 0;

  constructor(private readonly opts: WebhookOptions, private readonly log: Logger, private readonly fetchFn: typeof fetch = fetch) {}

  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  send(payload: unknown): void {
    if (this.stopped || !this.opts.urls.length) return;
    const body = JSON.stringify(payload);
    for (const url of this.opts.urls) this.enqueue({ url, body, attempt: 0 });
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private enqueue(d: Delivery): void {
    if (this.queue.length >= this.opts.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(d);
    this.pump();
  }

  private pump(): void {
    // a few deliveries at a time: webhooks are for integrations, not a firehose
    while (!this.stopped && this.inFlight < 4 && this.queue.length) {
      const d = this.queue.shift()!;
      this.inFlight++;
      void this.deliver(d).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    try {
      const res = await this.fetchFn(d.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'smart-supervision-webhook' },
        body: d.body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      if (res.ok) { this.delivered++; return; }
      throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      const attempt = d.attempt + 1;
      if (attempt >= this.opts.maxAttempts || this.stopped) {
        this.failed++;
        this.log.warn({ url: d.url, attempts: attempt, err: (err as Error).message }, 'webhook delivery gave up');
        return;
      }
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.enqueue({ ...d, attempt });
      }, this.opts.backoffMs * 2 ** (attempt - 1));
      t.unref();
      this.timers.add(t);
    }
  }
}
