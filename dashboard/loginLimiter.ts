/**
 * Failed-login limiter: at most `max` failures per (username, address) in a sliding
 * 15-minute window; then 429 with the seconds until the oldest failure ages out.
 */
const WINDOW_MS = 15 * 60 * 1000;

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly max: number, private readonly now: () => number = Date.now) {}

  /** Seconds to wait, or 0 when an attempt may be made. */
  retryAfterS(username: string, address: string): number {
    const list = this.recent(username + '\n' + address);
    if (list.length < this.max) return 0;
    return Math.max(1, Math.ceil((list[0]! + WINDOW_MS - this.now()) / 1000));
  }

  failed(username: string, address: string): void {
    const key = username + '\n' + address;
    const list = this.recent(key);
    list.push(this.now());
    this.failures.set(key, list);
    if (this.failures.size > 100_000) this.prune();
  }

  succeeded(username: string, address: string): void {
    this.failures.delete(username + '\n' + address);
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - WINDOW_MS;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(key, list); else this.failures.delete(key);
    return list;
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }
}
