/**
 * dispenser.tank_reconciliation (core/rules/dispenser/tankReconciliation.ts,
 * docs/rules/dispenser.md): per tank and China day (or shorter period), the tank's drop
 * against the metered transactions within 0.5 %, deliveries added back, evaluated by the clock
 * or by the next period's first reading.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises, reading, runRule as run, tick } from '../helpers.js';
import type { RuleReading } from '../../../../core/alerts/types.js';
import type { RuleInput } from '../../../../core/rules/common/dispatch.js';
import { mapEntries } from '../../../../core/rules/common/shardedMap.js';
import { ruleOverrides } from '../../../../core/alerts/policy.js';
import { dispenserRules, tankReconciliation } from '../../../../core/rules/dispenser/index.js';
import { D0, DAY, HOUR, MIN, at, tank, txn } from './fixtures.js';

describe('dispenser.tank_reconciliation (per tank and China day, 0.5 %)', () => {
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
