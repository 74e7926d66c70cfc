/**
 * Shared by the dispenser rules: a transaction's fields, fixed-point arithmetic and the one
 * float comparison.
 *
 * Money and volumes are compared in integers (fen, millilitres, milli-yuan): dispensers show
 * 2 decimals, and binary floats cannot hold 0.01, so `35.27 * 7.89` or `100.3 - 100` are not
 * what they print. Ratios (L/s, %) are compared with `exceeds`.
 */
import type { RuleReading } from '../../alerts/types.js';
import { num, str } from '../common/util.js';

export interface Txn {
  stationId: string;
  dispenserId: string;
  nozzle: number;
  grade: string;
  volumeL: number;
  amountYuan: number;
  unitPrice: number;
  totalizerL: number;
  durationS: number | null;
  pulses: number | null;
  pulsesPerL: number | null;
  tankId: string | null;
}

/** A dispenser/txn reading's data (validated by core/schemas/dispenser.ts), or null. */
export function txnOf(reading: RuleReading): Txn | null {
  const d = reading.data;
  const stationId = str(d, 'stationId');
  const dispenserId = str(d, 'dispenserId');
  const nozzle = num(d, 'nozzle');
  const volumeL = num(d, 'volumeL');
  const amountYuan = num(d, 'amountYuan');
  const unitPrice = num(d, 'unitPrice');
  const totalizerL = num(d, 'totalizerL');
  if (stationId === null || dispenserId === null || nozzle === null || volumeL === null || amountYuan === null || unitPrice === null || totalizerL === null) {
    return null;
  }
  return {
    stationId, dispenserId, nozzle, grade: str(d, 'grade') ?? '', volumeL, amountYuan, unitPrice, totalizerL,
    durationS: num(d, 'durationS'), pulses: num(d, 'pulses'), pulsesPerL: num(d, 'pulsesPerL'), tankId: str(d, 'tankId'),
  };
}

/** Alert condition of a nozzle: `dispenserId/nozzle`. */
export const nozzleCondition = (t: Pick<Txn, 'dispenserId' | 'nozzle'>): string => `${t.dispenserId}/${t.nozzle}`;

/** x in thousandths (mL from L, milli-yuan from yuan), rounded: exact for values given to 3 decimals. */
export const milli = (x: number): number => Math.round(x * 1000);

/** a / b rounded half up, for a >= 0 and b > 0 integers (四舍五入, how a dispenser rounds money). */
export function divRoundHalfUp(a: number, b: number): number {
  return Math.floor((2 * a + b) / (2 * b));
}

/**
 * value > limit, ignoring float noise: a ratio computed from decimal inputs that equals the
 * limit to 1e-9 (relative) is at the limit, not over it (100.3 / 100 - 1 is 0.0030000000000000027).
 */
export function exceeds(value: number, limit: number): boolean {
  return value > limit + 1e-9 * Math.max(1, Math.abs(limit));
}

/** A state key for a tuple of ids (JSON: no separator collisions, never `__proto__`). */
export const stateKey = (...parts: Array<string | number>): string => JSON.stringify(parts);

export const round2 = (x: number): number => Math.round(x * 100) / 100;
