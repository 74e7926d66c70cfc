/**
 * Elevators: the ride cycle and its status reports, and the scripted trap, release and fault
 * codes. Pure and seeded, as all of behaviour.ts.
 */
import { heartbeat, message, round2, type Base, type OutMsg, type Step } from './messages.js';
import type { Rng } from './rng.js';

export type ElevatorPhase = 'idle' | 'boarding' | 'moving' | 'alighting' | 'trapped';

export interface ElevatorState extends Base {
  family: 'elevator';
  minFloor: number;
  maxFloor: number;
  floor: number;
  target: number;
  phase: ElevatorPhase;
  phaseStart: number;
  phaseUntil: number;
  /** scenario ms per floor travelled */
  floorMs: number;
  ratedSpeedMps: number;
  statusMs: number;
  nextStatusAt: number;
  serviceMode: 'normal' | 'inspection' | 'fire' | 'out_of_service' | 'emergency_power';
  powerOk: boolean;
  trappedDoorZone: boolean;
}

/** The status an elevator shows at `now`. Normal operation never shows a passenger behind a closed door in a stopped car. */
export function elevatorSnapshot(s: ElevatorState, now: number): Record<string, unknown> {
  const base = { serviceMode: s.serviceMode, powerOk: s.powerOk };
  switch (s.phase) {
    case 'idle':
      return { floor: s.floor, doorZone: true, doorClosed: true, moving: false, direction: 'stop', speedMps: 0, passengerPresent: false, ...base };
    case 'boarding':
    case 'alighting':
      return { floor: s.floor, doorZone: true, doorClosed: false, moving: false, direction: 'stop', speedMps: 0, passengerPresent: true, ...base };
    case 'trapped':
      return { floor: s.floor, doorZone: s.trappedDoorZone, doorClosed: true, moving: false, direction: 'stop', speedMps: 0, passengerPresent: true, ...base };
    case 'moving': {
      const up = s.target > s.floor;
      const per = s.floorMs / s.timeScale;
      const elapsed = Math.max(0, now - s.phaseStart);
      const passed = Math.min(Math.abs(s.target - s.floor), Math.floor(elapsed / per));
      const atFloor = s.floor + (up ? passed : -passed);
      const inZone = (elapsed % per) < per * 0.15;
      return {
        floor: atFloor, doorZone: inZone, doorClosed: true, moving: true, direction: up ? 'up' : 'down',
        speedMps: round2(s.ratedSpeedMps * (inZone ? 0.4 : 1)), passengerPresent: true, ...base,
      };
    }
  }
}

function advanceElevator(state: ElevatorState, rng: Rng, now: number): ElevatorState {
  let s = state;
  const k = 1 / s.timeScale;
  // far behind (a paused run, or a test jumping in time): restart the cycle from now
  if (now - s.phaseUntil > 600_000 * k) s = { ...s, phase: s.phase === 'trapped' ? 'trapped' : 'idle', phaseStart: now, phaseUntil: s.phase === 'trapped' ? Infinity : now };
  for (let guard = 0; guard < 100 && now >= s.phaseUntil; guard++) {
    const t = s.phaseUntil;
    switch (s.phase) {
      case 'idle':
        s = { ...s, phase: 'boarding', phaseStart: t, phaseUntil: t + rng.range(3_000, 6_000) * k };
        break;
      case 'boarding': {
        let target = rng.int(s.minFloor, s.maxFloor);
        if (target === s.floor) target = s.floor === s.maxFloor ? s.minFloor : s.maxFloor;
        s = { ...s, phase: 'moving', target, phaseStart: t, phaseUntil: t + Math.abs(target - s.floor) * s.floorMs * k };
        break;
      }
      case 'moving':
        s = { ...s, phase: 'alighting', floor: s.target, phaseStart: t, phaseUntil: t + rng.range(2_000, 4_000) * k };
        break;
      case 'alighting':
        s = { ...s, phase: 'idle', phaseStart: t, phaseUntil: t + rng.range(4_000, 20_000) * k };
        break;
      case 'trapped':
        return s;
    }
  }
  return s;
}

export function stepElevator(state: ElevatorState, rng: Rng, now: number): Step<ElevatorState> {
  const out: OutMsg[] = [];
  let s = heartbeat(state, rng, now, out);
  s = advanceElevator(s, rng, now);
  if (now >= s.nextStatusAt) {
    const [next, msg] = message(s, now, 'status', elevatorSnapshot(s, now));
    out.push(msg);
    s = { ...next, nextStatusAt: now + (s.statusMs / s.timeScale) * rng.range(0.9, 1.1) };
  }
  return { state: s, messages: out };
}

function statusNow(s: ElevatorState, now: number, out: OutMsg[]): ElevatorState {
  const [next, msg] = message(s, now, 'status', elevatorSnapshot(s, now));
  out.push(msg);
  return { ...next, nextStatusAt: now + s.statusMs / s.timeScale };
}

/**
 * Trap passengers: the car stops (at a floor, or between floors with `doorZone` false) with
 * the door shut. `code11` also sends fault code 11 at once; `status` leaves detection to the
 * platform's status timer.
 */
export function trapElevator(state: ElevatorState, now: number, by: 'code11' | 'status', doorZone: boolean): Step<ElevatorState> {
  const out: OutMsg[] = [];
  const floor = elevatorSnapshot(state, now).floor as number;
  let s: ElevatorState = { ...state, phase: 'trapped', floor, target: floor, phaseStart: now, phaseUntil: Infinity, trappedDoorZone: doorZone };
  if (by === 'code11') {
    const [next, msg] = message(s, now, 'fault', { code: 11, floor, detail: 'trapped passenger (alarm from the car)' });
    out.push(msg);
    s = next;
  }
  s = statusNow(s, now, out);
  return { state: s, messages: out };
}

/** Passengers released: event 40 (back to normal), the door opens. */
export function releaseElevator(state: ElevatorState, now: number): Step<ElevatorState> {
  const out: OutMsg[] = [];
  let s: ElevatorState = { ...state, phase: 'alighting', phaseStart: now, phaseUntil: now + 3_000 / state.timeScale, serviceMode: 'normal', powerOk: true };
  const [next, msg] = message(s, now, 'fault', { code: 40, floor: s.floor, detail: 'back to normal' });
  out.push(msg);
  s = statusNow(next, now, out);
  return { state: s, messages: out };
}

/** Any fault or event code (GB/T 24476 style); 41 also drops mains power, 42-47 set the service mode. */
export function elevatorFault(state: ElevatorState, now: number, code: number, detail?: string): Step<ElevatorState> {
  const modes: Record<number, ElevatorState['serviceMode']> = { 42: 'out_of_service', 43: 'inspection', 44: 'fire', 45: 'fire', 46: 'emergency_power' };
  let s: ElevatorState = { ...state, ...(code === 41 ? { powerOk: false } : {}), ...(modes[code] ? { serviceMode: modes[code] } : {}) };
  const floor = elevatorSnapshot(s, now).floor as number;
  const [next, msg] = message(s, now, 'fault', { code, floor, ...(detail ? { detail } : {}) });
  s = next;
  return { state: s, messages: [msg] };
}
