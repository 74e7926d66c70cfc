/**
 * DedupeWindow (ingest/dedupe.ts): (deviceId, msgId) pairs are remembered for exactly the
 * window, at most maxEntries are held (the oldest go first), and the compact fingerprint
 * table answers exactly like a plain map of the pairs: checked against a reference model
 * under random operations, across growth, and on a million pairs for false duplicates.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupeWindow, PendingMap, dedupeBytes, type DedupeSeeds } from '../../ingest/dedupe.js';

const W = 1_000;
const SEEDS: DedupeSeeds = { a: 0x12345678, b: 0x9abcdef0, c: 0x0badf00d };

/**
 * The reference: a queue of (pair, time) in the order added, the newest entry of each pair
 * being the live one; the oldest entries go first when time passes or the queue is full.
 */
class Model {
  private queue: Array<{ key: string; t: number; id: number }> = [];
  private live = new Map<string, number>();
  private nextId = 0;
  constructor(private readonly windowMs: number, private readonly max: number) {}
  private expire(now: number): void {
    while (this.queue.length && this.queue[0]!.t <= now - this.windowMs) this.dropHead();
  }
  private dropHead(): void {
    const e = this.queue.shift()!;
    if (this.live.get(e.key) === e.id) this.live.delete(e.key);
  }
  has(key: string, now: number): boolean { this.expire(now); return this.live.has(key); }
  add(key: string, now: number): void {
    this.expire(now);
    if (this.queue.length === this.max) this.dropHead();
    const id = this.nextId++;
    this.queue.push({ key, t: now, id });
    this.live.set(key, id);
  }
  delete(key: string): void { this.live.delete(key); }
  get size(): number { return this.queue.length; }
}

const split = (k: string): [string, string] => { const i = k.indexOf('|'); return [k.slice(0, i), k.slice(i + 1)]; };

describe('pairs', () => {
  it('has only what was added', () => {
    const w = new DedupeWindow(W, 100, SEEDS);
    expect(w.has('d', 'm', 0)).toBe(false);
    w.add('d', 'm', 0);
    expect(w.has('d', 'm', 0)).toBe(true);
    expect(w.has('d', 'n', 0)).toBe(false);
    expect(w.has('e', 'm', 0)).toBe(false);
    expect(w.size).toBe(1);
  });

  it.each([
    [['ab', 'c'], ['a', 'bc']],
    [['a', 'b\nc'], ['a\nb', 'c']],
    [['dev', ''], ['de', 'v']],
    [['d-1', 'm'], ['d-1', 'M']],
    [['d', 'm\u0000'], ['d', 'm']],
    [['d', '\u0001'], ['d', '\u0000\u0000']],
  ])('%j and %j are different pairs', (a, b) => {
    const w = new DedupeWindow(W, 100, SEEDS);
    w.add(a[0]!, a[1]!, 0);
    expect(w.has(b[0]!, b[1]!, 0)).toBe(false);
    expect(w.has(a[0]!, a[1]!, 0)).toBe(true);
  });

  it('different pairs of legal ids are never taken for each other (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const msgId = fc.string({ minLength: 1, maxLength: 64, unit: 'binary' });
    fc.assert(fc.property(id, msgId, id, msgId, (d1, m1, d2, m2) => {
      fc.pre(d1 !== d2 || m1 !== m2);
      const w = new DedupeWindow(W, 4, SEEDS);
      w.add(d1, m1, 0);
      return !w.has(d2, m2, 0);
    }), { numRuns: 2000 });
  });

  it('no false duplicates among a million pairs, and every added pair is found', () => {
    const w = new DedupeWindow(60_000, 500_000);
    for (let i = 0; i < 500_000; i++) w.add(`elev-${i % 1000}`, `msg-${i}`, 0);
    let missing = 0;
    let false_ = 0;
    for (let i = 0; i < 500_000; i++) {
      if (!w.has(`elev-${i % 1000}`, `msg-${i}`, 0)) missing++;
      if (w.has(`elev-${i % 1000}`, `msg-${i + 500_000}`, 0)) false_++;
    }
    expect({ missing, false_ }).toEqual({ missing: 0, false_: 0 });
  });
});

describe('time', () => {
  it('a pair is found while now - added < window, and not after', () => {
    const w = new DedupeWindow(W, 100, SEEDS);
    w.add('d', 'm', 5);
    expect(w.has('d', 'm', 5 + W - 1)).toBe(true);
    expect(w.has('d', 'm', 5 + W)).toBe(false);
    expect(w.size).toBe(0);
  });

  it('adding a held pair again restarts its time', () => {
    const w = new DedupeWindow(W, 100, SEEDS);
    w.add('d', 'm', 0);
    w.add('d', 'm', W - 1);
    expect(w.has('d', 'm', 2 * W - 2)).toBe(true);
    expect(w.has('d', 'm', 2 * W - 1)).toBe(false);
  });

  it('delete forgets a pair; adding it again later works', () => {
    const w = new DedupeWindow(W, 100, SEEDS);
    w.add('old', 'm', 0);
    w.delete('old', 'm');
    expect(w.has('old', 'm', 0)).toBe(false);
    expect(() => w.delete('never', 'added')).not.toThrow();
    w.add('old', 'm', 10);
    expect(w.has('old', 'm', 10)).toBe(true);
    expect(w.has('old', 'm', 10 + W)).toBe(false);
  });
});

describe('bounded memory', () => {
  it.each([1, 2, 3, 10, 11, 1000])('never holds more than maxEntries=%i, and keeps the newest', (max) => {
    const w = new DedupeWindow(W, max, SEEDS);
    const problems: string[] = [];
    for (let i = 0; i < 5 * max + 7; i++) {
      w.add('d', `k${i}`, 0);
      if (w.size > max) problems.push(`size ${w.size} after ${i + 1} adds`);
      for (let j = Math.max(0, i - max + 1); j <= i; j++) if (!w.has('d', `k${j}`, 0)) problems.push(`k${j} lost after k${i}`);
      if (i >= max && w.has('d', `k${i - max}`, 0)) problems.push(`k${i - max} still held after k${i}`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('10 minutes at 5,000 readings/s fit in about 80 MB', () => {
    expect(dedupeBytes(600 * 5_000)).toBeLessThan(80 * 2 ** 20);
  });

  it('keeps every pair through ring growth while the ring has wrapped around (head past 0)', () => {
    const w = new DedupeWindow(W, 100_000, SEEDS);
    const m = new Model(W, 100_000);
    let seed = 3;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    let now = 0;
    for (let i = 0; i < 70_000; i++) {
      // time moves so that the oldest pairs keep expiring (the ring's head moves on); after the
      // first 5,000 slowly enough that more than the first ring's 16,384 pairs are held
      now += i < 5_000 ? rand(3) : rand(40) === 0 ? 1 : 0;
      const key = `dev-${i % 13}|m${rand(50_000)}`;
      const [d, msg] = split(key);
      if (rand(10) === 0) { w.delete(d, msg); m.delete(key); } else { w.add(d, msg, now); m.add(key, now); }
      if (w.size !== m.size) throw new Error(`size ${w.size} != ${m.size} at ${i}`);
      if (i % 997 === 0) {
        for (let k = 0; k < 50_000; k += 7) {
          const probe = `dev-${k % 13}|m${k}`;
          const [pd, pm] = split(probe);
          if (w.has(pd, pm, now) !== m.has(probe, now)) throw new Error(`${probe} differs at ${i}`);
        }
      }
    }
    expect(w.capacity).toBeGreaterThan(1 << 14);
  });

  it('grows its ring with use, not up front', () => {
    const w = new DedupeWindow(W, 3_000_000, SEEDS);
    expect(w.capacity).toBeLessThanOrEqual(1 << 14);
    for (let i = 0; i < 40_000; i++) w.add('d', `k${i}`, 0);
    expect(w.capacity).toBe(1 << 16);
    for (let i = 0; i < 40_000; i++) if (!w.has('d', `k${i}`, 0)) throw new Error(`k${i} lost in growth`);
  });
});

describe('answers exactly like the reference (property)', () => {
  const op = fc.record({
    kind: fc.constantFrom('add', 'add', 'add', 'has', 'has', 'delete'),
    advance: fc.constantFrom(0, 0, 1, 7, W / 4, W - 1, W, 2 * W),
    key: fc.integer({ min: 0, max: 40 }),
  });
  it.each([1, 3, 16, 50, 20_000])('maxEntries %i', (max) => {
    fc.assert(fc.property(fc.array(op, { minLength: 50, maxLength: 400, size: 'max' }), (ops) => {
      const w = new DedupeWindow(W, max, SEEDS);
      const m = new Model(W, max);
      let now = 0;
      for (const o of ops) {
        now += o.advance;
        const key = `dev-${o.key % 7}|m${o.key}`;
        const [d, msg] = split(key);
        if (o.kind === 'add') { w.add(d, msg, now); m.add(key, now); }
        else if (o.kind === 'delete') { w.delete(d, msg); m.delete(key); }
        else if (w.has(d, msg, now) !== m.has(key, now)) return false;
        if (w.size !== m.size) return false;
      }
      for (let k = 0; k <= 40; k++) {
        const key = `dev-${k % 7}|m${k}`;
        const [d, msg] = split(key);
        if (w.has(d, msg, now) !== m.has(key, now)) return false;
      }
      return true;
    }), { numRuns: 300 });
  });

  it('across growth, with many keys and expiry', () => {
    fc.assert(fc.property(fc.array(fc.record({ n: fc.integer({ min: 1, max: 3000 }), advance: fc.integer({ min: 0, max: W }) }), { minLength: 3, maxLength: 20, size: 'max' }), (steps) => {
      const w = new DedupeWindow(W, 50_000, SEEDS);
      const m = new Model(W, 50_000);
      let now = 0;
      let next = 0;
      for (const s of steps) {
        now += s.advance;
        for (let i = 0; i < s.n; i++) {
          const k = next++ % 9000; // some keys come back
          w.add('d', `k${k}`, now);
          m.add(`d|k${k}`, now);
        }
        for (let k = 0; k < 9000; k += 97) if (w.has('d', `k${k}`, now) !== m.has(`d|k${k}`, now)) return false;
      }
      return w.size === m.size;
    }), { numRuns: 30 });
  });
});

describe('PendingMap (readings on their way to disk, by fingerprint)', () => {
  const w = new DedupeWindow(W, 10, SEEDS);
  const fp = (k: string): [number, number, number] => { w.hash('dev', k); return [w.fp1, w.fp2, w.fp3]; };

  it('get, set, overwrite, delete', () => {
    const m = new PendingMap<string>();
    expect(m.get(...fp('a'))).toBeUndefined();
    m.set(...fp('a'), 'A');
    m.set(...fp('b'), 'B');
    expect(m.get(...fp('a'))).toBe('A');
    m.set(...fp('a'), 'A2');
    expect(m.get(...fp('a'))).toBe('A2');
    expect(m.size).toBe(2);
    m.delete(...fp('a'));
    m.delete(...fp('never'));
    expect(m.get(...fp('a'))).toBeUndefined();
    expect(m.get(...fp('b'))).toBe('B');
    expect(m.size).toBe(1);
  });

  it('answers like a Map under random set/delete, across growth and clustered homes (property)', () => {
    // fingerprints with few distinct low bits force long probe runs through deletions
    const key = fc.record({ k: fc.integer({ min: 0, max: 1500 }), clustered: fc.boolean() });
    const op = fc.record({ del: fc.boolean(), key, value: fc.integer() });
    fc.assert(fc.property(fc.array(op, { minLength: 500, maxLength: 3000, size: 'max' }), (ops) => {
      const m = new PendingMap<number>();
      const model = new Map<string, number>();
      const f = (o: { k: number; clustered: boolean }): [number, number, number] => (o.clustered ? [(o.k % 3) * 4096, o.k, 7] : fp(`k${o.k}`));
      for (const o of ops) {
        const [a, b, c] = f(o.key);
        const id = `${a},${b},${c}`;
        if (o.del) { m.delete(a, b, c); model.delete(id); } else { m.set(a, b, c, o.value); model.set(id, o.value); }
        if (m.size !== model.size) return false;
      }
      for (let k = 0; k <= 1500; k++) {
        for (const clustered of [false, true]) {
          const [a, b, c] = f({ k, clustered });
          if (m.get(a, b, c) !== model.get(`${a},${b},${c}`)) return false;
        }
      }
      return true;
    }), { numRuns: 60 });
  });
});
