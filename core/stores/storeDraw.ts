/**
 * The 双随机 draw (random inspection targets, "double random, one public") weighted by the
 * stores' scores (kitchen.store_score): every store can be drawn, a store with a worse score is
 * more likely to be. Reproducible: the draw is a pure function of the stores, the count and a
 * published seed, so anyone holding the three can check it was not steered.
 *
 * Weight: 1 + (100 - score) / 10, so a store at 100 has weight 1 and one at 0 weight 11.
 * Sampling without replacement by Efraimidis–Spirakis (each store's key u^(1/w) with u uniform
 * in (0, 1), the `count` largest keys drawn), with a mulberry32 generator seeded from the seed
 * string (FNV-1a), the stores taken in id order so the input's order does not matter.
 */
import { fnv1a } from '../hash.js';

export interface ScoredStore {
  storeId: string;
  score: number;
}

export interface DrawnStore extends ScoredStore {
  weight: number;
}

export const drawWeight = (score: number): number => 1 + (100 - Math.min(100, Math.max(0, score))) / 10;


/** mulberry32: a small, well-mixed 32-bit generator; uniform in [0, 1). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Draw `count` distinct stores (all of them when fewer), in the order drawn. */
export function drawStores(stores: readonly ScoredStore[], count: number, seed: string): DrawnStore[] {
  const next = generator(fnv1a(seed));
  const sorted = [...new Map(stores.map((s) => [s.storeId, s])).values()].sort((a, b) => (a.storeId < b.storeId ? -1 : a.storeId > b.storeId ? 1 : 0));
  const keyed = sorted.map((s) => {
    const weight = drawWeight(s.score);
    // 1 - next() is in (0, 1]: a key of 0 would never be drawn
    return { s: { ...s, weight }, key: Math.pow(1 - next(), 1 / weight) };
  });
  return keyed.sort((a, b) => b.key - a.key).slice(0, Math.max(0, count)).map((k) => k.s);
}
