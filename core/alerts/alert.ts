/**
 * An alert and its life cycle: open -> acknowledged -> resolved (or false_positive for kitchen
 * detections), with a timeline of every change (who, when, optional note). Pure functions:
 * each takes the alert and `now` and returns a step (the new alert record and the timeline
 * entries it appended), or a coded refusal.
 *
 * The timeline is not part of the record: entries are appended as rows of their own and
 * numbered (`n`) per alert, so a change costs the size of the change, not of the history
 * (docs/dashboard.md, Alert timelines). The record counts them (`events`) and counts the
 * operators' written entries (`notes`), which are capped per alert.
 */
import type { Family } from '../schemas/index.js';
import type { Evidence, RaiseAlert, Severity } from './types.js';
import { deadlinesFor, type DeadlinePolicy, type DeadlineState } from './deadlines.js';
import type { NoteParams, SystemNote } from './systemNotes.js';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';

export type TimelineAction =
  | 'opened' | 'repeated' | 'acknowledged' | 'assigned' | 'noted' | 'resolved' | 'auto_resolved' | 'false_positive'
  | 'ack_warning' | 'ack_breached' | 'ack_reminder' | 'resolve_warning' | 'resolve_breached'
  /** rectification (core/alerts/rectification.ts): the store's answer, the bureau's re-check */
  | 'store_answered' | 'rechecked' | 'recheck_failed';

export interface TimelineEntry {
  /** position on the alert's timeline, from 0; unique per alert */
  n: number;
  at: number;
  /** user name, or `system` for the engine */
  by: string;
  action: TimelineAction;
  /** English text: a person's note, or a system note rendered from `code` */
  note?: string;
  /**
   * a note the system wrote (an auto-resolve's reason; a rescue case's step on its alert, by the
   * dispatcher): its code in core/alerts/systemNotes.ts, shown in the UI's language; absent on
   * notes people type and on entries from before codes were kept
   */
  code?: string;
  params?: NoteParams;
}

/** The device's metadata at the time the alert opened (store, elevator, station, place). */
export interface AlertDevice {
  id: string;
  name: string | null;
  district: string | null;
  location: { lat: number; lng: number } | null;
  meta: Record<string, unknown>;
}

export interface Alert {
  id: string;
  family: Family;
  rule: string;
  condition: string;
  severity: Severity;
  status: AlertStatus;
  summary: string;
  params: Record<string, string | number | boolean | null>;
  device: AlertDevice;
  /** evidence of every occurrence, newest last (bounded) */
  evidence: Evidence[];
  assignee: string | null;
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** the dedupe window of the rule that raised it */
  windowMs: number;
  deadlines: DeadlineState;
  /** timeline entries so far (the next entry's `n`) */
  events: number;
  /** entries written by a person (notes, assignments, notes on actions): capped by MAX_NOTES */
  notes: number;
  /**
   * who closed it: a user name, or `system` when the engine resolved it (a device back to
   * normal); the on-time rates count a person's closing only (core/alerts/onTime.ts). Absent on
   * records written before it was kept.
   */
  closedBy?: string | null;
  /** the 96333 rescue case a trapped-passenger alert belongs to */
  rescueCaseId?: string | null;
  /** a class-2 kitchen detection the store must rectify (core/alerts/rectification.ts); absent or null otherwise */
  rectification?: Rectification | null;
  updatedAt: number;
}

/** Where an alert handled by rectification stands: which round (a failed re-check starts another), and the store's answer. */
export interface Rectification {
  round: number;
  answeredAt: number | null;
}

/** A change: the alert after it, and the timeline entries it appended (in order). */
export interface AlertStep {
  alert: Alert;
  entries: TimelineEntry[];
}

/**
 * Per alert, at most this many entries written by people (notes, assignments), each at most
 * MAX_NOTE_CHARS. Beyond it a note or an assignment is refused (`note_limit`); acknowledging,
 * resolving and marking a false positive never are, so an alert can always be closed.
 */
export const MAX_NOTES = 1000;
export const MAX_NOTE_CHARS = 2000;

/** At most this many occurrences keep their evidence; the count keeps counting. */
export const MAX_EVIDENCE = 20;

export const isClosed = (a: Alert): boolean => a.status === 'resolved' || a.status === 'false_positive';

/** The dedupe key: one open alert per (rule, device, condition). */
export const alertKey = (rule: string, deviceId: string, condition: string): string => `${rule}\n${deviceId}\n${condition}`;

export function openAlert(id: string, raise: RaiseAlert, device: AlertDevice, policy: DeadlinePolicy): AlertStep {
  const alert: Alert = {
    id,
    family: raise.family,
    rule: raise.rule,
    condition: raise.condition,
    severity: raise.severity,
    status: 'open',
    summary: raise.summary,
    params: raise.params,
    device,
    evidence: [raise.evidence],
    assignee: null,
    closedBy: null,
    count: 1,
    firstSeen: raise.at,
    lastSeen: raise.at,
    windowMs: raise.windowMs,
    deadlines: deadlinesFor(raise.severity, raise.at, policy, raise.handling),
    ...(raise.handling === 'rectification' ? { rectification: { round: 1, answeredAt: null } } : {}),
    events: 1,
    notes: 0,
    updatedAt: raise.at,
  };
  return { alert, entries: [{ n: 0, at: raise.at, by: 'system', action: 'opened' }] };
}

/**
 * Does a raise repeat this alert? Same key, not closed, and the last occurrence within the
 * rule's window (docs/domain.md §1: a repeat of the same camera+type within 600 s updates the open alert).
 */
export function repeats(a: Alert, raise: RaiseAlert): boolean {
  return !isClosed(a) && a.rule === raise.rule && a.device.id === raise.deviceId && a.condition === raise.condition
    && raise.at - a.lastSeen <= raise.windowMs;
}

export function repeatAlert(a: Alert, raise: RaiseAlert): AlertStep {
  // a worse repeat raises the severity; deadlines stay those of the first occurrence
  const severity = rank(raise.severity) < rank(a.severity) ? raise.severity : a.severity;
  return step(a, raise.at, [{ at: raise.at, by: 'system', action: 'repeated' }], {
    severity,
    params: { ...a.params, ...raise.params },
    count: a.count + 1,
    lastSeen: Math.max(a.lastSeen, raise.at),
    evidence: [...a.evidence, raise.evidence].slice(-MAX_EVIDENCE),
  });
}

export type ActionRefusal = {
  refused: 'alert_closed' | 'not_kitchen' | 'already_acknowledged' | 'note_limit' | 'rectification' | 'not_rectification' | 'not_answered';
  message: string;
};
export type ActionResult = AlertStep | ActionRefusal;

export const refused = (r: ActionResult): r is ActionRefusal => 'refused' in r;

/** A note's fields on an entry: a person's text, or a system note with its code. */
const noteFields = (note?: string | SystemNote): Pick<TimelineEntry, 'note' | 'code' | 'params'> =>
  typeof note === 'string' ? (note ? { note } : {}) : note ? { ...note } : {};

export function acknowledge(a: Alert, by: string, now: number, note?: string | SystemNote): ActionResult {
  if (isClosed(a)) return { refused: 'alert_closed', message: `alert ${a.id} is ${a.status}` };
  if (a.status === 'acknowledged') return { refused: 'already_acknowledged', message: `alert ${a.id} is already acknowledged` };
  if (a.rectification) return { refused: 'rectification', message: `alert ${a.id} is acknowledged by the store's answer (POST /api/alerts/${a.id}/store-answer)` };
  return step(a, now, [{ at: now, by, action: 'acknowledged', ...noteFields(note) }], {
    status: 'acknowledged',
    deadlines: { ...a.deadlines, acknowledgedAt: now },
  });
}

export function assign(a: Alert, assignee: string, by: string, now: number, note?: string): ActionResult {
  if (isClosed(a)) return { refused: 'alert_closed', message: `alert ${a.id} is ${a.status}` };
  if (a.notes >= MAX_NOTES) return noteLimit(a);
  return step(a, now, [{ at: now, by, action: 'assigned', note: note ? `${assignee}: ${note}` : assignee }], { assignee });
}

export function addNote(a: Alert, note: string, by: string, now: number): ActionResult {
  // notes are allowed on closed alerts too: follow-up calls happen after resolution
  if (a.notes >= MAX_NOTES) return noteLimit(a);
  return step(a, now, [{ at: now, by, action: 'noted', note: note.slice(0, MAX_NOTE_CHARS) }], {});
}

const noteLimit = (a: Alert): ActionRefusal => ({ refused: 'note_limit', message: `alert ${a.id} already holds ${a.notes} notes, the most one alert keeps (${MAX_NOTES})` });

/** Resolve by a person; acknowledges implicitly when still open (the timeline shows both). */
export function resolve(a: Alert, by: string, now: number, note?: string | SystemNote): ActionResult {
  if (isClosed(a)) return { refused: 'alert_closed', message: `alert ${a.id} is ${a.status}` };
  const acked = a.deadlines.acknowledgedAt ?? now;
  const entries: NewEntry[] = a.status === 'open' ? [{ at: now, by, action: 'acknowledged' }] : [];
  entries.push({ at: now, by, action: 'resolved', ...noteFields(note) });
  return step(a, now, entries, { status: 'resolved', closedBy: by, deadlines: { ...a.deadlines, acknowledgedAt: acked, resolvedAt: now } });
}

/** Resolved by the engine (e.g. elevator back to normal, device back online), with the reason as a coded note. */
export function autoResolve(a: Alert, reason: SystemNote, now: number): AlertStep {
  if (isClosed(a)) return { alert: a, entries: [] };
  return step(a, now, [{ at: now, by: 'system', action: 'auto_resolved', ...noteFields(reason) }], {
    status: 'resolved',
    closedBy: 'system',
    deadlines: { ...a.deadlines, resolvedAt: now },
  });
}

/**
 * An AI detection that was wrong (a "rat" that was a cat, docs/domain.md §1): closed, and it
 * must not count against the store. Kitchen alerts only.
 */
export function markFalsePositive(a: Alert, by: string, now: number, note?: string): ActionResult {
  if (a.family !== 'kitchen') return { refused: 'not_kitchen', message: 'only kitchen detections can be marked false positive' };
  if (a.status === 'false_positive') return { refused: 'alert_closed', message: `alert ${a.id} is already a false positive` };
  return step(a, now, [{ at: now, by, action: 'false_positive', ...(note ? { note } : {}) }], {
    status: 'false_positive',
    closedBy: by,
    deadlines: { ...a.deadlines, acknowledgedAt: a.deadlines.acknowledgedAt ?? now, resolvedAt: now },
  });
}

/**
 * Timeline deadline events (warnings, breaches, reminders) appended by the engine's clock.
 */
export function deadlineEvents(a: Alert, actions: readonly TimelineAction[], patch: Pick<Alert, 'deadlines'>, now: number): AlertStep {
  return step(a, now, actions.map((action) => ({ at: now, by: 'system', action })), patch);
}

export type NewEntry = Omit<TimelineEntry, 'n'>;

/** Number the new entries after the alert's, and count those a person wrote. */
export function step(a: Alert, now: number, added: readonly NewEntry[], patch: Partial<Alert>): AlertStep {
  const entries = added.map((e, i) => ({ n: a.events + i, ...e }));
  const written = added.filter((e) => e.by !== 'system' && e.note !== undefined).length;
  return { alert: { ...a, ...patch, events: a.events + entries.length, notes: a.notes + written, updatedAt: now }, entries };
}

const severityRank: Record<Severity, number> = { critical: 0, major: 1, minor: 2, info: 3 };
export const rank = (s: Severity): number => severityRank[s];
