/**
 * DedupeWindow (ingest/dedupe.ts): (deviceId, msgId) pairs are remembered for at least the
 * window and memory stays bounded by maxEntries. Time is passed in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupeWindow } from '../ingest/dedupe.js';

const W = 1_000;
const key = DedupeWindow.key;

describe('keys', () => {
  it.each([
    [['ab', 'c'], ['a', 'bc']],
    [['a', 'b\nc'], ['a', 'b\nd']],
    [['dev', ''], ['de', 'v']],
    [['d-1', 'm'], ['d-1', 'M']],
  ])('%j and %j give different keys', (a, b) => {
    expect(key(a[0]!, a[1]!)).not.toBe(key(b[0]!, b[1]!));
  });

  it('is a pure function of the pair', () => {
    expect(key('d', 'm')).toBe(key('d', 'm'));
  });

  it('different pairs of legal ids never collide (property)', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
    const msgId = fc.string({ minLength: 1, maxLength: 64 });
    fc.assert(fc.property(id, msgId, id, msgId, (d1, m1, d2, m2) => {
      fc.pre(d1 !== d2 || m1 !== m2);
      return key(d1, m1) !== key(d2, m2);
    }));
  });
});

describe('remembering', () => {
  it('has only what was added', () => {
    const w = new DedupeWindow(W, 100, 0);
    expect(w.has(key('d', 'm'))).toBe(false);
    w.add(key('d', 'm'), 0);
    expect(w.has(key('d', 'm'))).toBe(true);
    expect(w.has(key('d', 'n'))).toBe(false);
    expect(w.has(key('e', 'm'))).toBe(false);
    expect(w.size).toBe(1);
  });

  it('adding the same key twice holds it once', () => {
    const w = new DedupeWindow(W, 100, 0);
    w.add('k', 1);
    w.add('k', 2);
    expect(w.size).toBe(1);
  });

  // [added at, other traffic at, remembered afterwards]
  it.each([
    ['just added', 0, [], true],
    ['traffic just before one window', 0, [W - 1], true],
    ['traffic at one window (rotated into the previous generation)', 0, [W], true],
    ['traffic at one and just under two windows', 0, [W, 2 * W - 1], true],
    ['traffic at one and two windows (dropped)', 0, [W, 2 * W], false],
    ['traffic every window for three windows', 0, [W, 2 * W, 3 * W], false],
    ['added late in a generation, traffic at one window', W - 1, [W], true],
    ['added late in a generation, traffic at two windows: kept one full window', W - 1, [W, 2 * W], false],
    ['no traffic at all, far in the future', 0, [], true],
  ] as const)('%s', (_d, addedAt, traffic, remembered) => {
    const w = new DedupeWindow(W, 1_000_000, 0);
    w.add('target', addedAt);
    traffic.forEach((t, i) => w.add(`other-${i}`, t));
    expect(w.has('target')).toBe(remembered);
  });

  it('a key added at t is remembered for at least the window under any traffic (property)', () => {
    const op = fc.record({ advance: fc.integer({ min: 0, max: 3 * W }), key: fc.integer({ min: 0, max: 30 }) });
    fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const w = new DedupeWindow(W, 1_000_000, 0);
      const lastAdded = new Map<string, number>();
      let now = 0;
      for (const o of ops) {
        now += o.advance;
        const k = `k${o.key}`;
        w.add(k, now);
        lastAdded.set(k, now);
        for (const [kk, t] of lastAdded) {
          if (now - t < W && !w.has(kk)) return false;
        }
      }
      return true;
    }));
  });

  it('with steady traffic a key is gone after two windows', () => {
    const w = new DedupeWindow(W, 1_000_000, 0);
    w.add('target', 0);
    for (let t = 0; t <= 2 * W; t += W / 10) w.add(`t${t}`, t);
    expect(w.has('target')).toBe(false);
  });

  it('adding a remembered key again refreshes it', () => {
    const w = new DedupeWindow(W, 1_000_000, 0);
    w.add('k', 0);
    w.add('k', W); // rotation: k is in the previous generation and again in the current one
    w.add('x', 2 * W); // rotation: the previous generation (with the old k) is dropped
    expect(w.has('k')).toBe(true);
    w.add('y', 3 * W);
    expect(w.has('k')).toBe(false);
  });

  it('delete forgets a key in either generation', () => {
    const w = new DedupeWindow(W, 1_000_000, 0);
    w.add('old', 0);
    w.add('new', W);
    w.delete('old');
    w.delete('new');
    expect(w.has('old')).toBe(false);
    expect(w.has('new')).toBe(false);
    expect(w.size).toBe(0);
    expect(() => w.delete('never-added')).not.toThrow();
  });
});

describe('bounded memory', () => {
  it.each([2, 3, 10, 11, 1000])('never holds more than maxEntries=%i, and keeps the newest half', (max) => {
    const w = new DedupeWindow(W, max, 0);
    const problems: string[] = [];
    for (let i = 0; i < 5 * max + 7; i++) {
      w.add(`k${i}`, 0);
      if (w.size > max) problems.push(`size ${w.size} after ${i + 1} adds`);
      // the newest floor(max / 2) keys are always there
      for (let j = Math.max(0, i - Math.floor(max / 2) + 1); j <= i; j++) if (!w.has(`k${j}`)) problems.push(`k${j} lost after k${i}`);
    }
    expect(problems.slice(0, 5)).toEqual([]);
  });

  it('size bound holds under any interleaving of time and keys (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 50 }),
      fc.array(fc.record({ advance: fc.integer({ min: 0, max: 2 * W }), key: fc.integer({ min: 0, max: 200 }), del: fc.boolean() }), { maxLength: 300 }),
      (max, ops) => {
        const w = new DedupeWindow(W, max, 0);
        let now = 0;
        for (const o of ops) {
          now += o.advance;
          if (o.del) w.delete(`k${o.key}`); else w.add(`k${o.key}`, now);
          if (w.size > max) return false;
        }
        return true;
      },
    ));
  });
});
