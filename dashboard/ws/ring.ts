/**
 * A bounded ring of numbered events for /ws catch-up: every event gets the next sequence
 * number (1, 2, 3...); only the newest `capacity` are kept. Pure: no I/O, no clock.
 */
export interface Numbered<T> {
  seq: number;
  item: T;
}

export class SeqRing<T> {
  private readonly slots: Array<Numbered<T> | undefined>;
  private last = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.slots = new Array<Numbered<T> | undefined>(capacity);
  }

  /** Number and keep an item; the oldest falls out when full. Returns its sequence number. */
  push(item: T): number {
    return this.pushWith(() => item);
  }

  /** Like push, for items that carry their own sequence number. */
  pushWith(make: (seq: number) => T): number {
    const seq = ++this.last;
    this.slots[seq % this.capacity] = { seq, item: make(seq) };
    return seq;
  }

  /** The sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.last;
  }

  /** The sequence number of the oldest event still kept, or null when empty. */
  get oldestSeq(): number | null {
    if (this.last === 0) return null;
    return Math.max(1, this.last - this.capacity + 1);
  }

  /** The kept events with seq > `after`, oldest first. */
  after(after: number): Array<Numbered<T>> {
    const oldest = this.oldestSeq;
    if (oldest === null) return [];
    const out: Array<Numbered<T>> = [];
    for (let s = Math.max(oldest, after + 1); s <= this.last; s++) out.push(this.slots[s % this.capacity]!);
    return out;
  }
}
