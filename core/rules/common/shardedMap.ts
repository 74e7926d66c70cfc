/**
 * A per-key (device, store) record for rule state that stays cheap to update immutably at
 * city scale. Rule state must be plain JSON and rules must not mutate their input, so each
 * reading returns a new state; with one flat record of 25,000 elevators (docs/domain.md §0, one city)
 * every copy costs ~25 ms in V8, on every status reading. Here the keys are spread over a
 * fixed number of leaves (FNV-1a of the key) held in groups: an update copies the group list,
 * one group and one leaf of a few dozen keys. With 1,024 leaves in 32 groups of 32 that is
 * ~0.5 KB of garbage per update; one flat array of 1,024 leaves (the first layout) copied 8 KB,
 * a third of the alert engine's time and much of the garbage collection under load (P1 profile).
 *
 * Plain JSON: `{ leaves: 1024, groups: [[{key: value, ...}, ...32], ...32] }`; leaf i is
 * groups[floor(i / g)][i % g] with g = the length of groups[0]. A state saved in the first
 * layout, `{ shards: [{...}, ...] }`, is read as it is and regrouped by its first update, with
 * keys in the same leaves. Keys are own properties read with Object.hasOwn, so a device called
 * `__proto__` or `constructor` is an ordinary key.
 */

import { fnv1a } from '../../hash.js';

type Leaf<T> = Record<string, T>;

/**
 * Transient updates for one batch of readings (the alert engine's `handleReadings`). Every
 * update copies a leaf, a group and the group list so that the state it was given stays as it
 * was; within a batch nothing but the rule runner holds the intermediate states, so a map,
 * group or leaf made during the batch may take the batch's later updates in place. In the P1
 * heap profile these copies were 15 % of all bytes allocated (100 devices, a status every few
 * ms each). Values are never changed in place, only the containers made in this batch; maps
 * from before the batch, and every map once the batch is over, are never touched again.
 */
let madeInBatch: WeakSet<object> | null = null;

export function withTransientMaps<R>(fn: () => R): R {
  if (madeInBatch) return fn();
  madeInBatch = new WeakSet();
  try {
    return fn();
  } finally {
    madeInBatch = null;
  }
}

function madeHere(...objects: object[]): void {
  if (madeInBatch) for (const o of objects) madeInBatch.add(o);
}

export type ShardedMap<T> =
  | { leaves: number; groups: Array<Array<Leaf<T>>> }
  /** the first layout, as older checkpoints hold it */
  | { shards: Array<Leaf<T>> };

/** Enough for a province (~500,000 keys at ~500 per leaf); an empty map is ~3 KB of JSON. */
export const DEFAULT_SHARDS = 1024;

export function emptyMap<T>(leaves: number = DEFAULT_SHARDS): ShardedMap<T> {
  const n = Math.max(1, Math.floor(leaves));
  const g = groupSize(n);
  return { leaves: n, groups: Array.from({ length: Math.ceil(n / g) }, (_, i) => Array.from({ length: Math.min(g, n - i * g) }, () => ({}))) };
}

/** Leaves per group: about the square root, so both copies stay small. */
const groupSize = (leaves: number): number => Math.ceil(Math.sqrt(leaves));

/** FNV-1a 32-bit over UTF-16 code units: stable across processes and restarts. */
export function shardOf(key: string, shardCount: number): number {
  return fnv1a(key) % shardCount;
}

type Grouped<T> = { leaves: number; groups: Array<Array<Leaf<T>>> };

function grouped<T>(m: ShardedMap<T>): Grouped<T> {
  if ('groups' in m) return m;
  const g = groupSize(m.shards.length);
  const groups: Array<Array<Leaf<T>>> = [];
  for (let i = 0; i < m.shards.length; i += g) groups.push(m.shards.slice(i, i + g));
  return { leaves: m.shards.length, groups };
}

function leafOf<T>(m: ShardedMap<T>, key: string): Leaf<T> {
  if ('groups' in m) {
    const i = shardOf(key, m.leaves);
    const g = m.groups[0]!.length;
    return m.groups[Math.floor(i / g)]![i % g]!;
  }
  return m.shards[shardOf(key, m.shards.length)]!;
}

export function mapGet<T>(m: ShardedMap<T>, key: string): T | undefined {
  const leaf = leafOf(m, key);
  return Object.hasOwn(leaf, key) ? leaf[key] : undefined;
}

/** Set (value) or delete (undefined) several keys, copying each touched group and leaf once. */
export function mapUpdate<T>(m: ShardedMap<T>, updates: ReadonlyArray<readonly [string, T | undefined]>): ShardedMap<T> {
  if (updates.length === 0) return m;
  if (updates.length === 1) return mapSetOne(m, updates[0]![0], updates[0]![1]);
  const from = grouped(m);
  const g = from.groups[0]!.length;
  const groups = from.groups.slice();
  const copiedGroups = new Set<number>();
  const copiedLeaves = new Set<number>();
  let changed = false;
  for (const [key, value] of updates) {
    const i = shardOf(key, from.leaves);
    const gi = Math.floor(i / g);
    const present = Object.hasOwn(groups[gi]![i % g]!, key);
    if (value === undefined && !present) continue;
    if (!copiedGroups.has(gi)) { groups[gi] = groups[gi]!.slice(); copiedGroups.add(gi); madeHere(groups[gi]!); }
    if (!copiedLeaves.has(i)) { groups[gi]![i % g] = { ...groups[gi]![i % g]! }; copiedLeaves.add(i); madeHere(groups[gi]![i % g]!); }
    put(groups[gi]![i % g]!, key, value);
    changed = true;
  }
  if (!changed) return m;
  const out = { leaves: from.leaves, groups };
  madeHere(out);
  return out;
}

/** The common case, one key per reading: no bookkeeping of copied groups and leaves. */
function mapSetOne<T>(m: ShardedMap<T>, key: string, value: T | undefined): ShardedMap<T> {
  const from = grouped(m);
  const g = from.groups[0]!.length;
  const i = shardOf(key, from.leaves);
  const gi = Math.floor(i / g);
  const old = from.groups[gi]![i % g]!;
  const present = Object.hasOwn(old, key);
  if (value === undefined ? !present : present && old[key] === value) return m;
  if (madeInBatch?.has(from)) {
    // made in this batch (withTransientMaps): update in place whatever was too
    let group = from.groups[gi]!;
    if (!madeInBatch.has(group)) { group = group.slice(); madeInBatch.add(group); from.groups[gi] = group; }
    let leaf = group[i % g]!;
    if (!madeInBatch.has(leaf)) { leaf = { ...leaf }; madeInBatch.add(leaf); group[i % g] = leaf; }
    put(leaf, key, value);
    return from;
  }
  const leaf = { ...old };
  put(leaf, key, value);
  const group = from.groups[gi]!.slice();
  group[i % g] = leaf;
  const groups = from.groups.slice();
  groups[gi] = group;
  const out = { leaves: from.leaves, groups };
  madeHere(out, group, leaf);
  return out;
}

function put<T>(shard: Record<string, T>, key: string, value: T | undefined): void {
  if (value === undefined) delete shard[key];
  // a key named __proto__ must become an own property, which plain assignment would not do
  else if (key === '__proto__') Object.defineProperty(shard, key, { value, enumerable: true, writable: true, configurable: true });
  else shard[key] = value;
}

export function mapSet<T>(m: ShardedMap<T>, key: string, value: T): ShardedMap<T> {
  return mapSetOne(m, key, value);
}

export function mapDelete<T>(m: ShardedMap<T>, key: string): ShardedMap<T> {
  return mapUpdate<T>(m, [[key, undefined]]);
}

function leavesOf<T>(m: ShardedMap<T>): Array<Leaf<T>> {
  return 'groups' in m ? m.groups.flat() : m.shards;
}

/** Visit every entry without building an array (clock ticks walk every device each second). */
export function mapForEach<T>(m: ShardedMap<T>, visit: (key: string, value: T) => void): void {
  const visitLeaf = (leaf: Leaf<T>) => { for (const key of Object.keys(leaf)) visit(key, leaf[key]!); };
  if ('groups' in m) for (const group of m.groups) for (const leaf of group) visitLeaf(leaf);
  else for (const leaf of m.shards) visitLeaf(leaf);
}

export function mapEntries<T>(m: ShardedMap<T>): Array<[string, T]> {
  return leavesOf(m).flatMap((s) => Object.entries(s));
}

export function mapSize<T>(m: ShardedMap<T>): number {
  let n = 0;
  for (const s of leavesOf(m)) n += Object.keys(s).length;
  return n;
}

/** How many leaves the map spreads its keys over (either layout): a copy made with it keeps each key in its leaf. */
export function mapLeafCount<T>(m: ShardedMap<T>): number {
  return 'groups' in m ? m.leaves : m.shards.length;
}

/**
 * A new map of `leaves` leaves holding `entries` (a later entry of the same key wins), in the
 * current layout: for splitting a rule's state by slot and merging it back (core/cluster/ruleStateSlots.ts).
 */
export function mapFromEntries<T>(entries: ReadonlyArray<readonly [string, T]>, leaves: number = DEFAULT_SHARDS): ShardedMap<T> {
  return mapUpdate(emptyMap<T>(leaves), entries);
}
