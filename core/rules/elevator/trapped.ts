/**
 * elevator.trapped: a passenger trapped in the car (困人). Raised critical, and each raise
 * opens a 96333 rescue case (core/alerts/rescueCase.ts; `opensRescueCase` below).
 *
 * Two ways to detect it:
 * - fault code 11 from the terminal (docs/domain.md §2, regulator upload codes);
 * - from the running status when no code is sent [practice, terminal firmware]: passenger
 *   present, door closed and not moving for 90 s at a floor (in the door zone), or 15 s
 *   outside a door zone (stopped between floors: nobody can get out).
 *
 * Status timer: starts at the first status showing the condition and fires on the status or
 * the tick that reaches the threshold (>=). The threshold is the one for the latest status's
 * door zone. Any status that breaks the condition (door open, moving, no passenger, or a
 * service mode in `ignoreModes`) resets it.
 *
 * One incident, one raise: after a raise (either way) no new incident starts until the
 * condition has cleared: a status that breaks it, or event 40 back to normal (terminals that
 * send only codes have no status to clear it). So code 11 after a status-timer raise, or the
 * timer after a code 11, is the same incident. `alertWindowMs` is 0 so that a new incident
 * opens a new alert (and a new rescue case) rather than updating the previous one.
 *
 * Time: the reading's `receivedAt`, not the device `ts`. The timer is also advanced by the
 * engine's ticks, whose `now` is the platform clock; measuring the start on the same clock
 * keeps a terminal with a wrong clock (or a lagging one) from firing early or never. The
 * cost: network delay shifts the start by the delivery delay, which is small against 15 s.
 *
 * Service modes (our default, not docs/domain.md §2): in inspection and fire service the car is run
 * by a technician or a firefighter; a person inside with the door shut is not trapped, and a
 * false 96333 dispatch is expensive. Out of service and emergency power still count: people
 * can be trapped in a car taken out of service or running on emergency power. Set
 * `ignoreModes` to [] to follow the firmware rule to the letter.
 */
import type { ElevatorFault, ElevatorStatus } from '../../schemas/elevator.js';
import type { Effect, RaiseAlert, Rule, RuleReading, Severity } from '../../alerts/types.js';
import { emptyMap, mapDelete, mapForEach, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { SECOND, bool, noEffects, num, reached, str } from '../common/util.js';
import { BACK_TO_NORMAL, TRAPPED_CODE } from './codes.js';

export const TRAPPED_RULE_ID = 'elevator.trapped';

/** The detection thresholds, shared with elevator.repeated_trapping (which runs the same detector). */
export interface TrappedDetectorConfig {
  /** stopped at a floor (in the door zone) with a passenger and the door closed [practice, terminal firmware: 90 s] */
  atFloorMs: number;
  /** stopped outside a door zone with a passenger [practice, terminal firmware: 15 s] */
  outsideDoorZoneMs: number;
  /** service modes in which the status timer does not run [default: inspection, fire] */
  ignoreModes: string[];
}

export interface TrappedConfig extends TrappedDetectorConfig {
  severity: Severity;
  /** dedupe window of the raise; 0: every incident is its own alert and rescue case */
  alertWindowMs: number;
}

export const trappedDetectorDefaults: TrappedDetectorConfig = {
  atFloorMs: 90 * SECOND,
  outsideDoorZoneMs: 15 * SECOND,
  ignoreModes: ['inspection', 'fire'],
};

export const trappedDefaults: TrappedConfig = {
  ...trappedDetectorDefaults,
  severity: 'critical',
  alertWindowMs: 0,
};

export type TrappedDetection = 'code11' | 'status_timer';

export interface CarState {
  /** receive time of the first status of the current trapped-like condition; null: not in it */
  since: number | null;
  sinceSeq: number | null;
  /** door zone and floor of the latest status (floor also fills in a code 11 without one, while the car is tracked) */
  doorZone: boolean;
  floor: number | null;
  lastSeq: number | null;
  /** the raised incident, until the condition clears */
  incident: { at: number; detectedBy: TrappedDetection } | null;
}

export interface TrappedState {
  /**
   * per elevator in a trapped-like condition (timer running) or an incident not yet cleared;
   * an elevator whose status clears both is dropped, so the state is bounded by the cars stuck now
   */
  cars: ShardedMap<CarState>;
}

const newCar = (): CarState => ({ since: null, sinceSeq: null, doorZone: true, floor: null, lastSeq: null, incident: null });

const thresholdMs = (car: CarState, cfg: TrappedDetectorConfig): number => (car.doorZone ? cfg.atFloorMs : cfg.outsideDoorZoneMs);

function raiseTrapped(
  deviceId: string, car: CarState, detectedBy: TrappedDetection, cfg: TrappedConfig, at: number, seqs: number[], detail: string | null,
): RaiseAlert {
  const stoppedForMs = detectedBy === 'status_timer' && car.since !== null ? at - car.since : null;
  const where = car.floor === null ? 'unknown floor' : `floor ${car.floor}`;
  const how = detectedBy === 'code11'
    ? 'fault code 11'
    : `passenger present, door closed, not moving for ${Math.round((stoppedForMs ?? 0) / SECOND)} s ${car.doorZone ? 'at a floor' : 'outside a door zone'}`;
  return {
    type: 'raise',
    rule: TRAPPED_RULE_ID,
    family: 'elevator',
    deviceId,
    condition: '',
    severity: cfg.severity,
    windowMs: cfg.alertWindowMs,
    summary: `Passenger trapped in elevator ${deviceId} at ${where} (${how})`,
    params: {
      detectedBy,
      floor: car.floor,
      doorZone: detectedBy === 'status_timer' ? car.doorZone : null,
      stoppedForMs,
      thresholdMs: detectedBy === 'status_timer' ? thresholdMs(car, cfg) : null,
      code: detectedBy === 'code11' ? TRAPPED_CODE : null,
      detail,
    },
    evidence: { seqs: [...new Set(seqs)], values: { detectedBy, floor: car.floor } },
    at,
  };
}

function onStatus(car: CarState, reading: RuleReading, cfg: TrappedConfig): { car: CarState; raise: RaiseAlert | null } {
  const data = reading.data as Partial<Omit<ElevatorStatus, 'msgId' | 'ts'>> & Record<string, unknown>;
  const at = reading.receivedAt;
  const mode = str(data, 'serviceMode');
  const trappedLike = bool(data, 'passengerPresent') === true && bool(data, 'doorClosed') === true && bool(data, 'moving') === false
    && !(mode !== null && cfg.ignoreModes.includes(mode));
  const doorZone = bool(data, 'doorZone') ?? car.doorZone;
  const floor = num(data, 'floor') ?? car.floor;
  // literals of one shape rather than spreads with overrides: this runs for every status of
  // every car in the condition, and the spreads were the rule's hottest lines (P1 profile)
  if (!trappedLike) {
    // the condition cleared: the timer resets and the next incident may start
    return { car: { since: null, sinceSeq: null, doorZone, floor, lastSeq: reading.seq, incident: null }, raise: null };
  }
  const started = car.since === null;
  const next: CarState = {
    since: started ? at : car.since, sinceSeq: started ? reading.seq : car.sinceSeq, doorZone, floor, lastSeq: reading.seq, incident: car.incident,
  };
  if (next.incident || !reached(at, next.since!, thresholdMs(next, cfg))) return { car: next, raise: null };
  const raise = raiseTrapped(reading.deviceId, next, 'status_timer', cfg, at, [next.sinceSeq ?? reading.seq, reading.seq], null);
  return { car: { ...next, incident: { at, detectedBy: 'status_timer' } }, raise };
}

function onFault(car: CarState, reading: RuleReading, cfg: TrappedConfig): { car: CarState; raise: RaiseAlert | null } {
  const data = reading.data as Partial<Omit<ElevatorFault, 'msgId' | 'ts'>> & Record<string, unknown>;
  const code = num(data, 'code');
  const at = reading.receivedAt;
  if (code === BACK_TO_NORMAL) return { car: { ...car, since: null, sinceSeq: null, incident: null }, raise: null };
  if (code !== TRAPPED_CODE) return { car, raise: null };
  const withFloor: CarState = { ...car, floor: num(data, 'floor') ?? car.floor };
  if (car.incident) return { car: withFloor, raise: null };
  const raise = raiseTrapped(reading.deviceId, withFloor, 'code11', cfg, at, [reading.seq], str(data, 'detail'));
  return { car: { ...withFloor, incident: { at, detectedBy: 'code11' } }, raise };
}

export const trappedRule: Rule<TrappedState, TrappedConfig> = {
  id: TRAPPED_RULE_ID,
  family: 'elevator',
  channels: ['status', 'fault'],
  defaults: trappedDefaults,
  init: () => ({ cars: emptyMap() }),

  onReading(state, reading, ctx) {
    if (reading.channel !== 'status' && reading.channel !== 'fault') return noEffects(state);
    const prev = mapGet(state.cars, reading.deviceId);
    // faults other than 11 of an elevator not in a condition change nothing
    if (!prev && reading.channel === 'fault' && num(reading.data, 'code') !== TRAPPED_CODE) return noEffects(state);
    const car = prev ?? newCar();
    const { car: next, raise } = reading.channel === 'status' ? onStatus(car, reading, ctx.config) : onFault(car, reading, ctx.config);
    // only cars in a trapped-like condition or an incident are kept: a city's fleet of idle
    // elevators costs no state, and their normal statuses return the state unchanged
    const idle = next.since === null && next.incident === null;
    const cars = idle ? mapDelete(state.cars, reading.deviceId) : next === car ? state.cars : mapSet(state.cars, reading.deviceId, next);
    return { state: cars === state.cars ? state : { cars }, effects: raise ? [raise] : [] };
  },

  onTick(state, ctx, now) {
    const cfg = ctx.config;
    const effects: Effect[] = [];
    const updates: Array<[string, CarState]> = [];
    mapForEach(state.cars, (deviceId, car) => {
      if (car.since === null || car.incident || !reached(now, car.since, thresholdMs(car, cfg))) return;
      effects.push(raiseTrapped(deviceId, car, 'status_timer', cfg, now, [car.sinceSeq, car.lastSeq].filter((s): s is number => s !== null), null));
      updates.push([deviceId, { ...car, incident: { at: now, detectedBy: 'status_timer' } }]);
    });
    return { state: updates.length ? { cars: mapUpdate(state.cars, updates) } : state, effects };
  },
};

/**
 * Should the engine open a 96333 rescue case for this effect? Every elevator.trapped raise is
 * a new incident (the rule raises once per incident), so: yes for each of them, no for
 * anything else (a repeated-trapping hazard is not a rescue).
 */
export function opensRescueCase(effect: Effect): effect is RaiseAlert {
  return effect.type === 'raise' && effect.rule === TRAPPED_RULE_ID;
}
