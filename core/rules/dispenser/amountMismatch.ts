/**
 * `dispenser.amount_mismatch`: the charged amount differs from volume x unit price by more
 * than 0.01 yuan [default, docs/domain.md §4]. A board that charges for more than it
 * measures, or a price table swapped under the display, shows here.
 *
 * Arithmetic (all integers): volume in mL and unit price in milli-yuan (both exact for the
 * 2-3 decimals dispensers send), their product in micro-yuan, rounded half up to the fen
 * (四舍五入, how a dispenser's computing board rounds the amount); the amount sent is taken
 * to the fen the same way. Alert when |amount - expected| > toleranceFen: 1 fen off (a
 * board that truncates instead of rounding) is tolerated, 2 fen are not.
 *
 * Major; condition = dispenserId/nozzle. Stateless. Resolved by the operator.
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { DAY, noEffects } from '../common/util.js';
import { divRoundHalfUp, milli, nozzleCondition, txnOf } from './txn.js';

export interface AmountMismatchConfig {
  /** |amount - volume x price| above this many fen (0.01 yuan each) raises [default, docs/domain.md §4: 0.01 yuan] */
  toleranceFen: number;
  severity: Severity;
  alertWindowMs: number;
}

export const amountMismatchDefaults: AmountMismatchConfig = { toleranceFen: 1, severity: 'major', alertWindowMs: DAY };

/** volume x price in fen, rounded half up (see the file comment). */
export function expectedFen(volumeL: number, unitPrice: number): number {
  return divRoundHalfUp(milli(volumeL) * milli(unitPrice), 10_000);
}

/** an amount in yuan, to the fen (half up). */
export function amountFen(amountYuan: number): number {
  return divRoundHalfUp(milli(amountYuan), 10);
}

export const amountMismatch: Rule<Record<string, never>, AmountMismatchConfig> = {
  id: 'dispenser.amount_mismatch',
  family: 'dispenser',
  channels: ['txn'],
  defaults: amountMismatchDefaults,
  init: () => ({}),

  onReading(state, reading, ctx) {
    const t = txnOf(reading);
    if (!t) return noEffects(state);
    const cfg = ctx.config;
    const expected = expectedFen(t.volumeL, t.unitPrice);
    const charged = amountFen(t.amountYuan);
    const diff = charged - expected;
    if (Math.abs(diff) <= cfg.toleranceFen) return noEffects(state);
    const values = {
      stationId: t.stationId, dispenserId: t.dispenserId, nozzle: t.nozzle, grade: t.grade,
      volumeL: t.volumeL, unitPrice: t.unitPrice, amountYuan: t.amountYuan,
      expectedYuan: expected / 100, differenceYuan: diff / 100, toleranceFen: cfg.toleranceFen,
    };
    return {
      state,
      effects: [{
        type: 'raise',
        rule: amountMismatch.id,
        family: 'dispenser',
        deviceId: reading.deviceId,
        condition: nozzleCondition(t),
        severity: cfg.severity,
        windowMs: cfg.alertWindowMs,
        summary: `dispenser ${t.dispenserId} nozzle ${t.nozzle}: charged ${(charged / 100).toFixed(2)} yuan for ${t.volumeL} L x ${t.unitPrice} = ${(expected / 100).toFixed(2)} yuan`,
        params: values,
        evidence: { seqs: [reading.seq], values },
        at: reading.receivedAt,
      }],
    };
  },
};
