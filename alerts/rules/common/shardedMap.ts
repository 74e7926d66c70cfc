/**
 * A per-key (device, store) record for rule state that stays cheap to update immutably at
 * city scale. Rule state must be plain JSON and rules must not mutate their input, so each
 * reading returns a new state; with one flat record of 25,000 elevators (DOMAIN.md, one city)
 * every copy costs ~25 ms in V8, on every status reading. Here the keys are spread over a
 * fixed number of shards (FNV-1a of the key): an update copies the shard array (a fast
 * array copy) and one shard of a few dozen keys, ~0.02 ms at 25,000 keys.
 *
 * Plain JSON: `{ shards: [{key: value, ...}, ...] }`; the shard count is the array's length,
 * so a state read back after a restart hashes keys to the same shards. Keys are stored as
 * own properties and read with Object.hasOwn, so a device called `__proto__` or
 * `constructor` is an ordinary key.
 */

export interface ShardedMap<T> {
  shards: Array<Record<string, T>>;
}

/** Enough for a province (~500,000 keys at ~500 per shard); an empty map is ~3 KB of JSON. */
export const DEFAULT_SHARDS = 1024;

export function emptyMap<T>(shards: number = DEFAULT_SHARDS): ShardedMap<T> {
  return { shards: Array.from({ length: Math.max(1, Math.floor(shards)) }, () => ({})) };
}

/** FNV-1a 32-bit over UTF-16 code units: stable across processes and restarts. */
export function shardOf(key: string, shardCount: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shardCount;
}

export function mapGet<T>(m: ShardedMap<T>, key: string): T | undefined {
  const shard = m.shards[shardOf(key, m.shards.length)]!;
  return Object.hasOwn(shard, key) ? shard[key] : undefined;
}

/** Set (value) or delete (undefined) several keys, copying each touched shard once. */
export function mapUpdate<T>(m: ShardedMap<T>, updates: ReadonlyArray<readonly [string, T | undefined]>): ShardedMap<T> {
  if (updates.length === 0) return m;
  if (updates.length === 1) return mapSetOne(m, updates[0]![0], updates[0]![1]);
  const shards = m.shards.slice();
  const copied = new Set<number>();
  let changed = false;
  for (const [key, value] of updates) {
    const i = shardOf(key, shards.length);
    const present = Object.hasOwn(shards[i]!, key);
    if (value === undefined && !present) continue;
    if (!copied.has(i)) {
      shards[i] = { ...shards[i]! };
      copied.add(i);
    }
    put(shards[i]!, key, value);
    changed = true;
  }
  return changed ? { shards } : m;
}

/** The common case, one key per reading: no bookkeeping of copied shards. */
function mapSetOne<T>(m: ShardedMap<T>, key: string, value: T | undefined): ShardedMap<T> {
  const i = shardOf(key, m.shards.length);
  const old = m.shards[i]!;
  const present = Object.hasOwn(old, key);
  if (value === undefined ? !present : present && old[key] === value) return m;
  const shards = m.shards.slice();
  const shard = { ...old };
  put(shard, key, value);
  shards[i] = shard;
  return { shards };
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

/** Visit every entry without building an array (clock ticks walk every device each second). */
export function mapForEach<T>(m: ShardedMap<T>, visit: (key: string, value: T) => void): void {
  for (const shard of m.shards) {
    for (const key of Object.keys(shard)) visit(key, shard[key]!);
  }
}

export function mapEntries<T>(m: ShardedMap<T>): Array<[string, T]> {
  return m.shards.flatMap((s) => Object.entries(s));
}

export function mapSize<T>(m: ShardedMap<T>): number {
  let n = 0;
  for (const s of m.shards) n += Object.keys(s).length;
  return n;
}
