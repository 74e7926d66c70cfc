/** The /ws catch-up parts: the numbered ring and the replay-or-resync decision. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideCatchUp, parseCatchUp } from '../../dashboard/ws/catchup.js';
import { SeqRing } from '../../dashboard/ws/ring.js';

describe('SeqRing', () => {
  it('numbers from 1 and keeps only the newest `capacity`', () => {
    const r = new SeqRing<string>(3);
    expect(r.lastSeq).toBe(0);
    expect(r.oldestSeq).toBeNull();
    expect(r.after(0)).toEqual([]);
    for (const x of ['a', 'b', 'c', 'd', 'e']) r.push(x);
    expect(r.lastSeq).toBe(5);
    expect(r.oldestSeq).toBe(3);
    expect(r.after(0).map((e) => [e.seq, e.item])).toEqual([[3, 'c'], [4, 'd'], [5, 'e']]);
    expect(r.after(4).map((e) => e.item)).toEqual(['e']);
    expect(r.after(5)).toEqual([]);
  });

  it('pushWith gives the item its own number', () => {
    const r = new SeqRing<string>(2);
    r.pushWith((seq) => `#${seq}`);
    r.pushWith((seq) => `#${seq}`);
    expect(r.after(0).map((e) => e.item)).toEqual(['#1', '#2']);
  });

  it('rejects a capacity below 1', () => {
    expect(() => new SeqRing(0)).toThrow(RangeError);
  });

  it('after(s) is exactly the kept events newer than s, in order (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 70 }), (cap, n, s) => {
      const r = new SeqRing<number>(cap);
      for (let i = 1; i <= n; i++) r.push(i * 10);
      const got = r.after(s);
      const expected = [];
      for (let i = Math.max(1, n - cap + 1, s + 1); i <= n; i++) expected.push({ seq: i, item: i * 10 });
      expect(got).toEqual(expected);
    }));
  });
});

describe('decideCatchUp', () => {
  const ring = { epoch: 'run1', oldest: 101, last: 300 };
  it.each([
    [{ since: null, epoch: null }, { kind: 'none' }],
    [{ since: 300, epoch: 'run1' }, { kind: 'none' }],
    [{ since: 250, epoch: 'run1' }, { kind: 'replay', after: 250 }],
    [{ since: 100, epoch: null }, { kind: 'replay', after: 100 }],
    [{ since: 99, epoch: 'run1' }, { kind: 'resync', reason: 'too_old' }],
    [{ since: 301, epoch: 'run1' }, { kind: 'resync', reason: 'ahead' }],
    [{ since: 250, epoch: 'run0' }, { kind: 'resync', reason: 'other_epoch' }],
  ] as const)('%j -> %j', (req, expected) => {
    expect(decideCatchUp(req, ring)).toEqual(expected);
  });

  it('an empty ring: nothing to replay at 0, resync when the client claims more', () => {
    expect(decideCatchUp({ since: 0, epoch: null }, { epoch: 'e', oldest: null, last: 0 })).toEqual({ kind: 'none' });
    expect(decideCatchUp({ since: 5, epoch: null }, { epoch: 'e', oldest: null, last: 0 })).toEqual({ kind: 'resync', reason: 'ahead' });
  });

  it('parses query values and ignores bad ones', () => {
    expect(parseCatchUp('42', 'abc_-1')).toEqual({ since: 42, epoch: 'abc_-1' });
    expect(parseCatchUp(7, null)).toEqual({ since: 7, epoch: null });
    expect(parseCatchUp('-1', 'a b')).toEqual({ since: null, epoch: null });
    expect(parseCatchUp('1e3', {})).toEqual({ since: null, epoch: null });
    expect(parseCatchUp(null, undefined)).toEqual({ since: null, epoch: null });
  });
});
