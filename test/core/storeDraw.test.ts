/**
 * The 双随机 draw (core/stores/storeDraw.ts): reproducible from its seed, never the same store
 * twice, every store drawable, worse scores drawn more often.
 */
import { describe, expect, it } from 'vitest';
import { drawStores, drawWeight } from '../../core/stores/storeDraw.js';

const stores = Array.from({ length: 20 }, (_, i) => ({ storeId: `S-${String(i).padStart(2, '0')}`, score: i === 0 ? 0 : 100 }));

describe('the store draw', () => {
  it.each([
    [100, 1], [0, 11], [50, 6], [-5, 11], [130, 1],
  ])('score %d weighs %d', (score, w) => {
    expect(drawWeight(score)).toBe(w);
  });
  it('the same seed draws the same stores, whatever the input order; another seed may not', () => {
    const a = drawStores(stores, 5, '2026-12-07 西湖区');
    expect(drawStores([...stores].reverse(), 5, '2026-12-07 西湖区')).toEqual(a);
    const others = ['a', 'b', 'c', 'd'].map((seed) => drawStores(stores, 5, seed).map((s) => s.storeId).join());
    expect(new Set([a.map((s) => s.storeId).join(), ...others]).size).toBeGreaterThan(1);
  });
  it.each([
    [0, 0], [5, 5], [20, 20], [25, 20],
  ])('asked for %d: %d distinct stores', (count, n) => {
    const d = drawStores(stores, count, 'x');
    expect(d).toHaveLength(n);
    expect(new Set(d.map((s) => s.storeId)).size).toBe(n);
  });
  it('a store listed twice is one store', () => {
    expect(drawStores([stores[1]!, stores[1]!, stores[2]!], 3, 'x')).toHaveLength(2);
  });
  it('over many seeds a store at 0 is drawn about 11 times as often as one at 100, and every store is drawn', () => {
    const hits = new Map<string, number>();
    for (let i = 0; i < 4000; i++) for (const s of drawStores(stores, 1, `seed-${i}`)) hits.set(s.storeId, (hits.get(s.storeId) ?? 0) + 1);
    const worst = hits.get('S-00') ?? 0;
    // expected share 11 / (11 + 19) = 0.367 of 4000 draws
    expect(worst / 4000).toBeGreaterThan(0.32);
    expect(worst / 4000).toBeLessThan(0.41);
    expect(hits.size).toBe(20);
  });
});
