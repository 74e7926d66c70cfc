/**
 * Fuel-station collectors: transactions and tank readings, and scripted faults, tampering and
 * leaks. Pure and seeded, as all of behaviour.ts.
 */
import { heartbeat, message, round2, type Base, type OutMsg, type Step } from './messages.js';
import type { Rng } from './rng.js';

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
