/**
 * The on-time rates (四率) as the bureau reads them (docs/domain.md §5, §2; docs/rules.md,
 * On-time rates): of the alerts first seen in a period, acknowledged on time and resolved on
 * time; of the 96333 rescue cases alarmed in it, dispatched within 5 min and arrived within
 * the case's deadline. Per family, district and China Standard Time day.
 *
 * What must not be counted, each shown apart:
 * - an alert the system closed without a person (a device back online before anyone
 *   acknowledged it): `systemClosed`, out of both denominators;
 * - a resolve done by the system after a person acknowledged: out of the resolve denominator
 *   (`resolve.system`);
 * - false positives (kitchen detections that were wrong) and false-alarm rescue cases.
 * One boundary everywhere: an action at its deadline is on time; after it, late (the breach
 * fires after the deadline too: deadlines.ts, rescueCase.ts). An alert or case still waiting
 * before its deadline is pending; past it, late.
 */
import type { Family } from '../schemas/index.js';
import { families } from '../schemas/index.js';
import type { AlertStatus } from './alert.js';
import type { DeadlineState } from './deadlines.js';
import type { Severity } from './types.js';
import { rescueDeadlines, stepAt, type RescueCase, type RescuePolicy } from './rescueCase.js';

/** What the rates need of an alert (no evidence, no params). */
export interface AlertOutcome {
  id: string;
  family: Family;
  status: AlertStatus;
  firstSeen: number;
  /** what a drill-down's file names the alert by (the rates do not need them) */
  rule?: string;
  severity?: Severity;
  device: { id?: string; district: string | null };
  deadlines: Pick<DeadlineState, 'ackBy' | 'resolveBy' | 'acknowledgedAt' | 'resolvedAt'>;
  /** who closed it (`system` for the engine); null or absent while open */
  closedBy?: string | null;
}

export type Outcome = 'onTime' | 'late' | 'pending' | 'none' | 'system';
export type AlertClass = 'counted' | 'systemClosed' | 'falsePositive';

export interface RateCount {
  onTime: number;
  late: number;
  /** before its deadline, not yet done */
  pending: number;
  /** no such deadline (info alerts) */
  none: number;
  /** done by the system, not a person: out of the rate */
  system: number;
  /** onTime / (onTime + late), null when nothing was decided */
  rate: number | null;
}

export interface RatesRow {
  /** alerts first seen in the period, all of them */
  alerts: number;
  systemClosed: number;
  falsePositives: number;
  ack: RateCount;
  resolve: RateCount;
  rescue: {
    /** cases alarmed in the period, all of them */
    cases: number;
    falseAlarms: number;
    dispatch: RateCount;
    arrival: RateCount;
  };
}

/** Done at `done` against deadline `by`, as of `now`. */
function judge(by: number | null, done: number | null, now: number): Outcome {
  if (by === null) return 'none';
  if (done !== null) return done <= by ? 'onTime' : 'late';
  return now > by ? 'late' : 'pending';
}

/** How one alert counts: its class, and its acknowledge and resolve outcomes (null when out). */
export function classifyAlert(a: AlertOutcome, now: number): { cls: AlertClass; ack: Outcome | null; resolve: Outcome | null } {
  if (a.status === 'false_positive') return { cls: 'falsePositive', ack: null, resolve: null };
  const d = a.deadlines;
  const bySystem = a.closedBy === 'system';
  if (bySystem && d.acknowledgedAt === null) return { cls: 'systemClosed', ack: null, resolve: null };
  const ack = judge(d.ackBy, d.acknowledgedAt, now);
  const resolve = d.resolveBy === null ? 'none' : bySystem ? 'system' : judge(d.resolveBy, d.resolvedAt, now);
  return { cls: 'counted', ack, resolve };
}

/** How one rescue case counts: out as a false alarm, or its dispatch and arrival outcomes. */
export function classifyCase(c: RescueCase, policy: RescuePolicy, now: number): { falseAlarm: boolean; dispatch: Outcome | null; arrival: Outcome | null } {
  if (c.status === 'false_alarm') return { falseAlarm: true, dispatch: null, arrival: null };
  const d = rescueDeadlines(c, policy);
  return { falseAlarm: false, dispatch: judge(d.dispatchBy, stepAt(c, 'dispatched'), now), arrival: judge(d.arrivalBy, stepAt(c, 'arrived'), now) };
}

const emptyCount = (): RateCount => ({ onTime: 0, late: 0, pending: 0, none: 0, system: 0, rate: null });
export const emptyRates = (): RatesRow => ({
  alerts: 0, systemClosed: 0, falsePositives: 0, ack: emptyCount(), resolve: emptyCount(),
  rescue: { cases: 0, falseAlarms: 0, dispatch: emptyCount(), arrival: emptyCount() },
});

function addAlert(row: RatesRow, k: ReturnType<typeof classifyAlert>): void {
  row.alerts += 1;
  if (k.cls === 'systemClosed') row.systemClosed += 1;
  if (k.cls === 'falsePositive') row.falsePositives += 1;
  if (k.ack) row.ack[k.ack] += 1;
  if (k.resolve) row.resolve[k.resolve] += 1;
}

function addCase(row: RatesRow, k: ReturnType<typeof classifyCase>): void {
  row.rescue.cases += 1;
  if (k.falseAlarm) row.rescue.falseAlarms += 1;
  if (k.dispatch) row.rescue.dispatch[k.dispatch] += 1;
  if (k.arrival) row.rescue.arrival[k.arrival] += 1;
}

function finish(row: RatesRow): RatesRow {
  for (const c of [row.ack, row.resolve, row.rescue.dispatch, row.rescue.arrival]) c.rate = c.onTime + c.late ? c.onTime / (c.onTime + c.late) : null;
  return row;
}

const DAY = 86_400_000;
const CST_OFFSET = 8 * 3_600_000;

/** `YYYY-MM-DD` of the China Standard Time calendar day of `ms`. */
export const cstDay = (ms: number): string => new Date(ms + CST_OFFSET).toISOString().slice(0, 10);

/** Where an alert or case is counted: its family, district (the device's) and CST day. */
export interface RateKeys {
  family: Family;
  district: string | null;
  day: string;
}

export const alertKeys = (a: AlertOutcome): RateKeys => ({ family: a.family, district: a.device.district, day: cstDay(a.firstSeen) });
export const caseKeys = (c: RescueCase): RateKeys => ({ family: 'elevator', district: c.district ?? null, day: cstDay(c.alarmAt) });

/** Pure: the rates of alerts first seen and cases alarmed in [from, to), as of `now`. */
export function onTimeRates(alerts: readonly AlertOutcome[], cases: readonly RescueCase[], policy: RescuePolicy, from: number, to: number, now: number) {
  const total = emptyRates();
  const byFamily = new Map<string, RatesRow>();
  const byDistrict = new Map<string, RatesRow>();
  const byDay = new Map<string, RatesRow>();
  // every day of the period appears, also days without alerts, so the chart has no gaps
  for (let t = from; t < to && byDay.size < 400; t += DAY) byDay.set(cstDay(t), emptyRates());
  const endDay = cstDay(to - 1);
  if (!byDay.has(endDay)) byDay.set(endDay, emptyRates());
  const rows = (k: RateKeys): RatesRow[] => {
    const get = (m: Map<string, RatesRow>, key: string) => m.get(key) ?? m.set(key, emptyRates()).get(key)!;
    return [total, get(byFamily, k.family), get(byDistrict, k.district ?? ''), get(byDay, k.day)];
  };
  for (const a of alerts) {
    if (a.firstSeen < from || a.firstSeen >= to) continue;
    const k = classifyAlert(a, now);
    for (const row of rows(alertKeys(a))) addAlert(row, k);
  }
  for (const c of cases) {
    if (c.alarmAt < from || c.alarmAt >= to) continue;
    const k = classifyCase(c, policy, now);
    for (const row of rows(caseKeys(c))) addCase(row, k);
  }
  return {
    from, to,
    total: finish(total),
    byFamily: families.map((family) => ({ family, ...finish(byFamily.get(family) ?? emptyRates()) })),
    byDistrict: [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, r]) => ({ district: district || null, ...finish(r) })),
    byDay: [...byDay].sort(([a], [b]) => a.localeCompare(b)).map(([day, r]) => ({ day, ...finish(r) })),
  };
}

/** What a figure of the rates is made of: a measure, and for the rates one outcome of it. */
export type DrillMeasure = 'alerts' | 'systemClosed' | 'falsePositives' | 'ack' | 'resolve' | 'cases' | 'falseAlarms' | 'dispatch' | 'arrival';
export const drillMeasures: readonly DrillMeasure[] = ['alerts', 'systemClosed', 'falsePositives', 'ack', 'resolve', 'cases', 'falseAlarms', 'dispatch', 'arrival'];
export const outcomes: readonly Outcome[] = ['onTime', 'late', 'pending', 'none', 'system'];

export interface DrillQuery {
  measure: DrillMeasure;
  /** for ack, resolve, dispatch and arrival: which outcome */
  outcome?: Outcome;
  family?: Family;
  /** exact district; '' for alerts of devices without one */
  district?: string;
  day?: string;
}

/** The alerts or cases behind one figure of onTimeRates (the same counting, filtered): their ids, in time order. */
export function drillDown(alerts: readonly AlertOutcome[], cases: readonly RescueCase[], policy: RescuePolicy, from: number, to: number, now: number, q: DrillQuery): { kind: 'alert' | 'rescueCase'; ids: string[] } {
  const keysMatch = (k: RateKeys) => (q.family === undefined || k.family === q.family) && (q.district === undefined || (k.district ?? '') === q.district) && (q.day === undefined || k.day === q.day);
  if (q.measure === 'cases' || q.measure === 'falseAlarms' || q.measure === 'dispatch' || q.measure === 'arrival') {
    const ids = cases.filter((c) => c.alarmAt >= from && c.alarmAt < to && keysMatch(caseKeys(c))).filter((c) => {
      const k = classifyCase(c, policy, now);
      if (q.measure === 'cases') return true;
      if (q.measure === 'falseAlarms') return k.falseAlarm;
      const o = q.measure === 'dispatch' ? k.dispatch : k.arrival;
      return o !== null && (q.outcome === undefined || o === q.outcome);
    }).sort((a, b) => a.alarmAt - b.alarmAt || a.id.localeCompare(b.id)).map((c) => c.id);
    return { kind: 'rescueCase', ids };
  }
  const ids = alerts.filter((a) => a.firstSeen >= from && a.firstSeen < to && keysMatch(alertKeys(a))).filter((a) => {
    const k = classifyAlert(a, now);
    if (q.measure === 'alerts') return true;
    if (q.measure === 'systemClosed') return k.cls === 'systemClosed';
    if (q.measure === 'falsePositives') return k.cls === 'falsePositive';
    const o = q.measure === 'ack' ? k.ack : k.resolve;
    return o !== null && (q.outcome === undefined || o === q.outcome);
  }).sort((a, b) => a.firstSeen - b.firstSeen || a.id.localeCompare(b.id)).map((a) => a.id);
  return { kind: 'alert', ids };
}
