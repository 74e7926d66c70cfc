/**
 * `dispenser.tamper`: any tamper or self-lock event from a dispenser (seal opened, board or
 * encoder swapped, cover opened, parameters changed, self-lock) [default, docs/domain.md §4:
 * broken seals and swapped boards or encoders are the known cheats; a dispenser self-locks
 * when its own anti-cheat check trips]. Every kind is critical: the dispenser's metrology can
 * no longer be trusted until it is inspected and resealed.
 *
 * condition = dispenserId/kind, so a seal opening and a board swap on one dispenser are two
 * alerts. Stateless. Resolved by the operator after the on-site check.
 */
import { tamperKinds } from '../../schemas/index.js';
import type { Rule, Severity } from '../../alerts/types.js';
import { HOUR, noEffects, str } from '../common/util.js';

export interface TamperConfig {
  severity: Severity;
  /** repeats of the same kind on the same dispenser within this update the open alert [default] */
  alertWindowMs: number;
}

export const tamperDefaults: TamperConfig = { severity: 'critical', alertWindowMs: HOUR };

export const tamper: Rule<Record<string, never>, TamperConfig> = {
  id: 'dispenser.tamper',
  family: 'dispenser',
  channels: ['tamper'],
  defaults: tamperDefaults,
  init: () => ({}),

  onReading(state, reading, ctx) {
    const stationId = str(reading.data, 'stationId');
    const dispenserId = str(reading.data, 'dispenserId');
    const kind = str(reading.data, 'kind');
    if (stationId === null || dispenserId === null || kind === null || !(tamperKinds as readonly string[]).includes(kind)) return noEffects(state);
    const values = { stationId, dispenserId, kind };
    return {
      state,
      effects: [{
        type: 'raise',
        rule: tamper.id,
        family: 'dispenser',
        deviceId: reading.deviceId,
        condition: `${dispenserId}/${kind}`,
        severity: ctx.config.severity,
        windowMs: ctx.config.alertWindowMs,
        summary: `dispenser ${dispenserId} at station ${stationId}: ${kind.replace(/_/g, ' ')}`,
        params: values,
        evidence: { seqs: [reading.seq], values },
        at: reading.receivedAt,
      }],
    };
  },
};
