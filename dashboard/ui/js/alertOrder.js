// The order of the wall, the same as the API's `sort=priority` (core/alerts/alertQuery.ts):
// severity (critical first), then the deadline the alert is working towards (acknowledge while
// open, resolve once acknowledged; none last), then newest, then the id. Pinned on top of the
// wall: every active alert that is critical or past that deadline.
export const severityRank = { critical: 0, major: 1, minor: 2, info: 3 };
export const NO_DEADLINE = Number.MAX_SAFE_INTEGER;

export const isActive = (a) => a.status === 'open' || a.status === 'acknowledged';

/** The deadline an alert is working towards now, or null (closed, or none for its severity). */
export function nextDeadline(a) {
  if (a.status === 'open') return a.deadlines?.ackBy ?? null;
  if (a.status === 'acknowledged') return a.deadlines?.resolveBy ?? null;
  return null;
}

export function priorityKey(a) {
  return [severityRank[a.severity] ?? 9, nextDeadline(a) ?? NO_DEADLINE, -a.firstSeen, a.id];
}

/** Numbers ascending, then the id ascending (as the API compares keys). */
export function compareKeys(x, y) {
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

export const comparePriority = (x, y) => compareKeys(priorityKey(x), priorityKey(y));

/** Sorted by priority, each key computed once. */
export function byPriority(alerts) {
  return alerts.map((a) => ({ a, k: priorityKey(a) })).sort((x, y) => compareKeys(x.k, y.k)).map((x) => x.a);
}

export function isOverdue(a, now) {
  const by = nextDeadline(a);
  return by !== null && now >= by;
}

/** Pinned on top of the wall: active and critical, or past its deadline. */
export const isPinned = (a, now) => isActive(a) && (a.severity === 'critical' || isOverdue(a, now));

/** What the alarm sounds for: a pinned alert nobody has acknowledged yet. */
export const isAlarming = (a, now) => a.status === 'open' && isPinned(a, now);
