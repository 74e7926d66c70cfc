/**
 * PUBACK latencies kept in bounded memory: every sample up to a cap (load mode's summary), or
 * a uniform reservoir read and emptied per interval (a benchmark's background load).
 */

/** The first `cap` samples (ms), in a typed array. */
export class SampleLog {
  private readonly samples: Float64Array;
  private n = 0;

  constructor(cap: number) {
    this.samples = new Float64Array(cap);
  }

  get count(): number { return this.n; }

  add(ms: number): void {
    if (this.n < this.samples.length) this.samples[this.n++] = ms;
  }

  /** The samples so far, ascending (sorted in place). */
  sorted(): Float64Array {
    return this.samples.subarray(0, this.n).sort();
  }
}

/** A uniform sample of at most `cap` of the latencies added since the last take(). */
export class Reservoir {
  private samples: number[] = [];
  private seen = 0;

  constructor(private readonly cap: number) {}

  add(ms: number): void {
    this.seen++;
    if (this.samples.length < this.cap) this.samples.push(ms);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.cap) this.samples[j] = ms;
    }
  }

  /** The sample, ascending, and start a new one. */
  take(): number[] {
    const s = this.samples.sort((a, b) => a - b);
    this.samples = [];
    this.seen = 0;
    return s;
  }
}

/** The p-th percentile (0..100) of ascending samples, to 0.01; null when there are none. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (!sorted.length) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}
