/**
 * `dispenser.flow`: average flow volumeL / durationS above 1.5 L/s [default,
 * docs/domain.md §4]. Car nozzles deliver up to about 0.8 L/s (50 L/min), so a transaction claiming
 * more was not metered by the pump it names: injected pulses or a swapped encoder inflate
 * the volume without the time it takes to pump it. High-flow truck diesel nozzles can run
 * faster: give their grade its own limit in maxLitresPerSecondByGrade.
 *
 * Exactly 1.5 L/s is allowed, above raises. Skipped when durationS is absent (many
 * collectors do not report it) or 0 (a collector that does not measure duration sends 0;
 * a rate cannot be computed, and a zero-volume transaction moves nothing).
 *
 * Major; condition = dispenserId/nozzle. Stateless. Resolved by the operator.
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { DAY, noEffects } from '../common/util.js';
import { exceeds, nozzleCondition, round2, txnOf } from './txn.js';

export interface FlowConfig {
  /** [default, docs/domain.md §4] average L/s above this raises */
  maxLitresPerSecond: number;
  /** per grade overrides, e.g. { '0#diesel': 2.2 } for high-flow truck lanes [default: none] */
  maxLitresPerSecondByGrade: Record<string, number>;
  severity: Severity;
  alertWindowMs: number;
}

export const flowDefaults: FlowConfig = { maxLitresPerSecond: 1.5, maxLitresPerSecondByGrade: {}, severity: 'major', alertWindowMs: DAY };

export const flow: Rule<Record<string, never>, FlowConfig> = {
  id: 'dispenser.flow',
  family: 'dispenser',
  channels: ['txn'],
  defaults: flowDefaults,
  init: () => ({}),

  onReading(state, reading, ctx) {
    const t = txnOf(reading);
    if (!t || t.durationS === null || t.durationS <= 0) return noEffects(state);
    const cfg = ctx.config;
    const limit = Object.hasOwn(cfg.maxLitresPerSecondByGrade, t.grade) ? cfg.maxLitresPerSecondByGrade[t.grade]! : cfg.maxLitresPerSecond;
    const rate = t.volumeL / t.durationS;
    if (!exceeds(rate, limit)) return noEffects(state);
    const values = {
      stationId: t.stationId, dispenserId: t.dispenserId, nozzle: t.nozzle, grade: t.grade,
      volumeL: t.volumeL, durationS: t.durationS, litresPerSecond: round2(rate), limitLitresPerSecond: limit,
    };
    return {
      state,
      effects: [{
        type: 'raise',
        rule: flow.id,
        family: 'dispenser',
        deviceId: reading.deviceId,
        condition: nozzleCondition(t),
        severity: cfg.severity,
        windowMs: cfg.alertWindowMs,
        summary: `dispenser ${t.dispenserId} nozzle ${t.nozzle}: ${t.volumeL} L in ${t.durationS} s = ${round2(rate)} L/s (limit ${limit})`,
        params: values,
        evidence: { seqs: [reading.seq], values },
        at: reading.receivedAt,
      }],
    };
  },
};
