/**
 * Cylinder scanners: each cylinder through a station's life cycle, and scripted scans. Pure
 * and seeded, as all of behaviour.ts.
 */
import type { ScanPoint } from '../../core/schemas/index.js';
import { heartbeat, message, round2, type Base, type OutMsg, type Step } from './messages.js';
import type { Rng } from './rng.js';

/** What a registry row is like, as the fleet generated it. */
export type CylinderKind = 'ok' | 'due_soon' | 'expired' | 'overdue' | 'foreign' | 'scrapped' | 'lost';

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
