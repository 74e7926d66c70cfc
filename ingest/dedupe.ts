/**
 * Remembers (deviceId, msgId) pairs of stored readings for duplicate detection
 * (docs/protocol.md: a device that never got its PUBACK publishes again, and the platform
 * stores it once), compactly enough that DEDUPE_WINDOW_S at full rate fits: 10 minutes at
 * 5,000 readings/s is 3M pairs, ~80 MB here, where a Set of "device\nmsgId" strings needed
 * ~150 bytes a pair and, capped at 1M pairs, remembered only 200 s at that rate.
 *
 * A pair is kept as a 96-bit fingerprint: three independent 32-bit hashes of its UTF-16
 * code units (two Murmur3-style lanes with different multipliers and an xxHash32-style lane,
 * each with its own random seed per process, each finalised with its own avalanche). Pairs
 * sit in a ring in the order they were added, with the time they were added, so expiry is
 * exact (a pair is found while now - added < window) and the oldest pair is the one dropped
 * when `maxEntries` are held. An open-addressing table (linear probing, load <= 0.7) maps a
 * fingerprint to its ring slot; removal shifts the probe run back, so no tombstones build up.
 *
 * The one way this can be wrong is a false duplicate: a new pair whose 96-bit fingerprint
 * equals one of the n pairs held. Its probability per message is about n / 2^96; with
 * n = 3M that is 4e-23, so at 5,000 readings/s a false duplicate is expected once in ~10^11
 * years (and it would cost one reading, acknowledged but not stored). The seeds are secret
 * and a duplicate is acknowledged exactly like a stored reading, so a device cannot observe,
 * let alone search for, collisions. Time is passed in, never read here.
 */

/** Bytes per pair in the ring: three 32-bit fingerprint words and a float64 time. */
const RING_BYTES = 3 * 4 + 8;
/** Highest load of the open-addressing table. */
const MAX_LOAD = 0.7;
const INITIAL = 1 << 14;

export interface DedupeSeeds { a: number; b: number; c: number }

function randomSeeds(): DedupeSeeds {
  const s = new Uint32Array(3);
  crypto.getRandomValues(s);
  return { a: s[0]!, b: s[1]!, c: s[2]! };
}

/** Memory held at `entries` pairs (the ring and the table). */
export function dedupeBytes(entries: number): number {
  return entries * RING_BYTES + Math.ceil(entries / MAX_LOAD) * 4;
}

export class DedupeWindow {
  // ring of pairs, oldest at `head`
  private f1: Uint32Array;
  private f2: Uint32Array;
  private f3: Uint32Array;
  private at: Float64Array;
  private cap: number;
  private head = 0;
  private count = 0;
  /** open-addressing table: ring slot + 1, or 0 when empty */
  private table: Int32Array;
  private tableSize: number;
  // fingerprint of the last pair hashed or looked up (synchronous: one scratch is enough)
  private h1 = 0;
  private h2 = 0;
  private h3 = 0;
  private readonly seeds: DedupeSeeds;

  constructor(private readonly windowMs: number, private readonly maxEntries: number, seeds?: DedupeSeeds) {
    if (!(maxEntries >= 1)) throw new Error('maxEntries must be at least 1');
    this.seeds = seeds ?? randomSeeds();
    this.cap = Math.min(maxEntries, INITIAL);
    this.f1 = new Uint32Array(this.cap);
    this.f2 = new Uint32Array(this.cap);
    this.f3 = new Uint32Array(this.cap);
    this.at = new Float64Array(this.cap);
    // The table is sized for maxEntries from the start (4 / 0.7 bytes a pair: 18 MB at the
    // default bound, its pages resident as they are touched): growing it meant re-inserting
    // every pair at random places, a stall of ~100-200 ms at 1M pairs on the event loop
    // (P2 profile). The ring still grows with use; see grow.
    this.tableSize = tableSizeFor(maxEntries);
    this.table = new Int32Array(this.tableSize);
  }

  /** Pairs held (not yet expired as of the last call). */
  get size(): number {
    return this.count;
  }

  /** Ring capacity reached so far (grows by doubling up to maxEntries). */
  get capacity(): number {
    return this.cap;
  }

  /** Was this pair added less than the window before `now`? */
  has(deviceId: string, msgId: string, now: number): boolean {
    this.hash(deviceId, msgId);
    return this.hasHashed(now);
  }

  /** `has` for the pair last given to `hash` (its fingerprint is `fp1`..`fp3`). */
  hasHashed(now: number): boolean {
    this.expire(now);
    return this.find() >= 0;
  }

  /** Remember a pair from `now`; a pair already held is refreshed (its time restarts). */
  add(deviceId: string, msgId: string, now: number): void {
    this.hash(deviceId, msgId);
    this.addHashed(this.h1, this.h2, this.h3, now);
  }

  /** `add` by fingerprint (as `hash` computed it, perhaps earlier). */
  addHashed(h1: number, h2: number, h3: number, now: number): void {
    this.expire(now);
    if (this.count === this.cap) {
      if (this.cap < this.maxEntries) this.grow();
      else this.dropHead();
    }
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
    const pos = this.find();
    const slot = (this.head + this.count) % this.cap;
    this.f1[slot] = h1;
    this.f2[slot] = h2;
    this.f3[slot] = h3;
    this.at[slot] = now;
    this.count++;
    if (pos >= 0) {
      // refresh: the table entry moves to the new ring slot; the old one is left to expire
      // (dropHead sees that the table no longer points at it)
      this.table[this.tablePos(pos)] = slot + 1;
    } else {
      this.insert(slot);
    }
  }

  /** Forget a pair (no-op when not held). */
  delete(deviceId: string, msgId: string): void {
    this.hash(deviceId, msgId);
    const pos = this.find();
    if (pos >= 0) this.removeAt(this.tablePos(pos));
  }

  /** The fingerprint of the pair last hashed. */
  get fp1(): number { return this.h1; }
  get fp2(): number { return this.h2; }
  get fp3(): number { return this.h3; }

  // ---- fingerprint ------------------------------------------------------------------------

  /** Fingerprint a pair (read it from fp1..fp3); has/add/delete do this themselves. */
  hash(deviceId: string, msgId: string): void {
    const s = this.seeds;
    // the lengths first (one block), so the code units that follow split unambiguously:
    // ("ab", "c") and ("a", "bc") hash different input
    const k0 = (deviceId.length & 0xffff) | (msgId.length << 16);
    let a = laneA(s.a, k0);
    let b = laneB(s.b, k0);
    let c = laneC(s.c, k0);
    for (let pass = 0; pass < 2; pass++) {
      const str = pass === 0 ? deviceId : msgId;
      const n = str.length;
      let i = 0;
      for (; i + 1 < n; i += 2) {
        const k = str.charCodeAt(i) | (str.charCodeAt(i + 1) << 16);
        a = laneA(a, k);
        b = laneB(b, k);
        c = laneC(c, k);
      }
      // an odd length leaves one unit (its block is marked so it differs from a pair)
      if (i < n) {
        const k = str.charCodeAt(i) | 0x10000;
        a = laneA(a, k);
        b = laneB(b, k);
        c = laneC(c, k);
      }
    }
    this.h1 = fmixA(a) >>> 0;
    this.h2 = fmixB(b) >>> 0;
    this.h3 = fmixC(c) >>> 0;
  }

  // ---- table --------------------------------------------------------------------------------

  private home(h1: number): number {
    // h1 / 2^32 in [0, 1) times the table size: any size, not only powers of two
    return Math.floor((h1 / 4294967296) * this.tableSize);
  }

  /**
   * Table position of the current fingerprint, encoded as the probe distance from home
   * (so `tablePos` can recover it), or -1 when absent.
   */
  private find(): number {
    const t = this.table;
    const size = this.tableSize;
    let i = this.home(this.h1);
    for (let d = 0; d < size; d++) {
      const e = t[i]!;
      if (e === 0) return -1;
      const r = e - 1;
      if (this.f1[r] === this.h1 && this.f2[r] === this.h2 && this.f3[r] === this.h3) return d;
      if (++i === size) i = 0;
    }
    return -1;
  }

  private tablePos(distance: number): number {
    return (this.home(this.h1) + distance) % this.tableSize;
  }

  private insert(slot: number): void {
    const t = this.table;
    const size = this.tableSize;
    let i = this.home(this.f1[slot]!);
    while (t[i] !== 0) if (++i === size) i = 0;
    t[i] = slot + 1;
  }

  /** Remove table entry i, shifting later entries of the probe run back (no tombstones). */
  private removeAt(i: number): void {
    const t = this.table;
    const size = this.tableSize;
    let hole = i;
    let k = i;
    for (;;) {
      t[hole] = 0;
      for (;;) {
        if (++k === size) k = 0;
        const e = t[k]!;
        if (e === 0) return;
        const h = this.home(this.f1[e - 1]!);
        // the entry at k may move to the hole unless its home lies cyclically in (hole, k]
        const stays = hole <= k ? (hole < h && h <= k) : (hole < h || h <= k);
        if (!stays) {
          t[hole] = e;
          hole = k;
          break;
        }
      }
    }
  }

  // ---- ring ---------------------------------------------------------------------------------

  private expire(now: number): void {
    const limit = now - this.windowMs;
    while (this.count > 0 && this.at[this.head]! <= limit) this.dropHead();
  }

  /** Drop the oldest pair; its table entry goes only if it still points at this ring slot. */
  private dropHead(): void {
    const slot = this.head;
    const h1 = this.f1[slot]!;
    const h2 = this.f2[slot]!;
    const h3 = this.f3[slot]!;
    const t = this.table;
    const size = this.tableSize;
    let i = this.home(h1);
    for (let d = 0; d < size; d++) {
      const e = t[i]!;
      if (e === 0) break;
      const r = e - 1;
      if (this.f1[r] === h1 && this.f2[r] === h2 && this.f3[r] === h3) {
        if (r === slot) this.removeAt(i);
        break;
      }
      if (++i === size) i = 0;
    }
    this.head = (this.head + 1) % this.cap;
    this.count--;
  }

  /**
   * Double the ring (up to maxEntries), oldest pair first at slot 0. The table keeps its
   * places: only the ring slots it points at move, each by the same rotation, rewritten in
   * one pass in table order (sequential, unlike re-inserting).
   */
  private grow(): void {
    const oldCap = this.cap;
    const head = this.head;
    const cap = Math.min(this.maxEntries, oldCap * 2);
    const f1 = new Uint32Array(cap);
    const f2 = new Uint32Array(cap);
    const f3 = new Uint32Array(cap);
    const at = new Float64Array(cap);
    // a refreshed pair's older ring slot is copied too; the table points at the newest
    for (let j = 0; j < this.count; j++) {
      const from = head + j < oldCap ? head + j : head + j - oldCap;
      f1[j] = this.f1[from]!;
      f2[j] = this.f2[from]!;
      f3[j] = this.f3[from]!;
      at[j] = this.at[from]!;
    }
    this.f1 = f1; this.f2 = f2; this.f3 = f3; this.at = at;
    this.cap = cap;
    this.head = 0;
    // every entry points at a held slot s (dropHead removes the others), now at (s - head) mod oldCap
    const t = this.table;
    for (let i = 0; i < t.length; i++) {
      const e = t[i]!;
      if (e === 0) continue;
      const moved = e - 1 - head;
      t[i] = (moved < 0 ? moved + oldCap : moved) + 1;
    }
  }
}

function tableSizeFor(cap: number): number {
  return Math.max(8, Math.ceil(cap / MAX_LOAD) + 1);
}

// Three lanes, each a different mixing function with its own constants.
function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}
/** A Murmur3 x86_32-style block step: `k` mixed by (c1, r1, c2) into `h`, rotated by r2, then h * m + n. */
function murmurStep(h: number, k: number, c1: number, r1: number, c2: number, r2: number, m: number, n: number): number {
  k = Math.imul(k, c1);
  k = rotl(k, r1);
  k = Math.imul(k, c2);
  h ^= k;
  h = rotl(h, r2);
  return (Math.imul(h, m) + n) | 0;
}
/** Murmur3 x86_32 block step. */
function laneA(h: number, k: number): number {
  return murmurStep(h, k, 0xcc9e2d51, 15, 0x1b873593, 13, 5, 0xe6546b64);
}
/** xxHash32 round. */
function laneB(h: number, k: number): number {
  h = (h + Math.imul(k, 0x85ebca77)) | 0;
  h = rotl(h, 13);
  return Math.imul(h, 0x9e3779b1);
}
/** Murmur3-style step with other multipliers and rotations. */
function laneC(h: number, k: number): number {
  return murmurStep(h, k, 0x27d4eb2f, 17, 0x165667b1, 19, 9, 0x7b7d159c);
}
function fmixA(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
function fmixB(h: number): number {
  h ^= h >>> 15; h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae3d);
  return h ^ (h >>> 16);
}
function fmixC(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15; h = Math.imul(h, 0x846ca68b);
  return h ^ (h >>> 16);
}

/**
 * Values keyed by a pair's fingerprint (as DedupeWindow.hash computes it): ingest's readings
 * on their way to disk, so a resend of one waits for the original's commit. At most
 * INGEST_MAX_PENDING-ish entries are held, so a Map on the first word with the other two
 * compared exactly is enough: no second hand-rolled table. Same false-match odds as the window.
 */
export class PendingMap<V> {
  private readonly byH1 = new Map<number, Array<{ h2: number; h3: number; value: V }>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(h1: number, h2: number, h3: number): V | undefined {
    const list = this.byH1.get(h1);
    if (list) for (const e of list) if (e.h2 === h2 && e.h3 === h3) return e.value;
    return undefined;
  }

  set(h1: number, h2: number, h3: number, value: V): void {
    const list = this.byH1.get(h1);
    if (!list) {
      this.byH1.set(h1, [{ h2, h3, value }]);
    } else {
      for (const e of list) if (e.h2 === h2 && e.h3 === h3) { e.value = value; return; }
      list.push({ h2, h3, value });
    }
    this.count++;
  }

  delete(h1: number, h2: number, h3: number): void {
    const list = this.byH1.get(h1);
    if (!list) return;
    const i = list.findIndex((e) => e.h2 === h2 && e.h3 === h3);
    if (i < 0) return;
    this.count--;
    if (list.length === 1) this.byH1.delete(h1);
    else list.splice(i, 1);
  }
}
