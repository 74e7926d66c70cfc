/**
 * The tables the exports send (docs/api.md, Table exports): alerts, 96333 rescue cases, the
 * on-time rates and the alerts or cases behind one figure, each as a header and rows for
 * tableOut.ts sendTable. Columns are named in the API's words (the JSON's field names), times
 * are ISO 8601 UTC text as in every export, counts and minutes are numbers, outcomes the words
 * of the rates (`onTime`, `late`, `pending`). Pure.
 */
import type { Alert } from '../../core/alerts/alert.js';
import { classifyAlert, classifyCase, cstDay, type AlertOutcome, type RateCount, type RatesRow } from '../../core/alerts/onTime.js';
import { elapsed, rescueDeadlines, stepAt, type RescueCase, type RescuePolicy, type RescueStatus } from '../../core/alerts/rescueCase.js';
import { CodedError } from '../../core/codes.js';
import type { XlsxCell } from './xlsxOut.js';

/**
 * Rows in one exported file at most. A file is built in memory, a slice of rows at a time with
 * the event loop running between slices (tableOut.ts: an XLSX of 50,000 alerts is a few MB and
 * holds about 100 MB while it is built), so the bound is what one export may cost in memory. Past
 * it the export is refused, never cut short: a file always holds everything its filters name.
 */
export const EXPORT_MAX_ROWS = 50_000;

export interface Table {
  header: string[];
  rows: XlsxCell[][];
}

/** The refusal past EXPORT_MAX_ROWS (400 export_too_large), saying what to narrow. */
export function tooLarge(what: string, narrow: string): CodedError {
  return new CodedError('export_too_large', `more than ${EXPORT_MAX_ROWS} ${what} match; narrow ${narrow} and export again`, { maxRows: EXPORT_MAX_ROWS });
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const CST = 8 * 3_600_000;

/**
 * A file name: `base` and the China Standard Time minute it was made (`alerts-20261123-0805`),
 * so the exports of a day do not overwrite each other in the Downloads folder.
 */
export function stampedName(base: string, now: number): string {
  const s = new Date(now + CST).toISOString();
  return `${base}-${s.slice(0, 10).replace(/-/g, '')}-${s.slice(11, 16).replace(':', '')}`;
}

/** A file name for a period [from, to): `base` and its first and last CST day (`on-time-rates-20261116-20261122`). */
export function periodName(base: string, from: number, to: number): string {
  return `${base}-${cstDay(from).replace(/-/g, '')}-${cstDay(Math.max(from, to - 1)).replace(/-/g, '')}`;
}

export const alertHeader = ['id', 'family', 'rule', 'condition', 'severity', 'status', 'deviceId', 'deviceName', 'district', 'firstSeen', 'lastSeen', 'count',
  'ackBy', 'acknowledgedAt', 'resolveBy', 'resolvedAt', 'closedBy', 'assignee', 'rescueCaseId', 'summary'];

/** An alert as a row of alertHeader: the device as it was when the alert opened (its district is the one the scope reads). */
export function alertRow(a: Alert): XlsxCell[] {
  const d = a.deadlines;
  return [a.id, a.family, a.rule, a.condition, a.severity, a.status, a.device.id, a.device.name, a.device.district, iso(a.firstSeen), iso(a.lastSeen), a.count,
    iso(d.ackBy), iso(d.acknowledgedAt), iso(d.resolveBy), iso(d.resolvedAt), a.closedBy ?? null, a.assignee, a.rescueCaseId ?? null, a.summary];
}

export const caseHeader = ['id', 'alertId', 'elevatorId', 'elevatorName', 'district', 'source', 'status', 'alarmAt',
  'dispatchedAt', 'unitAcknowledgedAt', 'arrivedAt', 'releasedAt', 'followedUpAt', 'closedAt', 'falseAlarmAt',
  'minutesToDispatch', 'minutesToArrival', 'minutesToRelease', 'minutesElapsed',
  'dispatchBy', 'dispatchOutcome', 'arrivalBy', 'arrivalOutcome', 'maintenanceUnit', 'technician', 'passengersReleased', 'falseAlarmReason'];

/** What the case table reads of the registry: the elevator's name and district now. */
export type ElevatorLookup = (id: string) => { name: string | null; district: string | null } | undefined;

/** Minutes to one decimal, as a dispatcher reads a duration. */
const minutes = (ms: number | null): number | null => (ms === null ? null : Math.round(ms / 6000) / 10);

/**
 * A rescue case as a row of caseHeader, as of `now`: every step's time, the minutes from the
 * alarm, and whether the dispatch (5 min) and the arrival deadline were met, judged exactly as
 * the on-time rates judge them (a false alarm: neither).
 */
export function caseRow(c: RescueCase, policy: RescuePolicy, now: number, elevator: ElevatorLookup): XlsxCell[] {
  const step = (s: RescueStatus) => c.steps.find((x) => x.step === s);
  const e = elapsed(c, now);
  const d = rescueDeadlines(c, policy);
  const k = classifyCase(c, policy, now);
  const lift = elevator(c.elevatorId);
  const dispatched = step('dispatched');
  return [c.id, c.alertId, c.elevatorId, lift?.name ?? null, c.district ?? lift?.district ?? null, c.source ?? 'device', c.status, iso(c.alarmAt),
    iso(stepAt(c, 'dispatched')), iso(stepAt(c, 'acknowledged')), iso(stepAt(c, 'arrived')), iso(stepAt(c, 'released')), iso(stepAt(c, 'followed_up')),
    iso(stepAt(c, 'closed')), iso(step('false_alarm')?.at),
    minutes(e.toDispatch), minutes(e.toArrival), minutes(e.toRelease), minutes(e.sinceAlarm),
    iso(d.dispatchBy), k.dispatch, iso(d.arrivalBy), k.arrival,
    dispatched?.details?.unit ?? c.maintenanceUnit, dispatched?.details?.technician ?? null, step('released')?.details?.passengersReleased ?? null,
    step('false_alarm')?.note ?? null];
}

const RATES = ['ack', 'resolve', 'dispatch', 'arrival'] as const;
const COUNTS = ['OnTime', 'Late', 'Pending', 'None', 'System'] as const;
const rateColumns = (m: string) => [`${m}RatePct`, ...COUNTS.map((c) => `${m}${c}`)];

export const ratesHeader = ['group', 'key', 'alerts', 'systemClosed', 'falsePositives', ...rateColumns('ack'), ...rateColumns('resolve'),
  'cases', 'falseAlarms', ...rateColumns('dispatch'), ...rateColumns('arrival')];

/** A rate as the statistics view shows it: a percentage to one decimal (null: nothing decided). */
const pct = (r: number | null): number | null => (r === null ? null : Math.round(r * 1000) / 10);
const rateCells = (c: RateCount): XlsxCell[] => [pct(c.rate), c.onTime, c.late, c.pending, c.none, c.system];

function ratesRow(group: string, key: string | null, r: RatesRow): XlsxCell[] {
  const of = { ack: r.ack, resolve: r.resolve, dispatch: r.rescue.dispatch, arrival: r.rescue.arrival };
  return [group, key, r.alerts, r.systemClosed, r.falsePositives, ...rateCells(of[RATES[0]]), ...rateCells(of[RATES[1]]),
    r.rescue.cases, r.rescue.falseAlarms, ...rateCells(of[RATES[2]]), ...rateCells(of[RATES[3]])];
}

/**
 * The rates of GET /api/stats/on-time as one table, in the statistics view's order: the total,
 * then one row per family, per district (key empty: devices without one) and per CST day.
 */
export function ratesTable(s: { total: RatesRow; byFamily: Array<RatesRow & { family: string }>; byDistrict: Array<RatesRow & { district: string | null }>; byDay: Array<RatesRow & { day: string }> }): Table {
  return {
    header: ratesHeader,
    rows: [
      ratesRow('total', null, s.total),
      ...s.byFamily.map((r) => ratesRow('family', r.family, r)),
      ...s.byDistrict.map((r) => ratesRow('district', r.district, r)),
      ...s.byDay.map((r) => ratesRow('day', r.day, r)),
    ],
  };
}

export const outcomeHeader = ['id', 'family', 'rule', 'severity', 'deviceId', 'deviceName', 'district', 'status', 'counted', 'firstSeen',
  'ackBy', 'acknowledgedAt', 'ackOutcome', 'resolveBy', 'resolvedAt', 'resolveOutcome', 'closedBy'];

/**
 * An alert behind a figure as a row of outcomeHeader: how it counts (`counted`, `systemClosed`,
 * `falsePositive`) and its acknowledge and resolve outcomes as of `now` (empty when out of the rate).
 */
export function outcomeRow(a: AlertOutcome, now: number, deviceName: (id: string) => string | null | undefined): XlsxCell[] {
  const k = classifyAlert(a, now);
  const d = a.deadlines;
  return [a.id, a.family, a.rule ?? null, a.severity ?? null, a.device.id ?? null, a.device.id ? deviceName(a.device.id) ?? null : null, a.device.district,
    a.status, k.cls, iso(a.firstSeen), iso(d.ackBy), iso(d.acknowledgedAt), k.ack, iso(d.resolveBy), iso(d.resolvedAt), k.resolve, a.closedBy ?? null];
}

/**
 * The items behind a figure (GET /api/stats/on-time/items `ids`, in time order) as a table: the
 * alerts with how they count, or the rescue cases as caseRow has them.
 */
export function itemsTable(kind: 'alert' | 'rescueCase', ids: readonly string[], alerts: readonly AlertOutcome[], cases: readonly RescueCase[],
  policy: RescuePolicy, now: number, device: ElevatorLookup): Table {
  if (kind === 'rescueCase') {
    const byId = new Map(cases.map((c) => [c.id, c]));
    return { header: caseHeader, rows: ids.map((id) => caseRow(byId.get(id)!, policy, now, device)) };
  }
  const byId = new Map(alerts.map((a) => [a.id, a]));
  return { header: outcomeHeader, rows: ids.map((id) => outcomeRow(byId.get(id)!, now, (d) => device(d)?.name)) };
}
