/**
 * The 96333 elevator rescue case (docs/domain.md §2): alarm received -> dispatched to the
 * maintenance unit -> unit acknowledges -> arrives on site -> passengers released ->
 * follow-up call -> closed, or false alarm. Each step is timestamped by the person who
 * records it [reg, provincial 96333 rules]. Deadlines [reg, TSG T5002 and city rules]: the
 * centre dispatches within 5 min of the alarm, the unit acknowledges within 1 min of the
 * dispatch, and arrives within 30 min (60 min outside city districts; per-elevator override),
 * with a warning at 20 min and escalation on each breach.
 *
 * Arrival is measured from the alarm, not from the dispatch: never later than the
 * regulation's "from notification" (dispatch comes after the alarm), and it is the time the
 * trapped passengers actually wait, so the countdown never jumps when the dispatch is recorded.
 */
export const rescueSteps = ['alarmed', 'dispatched', 'acknowledged', 'arrived', 'released', 'followed_up', 'closed'] as const;
export type RescueStep = (typeof rescueSteps)[number];
export type RescueStatus = RescueStep | 'false_alarm';

/** What a dispatcher records with a step (each optional; free text is shown as text, never HTML). */
export interface StepDetails {
  /** the maintenance unit dispatched */
  unit?: string;
  technician?: string;
  /** the technician's or unit's phone */
  phone?: string;
  passengersReleased?: number;
  injuries?: string;
}

export interface RescueStepRecord {
  step: RescueStatus;
  at: number;
  by: string;
  /** the reason, for a false alarm and for a step recorded after its deadline */
  note?: string;
  details?: StepDetails;
  /** when the step was recorded, if `at` was given for an earlier moment */
  recordedAt: number;
}

/** How the trapping was reported: by the elevator's terminal, or by a phone call to 96333. */
export type RescueSource = 'device' | 'phone';

/** A phone report's particulars. */
export interface PhoneReport {
  callerPhone?: string;
  /** the floor the car is stuck at, as the caller says it (B1, 12, 12-13) */
  floor?: string;
  passengers?: number;
  note?: string;
}

export interface RescuePolicy {
  dispatchWithinMs: number;
  unitAckWithinMs: number;
  arrivalWithinMs: number;
  arrivalWarningAtMs: number;
  /** a trapping reported again (terminal or phone) within this of a case's alarm, before the release, joins that case */
  mergeWindowMs: number;
  /** an escalation not yet acknowledged is notified again this often */
  renotifyEveryMs: number;
  /**
   * who a breach escalates to, per district: the chain of the longest matching district prefix
   * (`*` for any); the first breach goes to the first contact, each further breach one up
   */
  escalation: Readonly<Record<string, readonly EscalationContact[]>>;
}

/** Someone a breach escalates to (a duty leader, the bureau). */
export interface EscalationContact {
  name: string;
  phone?: string;
}

/** A breach escalated to a contact, notified until someone acknowledges it. */
export interface Escalation {
  /** 0: the first contact of the chain */
  level: number;
  to: EscalationContact;
  /** the breach that raised it */
  reason: RescueEvent;
  at: number;
  lastNotifiedAt: number;
  /** notifications sent so far (the first included) */
  notifications: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
}

const MIN = 60_000;
export const defaultRescuePolicy: RescuePolicy = {
  dispatchWithinMs: 5 * MIN,
  unitAckWithinMs: 1 * MIN,
  arrivalWithinMs: 30 * MIN,
  arrivalWarningAtMs: 20 * MIN,
  mergeWindowMs: 30 * MIN,
  renotifyEveryMs: 5 * MIN,
  escalation: { '*': [{ name: '值班领导 (duty leader)' }, { name: '市场监管局 (bureau)' }] },
};

/** The escalation chain for a district: the longest matching prefix's, else `*`'s, else none. */
export function escalationChain(policy: RescuePolicy, district: string | null): readonly EscalationContact[] {
  let best: string | null = null;
  for (const prefix of Object.keys(policy.escalation)) {
    if (prefix === '*' || district === null || !district.startsWith(prefix)) continue;
    if (best === null || prefix.length > best.length) best = prefix;
  }
  return policy.escalation[best ?? '*'] ?? [];
}

/**
 * A phone call to 96333 reporting a trapping: the same raise as the terminal's (the trapped
 * rule's id, critical, its own alert), so deadlines, pushes and the rates treat both alike.
 */
export function phoneTrapping(rule: string, elevatorId: string, report: PhoneReport, at: number): {
  type: 'raise'; rule: string; family: 'elevator'; deviceId: string; condition: string; severity: 'critical'; windowMs: number; summary: string;
  params: Record<string, string | number | boolean | null>; evidence: { seqs: number[]; values: Record<string, string | number | boolean | null> }; at: number;
} {
  const where = report.floor ? `floor ${report.floor}` : 'unknown floor';
  return {
    type: 'raise', rule, family: 'elevator', deviceId: elevatorId, condition: '', severity: 'critical', windowMs: 0,
    summary: `Passenger trapped in elevator ${elevatorId} at ${where} (phone report to 96333)`,
    params: { detectedBy: 'phone', floor: report.floor ?? null, passengers: report.passengers ?? null },
    evidence: { seqs: [], values: { detectedBy: 'phone', floor: report.floor ?? null } },
    at,
  };
}

export type RescueEvent = 'dispatch_breached' | 'unit_ack_breached' | 'arrival_warning' | 'arrival_breached' | 'escalated' | 'escalation_renotified';

const breaches: readonly RescueEvent[] = ['dispatch_breached', 'unit_ack_breached', 'arrival_breached'];

export interface RescueCase {
  id: string;
  elevatorId: string;
  alertId: string;
  status: RescueStatus;
  alarmAt: number;
  steps: RescueStepRecord[];
  maintenanceUnit: string | null;
  /** the arrival deadline for this elevator (override, e.g. 60 min rural) */
  arrivalWithinMs: number;
  fired: RescueEvent[];
  /** the elevator's district (for the rates per district); absent on cases from before it was kept */
  district?: string | null;
  /** absent on cases from before it was kept: the device */
  source?: RescueSource;
  /** a phone call's particulars (the first call, and any merged into the case) */
  reports?: PhoneReport[];
  /** phone calls about this incident, all of them (`reports` keeps MAX_CASE_REPORTS) */
  reportCount?: number;
  /** who breaches escalate to, fixed when the case opens (the district's chain) */
  escalationChain?: EscalationContact[];
  escalations?: Escalation[];
  updatedAt: number;
}

export interface OpenCaseInfo {
  escalationChain?: readonly EscalationContact[];
  maintenanceUnit: string | null;
  arrivalWithinMs: number;
  district: string | null;
  source: RescueSource;
  /** who opened it: `system` for a device's alarm, the dispatcher for a phone call */
  by: string;
  report?: PhoneReport;
}

export function openRescueCase(id: string, elevatorId: string, alertId: string, alarmAt: number, info: OpenCaseInfo): RescueCase {
  return {
    id, elevatorId, alertId, status: 'alarmed', alarmAt, maintenanceUnit: info.maintenanceUnit, arrivalWithinMs: info.arrivalWithinMs, fired: [],
    district: info.district, source: info.source, ...(info.report ? { reports: [info.report], reportCount: 1 } : {}), updatedAt: alarmAt,
    escalationChain: [...(info.escalationChain ?? [])], escalations: [],
    steps: [{ step: 'alarmed', at: alarmAt, by: info.by, recordedAt: alarmAt }],
  };
}

/**
 * The case a new trapping of an elevator belongs to: one of its unfinished cases whose
 * passengers are not yet released, alarmed within `windowMs` (the same incident reported
 * again, by the terminal or by phone: no second dispatch). After the release, or past the
 * window, a trapping is a new incident with a case of its own.
 */
export function caseToMerge(cases: Iterable<RescueCase>, elevatorId: string, at: number, windowMs: number): RescueCase | null {
  let found: RescueCase | null = null;
  for (const c of cases) {
    if (c.elevatorId !== elevatorId || isFinished(c) || reachedStep(c, 'released') || at - c.alarmAt > windowMs) continue;
    if (!found || c.alarmAt > found.alarmAt) found = c;
  }
  return found;
}

/**
 * Phone reports a case keeps: the first call (the floor and passengers it gave) and the newest
 * ones. More calls about one incident are counted (`reportCount`), not stored: a case record
 * is rewritten at every change and pushed to every console, so it must not grow with callers.
 */
export const MAX_CASE_REPORTS = 20;

/** A phone report merged into a running case: kept with it (within MAX_CASE_REPORTS), the timeline unchanged. */
export function addReport(c: RescueCase, report: PhoneReport, now: number): RescueCase {
  const all = [...(c.reports ?? []), report];
  const reports = all.length <= MAX_CASE_REPORTS ? all : [all[0]!, ...all.slice(-(MAX_CASE_REPORTS - 1))];
  return { ...c, reports, reportCount: (c.reportCount ?? c.reports?.length ?? 0) + 1, updatedAt: now };
}

/** Why a step is refused: `details.reason` of the 409 rescue_step_refused (docs/error-codes.md). */
export const stepRefusalReasons = ['case_closed', 'step_out_of_order', 'step_skipped', 'reason_required', 'time_in_future', 'time_before_previous'] as const;

export type StepRefusal = { refused: (typeof stepRefusalReasons)[number]; message: string };

/**
 * Steps that cannot be skipped: the dispatch (the centre's act the 5-minute rate measures; a
 * late record gives its real time with `at`), the arrival and the release. The unit's
 * acknowledgement and the follow-up call may be skipped when they were not reported.
 */
const requiredSteps: readonly RescueStep[] = ['dispatched', 'arrived', 'released'];

const reachedStep = (c: RescueCase, step: RescueStep): boolean => rescueSteps.indexOf(c.status as RescueStep) >= rescueSteps.indexOf(step);

/** The deadline a step is measured against (null: none), for the reason a late step needs. */
function stepDeadline(c: RescueCase, step: RescueStatus, policy: RescuePolicy): number | null {
  const d = rescueDeadlines(c, policy);
  return step === 'dispatched' ? d.dispatchBy : step === 'acknowledged' ? d.unitAckBy : step === 'arrived' ? d.arrivalBy : null;
}

export const isFinished = (c: RescueCase): boolean => c.status === 'closed' || c.status === 'false_alarm';

/**
 * Record a step. Steps go forward only; the dispatch, the arrival and the release cannot be
 * skipped (requiredSteps), the unit's acknowledgement and the follow-up may be; `false_alarm`
 * ends an unfinished case from any step and needs a reason, as does a step recorded after its
 * deadline (`note`). `at` (when it happened) may be earlier than now, never in the future,
 * never before the previous step.
 */
export function recordStep(
  c: RescueCase, step: RescueStatus, by: string, now: number, at: number = now, note?: string, details?: StepDetails, policy: RescuePolicy = defaultRescuePolicy,
): RescueCase | StepRefusal {
  if (isFinished(c)) return { refused: 'case_closed', message: `case ${c.id} is ${c.status}` };
  if (at > now) return { refused: 'time_in_future', message: 'a step cannot be recorded for a time in the future' };
  const last = c.steps[c.steps.length - 1]!;
  if (at < last.at) return { refused: 'time_before_previous', message: `the previous step (${last.step}) was at ${new Date(last.at).toISOString()}` };
  const reason = note?.trim() ? note.trim() : undefined;
  if (step === 'false_alarm') {
    if (!reason) return { refused: 'reason_required', message: 'a false alarm needs a reason (what the caller or the unit found)' };
  } else {
    const from = rescueSteps.indexOf(c.status as RescueStep);
    const to = rescueSteps.indexOf(step);
    if (to <= from) return { refused: 'step_out_of_order', message: `case is ${c.status}; ${step} is not a step forward` };
    const skipped = requiredSteps.find((s) => rescueSteps.indexOf(s) > from && rescueSteps.indexOf(s) < to);
    if (skipped) return { refused: 'step_skipped', message: `case is ${c.status}; record ${skipped} first (with its real time as "at" if it was earlier)` };
    const due = stepDeadline(c, step, policy);
    if (due !== null && at > due && !reason) {
      return { refused: 'reason_required', message: `${step} at ${new Date(at).toISOString()} is after its deadline (${new Date(due).toISOString()}): give the reason` };
    }
  }
  return {
    ...c,
    status: step,
    steps: [...c.steps, { step, at, by, recordedAt: now, ...(reason ? { note: reason } : {}), ...(details && Object.keys(details).length ? { details } : {}) }],
    updatedAt: now,
  };
}

export const stepAt = (c: RescueCase, step: RescueStep): number | null => c.steps.find((s) => s.step === step)?.at ?? null;

/** Deadline moments of a case under a policy. */
export function rescueDeadlines(c: RescueCase, policy: RescuePolicy): { dispatchBy: number; unitAckBy: number | null; arrivalWarnAt: number; arrivalBy: number } {
  const dispatched = stepAt(c, 'dispatched');
  return {
    dispatchBy: c.alarmAt + policy.dispatchWithinMs,
    unitAckBy: dispatched === null ? null : dispatched + policy.unitAckWithinMs,
    // a longer per-elevator deadline moves the warning by the same amount (60 min: at 50); a
    // shorter one never moves it before the same share of its deadline (5 min: at 3:20, not before the alarm)
    arrivalWarnAt: c.alarmAt + Math.max(
      policy.arrivalWarningAtMs + (c.arrivalWithinMs - policy.arrivalWithinMs),
      Math.round((c.arrivalWithinMs * policy.arrivalWarningAtMs) / policy.arrivalWithinMs),
    ),
    arrivalBy: c.alarmAt + c.arrivalWithinMs,
  };
}

/**
 * Deadline events due by `now`, each fired once per case; a breach only after its moment (a
 * step at it is on time). Each breach escalates one level up the case's chain (`escalated`);
 * an escalation nobody acknowledged is notified again every `renotifyEveryMs`
 * (`escalation_renotified`, one per evaluation). A finished case stops all of it.
 */
export function evaluateRescue(c: RescueCase, now: number, policy: RescuePolicy): { state: RescueCase; events: RescueEvent[] } {
  if (isFinished(c)) return { state: c, events: [] };
  const deadlines = evaluateDeadlineEvents(c, now, policy);
  const escalated = escalateBreaches(deadlines.state, deadlines.events, now);
  const renotified = renotify(escalated.state, now, policy);
  const events = [...deadlines.events, ...escalated.events, ...renotified.events];
  return events.length ? { state: renotified.state, events } : { state: c, events };
}

function escalateBreaches(c: RescueCase, events: readonly RescueEvent[], now: number): { state: RescueCase; events: RescueEvent[] } {
  const chain = c.escalationChain ?? [];
  let escalations = c.escalations ?? [];
  const out: RescueEvent[] = [];
  for (const e of events) {
    if (!breaches.includes(e)) continue;
    // past the end of the chain the last contact is notified again, not a new level
    const level = Math.min(escalations.length, chain.length - 1);
    if (level < 0) continue;
    if (level < escalations.length) continue;
    escalations = [...escalations, { level, to: chain[level]!, reason: e, at: now, lastNotifiedAt: now, notifications: 1, acknowledgedAt: null, acknowledgedBy: null }];
    out.push('escalated');
  }
  return out.length ? { state: { ...c, escalations }, events: out } : { state: c, events: [] };
}

function renotify(c: RescueCase, now: number, policy: RescuePolicy): { state: RescueCase; events: RescueEvent[] } {
  const list = c.escalations ?? [];
  let changed = false;
  const escalations = list.map((x) => {
    if (x.acknowledgedAt !== null || now - x.lastNotifiedAt < policy.renotifyEveryMs) return x;
    changed = true;
    return { ...x, lastNotifiedAt: now, notifications: x.notifications + 1 };
  });
  return changed ? { state: { ...c, escalations }, events: ['escalation_renotified'] } : { state: c, events: [] };
}

/** An escalation acknowledged by the person it reached (or someone for them): its notifications stop. */
export function acknowledgeEscalation(c: RescueCase, level: number, by: string, now: number): RescueCase | { refused: 'no_escalation' | 'already_acknowledged'; message: string } {
  const x = (c.escalations ?? []).find((e) => e.level === level);
  if (!x) return { refused: 'no_escalation', message: `case ${c.id} has no escalation at level ${level}` };
  if (x.acknowledgedAt !== null) return { refused: 'already_acknowledged', message: `acknowledged by ${x.acknowledgedBy} already` };
  return { ...c, escalations: (c.escalations ?? []).map((e) => (e === x ? { ...e, acknowledgedAt: now, acknowledgedBy: by } : e)), updatedAt: now };
}

function evaluateDeadlineEvents(c: RescueCase, now: number, policy: RescuePolicy): { state: RescueCase; events: RescueEvent[] } {
  const d = rescueDeadlines(c, policy);
  const reached = (step: RescueStep) => rescueSteps.indexOf(c.status as RescueStep) >= rescueSteps.indexOf(step);
  const due: RescueEvent[] = [];
  if (!reached('dispatched') && now > d.dispatchBy) due.push('dispatch_breached');
  if (d.unitAckBy !== null && !reached('acknowledged') && now > d.unitAckBy) due.push('unit_ack_breached');
  if (!reached('arrived') && now >= d.arrivalWarnAt && now <= d.arrivalBy) due.push('arrival_warning');
  if (!reached('arrived') && now > d.arrivalBy) due.push('arrival_breached');
  const events = due.filter((e) => !c.fired.includes(e) && !(e === 'arrival_warning' && c.fired.includes('arrival_breached')));
  return events.length ? { state: { ...c, fired: [...c.fired, ...events] }, events } : { state: c, events };
}

/** Elapsed times for the dispatcher console, in ms (null when the step has not happened). */
export function elapsed(c: RescueCase, now: number): { sinceAlarm: number; toDispatch: number | null; toArrival: number | null; toRelease: number | null } {
  const since = (step: RescueStep) => {
    const t = stepAt(c, step);
    return t === null ? null : t - c.alarmAt;
  };
  const end = isFinished(c) ? c.steps[c.steps.length - 1]!.at : now;
  return { sinceAlarm: end - c.alarmAt, toDispatch: since('dispatched'), toArrival: since('arrived'), toRelease: since('released') };
}
