/**
 * A rule's state split by slot and merged back (docs/cluster.md, Rule state per slot), so a
 * node saves and loads only the state of the slots it owns. Pure.
 *
 * A part holds the entries of each of the rule's ShardedMaps whose keys route to its slot
 * (core/cluster/ruleRouting.ts), and a copy of the rule-wide values (`scalars` below). A slot
 * without any entry is omitted: its part would be `emptyPart(rule, state)`, the rule-wide
 * values and empty maps. Merging concatenates the maps (the parts' keys are disjoint: each key
 * routes to one slot) and combines each rule-wide value as its table entry says. A split
 * merged back is the state it came from whenever it had any entry; a state without entries
 * splits into nothing and merges back to `init()` (why that is safe is said per value below).
 *
 * Each combination is chosen so that a node holding several parts, saved by different nodes
 * at different times, behaves as a single node would have or errs on the side that costs
 * nothing but a little work:
 * - `max` (offline `listeningSince`): the latest resume after an outage. Timers run from no
 *   earlier than it; taking an earlier one would let every device of the resumed parts raise
 *   offline at once for the time nobody was listening, the alert storm the value exists to
 *   prevent. Taking the later one can only delay a part's offline alerts by the gap between
 *   two resumes, the same restart docs/cluster.md asks of a takeover.
 * - `min` (`prunedAt`, `sweptAt`): when the last full prune or sweep ran. Pruning and
 *   sweeping only drop entries the rules already disregard (aged out of their windows, or
 *   past their retention), so the earliest merely runs the next one sooner, over every part.
 * - `minPresent` (tank_reconciliation `earliestDay`): the rule keeps it at or below every
 *   open day (null: none), as a hint for ticks; the least of the parts' keeps that true.
 * - `samePeriod` (tank_reconciliation `periodMs`, absent meaning a day): the open days of a
 *   part were counted in its period and carry no period of their own, so parts counted in
 *   different periods cannot make one state: merging them throws (a node of another
 *   ALERT_OVERRIDES saved them; the rule evaluates each part's days on its own when it
 *   adopts the new period, so evaluate the parts apart first).
 */
import { allRules } from '../rules/index.js';
import { DAY } from '../rules/common/util.js';
import { emptyMap, mapForEach, mapFromEntries, mapLeafCount, type ShardedMap } from '../rules/common/shardedMap.js';
import { routeOf, type DeviceLookup, type RoutedRuleId } from './ruleRouting.js';
import { SLOTS, slotOf } from './slots.js';

export type Combine = 'max' | 'min' | 'minPresent' | 'samePeriod';

export interface StateLayout {
  /** the rule-wide values at the top of the state (anything not a ShardedMap), and how parts combine them */
  scalars: Readonly<Record<string, Combine>>;
}

const none: StateLayout = { scalars: {} };
const offline: StateLayout = { scalars: { listeningSince: 'max' } };

/** One entry per routed rule: a rule with a route and no layout does not compile. */
export const stateLayouts = {
  'kitchen.violation': none,
  'kitchen.repeat_offender': { scalars: { prunedAt: 'min' } },
  'kitchen.store_score': { scalars: { prunedAt: 'min' } },
  'kitchen.camera_dark': offline,
  'elevator.fault': none,
  'elevator.trapped': none,
  'elevator.repeated_trapping': { scalars: { prunedAt: 'min' } },
  'elevator.offline': offline,
  'cylinder.scan_check': none,
  'cylinder.no_pre_fill': { scalars: { sweptAt: 'min' } },
  'cylinder.cloned_code': { scalars: { sweptAt: 'min' } },
  'cylinder.offline': offline,
  'dispenser.amount_mismatch': none,
  'dispenser.totalizer': { scalars: { sweptAt: 'min' } },
  'dispenser.flow': none,
  'dispenser.pulses': none,
  'dispenser.tamper': none,
  'dispenser.tank_reconciliation': { scalars: { earliestDay: 'minPresent', periodMs: 'samePeriod' } },
  'dispenser.offline': offline,
} as const satisfies Record<RoutedRuleId, StateLayout>;

export function layoutOf(ruleId: string): StateLayout {
  if (!Object.hasOwn(stateLayouts, ruleId)) throw new Error(`no state layout for rule ${ruleId}: add it to core/cluster/ruleStateSlots.ts`);
  return stateLayouts[ruleId as RoutedRuleId];
}

/** The paths of the rule's ShardedMaps (dotted for a map inside an object of the state). */
export function mapPaths(ruleId: string): string[] {
  return Object.keys(routeOf(ruleId).maps);
}

type Json = Record<string, unknown>;

function getPath(state: unknown, path: string): unknown {
  let at: unknown = state;
  for (const p of path.split('.')) at = (at as Json)[p];
  return at;
}

/** A copy of `state` with `value` at `path`, copying each object on the way (the input is never changed). */
function setPath(state: unknown, path: string, value: unknown): Json {
  const [head, ...rest] = path.split('.');
  const obj = state as Json;
  return { ...obj, [head!]: rest.length ? setPath(obj[head!], rest.join('.'), value) : value };
}

function mapAt(state: unknown, path: string, ruleId: string): ShardedMap<unknown> {
  const m = getPath(state, path);
  if (typeof m !== 'object' || m === null || !('groups' in m || 'shards' in m)) throw new Error(`rule ${ruleId}: no ShardedMap at ${path}`);
  return m as ShardedMap<unknown>;
}

/** Where a key of the map at `path` falls; `slotOfStateKey` builds the usual one. */
export type SlotOfKey = (mapKey: string, mapPath: string) => number;

/** The slot of a state key: its route (ruleRouting.ts) hashed into `slots` slots. */
export function slotOfStateKey(ruleId: string, lookup: DeviceLookup, slots = SLOTS): SlotOfKey {
  const maps = routeOf(ruleId).maps as Record<string, (k: string, l: DeviceLookup) => string>;
  return (mapKey, mapPath) => slotOf(maps[mapPath]!(mapKey, lookup), slots);
}

/** What an omitted slot holds: `like`'s rule-wide values, and its maps emptied (same leaf counts). */
export function emptyPart(ruleId: string, like: unknown): unknown {
  let part: unknown = like;
  for (const path of mapPaths(ruleId)) part = setPath(part, path, emptyMap(mapLeafCount(mapAt(like, path, ruleId))));
  return part;
}

/**
 * The state's entries by slot; a slot without entries is omitted. `only`: just those slots
 * (a node handing one slot over saves that slot's part, not every part of its state).
 */
export function splitState(ruleId: string, state: unknown, slotOfKey: SlotOfKey, only?: ReadonlySet<number>): Map<number, unknown> {
  layoutOf(ruleId);
  const paths = mapPaths(ruleId);
  const bySlot = new Map<number, Map<string, Array<[string, unknown]>>>();
  for (const path of paths) {
    mapForEach(mapAt(state, path, ruleId), (key, value) => {
      const slot = slotOfKey(key, path);
      if (only && !only.has(slot)) return;
      let maps = bySlot.get(slot);
      if (!maps) bySlot.set(slot, (maps = new Map()));
      let entries = maps.get(path);
      if (!entries) maps.set(path, (entries = []));
      entries.push([key, value]);
    });
  }
  const parts = new Map<number, unknown>();
  for (const slot of [...bySlot.keys()].sort((a, b) => a - b)) {
    let part: unknown = state;
    for (const path of paths) {
      part = setPath(part, path, mapFromEntries(bySlot.get(slot)!.get(path) ?? [], mapLeafCount(mapAt(state, path, ruleId))));
    }
    parts.set(slot, part);
  }
  return parts;
}

/** Combine one rule-wide value over the parts; `undefined` when every part lacks it (an optional field stays absent). */
function combine(how: Combine, values: unknown[], field: string, ruleId: string): unknown {
  const present = values.filter((v) => v !== undefined);
  if (present.length === 0) return undefined;
  const nums = present.filter((v): v is number => typeof v === 'number');
  switch (how) {
    case 'max': return Math.max(...nums);
    case 'min': return Math.min(...nums);
    case 'minPresent': return nums.length ? Math.min(...nums) : null;
    case 'samePeriod': {
      const periods = new Set(values.map((v) => (v === undefined ? DAY : v)));
      if (periods.size > 1) {
        throw new Error(`rule ${ruleId}: parts counted in different ${field} (${[...periods].join(', ')}) cannot merge; evaluate each part on its own first`);
      }
      return present[0];
    }
  }
}

/** One state from the parts of disjoint slots; no part: the rule's init(). */
export function mergeStates(ruleId: string, parts: readonly unknown[]): unknown {
  const rule = allRules.find((r) => r.id === ruleId);
  if (!rule) throw new Error(`unknown rule ${ruleId}`);
  const layout = layoutOf(ruleId);
  if (parts.length === 0) return rule.init();
  let merged: unknown = parts[0];
  for (const path of mapPaths(ruleId)) {
    const entries: Array<[string, unknown]> = [];
    const seen = new Set<string>();
    for (const part of parts) {
      mapForEach(mapAt(part, path, ruleId), (key, value) => {
        // each key routes to one slot, so two parts holding it were not split from disjoint slots
        if (seen.has(key)) throw new Error(`rule ${ruleId}: key ${key} of ${path} is in two parts`);
        seen.add(key);
        entries.push([key, value]);
      });
    }
    merged = setPath(merged, path, mapFromEntries(entries, mapLeafCount(mapAt(parts[0], path, ruleId))));
  }
  const out = { ...(merged as Json) };
  for (const [field, how] of Object.entries(layout.scalars)) {
    const v = combine(how, parts.map((p) => (p as Json)[field]), field, ruleId);
    if (v === undefined) delete out[field];
    else out[field] = v;
  }
  return out;
}

