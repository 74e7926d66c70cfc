/**
 * Which alerts a list asks for, and in which order: one filter and one set of sort keys used
 * both on the engine's in-memory active set and, as SQL, by the store, so the two halves of a
 * list page agree (docs/dashboard.md, Alert lists). Pure.
 *
 * Paging is by key (a cursor holds the last item's key), never by offset: an alert opening or
 * closing between two pages neither repeats nor skips the others. Every sort ends with the
 * alert id, so keys are unique.
 */
import type { Family } from '../schemas/index.js';
import type { Alert, AlertStatus } from './alert.js';
import { rank } from './alert.js';
import type { Severity } from './types.js';

export const alertStatuses = ['open', 'acknowledged', 'resolved', 'false_positive'] as const satisfies readonly AlertStatus[];
export const activeStatuses: readonly AlertStatus[] = ['open', 'acknowledged'];
export const closedStatuses: readonly AlertStatus[] = ['resolved', 'false_positive'];

/**
 * - `lastSeen`: latest activity first (the default, as before);
 * - `firstSeen`: newest alerts first; no field of it ever changes, so a walk through the pages
 *   returns each alert exactly once even while alerts repeat;
 * - `priority`: severity (critical first), then the next deadline due (an open alert's
 *   acknowledge deadline, an acknowledged one's resolve deadline; none last), then newest.
 */
export const alertSorts = ['lastSeen', 'firstSeen', 'priority'] as const;
export type AlertSort = (typeof alertSorts)[number];

export interface AlertFilter {
  status?: readonly AlertStatus[];
  family?: Family;
  severity?: readonly Severity[];
  deviceId?: string;
  rule?: string;
  /** district code prefix ("3301" matches 330106) */
  district?: string;
  /** last seen at or after */
  since?: number;
  /** first seen before */
  until?: number;
}

/** A sort key: numbers ascending, then the id ascending. */
export type AlertKey = readonly [...number[], string];

/** No deadline sorts after every deadline. */
export const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

/** The deadline an alert is working towards now, or null once closed or without one. */
export function nextDeadline(a: Pick<Alert, 'status' | 'deadlines'>): number | null {
  if (a.status === 'open') return a.deadlines.ackBy;
  if (a.status === 'acknowledged') return a.deadlines.resolveBy;
  return null;
}

export function alertSortKey(a: Alert, sort: AlertSort): AlertKey {
  switch (sort) {
    case 'lastSeen': return [-a.lastSeen, a.id];
    case 'firstSeen': return [-a.firstSeen, a.id];
    case 'priority': return [rank(a.severity), nextDeadline(a) ?? NO_DEADLINE, -a.firstSeen, a.id];
  }
}

/** How many numbers precede the id in a sort's key (cursor validation). */
export const keyLength: Record<AlertSort, number> = { lastSeen: 1, firstSeen: 1, priority: 3 };

export function compareKeys(x: AlertKey, y: AlertKey): number {
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (a === b) continue;
    return a < b ? -1 : 1;
  }
  return 0;
}

export function matchesAlert(a: Alert, f: AlertFilter): boolean {
  if (f.status?.length && !f.status.includes(a.status)) return false;
  if (f.family && a.family !== f.family) return false;
  if (f.severity?.length && !f.severity.includes(a.severity)) return false;
  if (f.deviceId && a.device.id !== f.deviceId) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.district && !(a.device.district ?? '').startsWith(f.district)) return false;
  if (f.since !== undefined && a.lastSeen < f.since) return false;
  if (f.until !== undefined && a.firstSeen >= f.until) return false;
  return true;
}

/**
 * One page of `candidates`: those matching, after `after` in `sort` order, at most `limit`,
 * and whether more follow.
 */
export function pageOf(candidates: Iterable<Alert>, f: AlertFilter, sort: AlertSort, after: AlertKey | null, limit: number): { items: Alert[]; more: boolean } {
  const keyed: Array<{ a: Alert; k: AlertKey }> = [];
  for (const a of candidates) {
    if (!matchesAlert(a, f)) continue;
    const k = alertSortKey(a, sort);
    if (after && compareKeys(k, after) <= 0) continue;
    keyed.push({ a, k });
  }
  keyed.sort((x, y) => compareKeys(x.k, y.k));
  return { items: keyed.slice(0, limit).map((x) => x.a), more: keyed.length > limit };
}
