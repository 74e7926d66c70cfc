/**
 * Shared by the cylinder window rules (cylinder.no_pre_fill, cylinder.cloned_code): reading a
 * scan, state keys, and keeping the state bounded.
 *
 * Time: windows compare device times (`ts`, when the scan happened): delivery handhelds
 * buffer scans while out of coverage and upload them later, and what matters is when the
 * cylinder was where. Retention uses the platform receive time (`receivedAt`, or the
 * engine's clock on ticks), so a device clock far in the future or past cannot flush or pin
 * the state; an entry is kept for the window plus `lateArrivalMs`, so a scan uploaded that
 * late is still compared.
 */
import { scanPoints, type ScanPoint } from '../../schemas/index.js';
import type { RuleReading } from '../../alerts/types.js';
import { str } from '../common/util.js';

export interface Scan {
  code: string;
  stationId: string;
  point: ScanPoint;
  /** device time */
  ts: number;
  seq: number;
  /** platform receive time */
  rx: number;
  deviceId: string;
}

export function scanOf(reading: RuleReading): Scan | null {
  const code = str(reading.data, 'cylinderCode');
  const stationId = str(reading.data, 'stationId');
  const point = str(reading.data, 'point') as ScanPoint | null;
  if (code === null || stationId === null || point === null || !scanPoints.includes(point)) return null;
  return { code, stationId, point, ts: reading.ts, seq: reading.seq, rx: reading.receivedAt, deviceId: reading.deviceId };
}

/**
 * A state key for a tuple of ids: JSON of the array, so ids containing any separator cannot
 * collide and no key can be `__proto__` or another Object.prototype name.
 */
export const stateKey = (...parts: string[]): string => JSON.stringify(parts);

/** How often (platform time) a full sweep of expired entries runs; touched keys are pruned at once. */
export const SWEEP_EVERY_MS = 60_000;

/**
 * Keys to delete from a map's entries: those whose newest receive time is older than
 * `retainMs`, then, if more than `max` remain, the oldest beyond `max`. The cap only matters
 * under abuse (a device inventing codes): it is far above a city's fleet. Run by the
 * periodic sweep, so a burst can exceed the cap for at most one sweep interval.
 */
export function expiredKeys<T>(entries: ReadonlyArray<readonly [string, T]>, rxOf: (v: T) => number, clock: number, retainMs: number, max: number): string[] {
  const drop: string[] = [];
  const live: Array<readonly [string, number]> = [];
  for (const [k, v] of entries) {
    const rx = rxOf(v);
    if (clock - rx > retainMs) drop.push(k);
    else live.push([k, rx]);
  }
  if (live.length > max) {
    live.sort((a, b) => a[1] - b[1]);
    for (const [k] of live.slice(0, live.length - max)) drop.push(k);
  }
  return drop;
}
