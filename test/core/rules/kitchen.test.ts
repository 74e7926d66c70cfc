/**
 * Kitchen rules (docs/domain.md §1): kitchen.violation (confidence edge, risk class and
 * severity of every type, evidence, the 600 s cooldown as the engine applies it) and
 * kitchen.repeat_offender (2/3/4 alerts, cooldown repeats counted once, the 7-day edge,
 * false positives unflagging, state through JSON).
 */
import { describe, expect, it } from 'vitest';
import { deepFreeze, raises, roundTrip, tick } from './helpers.js';
import { violationTypes, type ViolationType } from '../../../core/schemas/kitchen.js';
import { openAlert, repeatAlert, repeats, type Alert } from '../../../core/alerts/alert.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { ruleOverrides } from '../../../core/alerts/policy.js';
import { allRules } from '../../../core/rules/index.js';
import type { DeviceInfo, RaiseAlert, RuleReading } from '../../../core/alerts/types.js';
import { configFor, mapGet, mapSize, runInputs, staticContext, type RuleInput } from '../../../core/rules/common/index.js';
import {
  kitchenRules, markClosed, markFalsePositive, occurrenceRefFromAlert, repeatOffenderDefaults, repeatOffenderRule, riskClasses,
  violationDefaults, violationNames, violationRule, type RepeatOffenderConfig, type RepeatOffenderState, type ViolationConfig,
} from '../../../core/rules/kitchen/index.js';

const T0 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const S = 1_000;
const DAY = 24 * 60 * 60 * S;

const devices: DeviceInfo[] = [
  { id: 'cam-1', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'cam-2', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'cam-9', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-META' } },
];

let seq = 1000;
function violation(type: ViolationType, at: number, opts: { deviceId?: string; confidence?: number; storeId?: string | null; seq?: number } = {}): RuleReading {
  const s = opts.seq ?? ++seq;
  const data: Record<string, unknown> = {
    type, confidence: opts.confidence ?? 0.9, area: 'hot kitchen', snapshotUrl: `https://cam.example/snap/${s}.jpg`, bbox: [0.1, 0.2, 0.3, 0.6],
  };
  if (opts.storeId !== null) data['storeId'] = opts.storeId ?? 'S-1';
  return { seq: s, family: 'kitchen', channel: 'violation', deviceId: opts.deviceId ?? 'cam-1', msgId: `m-${s}`, ts: at - 300, receivedAt: at, data };
}
const rd = (r: RuleReading): RuleInput => ({ kind: 'reading', reading: r, now: r.receivedAt + 5 });

function violations(inputs: RuleInput[], overrides: Partial<ViolationConfig> = {}) {
  return runInputs(violationRule, staticContext(configFor(violationRule, overrides), devices), inputs, deepFreeze(violationRule.init()), deepFreeze);
}
function offenders(inputs: RuleInput[], state?: RepeatOffenderState, overrides: Partial<RepeatOffenderConfig> = {}) {
  return runInputs(repeatOffenderRule, staticContext(configFor(repeatOffenderRule, overrides), devices), inputs, deepFreeze(state ?? repeatOffenderRule.init()), deepFreeze);
}

describe('kitchen rules index', () => {
  it('registers violation, repeat_offender, store_score and camera_dark', () => {
    expect(kitchenRules.map((r) => r.id)).toEqual(['kitchen.violation', 'kitchen.repeat_offender', 'kitchen.store_score', 'kitchen.camera_dark']);
    for (const r of kitchenRules) expect(r.family).toBe('kitchen');
  });
});

describe('kitchen.violation: risk class and severity of every type', () => {
  const expected: Record<ViolationType, [1 | 2 | 3, string]> = {
    rat: [1, 'critical'], unattended_flame: [1, 'critical'],
    smoking: [2, 'major'], trash_uncovered: [2, 'major'], board_mixed: [2, 'major'], containers_stacked: [2, 'major'],
    raw_cooked_mixed: [2, 'major'], stranger: [2, 'major'],
    no_chef_hat: [3, 'minor'], no_mask: [3, 'minor'], no_uniform: [3, 'minor'], no_gloves: [3, 'minor'], phone: [3, 'minor'],
  };
  it('covers every protocol type exactly', () => {
    expect(Object.keys(riskClasses).sort()).toEqual([...violationTypes].sort());
    expect(Object.keys(violationNames).sort()).toEqual([...violationTypes].sort());
  });
  it.each(violationTypes.map((t) => [t, ...expected[t]] as const))('%s: class %i, %s', (type, cls, severity) => {
    expect(riskClasses[type]).toBe(cls);
    // class 3 is scored, not chased (kitchen.store_score), unless configured to raise alerts
    expect(raises(violations([rd(violation(type, T0))]).effects[0]!)).toHaveLength(cls <= 2 ? 1 : 0);
    const r = raises(violations([rd(violation(type, T0))], { maxAlertClass: 3 }).effects[0]!);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ severity, condition: type, params: { type, riskClass: cls } });
  });
  it.each([
    [1, ['rat'], ['smoking', 'no_mask']],
    [2, ['rat', 'smoking'], ['no_mask']],
    [3, ['rat', 'smoking', 'no_mask'], []],
  ] as const)('maxAlertClass %i: %j raise alerts, %j do not', (maxAlertClass, raising, silent) => {
    for (const t of raising) expect(raises(violations([rd(violation(t, T0))], { maxAlertClass }).effects[0]!)).toHaveLength(1);
    for (const t of silent) expect(raises(violations([rd(violation(t, T0))], { maxAlertClass }).effects[0]!)).toHaveLength(0);
  });
});

describe('kitchen.violation: confidence threshold', () => {
  it.each([
    [0.39, 0], [0.4, 1], [0.41, 1], [0, 0], [1, 1],
  ])('confidence %s raises %i alert(s)', (confidence, n) => {
    expect(raises(violations([rd(violation('smoking', T0, { confidence }))]).effects[0]!)).toHaveLength(n);
  });
  it('follows a configured threshold', () => {
    expect(raises(violations([rd(violation('smoking', T0, { confidence: 0.35 }))], { minConfidence: 0.3 }).effects[0]!)).toHaveLength(1);
  });
});

describe('kitchen.violation: the raise', () => {
  it('carries condition, cooldown window and evidence; `at` is the receive time', () => {
    const reading = violation('rat', T0, { seq: 42, confidence: 0.92 });
    const [raise] = raises(violations([rd(reading)]).effects[0]!);
    expect(raise).toEqual({
      type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: 'cam-1', condition: 'rat', severity: 'critical',
      windowMs: 600 * S, at: T0,
      summary: 'Kitchen violation: rat (class 1) at store S-1, confidence 0.92',
      params: { type: 'rat', riskClass: 1, confidence: 0.92, storeId: 'S-1', area: 'hot kitchen' },
      evidence: { seqs: [42], snapshotUrl: 'https://cam.example/snap/42.jpg', values: { confidence: 0.92, storeId: 'S-1', bbox: '0.1,0.2,0.3,0.6' } },
    });
  });
  it('falls back to the device meta store id', () => {
    const [raise] = raises(violations([rd(violation('smoking', T0, { deviceId: 'cam-9', storeId: null }))]).effects[0]!);
    expect(raise!.params['storeId']).toBe('S-META');
  });
  it('ignores other channels and is stateless', () => {
    const hb: RuleReading = { seq: 1, family: 'kitchen', channel: 'heartbeat', deviceId: 'cam-1', msgId: 'h', ts: T0, receivedAt: T0, data: {} };
    const r = violations([rd(hb), rd(violation('rat', T0))]);
    expect(r.effects[0]).toEqual([]);
    expect(r.state).toEqual({});
  });
  it('takes severities from config', () => {
    const [raise] = raises(violations([rd(violation('phone', T0))], { severityByClass: { 1: 'critical', 2: 'major', 3: 'info' }, maxAlertClass: 3 }).effects[0]!);
    expect(raise!.severity).toBe('info');
  });

  // The cooldown is applied by the engine from windowMs (core/alerts/alert.ts): same camera+type
  // within 600 s (inclusive) updates the open alert; later opens a new one.
  it.each([
    [599 * S, 'updated'], [600 * S, 'updated'], [601 * S, 'new'],
  ])('a repeat %i ms after the last one: %s alert', (gap, outcome) => {
    const r = violations([rd(violation('smoking', T0)), rd(violation('smoking', T0 + gap))]);
    const [first] = raises(r.effects[0]!);
    const [second] = raises(r.effects[1]!);
    const alert = openAlert('a-1', first!, { id: 'cam-1', name: null, district: null, location: null, meta: {} }, defaultDeadlinePolicy).alert;
    expect(repeats(alert, second!) ? 'updated' : 'new').toBe(outcome);
  });
  it('the cooldown slides with each repeat (last occurrence), and types and cameras are separate conditions', () => {
    const r = violations([rd(violation('smoking', T0)), rd(violation('smoking', T0 + 500 * S)), rd(violation('smoking', T0 + 1000 * S))]);
    let alert = openAlert('a-1', raises(r.effects[0]!)[0]!, { id: 'cam-1', name: null, district: null, location: null, meta: {} }, defaultDeadlinePolicy).alert;
    for (const e of [r.effects[1]!, r.effects[2]!]) {
      const raise = raises(e)[0]!;
      expect(repeats(alert, raise)).toBe(true);
      alert = repeatAlert(alert, raise).alert;
    }
    expect(alert.count).toBe(3);
    const other = violations([rd(violation('rat', T0 + 10 * S)), rd(violation('smoking', T0 + 10 * S, { deviceId: 'cam-2' }))]);
    expect(repeats(alert, raises(other.effects[0]!)[0]!)).toBe(false);
    expect(repeats(alert, raises(other.effects[1]!)[0]!)).toBe(false);
  });
});

describe('kitchen.repeat_offender: counting alerts per store', () => {
  // distinct alerts: different types, or the same type more than 600 s apart
  const alertsAt = (n: number): RuleInput[] => Array.from({ length: n }, (_, i) => rd(violation('smoking', T0 + i * 601 * S)));

  it.each([
    [2, []], [3, ['flagStore', 'raise']], [4, ['flagStore', 'raise']],
  ])('%i alerts within 7 days -> %j on the last', (n, types) => {
    const r = offenders(alertsAt(n));
    expect(r.effects[n - 1]!.map((e) => e.type)).toEqual(types);
    if (n >= 3) {
      const at = T0 + (n - 1) * 601 * S;
      expect(r.effects[n - 1]![0]).toEqual({ type: 'flagStore', storeId: 'S-1', flagged: true, count: n, at });
      expect(r.effects[n - 1]![1]).toMatchObject({
        type: 'raise', rule: 'kitchen.repeat_offender', family: 'kitchen', deviceId: 'cam-1', condition: 'S-1', severity: 'major',
        windowMs: 7 * DAY, at, params: { storeId: 'S-1', count: n, threshold: 3, windowDays: 7, types: 'smoking' },
      });
      expect((r.effects[n - 1]![1] as RaiseAlert).evidence.seqs).toHaveLength(n);
    }
  });

  it.each([
    [599 * S, 0], [600 * S, 0], [601 * S, 1],
  ])('repeats %i ms apart: the same alert inside the cooldown (flags: %i)', (gap, flags) => {
    const r = offenders([0, 1, 2].map((i) => rd(violation('smoking', T0 + i * gap))));
    expect(r.effects.flat().filter((e) => e.type === 'flagStore')).toHaveLength(flags);
  });

  it('a camera reporting every 10 s for an hour is one alert', () => {
    const r = offenders(Array.from({ length: 360 }, (_, i) => rd(violation('smoking', T0 + i * 10 * S))));
    expect(r.effects.flat()).toEqual([]);
    const rec = mapGet(r.state.stores, 'S-1')!;
    expect(rec.occurrences).toHaveLength(1);
    expect(rec.occurrences[0]!.seqs).toHaveLength(20);
  });

  it('counts classes 1 and 2 only, at or above the confidence threshold', () => {
    const r = offenders([
      rd(violation('no_mask', T0)), rd(violation('phone', T0 + S)), rd(violation('no_gloves', T0 + 2 * S)),
      rd(violation('rat', T0 + 3 * S, { confidence: 0.39 })),
      rd(violation('rat', T0 + 4 * S)), rd(violation('unattended_flame', T0 + 5 * S)),
    ]);
    expect(r.effects.flat()).toEqual([]);
    const flagged = offenders([rd(violation('stranger', T0 + 6 * S))], r.state);
    expect(flagged.effects[0]!.map((e) => e.type)).toEqual(['flagStore', 'raise']);
  });

  it('cameras of one store add up; stores are separate', () => {
    const r = offenders([
      rd(violation('smoking', T0)), rd(violation('smoking', T0 + S, { deviceId: 'cam-2' })),
      rd(violation('rat', T0 + 2 * S, { storeId: 'S-2' })), rd(violation('board_mixed', T0 + 3 * S)),
    ]);
    expect(r.effects[3]![0]).toMatchObject({ type: 'flagStore', storeId: 'S-1', count: 3 });
  });

  it('takes the store id from device meta when the reading has none', () => {
    const r = offenders([0, 1, 2].map((i) => rd(violation('smoking', T0 + i * 601 * S, { deviceId: 'cam-9', storeId: null }))));
    expect(r.effects[2]![0]).toMatchObject({ type: 'flagStore', storeId: 'S-META' });
  });

  it.each([
    [7 * DAY - 1, true], [7 * DAY, true], [7 * DAY + 1, false],
  ])('first and third alert %i ms apart: flagged = %s (inclusive 7-day edge)', (span, flagged) => {
    const r = offenders([rd(violation('smoking', T0)), rd(violation('rat', T0 + DAY)), rd(violation('stranger', T0 + span))]);
    expect(r.effects[2]!.some((e) => e.type === 'flagStore')).toBe(flagged);
  });

  it('a flagged store stays flagged when the window passes, and later alerts refresh it', () => {
    const flagged = offenders(alertsAt(3));
    const later = offenders([tick(T0 + 30 * DAY), rd(violation('smoking', T0 + 30 * DAY))], flagged.state);
    expect(later.effects.flat()).toEqual([]);
    const rec = mapGet(later.state.stores, 'S-1')!;
    expect(rec.flag).not.toBeNull();
    // aged-out occurrences are pruned, except the three that justify the flag
    expect(rec.occurrences).toHaveLength(4);
  });
});

describe('kitchen.repeat_offender: false positives', () => {
  const three = [rd(violation('smoking', T0, { seq: 1 })), rd(violation('rat', T0 + S, { seq: 2 })), rd(violation('stranger', T0 + 2 * S, { seq: 3 }))];

  it('unflags the store when a false positive leaves fewer than 3', () => {
    const r = offenders(three);
    const fp = markFalsePositive(r.state, { storeId: 'S-1', seq: 2, at: T0 + DAY }, repeatOffenderDefaults);
    expect(fp.effects).toEqual([
      { type: 'flagStore', storeId: 'S-1', flagged: false, count: 2, at: T0 + DAY },
      { type: 'resolve', rule: 'kitchen.repeat_offender', deviceId: 'cam-1', condition: 'S-1', code: 'repeat_offender.lifted',
        params: { occurrence: expect.stringMatching(/^cam-1\/rat\//) as string, valid: 2, threshold: 3 }, reason: expect.stringMatching(/^false positive cam-1\/rat\/\d+: 2 valid alerts left, threshold 3$/) as string, at: T0 + DAY },
    ]);
    expect(mapGet(fp.state.stores, 'S-1')!.flag).toBeNull();
    // a third valid alert flags it again
    const again = offenders([rd(violation('board_mixed', T0 + DAY + S))], fp.state);
    expect(again.effects[0]![0]).toMatchObject({ type: 'flagStore', flagged: true, count: 3 });
  });

  it('keeps the flag when 3 valid alerts remain', () => {
    const r = offenders([...three, rd(violation('board_mixed', T0 + 3 * S, { seq: 4 }))]);
    const fp = markFalsePositive(r.state, { storeId: 'S-1', seq: 4, at: T0 + DAY });
    expect(fp.effects).toEqual([]);
    expect(mapGet(fp.state.stores, 'S-1')!.flag!.basis).toHaveLength(3);
  });

  it('unflags an old flag whose basis turns out false, even after the window', () => {
    const r = offenders(three);
    const fp = markFalsePositive(r.state, { storeId: 'S-1', seq: 1, at: T0 + 20 * DAY });
    expect(fp.effects.map((e) => e.type)).toEqual(['flagStore', 'resolve']);
  });

  it('a false positive before the flag means the store is not flagged at 3 detections', () => {
    const two = offenders(three.slice(0, 2));
    const fp = markFalsePositive(two.state, { storeId: 'S-1', seq: 2, at: T0 + 1500 });
    expect(fp.effects).toEqual([]);
    const third = offenders([three[2]!], fp.state);
    expect(third.effects.flat()).toEqual([]);
  });

  it('finds the alert by key or by any kept seq; unknown or repeated markings change nothing', () => {
    const r = offenders(three);
    const byKey = markFalsePositive(r.state, { storeId: 'S-1', key: 'cam-1/rat/2', at: T0 + DAY });
    expect(byKey.effects.map((e) => e.type)).toEqual(['flagStore', 'resolve']);
    expect(markFalsePositive(byKey.state, { storeId: 'S-1', key: 'cam-1/rat/2', at: T0 + DAY }).effects).toEqual([]);
    expect(markFalsePositive(r.state, { storeId: 'S-1', seq: 999, at: T0 }).state).toBe(r.state);
    expect(markFalsePositive(r.state, { storeId: 'S-X', seq: 1, at: T0 }).state).toBe(r.state);
  });

  it('a detection after the false-positive alert is closed is a new alert (as in the engine) and counts', () => {
    const two = offenders(three.slice(0, 2));
    const fp = markFalsePositive(two.state, { storeId: 'S-1', seq: 2, at: T0 + 10 * S });
    const r = offenders([rd(violation('rat', T0 + 20 * S)), rd(violation('stranger', T0 + 30 * S))], fp.state);
    expect(r.effects[1]!.map((e) => e.type)).toEqual(['flagStore', 'raise']);
  });

  it('markClosed: a resolved alert still counts, its next detection is a new alert', () => {
    const one = offenders([rd(violation('smoking', T0, { seq: 11 }))]);
    const closed = markClosed(one.state, { storeId: 'S-1', seq: 11, at: T0 + 10 * S });
    const r = offenders([rd(violation('smoking', T0 + 20 * S)), rd(violation('smoking', T0 + 30 * S))], closed.state);
    expect(r.effects[0]).toEqual([]);
    expect(mapGet(r.state.stores, 'S-1')!.occurrences).toHaveLength(2);
    const r3 = offenders([rd(violation('rat', T0 + 40 * S))], r.state);
    expect(r3.effects[0]![0]).toMatchObject({ type: 'flagStore', count: 3 });
  });

  it('builds the reference from an engine alert, for kitchen.violation alerts only', () => {
    const r = violations([rd(violation('rat', T0, { seq: 77 }))]);
    const alert: Alert = openAlert('a-1', raises(r.effects[0]!)[0]!, { id: 'cam-1', name: null, district: null, location: null, meta: { storeId: 'S-1' } }, defaultDeadlinePolicy).alert;
    expect(occurrenceRefFromAlert(alert, T0 + 5)).toEqual({ storeId: 'S-1', seqs: [77], at: T0 + 5 });
    expect(occurrenceRefFromAlert({ ...alert, rule: 'kitchen.camera_dark' }, T0)).toBeNull();
    expect(occurrenceRefFromAlert({ ...alert, params: {} }, T0)).toEqual({ storeId: 'S-1', seqs: [77], at: T0 });
  });
});

describe('kitchen.repeat_offender: bounded state', () => {
  it('onTick prunes stores with nothing left to count, at most once a minute', () => {
    const r = offenders([rd(violation('smoking', T0)), rd(violation('rat', T0 + 601 * S, { storeId: 'S-2' }))]);
    expect(mapSize(r.state.stores)).toBe(2);
    const early = offenders([tick(T0 + 7 * DAY)], r.state);
    expect(mapSize(early.state.stores)).toBe(2);
    const pruned = offenders([tick(T0 + 7 * DAY + 591 * S)], r.state);
    expect(mapSize(pruned.state.stores)).toBe(1);
    // S-2 has aged out 10 s later, but the last prune was under a minute ago
    const again = offenders([tick(T0 + 7 * DAY + 601 * S + 1)], pruned.state);
    expect(mapSize(again.state.stores)).toBe(1);
    const later = offenders([tick(T0 + 7 * DAY + 651 * S)], again.state);
    expect(mapSize(later.state.stores)).toBe(0);
  });
});

describe('kitchen rules: state round-trips through JSON', () => {
  it('repeat_offender gives the same effects with the state persisted and reloaded between inputs', () => {
    const inputs: RuleInput[] = [
      rd(violation('smoking', T0)), rd(violation('smoking', T0 + 300 * S)), rd(violation('smoking', T0 + 1000 * S)), tick(T0 + 2000 * S),
      rd(violation('rat', T0 + DAY)), rd(violation('stranger', T0 + 2 * DAY)), rd(violation('no_mask', T0 + 2 * DAY)),
      tick(T0 + 9 * DAY), rd(violation('board_mixed', T0 + 9 * DAY)),
    ];
    const ctx = staticContext(repeatOffenderDefaults, devices);
    const plain = runInputs(repeatOffenderRule, ctx, inputs, deepFreeze(repeatOffenderRule.init()), deepFreeze);
    const persisted = runInputs(repeatOffenderRule, ctx, inputs, roundTrip(repeatOffenderRule.init()), roundTrip);
    expect(persisted.effects).toEqual(plain.effects);
    expect(plain.effects.flat().filter((e) => e.type === 'flagStore')).toHaveLength(2);
    const fpPlain = markFalsePositive(plain.state, { storeId: 'S-1', key: 'cam-1/rat/' + (inputs[4] as { reading: RuleReading }).reading.seq, at: T0 + 10 * DAY });
    const fpPersisted = markFalsePositive(roundTrip(persisted.state), { storeId: 'S-1', key: 'cam-1/rat/' + (inputs[4] as { reading: RuleReading }).reading.seq, at: T0 + 10 * DAY });
    expect(fpPersisted.effects).toEqual(fpPlain.effects);
    expect(roundTrip(fpPersisted.state)).toEqual(roundTrip(fpPlain.state));
  });

  it('defaults agree with kitchen.violation', () => {
    expect(repeatOffenderDefaults.minConfidence).toBe(violationDefaults.minConfidence);
    expect(repeatOffenderDefaults.cooldownMs).toBe(violationDefaults.cooldownMs);
    expect(repeatOffenderDefaults.riskClasses).toEqual(violationDefaults.riskClasses);
  });
});

describe('kitchen.repeat_offender takes kitchen.violation\'s overrides', () => {
  it('an override of the violation thresholds applies to the counting too, and only the keys it shares', () => {
    const o = ruleOverrides(allRules, { rules: { 'kitchen.violation': { minConfidence: 0.3, cooldownMs: 120_000, severityByClass: { 1: 'critical', 2: 'critical', 3: 'minor' } } } });
    expect(o['kitchen.repeat_offender']).toEqual({ minConfidence: 0.3, cooldownMs: 120_000 });
    // its own override wins over the inherited one
    const own = ruleOverrides(allRules, { rules: { 'kitchen.violation': { minConfidence: 0.3 }, 'kitchen.repeat_offender': { threshold: 4 } } });
    expect(own['kitchen.repeat_offender']).toEqual({ minConfidence: 0.3, threshold: 4 });
  });
});

