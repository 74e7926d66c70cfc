/**
 * dispenser.pulses (core/rules/dispenser/pulses.ts, docs/rules/dispenser.md) as a table: the
 * encoder's volume (pulses / pulsesPerL) against the metered volume, 0.3 % at every edge.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises } from '../helpers.js';
import { pulses } from '../../../../core/rules/dispenser/index.js';
import { one, txn } from './fixtures.js';

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
