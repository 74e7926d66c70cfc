/**
 * The edges of rule state per slot (core/cluster/ruleStateSlots.ts, ruleRouting.ts): an
 * operator's action routed to one slot decides as on the whole state; and the three places
 * where a node holding one slot does NOT decide as a single node would, pinned here so that
 * they stay known (the cluster work must handle them, docs/cluster.md Next):
 * - tank_reconciliation after periodMs changes: the whole state evaluates every tank's open
 *   day at its next input, a part only its own (the others at their parts' next input);
 * - the cylinder rules' caps (maxTracked, maxTrackedCodes) bound each part, not the city;
 * - a device moved in the registry (a camera to another store, a collector to another
 *   station) leaves its kitchen.camera_dark / dispenser.offline entry in the old slot.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../core/alerts/alert.js';
import type { DeviceInfo, RuleReading } from '../../../core/alerts/types.js';
import { routeOfAlertClosed, routeOfReading, type DeviceLookup } from '../../../core/cluster/ruleRouting.js';
import { emptyPart, mergeStates, slotOfStateKey, splitState } from '../../../core/cluster/ruleStateSlots.js';
import { slotOf } from '../../../core/cluster/slots.js';
import { ruleConfig, type AnyRule, type RuleInput } from '../../../core/ruleRunner.js';
import { allRules } from '../../../core/rules/index.js';
import { MIN, T0, byJson, canon, lookup, runOne } from './ruleCity.js';

const rule = (id: string): AnyRule => allRules.find((r) => r.id === id)!;
let seq = 0;
const read = (family: RuleReading['family'], channel: string, deviceId: string, at: number, data: Record<string, unknown>, ts = at): RuleInput =>
  ({ kind: 'reading', reading: { seq: ++seq, family, channel, deviceId, msgId: `l-${seq}`, ts, receivedAt: at, data }, now: at });

/** Run inputs in order from init(); the state after and every effect. */
function run(r: AnyRule, inputs: readonly RuleInput[], overrides: Record<string, unknown> = {}, devices: DeviceLookup = lookup, from: unknown = r.init()) {
  let state = from;
  const effects = inputs.flatMap((i) => {
    const o = runOne(r, state, i, overrides, devices);
    state = o.state;
    return o.effects;
  });
  return { state, effects };
}

const partAt = (r: AnyRule, state: unknown, slot: number, devices: DeviceLookup = lookup): unknown =>
  splitState(r.id, state, slotOfStateKey(r.id, devices)).get(slot) ?? emptyPart(r.id, state);

describe('an operator closing an alert', () => {
  it('kitchen.repeat_offender: a false positive on the part of its store decides as on the whole state', () => {
    const r = rule('kitchen.repeat_offender');
    const smoking = (store: string, cam: string, at: number): RuleInput => read('kitchen', 'violation', cam, at, { storeId: store, type: 'smoking', confidence: 0.9 });
    const inputs = [0, 11, 22].flatMap((m) => [smoking('S-1', 'k-0', T0 + m * MIN), smoking('S-2', 'k-2', T0 + m * MIN + 1)]);
    const { state, effects } = run(r, inputs);
    expect(effects.filter((e) => e.type === 'flagStore')).not.toHaveLength(0);
    const first = inputs[0]!.kind === 'reading' ? inputs[0]!.reading.seq : 0;
    const alert = { rule: 'kitchen.violation', params: { storeId: 'S-1' }, device: { id: 'k-0', meta: { storeId: 'S-1' } }, evidence: [{ seqs: [first] }] } as unknown as Alert;
    const e = { alert, falsePositive: true, at: T0 + 40 * MIN };
    const slot = slotOf(routeOfAlertClosed(r.id, e)!);
    const ctx = { config: ruleConfig(r, {}), device: lookup.device, cylinder: () => undefined };
    const whole = r.onAlertClosed!(state, e, ctx);
    const part = r.onAlertClosed!(partAt(r, state, slot), e, ctx);
    // three alerts flagged S-1; one of them false leaves two: the flag is lifted
    expect(whole.effects.map((e) => e.type)).toEqual(['flagStore', 'resolve']);
    expect(byJson(part.effects)).toEqual(byJson(whole.effects));
    expect(canon(r.id, part.state)).toEqual(canon(r.id, partAt(r, whole.state, slot)));
    expect(routeOfAlertClosed('kitchen.violation', e)).toBeNull();
  });
});

describe('known limits: where one slot does not decide as the whole state', () => {
  it('tank_reconciliation after periodMs changes: each part evaluates its own open days, at its next input', () => {
    const r = rule('dispenser.tank_reconciliation');
    const tank = (station: string, at: number, volumeL: number): RuleInput => read('dispenser', 'tank', 'd-0', at, { stationId: station, tankId: 'T-1', volumeL });
    // two stations in two slots, each tank dropping 200 L with nothing metered: an alert when evaluated
    const { state } = run(r, [tank('FS-0', T0, 20_000), tank('FS-0', T0 + MIN, 19_800), tank('FS-1', T0, 9_000), tank('FS-1', T0 + MIN, 8_800)]);
    const shift = { periodMs: 8 * 60 * MIN };
    const next = tank('FS-0', T0 + 2 * MIN, 19_790);
    const slot = slotOf(routeOfReading(r.id, next.kind === 'reading' ? next.reading : (undefined as never), lookup));
    expect(slot).not.toBe(slotOf('FS-1'));
    const whole = runOne(r, state, next, shift);
    const part = runOne(r, partAt(r, state, slot), next, shift);
    const stations = (es: typeof whole.effects): unknown[] => es.map((e) => (e.type === 'raise' ? e.params['stationId'] : null)).sort();
    expect(stations(whole.effects)).toEqual(['FS-0', 'FS-1']);
    expect(stations(part.effects)).toEqual(['FS-0']);
    // FS-1's day is raised by its own part at its next input (here the next tick): the same alert, later
    const other = runOne(r, partAt(r, state, slotOf('FS-1')), { kind: 'tick', now: T0 + 3 * MIN }, shift);
    expect(stations(other.effects)).toEqual(['FS-1']);
  });

  it('cylinder.cloned_code: maxTrackedCodes bounds each part, not the city', () => {
    const r = rule('cylinder.cloned_code');
    const scan = (code: string, station: string, at: number): RuleInput => read('cylinder', 'scan', 'c-0', at, { cylinderCode: code, stationId: station, point: 'fill' });
    const cap = { maxTrackedCodes: 2 };
    const codes = ['LPG-0', 'LPG-1', 'LPG-2'];
    expect(new Set(codes.map((c) => slotOf(c))).size).toBe(3);
    const { state } = run(r, codes.map((c, i) => scan(c, 'ST-0', T0 + i * 1000)), cap);
    // the sweep a minute later drops the oldest code of the city (LPG-0) from the whole state
    const again = scan('LPG-0', 'ST-1', T0 + 2 * MIN);
    const whole = runOne(r, state, again, cap);
    const part = runOne(r, partAt(r, state, slotOf('LPG-0')), again, cap);
    expect(whole.effects).toEqual([]);
    expect(part.effects.map((e) => e.type === 'raise' && e.condition)).toEqual(['LPG-0']);
  });

  it('kitchen.camera_dark: a camera moved to another store leaves its entry in the old store\'s slot, which then raises it dark', () => {
    const r = rule('kitchen.camera_dark');
    const moved = (store: string): DeviceLookup => ({ device: (id) => (id === 'k-0' ? { ...(lookup.device(id) as DeviceInfo), meta: { storeId: store } } : lookup.device(id)) });
    expect(slotOf('S-1')).not.toBe(slotOf('S-2'));
    const before = run(r, [read('kitchen', 'heartbeat', 'k-0', T0, {})]).state;
    // the registry moves k-0 from S-1 to S-2; its next heartbeat routes to S-2's slot
    const hb = read('kitchen', 'heartbeat', 'k-0', T0 + 20 * MIN, {});
    const whole = run(r, [hb, { kind: 'tick', now: T0 + 35 * MIN }], {}, moved('S-2'), before);
    expect(whole.effects).toEqual([]);
    const oldPart = partAt(r, before, slotOf('S-1'));
    const newPart = run(r, [hb, { kind: 'tick', now: T0 + 35 * MIN }], {}, moved('S-2'), emptyPart(r.id, before));
    const oldTick = run(r, [{ kind: 'tick', now: T0 + 35 * MIN }], {}, moved('S-2'), oldPart);
    expect(newPart.effects).toEqual([]);
    expect(oldTick.effects.map((e) => e.type)).toEqual(['raise']);
    // and the two parts cannot be merged back: the camera is in both
    expect(() => mergeStates(r.id, [oldTick.state, newPart.state])).toThrow(/in two parts/);
  });
});
