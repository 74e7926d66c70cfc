/**
 * elevator.fault: a fault code 1-15 or an event 41-47 from the elevator's IoT terminal raises
 * an alert whose condition is the code, so each code is its own alert on the elevator; event
 * 40 (back to normal) resolves every elevator.fault alert this rule opened on that elevator
 * since the last 40. Code 11 (trapped passenger) is left to elevator.trapped, which opens the
 * 96333 rescue case; raising it here too would show one incident twice.
 *
 * Severities (docs/domain.md §2): the dangerous faults 5 unintended movement, 9 overtravel
 * top, 10 bottoming and 12 overspeed are critical; other faults (15 alarm button included)
 * and 41 mains power lost are major; the mode events 42-47 are info (an operator should see
 * that an elevator is on inspection or fire service, but nothing is wrong).
 */
import type { ElevatorFault } from '../../schemas/elevator.js';
import type { Effect, RaiseAlert, Rule, Severity } from '../../alerts/types.js';
import { resolveReason } from '../../alerts/systemNotes.js';
import { emptyMap, mapDelete, mapGet, mapSet, type ShardedMap } from '../common/shardedMap.js';
import { HOUR, noEffects, num, str } from '../common/util.js';
import { BACK_TO_NORMAL, TRAPPED_CODE, elevatorCodes } from './codes.js';

export const FAULT_RULE_ID = 'elevator.fault';

export interface FaultConfig {
  /** alert severity per code (as a string key); a code missing here raises nothing */
  severityByCode: Record<string, Severity>;
  /** a repeat of the same code within this updates the open alert [default 24 h: a fault lasts until back to normal] */
  repeatWindowMs: number;
}

export const faultDefaults: FaultConfig = {
  severityByCode: Object.fromEntries(
    Object.values(elevatorCodes).filter((c) => c.severity !== null).map((c) => [String(c.code), c.severity as Severity]),
  ),
  repeatWindowMs: 24 * HOUR,
};

export interface FaultState {
  /** per elevator, the conditions (codes) raised since its last back-to-normal; at most 22 each */
  open: ShardedMap<string[]>;
}

export const faultRule: Rule<FaultState, FaultConfig> = {
  id: FAULT_RULE_ID,
  family: 'elevator',
  channels: ['fault'],
  defaults: faultDefaults,
  init: () => ({ open: emptyMap() }),

  onReading(state, reading, ctx) {
    if (reading.channel !== 'fault') return noEffects(state);
    const data = reading.data as Partial<Omit<ElevatorFault, 'msgId' | 'ts'>> & Record<string, unknown>;
    const code = num(data, 'code');
    if (code === null) return noEffects(state);
    const at = reading.receivedAt;
    const deviceId = reading.deviceId;
    const open = mapGet(state.open, deviceId) ?? [];

    if (code === BACK_TO_NORMAL) {
      if (open.length === 0) return noEffects(state);
      const effects: Effect[] = open.map((condition) => ({
        type: 'resolve', rule: FAULT_RULE_ID, deviceId, condition, ...resolveReason('fault.back_to_normal', { event: BACK_TO_NORMAL, seq: reading.seq }), at,
      }));
      return { state: { open: mapDelete(state.open, deviceId) }, effects };
    }
    // 11 is elevator.trapped's (rescue case); never raised twice
    if (code === TRAPPED_CODE) return noEffects(state);
    const severity = ctx.config.severityByCode[String(code)];
    const info = elevatorCodes[code];
    if (!severity) return noEffects(state);

    const condition = String(code);
    const floor = num(data, 'floor');
    const detail = str(data, 'detail');
    const raise: RaiseAlert = {
      type: 'raise',
      rule: FAULT_RULE_ID,
      family: 'elevator',
      deviceId,
      condition,
      severity,
      windowMs: ctx.config.repeatWindowMs,
      summary: `Elevator ${deviceId}: ${info?.kind ?? 'code'} ${code} ${info?.en ?? ''}${floor !== null ? ` at floor ${floor}` : ''}`.trimEnd(),
      params: {
        code,
        kind: info?.kind ?? null,
        nameZh: info?.zh ?? null,
        nameEn: info?.en ?? null,
        dangerous: info?.dangerous ?? false,
        floor,
        detail,
      },
      evidence: { seqs: [reading.seq], values: { code, floor } },
      at,
    };
    const nextOpen = open.includes(condition) ? state.open : mapSet(state.open, deviceId, [...open, condition]);
    return { state: { open: nextOpen }, effects: [raise] };
  },
};
