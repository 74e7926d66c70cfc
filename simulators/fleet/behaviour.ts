/**
 * Device behaviour, one generator per family. Each is a pure function of (state, rng, now):
 * it returns the next state and the messages to publish (channel + payload, exactly
 * docs/protocol.md and the ingest zod schemas). No sockets, no clock, no globals: the runner owns
 * those, tests drive these directly (test/simulators/behaviour.test.ts).
 *
 * Times are platform epoch ms. Every interval is given in "scenario time" and divided by the
 * state's `timeScale`, so a compressed run keeps the same shape, only faster.
 */
import type { Family, ScanPoint, ViolationType } from '../../core/schemas/index.js';
import type { Rng } from './rng.js';

export interface OutMsg {
  channel: string;
  payload: Record<string, unknown>;
}

export interface Step<S> {
  state: S;
  messages: OutMsg[];
}

interface Base {
  id: string;
  /** makes msgIds unique per run (the platform dedupes (device, msgId) for 10 minutes) */
  msgPrefix: string;
  seq: number;
  heartbeatMs: number;
  nextHeartbeatAt: number;
  bootAt: number;
  /** >1 compresses time: every interval is divided by it */
  timeScale: number;
}

// ---------------------------------------------------------------------------------------
// shared

function nextId<S extends Base>(s: S): [S, string] {
  const seq = s.seq + 1;
  return [{ ...s, seq }, `${s.msgPrefix}-${seq}`];
}

function message<S extends Base>(s: S, now: number, channel: string, body: Record<string, unknown>): [S, OutMsg] {
  const [next, msgId] = nextId(s);
  return [next, { channel, payload: { msgId, ts: Math.round(now), ...body } }];
}

function heartbeat<S extends Base>(s: S, rng: Rng, now: number, out: OutMsg[]): S {
  if (now < s.nextHeartbeatAt) return s;
  const [next, msg] = message(s, now, 'heartbeat', {
    fw: '2.3.1', rssi: -rng.int(45, 95), uptimeS: Math.max(0, Math.round((now - s.bootAt) / 1000)),
  });
  out.push(msg);
  // jitter so that a whole fleet does not beat in step
  return { ...next, nextHeartbeatAt: now + s.heartbeatMs * rng.range(0.9, 1.0) };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

// ---------------------------------------------------------------------------------------
// kitchen cameras

/** The observed mix of AI detections: hats, masks and clothes dominate, rats are rare. */
export const violationMix: ReadonlyArray<readonly [ViolationType, number]> = [
  ['no_chef_hat', 22], ['no_mask', 20], ['no_uniform', 10], ['no_gloves', 8], ['phone', 10],
  ['smoking', 6], ['trash_uncovered', 8], ['board_mixed', 3], ['containers_stacked', 3],
  ['raw_cooked_mixed', 3], ['stranger', 3], ['unattended_flame', 2], ['rat', 2],
];

export interface KitchenState extends Base {
  family: 'kitchen';
  storeId: string;
  area: string;
  /** mean time between detections (scenario ms); 0 = none */
  meanViolationMs: number;
  nextViolationAt: number;
  /** share of detections below the 0.4 alert threshold (the AI is not sure) */
  lowConfidenceShare: number;
}

export function violationPayload(s: KitchenState, rng: Rng, type: ViolationType, confidence: number): Record<string, unknown> {
  const x1 = round2(rng.range(0, 0.6));
  const y1 = round2(rng.range(0, 0.6));
  return {
    storeId: s.storeId, type, confidence: round2(Math.min(1, Math.max(0, confidence))), area: s.area,
    snapshotUrl: `https://cam.example/${s.id}/${s.seq + 1}.jpg`,
    bbox: [x1, y1, round2(Math.min(1, x1 + rng.range(0.05, 0.4))), round2(Math.min(1, y1 + rng.range(0.05, 0.4)))],
  };
}

export function stepKitchen(state: KitchenState, rng: Rng, now: number): Step<KitchenState> {
  const out: OutMsg[] = [];
  let s = heartbeat(state, rng, now, out);
  if (s.meanViolationMs > 0 && now >= s.nextViolationAt) {
    const type = rng.weighted(violationMix.map((m) => m[0]), violationMix.map((m) => m[1]));
    const confidence = rng.chance(s.lowConfidenceShare) ? rng.range(0.2, 0.39) : rng.range(0.45, 0.98);
    const [next, msg] = message(s, now, 'violation', violationPayload(s, rng, type, confidence));
    out.push(msg);
    s = { ...next, nextViolationAt: now + rng.exp(s.meanViolationMs) / s.timeScale };
  }
  return { state: s, messages: out };
}

/** A scripted detection (scenario `violation`). */
export function kitchenViolation(state: KitchenState, rng: Rng, now: number, type: ViolationType, confidence: number): Step<KitchenState> {
  const [s, msg] = message(state, now, 'violation', violationPayload(state, rng, type, confidence));
  return { state: s, messages: [msg] };
}

// ---------------------------------------------------------------------------------------
// elevators

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

// ---------------------------------------------------------------------------------------
// cylinder scanners

/** What a registry row is like, as the fleet generated it. */
export type CylinderKind = 'ok' | 'due_soon' | 'expired' | 'overdue' | 'foreign' | 'scrapped';

export interface PoolCylinder {
  code: string;
  kind: CylinderKind;
  maxFillKg: number;
}

/** The life cycle of one cylinder through a station: the empty comes back, is checked, filled, checked, leaves, is delivered. */
export const lifeCycle: readonly ScanPoint[] = ['recovery', 'pre_fill', 'fill', 'post_fill', 'outbound', 'delivery'];

export interface CylinderState extends Base {
  family: 'cylinder';
  stationId: string;
  operatorId: string;
  pool: readonly PoolCylinder[];
  current: { cylinder: PoolCylinder; stage: number } | null;
  scanMs: number;
  nextScanAt: number;
}

export function scanPayload(s: CylinderState, rng: Rng, cylinder: { code: string; maxFillKg: number }, point: ScanPoint, netKg?: number): Record<string, unknown> {
  const body: Record<string, unknown> = { cylinderCode: cylinder.code, stationId: s.stationId, point, operatorId: s.operatorId };
  if (point === 'post_fill') body.netKg = netKg ?? round2(cylinder.maxFillKg - rng.range(0, 0.4));
  if (point === 'pre_fill' || point === 'recovery') body.residualPressureMpa = round2(rng.range(0.05, 0.3));
  return body;
}

export function stepCylinder(state: CylinderState, rng: Rng, now: number): Step<CylinderState> {
  const out: OutMsg[] = [];
  let s = heartbeat(state, rng, now, out);
  if (s.scanMs > 0 && s.pool.length > 0 && now >= s.nextScanAt) {
    const current = s.current ?? { cylinder: rng.pick(s.pool), stage: 0 };
    const point = lifeCycle[current.stage]!;
    const [next, msg] = message(s, now, 'scan', scanPayload(s, rng, current.cylinder, point));
    out.push(msg);
    // the gate refuses a bad cylinder at pre_fill: the operator sets it aside
    const refused = point === 'pre_fill' && current.cylinder.kind !== 'ok' && current.cylinder.kind !== 'due_soon';
    const stage = current.stage + 1;
    s = {
      ...next,
      current: refused || stage >= lifeCycle.length ? null : { cylinder: current.cylinder, stage },
      nextScanAt: now + (s.scanMs / s.timeScale) * rng.range(0.7, 1.3),
    };
  }
  return { state: s, messages: out };
}

/** A scripted scan (scenario `scan`, `clonedScan`, `overfill`, `fillWithoutPreFill`). */
export function scanCylinder(state: CylinderState, rng: Rng, now: number, cylinder: { code: string; maxFillKg: number }, point: ScanPoint, netKg?: number): Step<CylinderState> {
  const [s, msg] = message(state, now, 'scan', scanPayload(state, rng, cylinder, point, netKg));
  return { state: s, messages: [msg] };
}

// ---------------------------------------------------------------------------------------
// fuel-station collectors

export interface Nozzle {
  dispenserId: string;
  nozzle: number;
  grade: string;
  tankId: string;
  /** lifetime totaliser in centilitres (integer: no float drift) */
  totalizerCL: number;
}

export interface Tank {
  tankId: string;
  grade: string;
  volumeCL: number;
  capacityCL: number;
}

export type TxnFault = 'rollback' | 'gap' | 'amount' | 'flow' | 'pulses';

export interface DispenserState extends Base {
  family: 'dispenser';
  stationId: string;
  nozzles: readonly Nozzle[];
  tanks: readonly Tank[];
  /** unit price per grade, in fen */
  priceFen: Readonly<Record<string, number>>;
  pulsesPerL: number;
  meanTxnMs: number;
  nextTxnAt: number;
  tankMs: number;
  nextTankAt: number;
}

/** Half-up to the fen, in integers: volume (cL) x price (fen/L) / 100. */
export function amountFen(volumeCL: number, priceFen: number): number {
  return Math.floor((volumeCL * priceFen + 50) / 100);
}

function txn(state: DispenserState, rng: Rng, now: number, index: number, fault?: TxnFault): Step<DispenserState> {
  const n = state.nozzles[index]!;
  const volumeCL = rng.int(800, 6_000);
  const price = state.priceFen[n.grade] ?? 800;
  let totalizerCL = n.totalizerCL + volumeCL;
  let amount = amountFen(volumeCL, price);
  let durationS = Math.round((volumeCL / 100 / rng.range(0.45, 0.8)) * 10) / 10;
  let pulses = Math.round((volumeCL * state.pulsesPerL) / 100);
  if (fault === 'rollback') totalizerCL = Math.max(0, n.totalizerCL - rng.int(50_000, 500_000));
  if (fault === 'gap') totalizerCL += rng.int(2_000, 20_000);
  if (fault === 'amount') amount += rng.int(100, 500);
  if (fault === 'flow') durationS = Math.max(0.1, Math.round((volumeCL / 100 / 3) * 10) / 10);
  if (fault === 'pulses') pulses = Math.round(pulses * 1.03);
  const [s1, msg] = message(state, now, 'txn', {
    stationId: state.stationId, dispenserId: n.dispenserId, nozzle: n.nozzle, grade: n.grade,
    volumeL: volumeCL / 100, amountYuan: amount / 100, unitPrice: price / 100, totalizerL: totalizerCL / 100,
    durationS, pulses, pulsesPerL: state.pulsesPerL, tankId: n.tankId,
  });
  const nozzles = state.nozzles.map((x, i) => (i === index ? { ...x, totalizerCL } : x));
  // the fuel leaves the tank whatever the board displayed
  const tanks = state.tanks.map((t) => (t.tankId === n.tankId ? { ...t, volumeCL: Math.max(0, t.volumeCL - volumeCL) } : t));
  return { state: { ...s1, nozzles, tanks }, messages: [msg] };
}

function tankReadings(state: DispenserState, rng: Rng, now: number, out: OutMsg[]): DispenserState {
  let s = state;
  let tanks = s.tanks;
  // a tanker unloads when a tank is below a fifth (a rise well above deliveryMinRiseL)
  tanks = tanks.map((t) => (t.volumeCL < t.capacityCL / 5 ? { ...t, volumeCL: t.volumeCL + Math.round(t.capacityCL * 0.6) } : t));
  s = { ...s, tanks };
  for (const t of tanks) {
    const [next, msg] = message(s, now, 'tank', {
      stationId: s.stationId, tankId: t.tankId, grade: t.grade, volumeL: t.volumeCL / 100,
      tempC: round2(rng.range(14, 22)), waterMm: rng.int(0, 4),
    });
    out.push(msg);
    s = next;
  }
  return s;
}

export function stepDispenser(state: DispenserState, rng: Rng, now: number): Step<DispenserState> {
  const out: OutMsg[] = [];
  let s = heartbeat(state, rng, now, out);
  if (s.meanTxnMs > 0 && s.nozzles.length > 0 && now >= s.nextTxnAt) {
    const r = txn(s, rng, now, rng.int(0, s.nozzles.length - 1));
    out.push(...r.messages);
    s = { ...r.state, nextTxnAt: now + rng.exp(s.meanTxnMs) / s.timeScale };
  }
  if (s.tankMs > 0 && now >= s.nextTankAt) {
    s = tankReadings(s, rng, now, out);
    s = { ...s, nextTankAt: now + s.tankMs / s.timeScale };
  }
  return { state: s, messages: out };
}

/** A scripted transaction with a fault (scenario `txnFault`); nozzle is an index into `nozzles`. */
export function dispenserTxnFault(state: DispenserState, rng: Rng, now: number, fault: TxnFault, nozzleIndex = 0): Step<DispenserState> {
  // a first transaction only records the totaliser; make sure one precedes the fault
  return txn(state, rng, now, Math.min(nozzleIndex, state.nozzles.length - 1), fault);
}

export function dispenserNormalTxn(state: DispenserState, rng: Rng, now: number, nozzleIndex = 0): Step<DispenserState> {
  return txn(state, rng, now, Math.min(nozzleIndex, state.nozzles.length - 1));
}

export function dispenserTamper(state: DispenserState, now: number, kind: string, dispenserId?: string): Step<DispenserState> {
  const [s, msg] = message(state, now, 'tamper', { stationId: state.stationId, dispenserId: dispenserId ?? state.nozzles[0]?.dispenserId ?? 'D-1', kind });
  return { state: s, messages: [msg] };
}

/** Fuel leaves a tank unmetered (a leak, theft): the next tank reading shows it. */
export function dispenserTankLeak(state: DispenserState, litres: number, tankIndex = 0): DispenserState {
  return { ...state, tanks: state.tanks.map((t, i) => (i === tankIndex ? { ...t, volumeCL: Math.max(0, t.volumeCL - Math.round(litres * 100)) } : t)) };
}

// ---------------------------------------------------------------------------------------

export type DeviceState = KitchenState | ElevatorState | CylinderState | DispenserState;

/** One step of any device. */
export function stepDevice(state: DeviceState, rng: Rng, now: number): Step<DeviceState> {
  switch (state.family) {
    case 'kitchen': return stepKitchen(state, rng, now);
    case 'elevator': return stepElevator(state, rng, now);
    case 'cylinder': return stepCylinder(state, rng, now);
    case 'dispenser': return stepDispenser(state, rng, now);
  }
}

export function topicOf(family: Family, id: string, channel: string): string {
  return `${family}/${id}/${channel}`;
}
