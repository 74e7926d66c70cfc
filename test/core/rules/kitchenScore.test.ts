/**
 * kitchen.store_score (docs/rules/kitchen.md): which detections count (scored classes only, at
 * or above the confidence, once per camera+type within the cooldown), the China-time days of
 * the period, and the score's arithmetic (weights, the floor at 0, stores without detections),
 * as tables with an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { deepFreeze, roundTrip, tick } from './helpers.js';
import type { ViolationType } from '../../../core/schemas/kitchen.js';
import type { DeviceInfo, RuleReading } from '../../../core/alerts/types.js';
import { configFor, mapSize, runInputs, staticContext, type RuleInput } from '../../../core/rules/common/index.js';
import {
  cstDay, storeScoreDefaults, storeScoreRule, storeScores, type StoreScoreConfig, type StoreScoreState,
} from '../../../core/rules/kitchen/index.js';

// 2026-11-23T00:00:00+08:00 (a CST midnight)
const D0 = Date.UTC(2026, 10, 22, 16, 0, 0);
const S = 1_000;
const MIN = 60 * S;
const DAY = 24 * 60 * MIN;

const devices: DeviceInfo[] = [
  { id: 'cam-1', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'cam-2', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'cam-3', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-2' } },
  { id: 'cam-x', family: 'kitchen', name: null, district: null, meta: {} },
];

let seq = 0;
function det(type: ViolationType, at: number, opts: { deviceId?: string; confidence?: number } = {}): RuleInput {
  const s = ++seq;
  const reading: RuleReading = {
    seq: s, family: 'kitchen', channel: 'violation', deviceId: opts.deviceId ?? 'cam-1', msgId: `m-${s}`, ts: at, receivedAt: at,
    data: { type, confidence: opts.confidence ?? 0.9 },
  };
  return { kind: 'reading', reading, now: at };
}

function run(inputs: RuleInput[], config: Partial<StoreScoreConfig> = {}, state?: StoreScoreState) {
  const cfg = configFor(storeScoreRule, config);
  const r = runInputs(storeScoreRule, staticContext(cfg, devices), inputs, deepFreeze(state ?? storeScoreRule.init()), roundTrip);
  return { ...r, cfg };
}

const counts = (inputs: RuleInput[], now: number, config: Partial<StoreScoreConfig> = {}, stores: string[] = []) => {
  const r = run(inputs, config);
  expect(r.effects.flat()).toEqual([]);
  return Object.fromEntries(storeScores(r.state, r.cfg, now, stores).map((s) => [s.storeId, [s.score, s.counts]]));
};

describe('kitchen.store_score: what counts', () => {
  it.each([
    ['a class-3 detection', [det('no_mask', D0)], { 'S-1': [99, { no_mask: 1 }] }],
    ['class 1 and 2 are alerts, not scored', [det('rat', D0), det('smoking', D0 + S)], {}],
    ['below the confidence: nothing', [det('phone', D0, { confidence: 0.39 })], {}],
    ['at the confidence: counted', [det('phone', D0, { confidence: 0.4 })], { 'S-1': [99, { phone: 1 }] }],
    ['a camera without a store: nothing', [det('phone', D0, { deviceId: 'cam-x' })], {}],
    ['a repeat within the cooldown (600 s, inclusive) counts once', [det('no_gloves', D0), det('no_gloves', D0 + 600 * S)], { 'S-1': [99, { no_gloves: 1 }] }],
    ['just after the cooldown: twice', [det('no_gloves', D0), det('no_gloves', D0 + 600 * S + 1)], { 'S-1': [98, { no_gloves: 2 }] }],
    ['repeats slide the cooldown: every 5 min for an hour counts once',
      Array.from({ length: 13 }, (_, i) => det('no_chef_hat', D0 + i * 5 * MIN)), { 'S-1': [99, { no_chef_hat: 1 }] }],
    ['two cameras of one store: each counts', [det('no_mask', D0), det('no_mask', D0 + S, { deviceId: 'cam-2' })], { 'S-1': [98, { no_mask: 2 }] }],
    ['two types on one camera: each counts', [det('no_mask', D0), det('phone', D0 + S)], { 'S-1': [98, { no_mask: 1, phone: 1 }] }],
    ['stores are separate', [det('no_mask', D0), det('phone', D0 + S, { deviceId: 'cam-3' })], { 'S-1': [99, { no_mask: 1 }], 'S-2': [99, { phone: 1 }] }],
  ] as const)('%s', (_name, inputs, expected) => {
    expect(counts([...inputs], D0 + DAY / 2)).toEqual(expected);
  });

  it('with maxAlertClass 3 every class raises an alert, so nothing is scored', () => {
    expect(counts([det('no_mask', D0)], D0 + S, { maxAlertClass: 3 })).toEqual({});
  });
  it('with maxAlertClass 1 class 2 is scored too', () => {
    expect(counts([det('smoking', D0), det('rat', D0 + S)], D0 + S, { maxAlertClass: 1 })).toEqual({ 'S-1': [99, { smoking: 1 }] });
  });
});

describe('kitchen.store_score: the period, in whole China-time days', () => {
  // now: day 6 of the week starting D0 (CST), so days 0..6 count with periodDays 7
  const now = D0 + 6 * DAY + 12 * 60 * MIN;
  it.each([
    ['the first second of the first day', D0, 1],
    ['the last second before it (23:59:59 CST the day before)', D0 - S, 0],
    ['today', now - S, 1],
  ] as const)('%s: counted %i', (_name, at, n) => {
    expect(counts([det('phone', at)], now)['S-1']?.[1] ?? {}).toEqual(n ? { phone: n } : {});
  });
  it('periodDays 1: today only', () => {
    expect(counts([det('phone', now - DAY), det('no_mask', now - S)], now, { periodDays: 1 })).toEqual({ 'S-1': [99, { no_mask: 1 }] });
  });
  it('a CST day starts at 16:00 UTC', () => {
    expect(cstDay(D0) - cstDay(D0 - 1)).toBe(1);
    expect(cstDay(D0 + DAY - 1)).toBe(cstDay(D0));
  });
  it('the period is reported as [from, to) in platform time', () => {
    const r = run([det('phone', D0)]);
    const [s] = storeScores(r.state, r.cfg, now);
    expect([s!.from, s!.to]).toEqual([D0, D0 + 7 * DAY]);
  });
});

describe('kitchen.store_score: the score', () => {
  const many = (type: ViolationType, n: number, deviceId = 'cam-1') => Array.from({ length: n }, (_, i) => det(type, D0 + i * 11 * MIN, { deviceId }));
  it.each([
    ['weights per type', [...many('no_mask', 3), ...many('phone', 2, 'cam-2')], { weights: { ...storeScoreDefaults.weights, no_mask: 5, phone: 0.5 } }, 100 - 15 - 1, 16],
    ['floored at 0, the deduction kept', many('no_mask', 120), {}, 0, 120],
    ['a weight of 0 takes nothing off', many('no_uniform', 4), { weights: { ...storeScoreDefaults.weights, no_uniform: 0 } }, 100, 0],
  ] as const)('%s', (_name, inputs, config, score, deducted) => {
    const r = run([...inputs], config);
    const [s] = storeScores(r.state, r.cfg, D0 + DAY);
    expect([s!.score, s!.deducted]).toEqual([score, deducted]);
  });
  it('stores without a counted detection score 100; worst first, then by id', () => {
    const r = run([det('phone', D0, { deviceId: 'cam-3' }), det('no_mask', D0), det('phone', D0 + S)]);
    expect(storeScores(r.state, r.cfg, D0 + S, ['S-0', 'S-2', 'S-9']).map((s) => [s.storeId, s.score])).toEqual([
      ['S-1', 98], ['S-2', 99], ['S-0', 100], ['S-9', 100],
    ]);
  });
  it('no state yet: every named store scores 100', () => {
    expect(storeScores(undefined, storeScoreDefaults, D0, ['S-1']).map((s) => s.score)).toEqual([100]);
  });
});

describe('kitchen.store_score: state', () => {
  it('the tick prunes days out of the period and drops stores with nothing left', () => {
    const r = run([det('phone', D0), det('no_mask', D0 + 3 * DAY, { deviceId: 'cam-3' })]);
    expect(mapSize(r.state.stores)).toBe(2);
    const later = run([tick(D0 + 8 * DAY)], {}, r.state);
    expect(mapSize(later.state.stores)).toBe(1);
    expect(storeScores(later.state, later.cfg, D0 + 8 * DAY).map((s) => [s.storeId, s.score])).toEqual([['S-2', 99]]);
    const gone = run([tick(D0 + 11 * DAY)], {}, later.state);
    expect(mapSize(gone.state.stores)).toBe(0);
  });
  it('a store\'s record stays bounded: at most periodDays days, one timestamp per camera and type', () => {
    const hourly = (days: number) => Array.from({ length: days * 24 }, (_, i) => det('phone', D0 + i * 60 * MIN));
    const week = JSON.stringify(run(hourly(7)).state).length;
    const month = run(hourly(30));
    expect(JSON.stringify(month.state).length).toBeLessThanOrEqual(week + 50);
    expect(storeScores(month.state, month.cfg, D0 + 30 * DAY - S)[0]!.counts).toEqual({ phone: 7 * 24 });
  });
});
