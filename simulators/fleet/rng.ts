/**
 * A small seeded PRNG (mulberry32) so that every fleet run and every generated message is
 * reproducible from a seed. The state is one 32-bit integer: `snapshot()`/`restore()` make
 * a generator step a pure function of (state, rng state, now) in the tests.
 */
import { fnv1a } from '../../core/hash.js';

export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** integer in [min, max] */
  int(min: number, max: number): number;
  /** uniform in [min, max) */
  range(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** pick by weights (same length as items) */
  weighted<T>(items: readonly T[], weights: readonly number[]): T;
  /** exponential with the given mean (Poisson arrivals) */
  exp(mean: number): number;
  snapshot(): number;
  restore(state: number): void;
}

export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    range: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    weighted: (items, weights) => {
      const total = weights.reduce((a, w) => a + w, 0);
      let r = next() * total;
      for (let i = 0; i < items.length; i++) {
        r -= weights[i]!;
        if (r < 0) return items[i]!;
      }
      return items[items.length - 1]!;
    },
    exp: (mean) => -Math.log(1 - next()) * mean,
    snapshot: () => s,
    restore: (state) => { s = state >>> 0; },
  };
  return rng;
}

/** A stable 32-bit hash of a string (FNV-1a), to derive one RNG per device from the run seed. */
export function hashString(text: string, seed?: number): number {
  return fnv1a(text, seed);
}

export function deviceRng(runSeed: number, deviceId: string): Rng {
  return seededRng(hashString(deviceId, (runSeed ^ 0x9e3779b9) >>> 0));
}
