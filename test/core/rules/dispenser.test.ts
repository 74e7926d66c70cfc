/**
 * Fuel dispenser rules (core/rules/dispenser, docs/rules/dispenser.md) as tables:
 * (initial state, input, now) -> expected effects, with every threshold edge (just under /
 * at / just over): 0.01 yuan, 0.01 L, 1.5 L/s, 0.3 %, 0.5 %; state that survives
 * JSON.stringify/parse; inputs never mutated.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises, reading, runRule, tick } from './helpers.js';
import { tamperKinds } from '../../../core/schemas/index.js';
import type { Effect, Rule, RuleReading } from '../../../core/alerts/types.js';
import type { RuleInput } from '../../../core/rules/common/dispatch.js';
import { mapEntries } from '../../../core/rules/common/shardedMap.js';
import { ruleOverrides } from '../../../core/alerts/policy.js';
import {
  amountFen, amountMismatch, dispenserRules, expectedFen, flow, pulses, tamper, tankReconciliation, totalizer,
} from '../../../core/rules/dispenser/index.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** 2026-11-23 00:00 in China (UTC+8) */
const D0 = Date.UTC(2026, 10, 22, 16, 0, 0);
/** 2026-11-23 10:00 in China */
const T = D0 + 10 * HOUR;

let nextSeq = 1;
function msg(channel: string, data: Record<string, unknown>, at: number = T, deviceId = 'col-1'): RuleReading {
  const seq = nextSeq++;
  return { seq, family: 'dispenser', channel, deviceId, msgId: `m-${seq}`, ts: at, receivedAt: at, data };
}

interface TxnOpts {
  stationId?: string; dispenserId?: string; nozzle?: number; grade?: string; volumeL?: number; amountYuan?: number; unitPrice?: number;
  totalizerL?: number; durationS?: number; pulses?: number; pulsesPerL?: number; tankId?: string; at?: number;
}
function txn(o: TxnOpts = {}): RuleReading {
  const volumeL = o.volumeL ?? 20;
  const unitPrice = o.unitPrice ?? 7.5;
  const data: Record<string, unknown> = {
    stationId: o.stationId ?? 'ST-1', dispenserId: o.dispenserId ?? 'D1', nozzle: o.nozzle ?? 1, grade: o.grade ?? '92',
    volumeL, unitPrice, amountYuan: o.amountYuan ?? Math.round(volumeL * unitPrice * 100) / 100, totalizerL: o.totalizerL ?? 1000,
  };
  for (const k of ['durationS', 'pulses', 'pulsesPerL', 'tankId'] as const) if (o[k] !== undefined) data[k] = o[k];
  return msg('txn', data, o.at);
}
const tank = (volumeL: number, at: number, o: { stationId?: string; tankId?: string; deviceId?: string } = {}): RuleReading =>
  msg('tank', { stationId: o.stationId ?? 'ST-1', tankId: o.tankId ?? 'T1', grade: '92', volumeL }, at, o.deviceId ?? 'col-1');
const tamperMsg = (kind: string, dispenserId = 'D1'): RuleReading => msg('tamper', { stationId: 'ST-1', dispenserId, kind });


const run = runRule;
const one = <S, C extends object>(rule: Rule<S, C>, r: RuleReading, config: Partial<C> = {}): Effect[] => run(rule, [reading(r)], { config }).effects[0]!;

describe('dispenser.amount_mismatch (|amount - volume x price| > 0.01 yuan, in fen)', () => {
  it.each<[string, number, number, number, number]>([
    // name, volumeL, unitPrice, expected fen (half up)
    ['20 L x 7.50', 20, 7.5, 15000, 0],
    ['1.5 L x 7.89 = 11.835 -> 11.84 (half up)', 1.5, 7.89, 1184, 0],
    ['35.27 L x 7.89 = 278.2803', 35.27, 7.89, 27828, 0],
    ['10.05 L x 6.95 = 69.8475 (float 69.84749...)', 10.05, 6.95, 6985, 0],
    ['33.333 L x 8.125 = 270.830625', 33.333, 8.125, 27083, 0],
    ['0 L', 0, 7.5, 0, 0],
  ])('expected amount: %s', (_n, volumeL, unitPrice, fen) => {
    expect(expectedFen(volumeL, unitPrice)).toBe(fen);
  });

  it.each<[number, number]>([[150, 15000], [150.01, 15001], [11.835, 1184], [0.1 + 0.2, 30]])('amount %d yuan is %i fen', (yuan, fen) => {
    expect(amountFen(yuan)).toBe(fen);
  });

  it.each<[string, number, number, number, boolean]>([
    ['exact', 20, 7.5, 150.0, false],
    ['1 fen over (at the tolerance)', 20, 7.5, 150.01, false],
    ['1 fen under (at the tolerance)', 20, 7.5, 149.99, false],
    ['2 fen over', 20, 7.5, 150.02, true],
    ['2 fen under', 20, 7.5, 149.98, true],
    ['half-up rounding: 11.835 charged 11.84', 1.5, 7.89, 11.84, false],
    ['truncating board: 11.835 charged 11.83 (1 fen)', 1.5, 7.89, 11.83, false],
    ['11.835 charged 11.82 (2 fen)', 1.5, 7.89, 11.82, true],
    ['float trap 69.8475 charged 69.85', 10.05, 6.95, 69.85, false],
    ['float trap 69.8475 charged 69.83', 10.05, 6.95, 69.83, true],
    ['fuel for free', 20, 7.5, 0, true],
  ])('%s -> raised %s', (_n, volumeL, unitPrice, amountYuan, raised) => {
    const effects = one(amountMismatch, txn({ volumeL, unitPrice, amountYuan, dispenserId: 'D3', nozzle: 2 }));
    expect(brief(effects)).toEqual(raised ? [['dispenser.amount_mismatch', 'D3/2', 'major']] : []);
  });

  it('the alert says what was charged and expected', () => {
    const r = txn({ volumeL: 20, unitPrice: 7.5, amountYuan: 151 });
    expect(raises(one(amountMismatch, r))[0]).toMatchObject({
      deviceId: 'col-1', family: 'dispenser', windowMs: DAY, at: T, evidence: { seqs: [r.seq] },
      params: { expectedYuan: 150, amountYuan: 151, differenceYuan: 1, toleranceFen: 1, stationId: 'ST-1', dispenserId: 'D1', nozzle: 1 },
    });
  });

  it('toleranceFen 0: any fen raises', () => {
    expect(raises(one(amountMismatch, txn({ volumeL: 20, unitPrice: 7.5, amountYuan: 150.01 }), { toleranceFen: 0 }))).toHaveLength(1);
  });
});

describe('dispenser.totalizer (previous + volume, 0.01 L; backwards is a rollback)', () => {
  type Row = [name: string, expected: Array<[string, string]>, volumeL: number, totalizerL: number];
  // previous totaliser 1000.00 L
  const rows: Row[] = [
    ['exact', [], 20, 1020],
    ['+0.009 L', [], 20, 1020.009],
    ['+0.01 L (at the tolerance)', [], 20, 1020.01],
    ['+0.011 L', [['D1/1/gap', 'major']], 20, 1020.011],
    ['-0.01 L (at the tolerance)', [], 20, 1019.99],
    ['-0.011 L', [['D1/1/gap', 'major']], 20, 1019.989],
    ['advanced less than the volume, not backwards', [['D1/1/gap', 'major']], 20, 1005],
    ['a jump: fuel without a transaction', [['D1/1/gap', 'major']], 20, 1500],
    ['volume 0, unchanged', [], 0, 1000],
    ['volume 0, 0.01 L back (at the tolerance)', [], 0, 999.99],
    ['volume 0, 0.011 L back: rollback', [['D1/1/rollback', 'critical']], 0, 999.989],
    ['reset to zero', [['D1/1/rollback', 'critical']], 20, 0],
  ];
  it.each(rows)('%s', (_n, expected, volumeL, totalizerL) => {
    const first = txn({ volumeL: 10, totalizerL: 1000 });
    const next = txn({ volumeL, totalizerL, at: T + MIN });
    const state = run(totalizer, [reading(first)]).state;
    const effects = run(totalizer, [reading(next)], { state }).effects[0]!;
    expect(raises(effects).map((r) => [r.condition, r.severity])).toEqual(expected);
  });

  it('compares in mL: 1000.1 + 0.2 is 1000.3 (not 1000.3000000000001)', () => {
    const { effects } = run(totalizer, [reading(txn({ totalizerL: 1000.1 })), reading(txn({ volumeL: 0.2, totalizerL: 1000.3 })), reading(txn({ volumeL: 0.1, totalizerL: 1000.41 }))]);
    expect(effects.map(brief)).toEqual([[], [], []]);
  });

  it('the first transaction of a nozzle only records', () => {
    expect(run(totalizer, [reading(txn({ totalizerL: 5 }))]).effects[0]).toEqual([]);
  });

  it('evidence: previous and current transaction, expected and actual totaliser', () => {
    const a = txn({ totalizerL: 1000 });
    const b = txn({ volumeL: 20, totalizerL: 1030, at: T + MIN });
    const effects = run(totalizer, [reading(a), reading(b)]).effects[1]!;
    expect(raises(effects)[0]).toMatchObject({
      rule: 'dispenser.totalizer', evidence: { seqs: [a.seq, b.seq] },
      params: { kind: 'gap', previousTotalizerL: 1000, expectedTotalizerL: 1020, totalizerL: 1030, differenceL: 10, volumeL: 20 },
    });
  });

  it('after an alert the new value is the reference: one jump, one alert', () => {
    const { effects } = run(totalizer, [
      reading(txn({ totalizerL: 1000 })), reading(txn({ volumeL: 20, totalizerL: 900 })), reading(txn({ volumeL: 20, totalizerL: 920 })),
    ]);
    expect(effects.map(brief)).toEqual([[], [['dispenser.totalizer', 'D1/1/rollback', 'critical']], []]);
  });

  it('nozzles, dispensers and stations are tracked separately (same dispenser id at two stations)', () => {
    const { effects } = run(totalizer, [
      reading(txn({ totalizerL: 1000 })),
      reading(txn({ nozzle: 2, totalizerL: 50 })),
      reading(txn({ stationId: 'ST-2', totalizerL: 7 })),
      reading(txn({ volumeL: 20, totalizerL: 1020 })),
      reading(txn({ nozzle: 2, volumeL: 1, totalizerL: 51 })),
      reading(txn({ stationId: 'ST-2', volumeL: 3, totalizerL: 10 })),
    ]);
    expect(effects.flat()).toEqual([]);
  });

  it('a nozzle silent for forgetAfterMs starts over; a tick forgets it', () => {
    const a = txn({ totalizerL: 1000, at: T });
    const b = txn({ volumeL: 20, totalizerL: 5000, at: T + 91 * DAY });
    expect(run(totalizer, [reading(a), reading(b)]).effects[1]).toEqual([]);
    const { state } = run(totalizer, [reading(a), tick(T + 91 * DAY)]);
    expect(mapEntries(state.nozzles)).toEqual([]);
  });

  it('toleranceL is configurable', () => {
    const { effects } = run(totalizer, [reading(txn({ totalizerL: 1000 })), reading(txn({ volumeL: 20, totalizerL: 1020.05 }))], { config: { toleranceL: 0.1 } });
    expect(effects[1]).toEqual([]);
  });
});

describe('dispenser.flow (volume / duration > 1.5 L/s)', () => {
  it.each<[string, number, number | undefined, boolean]>([
    ['1.0 L/s', 20, 20, false],
    ['30 L in 20 s = 1.5 L/s (at the limit)', 30, 20, false],
    ['29.98 L in 20 s', 29.98, 20, false],
    ['30.02 L in 20 s = 1.501 L/s', 30.02, 20, true],
    ['0.3 L in 0.2 s (float 1.4999...)', 0.3, 0.2, false],
    ['2.1 L in 1.4 s (float 1.5000000000000002: at the limit)', 2.1, 1.4, false],
    ['4.95 L in 3.3 s (float 1.5000000000000002: at the limit)', 4.95, 3.3, false],
    ['4.5 L in 3 s', 4.5, 3, false],
    ['4.51 L in 3 s', 4.51, 3, true],
    ['60 L in 10 s', 60, 10, true],
    ['durationS absent: skipped', 60, undefined, false],
    ['durationS 0: skipped', 60, 0, false],
  ])('%s -> raised %s', (_n, volumeL, durationS, raised) => {
    expect(brief(one(flow, txn({ volumeL, durationS, nozzle: 4 })))).toEqual(raised ? [['dispenser.flow', 'D1/4', 'major']] : []);
  });

  it('per-grade limit for high-flow diesel lanes', () => {
    const cfg = { maxLitresPerSecondByGrade: { '0#diesel': 2.2 } };
    expect(raises(one(flow, txn({ volumeL: 40, durationS: 20, grade: '0#diesel' }), cfg))).toEqual([]);
    expect(raises(one(flow, txn({ volumeL: 45, durationS: 20, grade: '0#diesel' }), cfg))).toHaveLength(1);
    expect(raises(one(flow, txn({ volumeL: 40, durationS: 20, grade: '92' }), cfg))).toHaveLength(1);
  });

  it('the alert carries the rate and limit', () => {
    expect(raises(one(flow, txn({ volumeL: 40, durationS: 20 })))[0]!.params).toMatchObject({ litresPerSecond: 2, limitLitresPerSecond: 1.5, durationS: 20 });
  });
});

describe('dispenser.pulses (|pulses / pulsesPerL - volume| / volume > 0.3 %, JJG 443)', () => {
  it.each<[string, number, number | undefined, number | undefined, boolean]>([
    ['exact', 100, 10000, 100, false],
    ['+0.29 %', 100, 10029, 100, false],
    ['+0.3 % (at the limit)', 100, 10030, 100, false],
    ['+0.31 %', 100, 10031, 100, true],
    ['-0.3 % (at the limit)', 100, 9970, 100, false],
    ['-0.31 %', 100, 9969, 100, true],
    ['63 L x 1000/L, 63189 pulses: exactly +0.3 % (float 0.3000000000000001)', 63, 63189, 1000, false],
    ['129 L x 1000/L, 129387 pulses: exactly +0.3 % (float 0.3000000000000004)', 129, 129387, 1000, false],
    ['129 L x 1000/L, 129388 pulses: +0.3008 %', 129, 129388, 1000, true],
    ['decimal pulsesPerL: 50 L x 98.5 = 4925; 4939 is +0.284 %', 50, 4939, 98.5, false],
    ['decimal pulsesPerL: 4940 is +0.305 %', 50, 4940, 98.5, true],
    ['pulses absent: skipped', 100, undefined, 100, false],
    ['pulsesPerL absent: skipped', 100, 20000, undefined, false],
    ['volume 0: skipped', 0, 500, 100, false],
  ])('%s -> raised %s', (_n, volumeL, p, ppl, raised) => {
    expect(brief(one(pulses, txn({ volumeL, pulses: p, pulsesPerL: ppl })))).toEqual(raised ? [['dispenser.pulses', 'D1/1', 'critical']] : []);
  });

  it('the alert carries the encoder volume and deviation', () => {
    expect(raises(one(pulses, txn({ volumeL: 100, pulses: 10100, pulsesPerL: 100 })))[0]!.params).toMatchObject({ encoderVolumeL: 101, deviationPct: 1, maxDeviationPct: 0.3 });
  });
});

describe('dispenser.tamper (any kind, critical)', () => {
  it.each(tamperKinds.map((k) => [k] as const))('%s', (kind) => {
    const r = tamperMsg(kind, 'D7');
    expect(raises(one(tamper, r))).toEqual([expect.objectContaining({
      rule: 'dispenser.tamper', family: 'dispenser', deviceId: 'col-1', condition: `D7/${kind}`, severity: 'critical', evidence: expect.objectContaining({ seqs: [r.seq] }),
    })]);
  });
});

describe('dispenser.tank_reconciliation (per tank and China day, 0.5 %)', () => {
  const at = (h: number): number => D0 + h * HOUR;
  /** after midnight + grace: the day is closed by the clock */
  const close = D0 + DAY + 5 * MIN;
  /** a day: tank 20,000 L at 01:00, `sold` metered in 10 transactions, tank `lastL` at 23:00 */
  function day(sold: number, lastL: number, o: { tankId?: string } = {}): RuleInput[] {
    const txns = Array.from({ length: 10 }, (_, i) => reading(txn({ volumeL: sold / 10, tankId: o.tankId ?? 'T1', at: at(2 + i) })));
    return [reading(tank(20000, at(1), o)), ...txns, reading(tank(lastL, at(23), o))];
  }
  const outcome = (inputs: RuleInput[], config = {}): Array<[string, string, string]> => run(tankReconciliation, inputs, { config }).effects.flatMap(brief);

  it.each<[string, number, boolean]>([
    ['drop 10,000 L = metered', 10000, false],
    ['drop 10,049 L (0.49 %)', 9951, false],
    ['drop 10,050 L (0.5 %, at the limit)', 9950, false],
    ['drop 10,051 L (0.51 %)', 9949, true],
    ['drop 9,950 L (metered 0.5 % more, at the limit)', 10050, false],
    ['drop 9,949 L (metered 0.51 % more: short-changed customers)', 10051, true],
  ])('metered 10,000 L, %s -> raised %s (evaluated by the clock)', (_n, lastL, raised) => {
    const inputs = [...day(10000, lastL), tick(close - 1), tick(close)];
    const { effects } = run(tankReconciliation, inputs);
    expect(effects.at(-2)).toEqual([]);
    expect(brief(effects.at(-1)!)).toEqual(raised ? [['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']] : []);
    expect(effects.slice(0, -1).flat()).toEqual([]);
  });

  it('evaluated on the first reading of the next day (a transaction), with the day balance as evidence', () => {
    const inputs = [...day(10000, 9900), reading(txn({ volumeL: 30, tankId: 'T1', at: D0 + DAY + 1 }))];
    const { effects } = run(tankReconciliation, inputs);
    const alert = raises(effects.at(-1)!)[0]!;
    expect(alert).toMatchObject({
      condition: 'T1/2026-11-23', deviceId: 'col-1', at: D0 + DAY + 1,
      params: { tankDropL: 10100, meteredL: 10000, differenceL: 100, differencePct: 1, deliveredL: 0, tankReadings: 2, transactions: 10, firstL: 20000, lastL: 9900 },
    });
    expect(alert.evidence.seqs).toHaveLength(2);
  });

  it('the day boundary is midnight China time (UTC+8)', () => {
    const inputs = [
      reading(tank(20000, at(1))), reading(txn({ volumeL: 100, tankId: 'T1', at: at(2) })), reading(tank(19800, D0 + DAY - 1)),
      // 2026-11-24 00:00:00.000 in China closes 2026-11-23
      reading(tank(19800, D0 + DAY)),
    ];
    const { effects } = run(tankReconciliation, inputs);
    expect(effects.slice(0, 3).flat()).toEqual([]);
    expect(brief(effects[3]!)).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']]);
  });

  it('a delivery (rising readings) is added back, with the sales during the unloading', () => {
    // 20,000 -> sell 3,000 -> 17,000 -> unload 10,200 while selling 200 -> 27,000 -> sell 2,000 -> 25,000
    const inputs: RuleInput[] = [
      reading(tank(20000, at(1))),
      reading(txn({ volumeL: 3000, tankId: 'T1', at: at(2) })),
      reading(tank(17000, at(3))),
      reading(txn({ volumeL: 100, tankId: 'T1', at: at(3.1) })),
      reading(tank(21900, at(3.2))),
      reading(txn({ volumeL: 100, tankId: 'T1', at: at(3.3) })),
      reading(tank(27000, at(3.4))),
      reading(txn({ volumeL: 2000, tankId: 'T1', at: at(5) })),
      reading(tank(25000, at(6))),
      tick(close),
    ];
    const { effects, state } = run(tankReconciliation, inputs);
    expect(effects.flat()).toEqual([]);
    expect(mapEntries(state.tanks)).toEqual([]);
    // the same day with 60 L unmetered after the delivery is caught
    const leaky = [...inputs.slice(0, -2), reading(tank(24940, at(6))), tick(close)];
    expect(run(tankReconciliation, leaky).effects.flatMap((e) => raises(e).map((r) => r.params.deliveredL))).toEqual([10200]);
  });

  it('small rises (gauge jitter) are not deliveries', () => {
    const inputs = [
      reading(tank(10000, at(1))), reading(tank(10003, at(2))), reading(txn({ volumeL: 1000, tankId: 'T1', at: at(3) })),
      reading(tank(9003, at(4))), tick(close),
    ];
    // drop 997 vs metered 1000: 3 L, under minDifferenceL
    expect(run(tankReconciliation, inputs).effects.flat()).toEqual([]);
    // with minDifferenceL 0 the 0.3 % is still under 0.5 %
    expect(outcome(inputs, { minDifferenceL: 0 })).toEqual([]);
  });

  it('minDifferenceL: with nothing metered, 10 L is tolerated and 11 L raises', () => {
    const quiet = (lastL: number): RuleInput[] => [reading(tank(20000, at(1))), reading(tank(lastL, at(20))), tick(close)];
    expect(outcome(quiet(19990))).toEqual([]);
    expect(outcome(quiet(19989))).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']]);
  });

  it('only transactions between the first and the last tank reading count', () => {
    const inputs = [
      reading(txn({ volumeL: 500, tankId: 'T1', at: at(0.5) })),
      reading(tank(20000, at(1))),
      reading(txn({ volumeL: 1000, tankId: 'T1', at: at(2) })),
      reading(tank(19000, at(3))),
      reading(txn({ volumeL: 700, tankId: 'T1', at: at(4) })),
      tick(close),
    ];
    expect(run(tankReconciliation, inputs).effects.flat()).toEqual([]);
  });

  it('fewer than 2 tank readings: not evaluated', () => {
    const inputs = [reading(tank(20000, at(1))), reading(txn({ volumeL: 1000, tankId: 'T1', at: at(2) })), tick(close)];
    const { effects, state } = run(tankReconciliation, inputs);
    expect(effects.flat()).toEqual([]);
    expect(mapEntries(state.tanks)).toEqual([]);
  });

  it('tanks and stations are separate; transactions without tankId are ignored', () => {
    const inputs = [
      ...day(10000, 10000, { tankId: 'T1' }),
      reading(tank(5000, at(1), { tankId: 'T2' })), reading(tank(5000, at(22), { tankId: 'T2' })),
      reading(tank(5000, at(1), { stationId: 'ST-2', tankId: 'T1' })), reading(tank(5000, at(22), { stationId: 'ST-2', tankId: 'T1' })),
      reading(txn({ volumeL: 999, at: at(12) })),
      tick(close),
    ];
    expect(run(tankReconciliation, inputs).effects.flat()).toEqual([]);
  });

  it('a reading for a day the clock already closed is ignored', () => {
    const late = tank(100, at(23.9));
    const { effects, state } = run(tankReconciliation, [reading(late, close)]);
    expect(effects.flat()).toEqual([]);
    expect(mapEntries(state.tanks)).toEqual([]);
  });

  it('the day follows the platform receive time, not the collector clock', () => {
    const backdated = (volumeL: number, rx: number): RuleReading => ({ ...tank(volumeL, rx), ts: rx - 2 * DAY });
    const inputs = [reading(backdated(20000, at(1))), reading(backdated(19000, at(2))), tick(close)];
    expect(outcome(inputs)).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']]);
  });

  it('maxDifferencePct and utcOffsetMinutes are configurable', () => {
    expect(outcome([...day(10000, 9900), tick(close)], { maxDifferencePct: 1 })).toEqual([]);
    expect(outcome([...day(10000, 9900), tick(close)])).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']]);
    // in UTC the two tank readings (01:00 and 23:00 China = 17:00 and 15:00 UTC) fall on two
    // days with one reading each: neither day is evaluated
    expect(outcome([...day(10000, 9900), tick(close + DAY)], { utcOffsetMinutes: 0 })).toEqual([]);
  });

  describe('periodMs: shorter periods from local midnight (shifts; seconds in scenarios)', () => {
    const shift = 8 * HOUR;
    /** 20,000 L at `from` h, 1,000 L metered, `lastL` at `from` + 6 h */
    const period = (from: number, lastL: number): RuleInput[] => [
      reading(tank(20000, at(from))), reading(txn({ volumeL: 1000, tankId: 'T1', at: at(from + 1) })), reading(tank(lastL, at(from + 6))),
    ];

    it('each 8 h shift is reconciled on its own, at its end (+ grace) or by the next shift\'s first reading', () => {
      const inputs = [...period(0.5, 18900), ...period(8.5, 19000), ...period(16.5, 18950)];
      const { effects } = run(tankReconciliation, [...inputs, tick(D0 + 8 * HOUR + 5 * MIN - 1), tick(close)], { config: { periodMs: shift } });
      // the first shift (100 L more left the tank) closes with the second shift's first reading
      expect(brief(effects[3]!)).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23T00:00', 'major']]);
      // the second shift balances; the third (50 L short) is closed by the clock
      expect(effects.flatMap(brief)).toEqual([
        ['dispenser.tank_reconciliation', 'T1/2026-11-23T00:00', 'major'],
        ['dispenser.tank_reconciliation', 'T1/2026-11-23T16:00', 'major'],
      ]);
      expect(raises(effects.flat())[1]!.summary).toContain('in the period from 2026-11-23T16:00: tank drop 1050 L vs metered 1000 L');
    });

    it('a period of seconds, labelled with its local start to the second', () => {
      const s = (x: number): number => D0 + 10 * HOUR + x * 1000;
      const inputs = [reading(tank(20000, s(0.5))), reading(txn({ volumeL: 30, tankId: 'T1', at: s(1) })), reading(tank(19770, s(2))), tick(s(5) + 500)];
      expect(outcome(inputs, { periodMs: 5000, closeGraceMs: 500 })).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23T10:00:00', 'major']]);
    });

    it('open days saved with another period are evaluated at once with their own, not lost or kept open', () => {
      // a day open since 01:00 (default period), then the service restarts with 8 h shifts
      const { state } = run(tankReconciliation, [reading(tank(20000, at(1))), reading(tank(19900, at(9)))], { roundTrip: true });
      const after = run(tankReconciliation, [tick(at(9)), ...period(9.5, 18900)], { state, config: { periodMs: shift } });
      expect(after.effects[0]!.flatMap((e) => brief([e]))).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major']]);
      expect(after.effects.flatMap(brief)).toHaveLength(1);
      // and back with the 08:00-16:00 shift open: it is evaluated at once, not read as a (far future) calendar day
      const back = run(tankReconciliation, [tick(at(16)), ...period(17, 18900), tick(close)], { state: after.state, roundTrip: true });
      expect(back.effects.flatMap(brief)).toEqual([
        ['dispenser.tank_reconciliation', 'T1/2026-11-23T08:00', 'major'],
        ['dispenser.tank_reconciliation', 'T1/2026-11-23', 'major'],
      ]);
      expect(brief(back.effects[0]!)).toEqual([['dispenser.tank_reconciliation', 'T1/2026-11-23T08:00', 'major']]);
    });

    it('must divide a day (ALERT_OVERRIDES is refused at start otherwise)', () => {
      expect(tankReconciliation.checkConfig!({ ...tankReconciliation.defaults, periodMs: shift })).toEqual([]);
      expect(tankReconciliation.checkConfig!({ ...tankReconciliation.defaults, periodMs: 5000 })).toEqual([]);
      for (const bad of [7 * HOUR, 999, 2 * DAY, 1500.5]) {
        expect(tankReconciliation.checkConfig!({ ...tankReconciliation.defaults, periodMs: bad })[0]).toMatch(/^periodMs: .* divide a day/);
      }
      expect(() => ruleOverrides(dispenserRules, { rules: { 'dispenser.tank_reconciliation': { periodMs: 7 * HOUR } } }))
        .toThrow(/ALERT_OVERRIDES rules\.dispenser\.tank_reconciliation\.periodMs: 25200000 must be/);
      expect(ruleOverrides(dispenserRules, { rules: { 'dispenser.tank_reconciliation': { periodMs: 5000 } } })).toEqual({ 'dispenser.tank_reconciliation': { periodMs: 5000 } });
    });
  });
});

describe('dispenser state across restarts (JSON round trip) and purity', () => {
  const at = (h: number): number => D0 + h * HOUR;
  const inputs: RuleInput[] = [
    reading(tank(20000, at(1))),
    reading(txn({ volumeL: 20, totalizerL: 1000, tankId: 'T1', at: at(2), durationS: 10, pulses: 2000, pulsesPerL: 100 })),
    reading(txn({ volumeL: 20, totalizerL: 1030, tankId: 'T1', at: at(3), amountYuan: 1, durationS: 5, pulses: 2100, pulsesPerL: 100 })),
    tick(at(3.5)),
    reading(tamperMsg('seal_open')),
    reading(txn({ volumeL: 10, totalizerL: 1000, tankId: 'T1', at: at(4) })),
    reading(tank(19000, at(5))),
    tick(D0 + DAY + 5 * MIN),
    reading(tank(19000, D0 + DAY + HOUR)),
  ];

  it.each(dispenserRules.map((r) => [r.id, r] as const))('%s: same effects with the state stored and reloaded before every input', (_id, rule) => {
    const plain = run(rule, inputs);
    const reloaded = run(rule, inputs, { roundTrip: true });
    expect(reloaded.effects).toEqual(plain.effects);
    expect(JSON.parse(JSON.stringify(reloaded.state))).toEqual(JSON.parse(JSON.stringify(plain.state)));
    expect(plain.effects.flat().length).toBeGreaterThan(0);
  });

  it('rule ids, families and channels', () => {
    expect(dispenserRules.map((r) => [r.id, r.family, [...r.channels]])).toEqual([
      ['dispenser.amount_mismatch', 'dispenser', ['txn']], ['dispenser.totalizer', 'dispenser', ['txn']], ['dispenser.flow', 'dispenser', ['txn']],
      ['dispenser.pulses', 'dispenser', ['txn']], ['dispenser.tamper', 'dispenser', ['tamper']], ['dispenser.tank_reconciliation', 'dispenser', ['tank', 'txn']],
    ]);
  });

  it('ids named like Object.prototype members are ordinary keys', () => {
    const { effects } = run(totalizer, [
      reading(txn({ stationId: '__proto__', dispenserId: 'constructor', totalizerL: 10 })),
      reading(txn({ stationId: '__proto__', dispenserId: 'constructor', volumeL: 1, totalizerL: 5 })),
    ], { roundTrip: true });
    expect(brief(effects[1]!)).toEqual([['dispenser.totalizer', 'constructor/1/rollback', 'critical']]);
  });
});
