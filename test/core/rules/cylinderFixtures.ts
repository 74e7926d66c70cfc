/**
 * Shared by the cylinder rule suites (test/core/rules/cylinder*.test.ts): the scan day, a valid
 * record to vary, scan readings with a fresh seq each, and the scan check run on one scan.
 */
import type { CylinderRecord, Effect, RuleReading, ScanReply } from '../../../core/alerts/types.js';
import type { ScanPoint } from '../../../core/schemas/index.js';
import { scanCheck, type ScanCheckConfig } from '../../../core/rules/cylinder/index.js';
import { reading, runRule } from './helpers.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;
/** 2026-11-23 10:00 in China (UTC+8): the scan day is 2026-11-23 */
export const T = Date.UTC(2026, 10, 23, 2, 0, 0);
export const date = (s: string): number => Date.parse(`${s}T00:00:00Z`);

export const record = (over: Partial<CylinderRecord> = {}): CylinderRecord => ({
  code: 'LPG-1', model: 'YSP15', mfgDate: date('2022-03-01'), designLifeYears: 8, lastInspection: date('2022-03-01'),
  nextInspection: date('2028-01-10'), ownerStationId: 'ST-1', entrustedStationIds: ['ST-2'], status: 'in_service', maxFillKg: 14.5, ...over,
});

let nextSeq = 1;
export interface ScanOpts {
  code?: string; stationId?: string; point?: ScanPoint; netKg?: number; ts?: number; rx?: number; deviceId?: string; msgId?: string; operatorId?: string;
}
export function scan(o: ScanOpts = {}): RuleReading {
  const ts = o.ts ?? T;
  const data: Record<string, unknown> = {
    cylinderCode: o.code ?? 'LPG-1', stationId: o.stationId ?? 'ST-1', point: o.point ?? 'pre_fill', operatorId: o.operatorId ?? 'OP-7',
  };
  if (o.netKg !== undefined) data.netKg = o.netKg;
  const seq = nextSeq++;
  return {
    seq, family: 'cylinder', channel: 'scan', deviceId: o.deviceId ?? 'scanner-1', msgId: o.msgId ?? `m-${seq}`,
    ts, receivedAt: o.rx ?? ts, data,
  };
}

export const replies = (effects: Effect[]): ScanReply[] => effects.filter((e): e is ScanReply => e.type === 'scanReply');

/** The scan check's effects for one scan against a registry of `rec` (none: unregistered). */
export function checkOne(rec: CylinderRecord | undefined, o: ScanOpts = {}, config: Partial<ScanCheckConfig> = {}, now?: number): Effect[] {
  return runRule(scanCheck, [reading(scan(o), now)], { registry: rec ? [rec] : [], config }).effects[0]!;
}
