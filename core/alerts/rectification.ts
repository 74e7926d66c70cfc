/**
 * Rectification (整改) of a class-2 kitchen detection [practice, Chongqing; docs/domain.md §1]:
 * the store is told (the store-contact webhook, docs/rules/kitchen.md), answers within 2 h, and
 * the bureau re-checks 72 h after the warning. Mapped onto the alert's own life cycle so the
 * wall, the deadlines and the on-time rates need nothing new:
 *
 *   open --store's answer--> acknowledged --re-check passed--> resolved
 *                                         --re-check failed--> open (round + 1, deadlines anew)
 *
 * - The acknowledge deadline is the answer's (2 h); its breach escalates and pins the alert on
 *   the wall like any overdue alert. An operator cannot acknowledge it without an answer
 *   (core/alerts/alert.ts refuses with `rectification`).
 * - The resolve deadline is the re-check's (72 h from the warning): the re-check task falls due
 *   then. A failed re-check starts a new round from that moment: another answer within 2 h and
 *   another re-check 72 h on. The on-time rates read the deadlines of the latest round.
 * - A false positive (the detection was wrong) and an operator's resolve (e.g. the store
 *   closed) stay possible, with the person and note on the timeline.
 * Pure: each function returns the step or a coded refusal.
 */
import { isClosed, step, type ActionResult, type Alert } from './alert.js';
import { deadlinesFor, type DeadlinePolicy } from './deadlines.js';

/** The store's answer (what was done, by whom at the store), recorded by the person who received it. */
export function recordStoreAnswer(a: Alert, by: string, now: number, answer: string): ActionResult {
  if (isClosed(a)) return { refused: 'alert_closed', message: `alert ${a.id} is ${a.status}` };
  if (!a.rectification) return { refused: 'not_rectification', message: `alert ${a.id} is not handled by rectification (class-2 kitchen detections are)` };
  if (a.status === 'acknowledged') return { refused: 'already_acknowledged', message: `the store has already answered alert ${a.id} in round ${a.rectification.round}` };
  return step(a, now, [{ at: now, by, action: 'store_answered', note: answer }], {
    status: 'acknowledged',
    rectification: { ...a.rectification, answeredAt: now },
    deadlines: { ...a.deadlines, acknowledgedAt: now },
  });
}

/** The bureau's re-check: passed resolves the alert; failed starts another round. */
export function recordRecheck(a: Alert, by: string, now: number, passed: boolean, note: string, policy: DeadlinePolicy): ActionResult {
  if (isClosed(a)) return { refused: 'alert_closed', message: `alert ${a.id} is ${a.status}` };
  if (!a.rectification) return { refused: 'not_rectification', message: `alert ${a.id} is not handled by rectification (class-2 kitchen detections are)` };
  if (a.status !== 'acknowledged') return { refused: 'not_answered', message: `the store has not answered alert ${a.id} yet (round ${a.rectification.round}): record its answer first` };
  if (passed) {
    return step(a, now, [{ at: now, by, action: 'rechecked', note }], {
      status: 'resolved',
      closedBy: by,
      deadlines: { ...a.deadlines, resolvedAt: now },
    });
  }
  return step(a, now, [{ at: now, by, action: 'recheck_failed', note }], {
    status: 'open',
    rectification: { round: a.rectification.round + 1, answeredAt: null },
    deadlines: deadlinesFor(a.severity, now, policy, 'rectification'),
  });
}

/** What the store-contact webhook receives: enough for a gateway to reach the store and say what to fix by when. */
export interface RectificationRequest {
  type: 'rectificationRequest';
  alertId: string;
  round: number;
  store: { id: string | null; name: string | null; contact: string | null };
  camera: { id: string; name: string | null };
  district: string | null;
  violation: { type: string; riskClass: number | null };
  snapshotUrl: string | null;
  detectedAt: number;
  answerBy: number | null;
  recheckBy: number | null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The request for an alert handled by rectification, or null for any other alert. */
export function rectificationRequest(a: Alert): RectificationRequest | null {
  if (!a.rectification) return null;
  const evidence = a.evidence.at(-1);
  return {
    type: 'rectificationRequest',
    alertId: a.id,
    round: a.rectification.round,
    store: { id: text(a.params['storeId']) ?? text(a.device.meta['storeId']), name: text(a.device.meta['storeName']), contact: text(a.device.meta['storeContact']) },
    camera: { id: a.device.id, name: a.device.name },
    district: a.device.district,
    violation: { type: a.condition, riskClass: typeof a.params['riskClass'] === 'number' ? a.params['riskClass'] : null },
    snapshotUrl: evidence?.snapshotUrl ?? null,
    detectedAt: a.firstSeen,
    answerBy: a.deadlines.ackBy,
    recheckBy: a.deadlines.resolveBy,
  };
}

/** Is this change one the store must hear of: the alert opened, or a re-check failed (a new round)? */
export const asksTheStore = (a: Alert, change: string, entries: ReadonlyArray<{ action: string }>): boolean =>
  !!a.rectification && (change === 'opened' || entries.some((e) => e.action === 'recheck_failed'));
