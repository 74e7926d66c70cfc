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

export interface RescueStepRecord {
  step: RescueStatus;
  at: number;
  by: string;
  note?: string;
  /** when the step was recorded, if `at` was given for an earlier moment */
  recordedAt: number;
}

export interface RescuePolicy {
  dispatchWithinMs: number;
  unitAckWithinMs: number;
  arrivalWithinMs: number;
  arrivalWarningAtMs: number;
}

const MIN = 60_000;
export const defaultRescuePolicy: RescuePolicy = {
  dispatchWithinMs: 5 * MIN,
  unitAckWithinMs: 1 * MIN,
  arrivalWithinMs: 30 * MIN,
  arrivalWarningAtMs: 20 * MIN,
};

export type RescueEvent = 'dispatch_breached' | 'unit_ack_breached' | 'arrival_warning' | 'arrival_breached';

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
  updatedAt: number;
}

export function openRescueCase(id: string, elevatorId: string, alertId: string, alarmAt: number, maintenanceUnit: string | null, arrivalWithinMs: number): RescueCase {
  return {
    id, elevatorId, alertId, status: 'alarmed', alarmAt, maintenanceUnit, arrivalWithinMs, fired: [], updatedAt: alarmAt,
    steps: [{ step: 'alarmed', at: alarmAt, by: 'system', recordedAt: alarmAt }],
  };
}

export type StepRefusal = { refused: 'case_closed' | 'step_out_of_order' | 'time_in_future' | 'time_before_previous'; message: string };

export const isFinished = (c: RescueCase): boolean => c.status === 'closed' || c.status === 'false_alarm';

/**
 * Record a step. Steps go forward only (a step may be skipped when it was not reported, e.g.
 * a unit that arrives without acknowledging first); `false_alarm` ends an unfinished case
 * from any step; `closed` needs the passengers released first. `at` (when it happened) may be
 * earlier than now, never in the future, never before the previous step.
 */
export function recordStep(c: RescueCase, step: RescueStatus, by: string, now: number, at: number = now, note?: string): RescueCase | StepRefusal {
  if (isFinished(c)) return { refused: 'case_closed', message: `case ${c.id} is ${c.status}` };
  if (at > now) return { refused: 'time_in_future', message: 'a step cannot be recorded for a time in the future' };
  const last = c.steps[c.steps.length - 1]!;
  if (at < last.at) return { refused: 'time_before_previous', message: `the previous step (${last.step}) was at ${new Date(last.at).toISOString()}` };
  if (step !== 'false_alarm') {
    const from = rescueSteps.indexOf(c.status as RescueStep);
    const to = rescueSteps.indexOf(step);
    if (to <= from) return { refused: 'step_out_of_order', message: `case is ${c.status}; ${step} is not a step forward` };
    if (step === 'closed' && from < rescueSteps.indexOf('released')) {
      return { refused: 'step_out_of_order', message: 'a case closes after the passengers are released (or as a false alarm)' };
    }
  }
  return {
    ...c,
    status: step,
    steps: [...c.steps, { step, at, by, recordedAt: now, ...(note ? { note } : {}) }],
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
    // a longer per-elevator deadline moves the warning by the same amount
    arrivalWarnAt: c.alarmAt + policy.arrivalWarningAtMs + (c.arrivalWithinMs - policy.arrivalWithinMs),
    arrivalBy: c.alarmAt + c.arrivalWithinMs,
  };
}

/** Deadline events due by `now`, each fired once per case. */
export function evaluateRescue(c: RescueCase, now: number, policy: RescuePolicy): { state: RescueCase; events: RescueEvent[] } {
  if (isFinished(c)) return { state: c, events: [] };
  const d = rescueDeadlines(c, policy);
  const reached = (step: RescueStep) => rescueSteps.indexOf(c.status as RescueStep) >= rescueSteps.indexOf(step);
  const due: RescueEvent[] = [];
  if (!reached('dispatched') && now >= d.dispatchBy) due.push('dispatch_breached');
  if (d.unitAckBy !== null && !reached('acknowledged') && now >= d.unitAckBy) due.push('unit_ack_breached');
  if (!reached('arrived') && now >= d.arrivalWarnAt && now < d.arrivalBy) due.push('arrival_warning');
  if (!reached('arrived') && now >= d.arrivalBy) due.push('arrival_breached');
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
