/**
 * `dispenser.pulses`: the encoder's count disagrees with the displayed volume by more than
 * the dispenser's legal error, 0.3 % [reg, JJG 443: maximum permissible error +/-0.3 %].
 * measured = pulses / pulsesPerL; alert when |measured - volumeL| / volumeL > 0.3 %.
 * A board that scales the encoder's pulses (a "cheating chip") or injected pulses make the
 * display disagree with the encoder.
 *
 * Exactly 0.3 % is allowed, above raises. Runs only when both pulses and pulsesPerL are
 * present, and not for volumeL 0 (a relative error of nothing is undefined; a nozzle lifted
 * and hung up moves no fuel).
 *
 * Critical; condition = dispenserId/nozzle. Stateless. Resolved by the operator.
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { DAY, noEffects } from '../common/util.js';
import { exceeds, nozzleCondition, txnOf } from './txn.js';

export interface PulsesConfig {
  /** [reg, JJG 443: +/-0.3 %] maximum |encoder volume - displayed volume| in percent of the displayed volume */
  maxDeviationPct: number;
  severity: Severity;
  alertWindowMs: number;
}

export const pulsesDefaults: PulsesConfig = { maxDeviationPct: 0.3, severity: 'critical', alertWindowMs: DAY };

export const pulses: Rule<Record<string, never>, PulsesConfig> = {
  id: 'dispenser.pulses',
  family: 'dispenser',
  channels: ['txn'],
  defaults: pulsesDefaults,
  init: () => ({}),

  onReading(state, reading, ctx) {
    const t = txnOf(reading);
    if (!t || t.pulses === null || t.pulsesPerL === null || t.pulsesPerL <= 0 || t.volumeL <= 0) return noEffects(state);
    const cfg = ctx.config;
    const measuredL = t.pulses / t.pulsesPerL;
    const deviationPct = (Math.abs(measuredL - t.volumeL) / t.volumeL) * 100;
    if (!exceeds(deviationPct, cfg.maxDeviationPct)) return noEffects(state);
    const values = {
      stationId: t.stationId, dispenserId: t.dispenserId, nozzle: t.nozzle, grade: t.grade,
      volumeL: t.volumeL, pulses: t.pulses, pulsesPerL: t.pulsesPerL,
      encoderVolumeL: Math.round(measuredL * 1000) / 1000,
      deviationPct: Math.round(deviationPct * 1000) / 1000, maxDeviationPct: cfg.maxDeviationPct,
    };
    return {
      state,
      effects: [{
        type: 'raise',
        rule: pulses.id,
        family: 'dispenser',
        deviceId: reading.deviceId,
        condition: nozzleCondition(t),
        severity: cfg.severity,
        windowMs: cfg.alertWindowMs,
        summary: `dispenser ${t.dispenserId} nozzle ${t.nozzle}: encoder ${values.encoderVolumeL} L vs displayed ${t.volumeL} L (${values.deviationPct} %, limit ${cfg.maxDeviationPct} %)`,
        params: values,
        evidence: { seqs: [reading.seq], values },
        at: reading.receivedAt,
      }],
    };
  },
};
