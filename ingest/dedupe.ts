/**
 * Remembers (deviceId, msgId) pairs of stored readings for duplicate detection
 * (PROTOCOL.md: "a device that never got its PUBACK publishes again, and the platform
 * stores it once").
 *
 * Two generations of sets: a pair is remembered for at least `windowMs` and at most twice
 * that, and never more than `maxEntries` pairs are held, so memory stays bounded under any
 * load. Time is passed in, never read here.
 */
export class DedupeWindow {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt: number;

  constructor(private readonly windowMs: number, private readonly maxEntries: number, now: number) {
    this.rotatedAt = now;
  }

  static key(deviceId: string, msgId: string): string {
    // deviceId cannot contain '\n' ([A-Za-z0-9_-]), so the key is unambiguous
    return deviceId + '\n' + msgId;
  }

  has(key: string): boolean {
    return this.current.has(key) || this.previous.has(key);
  }

  add(key: string, now: number): void {
    this.maybeRotate(now);
    this.current.add(key);
  }

  delete(key: string): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private maybeRotate(now: number): void {
    if (now - this.rotatedAt >= this.windowMs || this.current.size >= Math.floor(this.maxEntries / 2)) {
      this.previous = this.current;
      this.current = new Set();
      this.rotatedAt = now;
    }
  }
}
