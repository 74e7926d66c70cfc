/**
 * The pure placement of slots of rule keys (core/cluster/slots.ts): a key's slot is stable;
 * rendezvous placement is the same for everyone given the same live set, even, and moves only
 * what a joining or leaving node must; the plan takes free slots that belong to the node (or
 * are orphaned past the grace) and gives up those that belong to another live node.
 */
import { describe, expect, it } from 'vitest';
import { ORPHAN_GRACE_MS, fnv1a, ownerOf, planSlots, shares, slotOf, type SlotView } from '../../../core/cluster/slots.js';

describe('slotOf and fnv1a', () => {
  it.each([
    ['', 0x811c9dc5],
    ['a', 0xe40c292c],
    ['foobar', 0xbf9cf968],
  ])('fnv1a(%j) is the published FNV-1a 32 value', (text, hash) => {
    expect(fnv1a(text)).toBe(hash);
  });

  it('a key always falls in the same slot, within range', () => {
    for (const key of ['lift-0001', 'C-330106-000001', '门店-杭州-01', '']) {
      expect(slotOf(key)).toBe(slotOf(key));
      expect(slotOf(key)).toBeGreaterThanOrEqual(0);
      expect(slotOf(key)).toBeLessThan(256);
    }
    expect(slotOf('lift-0001', 7)).toBe(fnv1a('lift-0001') % 7);
  });
});

describe('rendezvous placement', () => {
  const nodes = ['node-a', 'node-b', 'node-c'];

  it('does not depend on the order the live set is listed in', () => {
    for (let slot = 0; slot < 256; slot++) expect(ownerOf(slot, nodes)).toBe(ownerOf(slot, [...nodes].reverse()));
  });

  it('no node: no owner; one node: all', () => {
    expect(ownerOf(3, [])).toBeNull();
    expect(shares(['solo'])).toEqual(new Map([['solo', 256]]));
  });

  it('shares are even within a few slots for 2 to 5 nodes', () => {
    for (let n = 2; n <= 5; n++) {
      const live = Array.from({ length: n }, (_v, i) => `node-${i + 1}`);
      const counts = [...shares(live).values()];
      expect(counts.reduce((a, b) => a + b, 0)).toBe(256);
      for (const c of counts) expect(Math.abs(c - 256 / n)).toBeLessThan(256 / n * 0.35);
    }
  });

  it('a node leaving moves only its own slots; joining again moves exactly those back', () => {
    const before = Array.from({ length: 256 }, (_v, s) => ownerOf(s, nodes));
    const after = Array.from({ length: 256 }, (_v, s) => ownerOf(s, ['node-a', 'node-c']));
    for (let s = 0; s < 256; s++) {
      if (before[s] !== 'node-b') expect(after[s]).toBe(before[s]);
      else expect(['node-a', 'node-c']).toContain(after[s]);
    }
    expect(Array.from({ length: 256 }, (_v, s) => ownerOf(s, nodes))).toEqual(before);
  });
});

describe('planSlots', () => {
  const NOW = 1_000_000;
  const view = (over: Partial<SlotView>): SlotView => ({ self: 'node-a', live: ['node-a', 'node-b'], holders: new Map(), freeSince: new Map(), now: NOW, slots: 256, ...over });
  const mine = (live: string[], self = 'node-a') => Array.from({ length: 256 }, (_v, s) => s).filter((s) => ownerOf(s, live) === self);

  it('all free: take exactly the slots that belong to it', () => {
    expect(planSlots(view({}))).toEqual({ acquire: mine(['node-a', 'node-b']), release: [] });
  });

  it('alone (or not yet seen alive by itself): take everything free', () => {
    expect(planSlots(view({ live: [] })).acquire).toHaveLength(256);
  });

  it('holding everything when a peer joins: give up the peer\'s slots, take nothing', () => {
    const holders = new Map(Array.from({ length: 256 }, (_v, s) => [s, 'node-a'] as [number, string]));
    expect(planSlots(view({ holders }))).toEqual({ acquire: [], release: mine(['node-a', 'node-b'], 'node-b') });
  });

  it('a slot held by another node is never taken, even one that belongs to this node', () => {
    const holders = new Map(mine(['node-a', 'node-b']).map((s) => [s, 'node-b'] as [number, string]));
    const plan = planSlots(view({ holders }));
    expect(plan.acquire).toEqual([]);
    expect(plan.release).toEqual([]);
  });

  it('a free slot of another live node: left to it within the grace, taken after it', () => {
    const theirs = mine(['node-a', 'node-b'], 'node-b');
    const holders = new Map(mine(['node-a', 'node-b']).map((s) => [s, 'node-a'] as [number, string]));
    const slot = theirs[0]!;
    const justFreed = new Map([[slot, NOW - ORPHAN_GRACE_MS + 1]]);
    expect(planSlots(view({ holders, freeSince: justFreed })).acquire).not.toContain(slot);
    const longFree = new Map([[slot, NOW - ORPHAN_GRACE_MS]]);
    expect(planSlots(view({ holders, freeSince: longFree })).acquire).toContain(slot);
  });

  it('a slot it holds that belongs to a node not alive is kept', () => {
    const theirs = mine(['node-a', 'node-b'], 'node-b');
    const holders = new Map(theirs.map((s) => [s, 'node-a'] as [number, string]));
    expect(planSlots(view({ live: ['node-a'], holders })).release).toEqual([]);
  });
});
