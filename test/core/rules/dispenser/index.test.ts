/**
 * The dispenser rule set (core/rules/dispenser/index.ts): ids, families and channels; every
 * rule gives the same effects with its state passed through JSON before every input (as the
 * engine persists it), and ids named like Object.prototype members are ordinary keys.
 */
import { describe, expect, it } from 'vitest';
import { brief, reading, runRule as run, tick } from '../helpers.js';
import type { RuleInput } from '../../../../core/rules/common/dispatch.js';
import { dispenserRules, totalizer } from '../../../../core/rules/dispenser/index.js';
import { D0, DAY, HOUR, MIN, at, tamperMsg, tank, txn } from './fixtures.js';

describe('dispenser state across restarts (JSON round trip) and purity', () => {
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
