/**
 * Ingest counters as plain numbers: incremented on the hot path without allocation, read by
 * the Prometheus exporter at scrape time (dashboard/metrics.ts).
 */
import type { BatchResult } from './batchWriter.js';

/** Upper bounds (ms) of the batch commit latency histogram. */
export const batchLatencyBucketsMs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] as const;

export class IngestMetrics {
  received = 0;
  stored = 0;
  duplicates = 0;
  deadLetters = 0;
  storeFailures = 0;
  /** rows lost with a failed commit that no device will resend (QoS 0) */
  lostQos0 = 0;
  batches = 0;
  readonly storedByChannel = new Map<string, number>();
  readonly deadLettersByReason = new Map<string, number>();
  readonly batchLatency = { counts: new Array<number>(batchLatencyBucketsMs.length + 1).fill(0), sum: 0, count: 0 };
  /** set by an exporter that wants every commit latency (once per batch, not per message) */
  observeBatchLatency: ((ms: number) => void) | null = null;

  deadLetter(reason: string): void {
    this.deadLetters++;
    this.deadLettersByReason.set(reason, (this.deadLettersByReason.get(reason) ?? 0) + 1);
  }

  committed(r: BatchResult): void {
    this.batches++;
    this.stored += r.readings.length;
    // runs of one channel (the usual case) cost one map update, not one per reading
    let i = 0;
    const rs = r.readings;
    while (i < rs.length) {
      const { family, channel } = rs[i]!;
      let j = i + 1;
      while (j < rs.length && rs[j]!.channel === channel && rs[j]!.family === family) j++;
      const key = family + '/' + channel;
      this.storedByChannel.set(key, (this.storedByChannel.get(key) ?? 0) + j - i);
      i = j;
    }
    this.observeLatency(r.durationMs);
  }

  failed(r: BatchResult): void {
    this.storeFailures++;
    for (const reading of r.readings) if (reading.qos === 0) this.lostQos0++;
    this.observeLatency(r.durationMs);
  }

  private observeLatency(ms: number): void {
    let i = 0;
    while (i < batchLatencyBucketsMs.length && ms > batchLatencyBucketsMs[i]!) i++;
    this.batchLatency.counts[i]!++;
    this.batchLatency.sum += ms;
    this.batchLatency.count++;
    this.observeBatchLatency?.(ms);
  }
}
