/**
 * A small random city for the cluster tests of rule state (ruleStateSlots*.test.ts): a
 * registry, inputs of every family varied so that the keyed rules keep state and raise, the
 * engine's dispatcher over one rule, and state comparison that ignores the order leaves were
 * filled in.
 */
import fc from 'fast-check';
import type { DeviceInfo, Effect, RuleReading } from '../../../core/alerts/types.js';
import type { DeviceLookup } from '../../../core/cluster/ruleRouting.js';
import { mapPaths } from '../../../core/cluster/ruleStateSlots.js';
import { RuleRunner, type AnyRule, type RuleInput } from '../../../core/ruleRunner.js';
import { mapEntries, mapLeafCount, type ShardedMap } from '../../../core/rules/common/shardedMap.js';
import { scanPoints } from '../../../core/schemas/cylinder.js';
import { violationTypes } from '../../../core/schemas/kitchen.js';

export const T0 = 1_795_392_000_000;
export const MIN = 60_000;

const dev = (id: string, family: DeviceInfo['family'], meta: Record<string, unknown> = {}): DeviceInfo => ({ id, family, name: null, district: null, meta });
/** A city: cameras of three stores (one camera with an empty storeId, one without), collectors of two stations. */
const registry: DeviceInfo[] = [
  dev('k-0', 'kitchen', { storeId: 'S-1' }), dev('k-1', 'kitchen', { storeId: 'S-1' }), dev('k-2', 'kitchen', { storeId: 'S-2' }),
  dev('k-3', 'kitchen', { storeId: 'S-3' }), dev('k-4', 'kitchen', { storeId: '' }), dev('k-5', 'kitchen'),
  ...[0, 1, 2].map((i) => dev(`e-${i}`, 'elevator')),
  ...[0, 1, 2].map((i) => dev(`c-${i}`, 'cylinder', { stationId: `ST-${i}` })),
  dev('d-0', 'dispenser', { stationId: 'FS-0' }), dev('d-1', 'dispenser', { stationId: 'FS-0' }), dev('d-2', 'dispenser', { stationId: 'FS-1' }), dev('d-3', 'dispenser'),
];
/** Devices that send without being registered (the registry is asked and knows nothing). */
const unregistered: Record<DeviceInfo['family'], string> = { kitchen: 'k-x', elevator: 'e-x', cylinder: 'c-x', dispenser: 'd-x' };
const byId = new Map(registry.map((d) => [d.id, d]));
export const lookup: DeviceLookup & { cylinder: () => undefined } = { device: (id) => byId.get(id), cylinder: () => undefined };
const devicesOf = (family: DeviceInfo['family']): string[] => [...registry.filter((d) => d.family === family).map((d) => d.id), unregistered[family]];

const channels: Record<DeviceInfo['family'], string[]> = {
  kitchen: ['violation', 'violation', 'heartbeat'],
  elevator: ['status', 'status', 'fault', 'heartbeat'],
  cylinder: ['scan', 'scan', 'scan', 'heartbeat'],
  dispenser: ['txn', 'txn', 'tank', 'tank', 'tamper', 'heartbeat'],
};
const families = Object.keys(channels) as Array<DeviceInfo['family']>;

const gapArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40_000 }) },
  { weight: 2, arbitrary: fc.integer({ min: MIN, max: 20 * MIN }) },
  { weight: 1, arbitrary: fc.integer({ min: 60 * MIN, max: 9 * 60 * MIN }) },
);
export const stepArb = fc.record({
  kind: fc.constantFrom('reading', 'reading', 'reading', 'reading', 'reading', 'reading', 'reading', 'tick', 'connection'),
  family: fc.constantFrom(...families),
  ch: fc.nat(), dev: fc.nat(), a: fc.nat({ max: 5 }), b: fc.nat({ max: 5 }), c: fc.nat({ max: 5 }), n: fc.nat({ max: 99 }), flag: fc.boolean(),
  gap: gapArb,
});
export type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

/** Turn specs into inputs: totalisers and tank levels move as a station's would, with some rollbacks, gaps and deliveries. */
export function inputsOf(steps: readonly Step[]): RuleInput[] {
  let at = T0;
  let seq = 0;
  const totals = new Map<string, number>();
  const levels = new Map<string, number>();
  return steps.map((s): RuleInput => {
    at += s.gap;
    if (s.kind === 'tick') return { kind: 'tick', now: at };
    const ids = devicesOf(s.family);
    const deviceId = ids[s.dev % ids.length]!;
    if (s.kind === 'connection') return { kind: 'connection', deviceId, connected: s.flag, family: s.family, now: at };
    const channel = channels[s.family][s.ch % channels[s.family].length]!;
    const station = `FS-${s.a % 3}`;
    let data: Record<string, unknown> = { fw: '1.0' };
    let ts = at;
    if (channel === 'violation') {
      data = { type: violationTypes[s.n % violationTypes.length], confidence: [0.3, 0.5, 0.9][s.b % 3] };
      if (s.a < 3) data.storeId = `S-${s.a + 1}`;
      else if (s.a === 4) data.storeId = '';
    } else if (channel === 'status') {
      data = { passengerPresent: true, doorClosed: true, moving: !s.flag, doorZone: s.b % 3 !== 0, floor: s.n % 12, serviceMode: s.c === 0 ? 'inspection' : 'normal' };
    } else if (channel === 'fault') {
      data = { code: [11, 40, 3, 5, 42, 11][s.a], floor: s.n % 12 };
    } else if (channel === 'scan') {
      data = { cylinderCode: `LPG-${s.n % 6}`, stationId: `ST-${s.a % 3}`, point: ['pre_fill', 'fill', 'fill', 'post_fill', 'delivery', 'outbound'][s.b] ?? scanPoints[0] };
      if (s.n === 99) delete data.cylinderCode;
      ts = at - s.c * 20 * MIN;
    } else if (channel === 'txn') {
      const nozzle = `${station}/${s.b % 2}/${(s.c % 2) + 1}`;
      const volumeL = 10 + (s.n % 40);
      const total = (totals.get(nozzle) ?? 100_000) + (s.flag && s.a === 5 ? -50 : s.flag && s.a === 4 ? volumeL + 3 : volumeL);
      totals.set(nozzle, total);
      data = {
        stationId: station, dispenserId: `D-${s.b % 2}`, nozzle: (s.c % 2) + 1, grade: '92', volumeL, unitPrice: 7.5,
        // one in ten each: a wrong amount, a flow too fast, pulses off the volume
        amountYuan: Math.round(volumeL * 750) / 100 + (s.n % 10 === 7 ? 1 : 0), totalizerL: total, durationS: s.n % 10 === 3 ? 5 : 60,
        pulses: volumeL * 100 + (s.n % 10 === 5 ? 50 : 0), pulsesPerL: 100, tankId: `T-${s.c % 2}`,
      };
    } else if (channel === 'tank') {
      const tank = `${station}/T-${s.c % 2}`;
      const level = (levels.get(tank) ?? 20_000) - (s.n % 60) + (s.n < 4 ? 6_000 : 0);
      levels.set(tank, level);
      data = { stationId: station, tankId: `T-${s.c % 2}`, grade: '92', volumeL: level, tempC: 18, waterMm: 3 };
    } else if (channel === 'tamper') {
      data = { stationId: station, dispenserId: `D-${s.b % 2}`, kind: 'seal_open' };
    }
    if ((channel === 'txn' || channel === 'tank') && s.n === 98) delete data.stationId;
    seq++;
    const reading: RuleReading = { seq, family: s.family, channel, deviceId, msgId: `m-${seq}`, ts, receivedAt: at, data };
    return { kind: 'reading', reading, now: at };
  });
}

export const fail = ({ rule, error }: { rule: string; error: Error }): never => {
  throw new Error(`${rule}: ${error.message}`);
};

/** One rule from a state, through the engine's dispatcher (its config: the defaults, with `overrides`). */
export function runOne(rule: AnyRule, state: unknown, input: RuleInput, overrides: Record<string, unknown> = {}, devices: DeviceLookup = lookup): { state: unknown; effects: Effect[] } {
  const runner = new RuleRunner([rule], { [rule.id]: overrides }, { device: (id) => devices.device(id), cylinder: () => undefined }, fail);
  runner.load({ [rule.id]: state });
  const effects = [...runner.apply(input)];
  return { state: runner.states[rule.id], effects };
}

export const byJson = (effects: readonly Effect[]): string[] => effects.map((e) => JSON.stringify(e)).sort();

export const mapAt = (state: unknown, path: string): ShardedMap<unknown> =>
  path.split('.').reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], state) as ShardedMap<unknown>;

/** The state with each map as its sorted entries (and leaf count): equal states, whatever order their leaves were filled in. */
export function canon(ruleId: string, state: unknown): unknown {
  const out = JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
  for (const path of mapPaths(ruleId)) {
    const m = mapAt(state, path);
    const keys = path.split('.');
    let at = out;
    for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
    at[keys[keys.length - 1]!] = { leaves: mapLeafCount(m), entries: mapEntries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) };
  }
  return out;
}

export const keyCount = (ruleId: string, state: unknown): number => mapPaths(ruleId).reduce((n, p) => n + mapEntries(mapAt(state, p)).length, 0);

