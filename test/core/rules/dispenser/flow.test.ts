/**
 * dispenser.flow (core/rules/dispenser/flow.ts, docs/rules/dispenser.md) as a table: volume /
 * duration over 1.5 L/s (float edges at the limit), per-grade limits.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises } from '../helpers.js';
import { flow } from '../../../../core/rules/dispenser/index.js';
import { one, txn } from './fixtures.js';

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
