/**
 * Handling deadlines (超期预警, docs/domain.md §5): per severity an acknowledge deadline and
 * a resolve deadline, a warning before each, an escalation on breach, and reminders until
 * the alert is acknowledged. Complaint-handling measures run on the same pattern [reg, SAMR
 * complaint-handling measures]. Pure: evaluated on the engine's clock with `now` passed in.
 */
import type { Severity } from './types.js';

export interface SeverityDeadline {
  ackMs: number;
  resolveMs: number;
}

export interface DeadlinePolicy {
  /** null: no deadlines for that severity (info) */
  bySeverity: Record<Severity, SeverityDeadline | null>;
  /** a warning goes out when this fraction of a deadline has passed */
  warnAtFraction: number;
  /** after an acknowledge breach, remind this often until acknowledged */
  reminderEveryMs: number;
  /**
   * alerts handled by rectification (core/alerts/rectification.ts): acknowledge = the store's
   * answer, resolve = the bureau's re-check; defaultRectification when absent
   */
  rectification?: SeverityDeadline;
}

/** The store answers within 2 h; the bureau re-checks 72 h after the warning [practice, Chongqing; docs/domain.md §1]. */
export const defaultRectification: SeverityDeadline = { ackMs: 2 * 60 * 60_000, resolveMs: 72 * 60 * 60_000 };

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** docs/domain.md §5 defaults: critical 5 min / 2 h, major 30 min / 24 h, minor 4 h / 7 days. */
export const defaultDeadlinePolicy: DeadlinePolicy = {
  bySeverity: {
    critical: { ackMs: 5 * MIN, resolveMs: 2 * HOUR },
    major: { ackMs: 30 * MIN, resolveMs: 24 * HOUR },
    minor: { ackMs: 4 * HOUR, resolveMs: 7 * DAY },
    info: null,
  },
  warnAtFraction: 0.8,
  reminderEveryMs: 5 * MIN,
};

export interface DeadlineState {
  ackBy: number | null;
  resolveBy: number | null;
  ackWarnAt: number | null;
  resolveWarnAt: number | null;
  acknowledgedAt: number | null;
  resolvedAt: number | null;
  ackWarned: boolean;
  ackBreached: boolean;
  resolveWarned: boolean;
  resolveBreached: boolean;
  reminders: number;
  nextReminderAt: number | null;
  /** 0 none; +1 for each breach (ack, resolve) */
  escalation: number;
}

export function deadlinesFor(severity: Severity, openedAt: number, policy: DeadlinePolicy, handling?: 'rectification'): DeadlineState {
  const d = handling === 'rectification' ? policy.rectification ?? defaultRectification : policy.bySeverity[severity];
  return {
    ackBy: d ? openedAt + d.ackMs : null,
    resolveBy: d ? openedAt + d.resolveMs : null,
    ackWarnAt: d ? openedAt + Math.round(d.ackMs * policy.warnAtFraction) : null,
    resolveWarnAt: d ? openedAt + Math.round(d.resolveMs * policy.warnAtFraction) : null,
    acknowledgedAt: null,
    resolvedAt: null,
    ackWarned: false,
    ackBreached: false,
    resolveWarned: false,
    resolveBreached: false,
    reminders: 0,
    nextReminderAt: null,
    escalation: 0,
  };
}

export type DeadlineEvent = 'ack_warning' | 'ack_breached' | 'ack_reminder' | 'resolve_warning' | 'resolve_breached';

/**
 * What happened to the deadlines by `now`, in order, and the new state. A deadline is met by an
 * action at its moment, so its breach fires only after it (`now > by`): the same boundary as
 * `onTime` (an acknowledgement at the deadline counts as on time). Each event fires once
 * (reminders once per interval). An event whose moment passed while the service was down
 * fires on the first evaluation after it, so a restart loses no escalation.
 */
export function evaluateDeadlines(d: DeadlineState, now: number, policy: DeadlinePolicy): { state: DeadlineState; events: DeadlineEvent[] } {
  const events: DeadlineEvent[] = [];
  const s = { ...d };
  if (s.resolvedAt === null) {
    if (s.acknowledgedAt === null) {
      if (!s.ackWarned && s.ackWarnAt !== null && now >= s.ackWarnAt && (s.ackBy === null || now <= s.ackBy)) {
        s.ackWarned = true;
        events.push('ack_warning');
      }
      if (!s.ackBreached && s.ackBy !== null && now > s.ackBy) {
        s.ackWarned = true;
        s.ackBreached = true;
        s.escalation += 1;
        s.nextReminderAt = s.ackBy + policy.reminderEveryMs;
        events.push('ack_breached');
      } else if (s.ackBreached && s.nextReminderAt !== null && now >= s.nextReminderAt) {
        s.reminders += 1;
        // one reminder per evaluation, even after a long outage: no burst of stale reminders
        s.nextReminderAt = now + policy.reminderEveryMs;
        events.push('ack_reminder');
      }
    }
    if (!s.resolveWarned && s.resolveWarnAt !== null && now >= s.resolveWarnAt && (s.resolveBy === null || now <= s.resolveBy)) {
      s.resolveWarned = true;
      events.push('resolve_warning');
    }
    if (!s.resolveBreached && s.resolveBy !== null && now > s.resolveBy) {
      s.resolveWarned = true;
      s.resolveBreached = true;
      s.escalation += 1;
      events.push('resolve_breached');
    }
  }
  return { state: events.length ? s : d, events };
}

/** On time: acknowledged (resolved) by its deadline; null when the alert has no such deadline or is still pending before it. */
export function onTime(d: Pick<DeadlineState, 'ackBy' | 'resolveBy' | 'acknowledgedAt' | 'resolvedAt'>, which: 'ack' | 'resolve', now: number): boolean | null {
  const by = which === 'ack' ? d.ackBy : d.resolveBy;
  const done = which === 'ack' ? d.acknowledgedAt : d.resolvedAt;
  if (by === null) return null;
  if (done !== null) return done <= by;
  return now > by ? false : null;
}
