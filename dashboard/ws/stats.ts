/**
 * Live statistics pushed over /ws (`{type: 'stats', stats}`): alerts opened today per family,
 * open alerts, connected devices, and the per-domain panels of the operators' wall. "Today"
 * is the calendar day in China Standard Time (UTC+8, no daylight saving). Pure: the hub feeds
 * it alert changes and asks for a snapshot with `now`.
 */
import type { Alert } from '../../core/alerts/alert.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { families, type Family } from '../../core/schemas/index.js';

const DAY = 86_400_000;
const CST_OFFSET = 8 * 3_600_000;

/** Start of the CST calendar day containing `now`, epoch ms. */
export const dayStart = (now: number): number => Math.floor((now + CST_OFFSET) / DAY) * DAY - CST_OFFSET;

interface TodayEntry {
  family: Family;
  /** the device's district when the alert opened, for a district-scoped client's numbers */
  district: string | null;
  rule: string;
  condition: string;
  firstSeen: number;
  count: number;
}

export interface LiveStats {
  at: number;
  dayStart: number;
  /** alerts first seen today, per family */
  today: Record<Family, number>;
  open: number;
  openByFamily: Record<Family, number>;
  openBySeverity: Record<string, number>;
  devices: number;
  connectedDevices: number;
  /** kitchen.violation detections today (repeats counted), by violation type */
  kitchenViolationsByType: Record<string, number>;
  /** elevators with an unfinished 96333 rescue case */
  trappedNow: number;
  /** cylinder scans refused today (cylinder.refused occurrences) */
  cylinderRefusalsToday: number;
  /** open dispenser alerts by rule */
  dispenserAnomalies: Record<string, number>;
}

const zeroFamilies = (): Record<Family, number> => Object.fromEntries(families.map((f) => [f, 0])) as Record<Family, number>;

export class TodayCounter {
  private readonly entries = new Map<string, TodayEntry>();

  /** An alert was opened or changed (or loaded at start). */
  see(a: Alert, now: number): void {
    if (a.firstSeen < dayStart(now)) return;
    this.entries.set(a.id, { family: a.family, district: a.device.district, rule: a.rule, condition: a.condition, firstSeen: a.firstSeen, count: a.count });
  }

  /**
   * The numbers now. `district`: today's counts of that code prefix only (a district-scoped
   * client's); the caller gives `active`, `cases` and the device counts of the same scope.
   */
  snapshot(now: number, active: readonly Alert[], cases: readonly RescueCase[], devices: number, connectedDevices: number, district?: string): LiveStats {
    const start = dayStart(now);
    const today = zeroFamilies();
    const kitchenViolationsByType: Record<string, number> = {};
    let cylinderRefusalsToday = 0;
    for (const [id, e] of this.entries) {
      if (e.firstSeen < start) { this.entries.delete(id); continue; }
      if (district !== undefined && !(e.district ?? '').startsWith(district)) continue;
      today[e.family] += 1;
      if (e.rule === 'kitchen.violation') kitchenViolationsByType[e.condition] = (kitchenViolationsByType[e.condition] ?? 0) + e.count;
      if (e.rule === 'cylinder.refused') cylinderRefusalsToday += e.count;
    }
    const openByFamily = zeroFamilies();
    const openBySeverity: Record<string, number> = { critical: 0, major: 0, minor: 0, info: 0 };
    const dispenserAnomalies: Record<string, number> = {};
    for (const a of active) {
      openByFamily[a.family] += 1;
      openBySeverity[a.severity] = (openBySeverity[a.severity] ?? 0) + 1;
      if (a.family === 'dispenser') dispenserAnomalies[a.rule] = (dispenserAnomalies[a.rule] ?? 0) + 1;
    }
    const trappedNow = new Set(cases.map((c) => c.elevatorId)).size;
    return {
      at: now, dayStart: start, today, open: active.length, openByFamily, openBySeverity, devices, connectedDevices,
      kitchenViolationsByType, trappedNow, cylinderRefusalsToday, dispenserAnomalies,
    };
  }
}
