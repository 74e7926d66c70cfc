// What the browser knows: alerts and open rescue cases (loaded through the API, then kept
// current by /ws), the latest live statistics, and the devices for the map. Views subscribe.
//
// Alerts are kept by id. loadAll() reads, in full, every active alert the wall pins (critical,
// or past its deadline: docs/dashboard.md, Operators' wall), paging with `sort=priority`; the
// lists read the rest a page at a time (alertList.js) and put them here with absorb(). Pushes
// are applied on top by `updatedAt`. A load that fails is retried with a growing delay and its
// state (`state.load`) is shown on the wall.
import { get } from './api.js';
import { isActive, nextDeadline } from './alertOrder.js';
import { retrying } from './retry.js';

/** closed alerts kept at most (active ones are always kept: the engine bounds them) */
const MAX_CLOSED = 3000;
/** one page of the pinned load */
const PINNED_PAGE = 500;
/** pages of one pinned query at most (a guard, 50,000 alerts) */
const MAX_PAGES = 100;

export const state = {
  alerts: new Map(),
  cases: new Map(),
  stats: null,
  devices: [],
  live: false,
  /** alert ids opened in the last minute (a row shown for one flashes, even when the list held it back a while) */
  fresh: new Set(),
  /** the pinned load: {phase: idle|loading|failed|error|ok, error?, retryAt?} */
  load: { phase: 'idle' },
  /** a load has succeeded since sign-in (the lists may read their pages) */
  loaded: false,
};
const listeners = new Set();
/** alert id -> when a push last changed it (a load started before does not overrule it) */
const touched = new Map();
let loader = null;

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function emit(what) {
  for (const fn of listeners) fn(what);
}

/**
 * Every page of one alert query (with `sort=priority`), or until `enough(lastItem)`; the first
 * page holds `first` alerts (a query that usually stops at once asks for few).
 */
async function pages(query, enough = () => false, first = PINNED_PAGE) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const limit = i === 0 ? first : PINNED_PAGE;
    const res = await get(`/api/alerts?${query}&sort=priority&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...res.items);
    cursor = res.nextCursor;
    if (!cursor || (res.items.length && enough(res.items[res.items.length - 1]))) break;
  }
  return items;
}

/**
 * Every active critical alert, and every active alert past its deadline: per severity in
 * priority order the overdue ones come first (deadline ascending), so each severity is read
 * until its first alert not yet due.
 */
async function loadPinned(family, now) {
  const base = `status=open,acknowledged${family ? `&family=${family}` : ''}`;
  const notDue = (a) => { const by = nextDeadline(a); return by === null || by > now; };
  const [critical, ...overdue] = await Promise.all([
    pages(`${base}&severity=critical`),
    ...['major', 'minor', 'info'].map((s) => pages(`${base}&severity=${s}`, notDue, 50)),
  ]);
  return [...critical, ...overdue.flat().filter((a) => !notDue(a))];
}

/**
 * Put alerts read through the API into the state (a newer pushed version wins; emits
 * `{kind: 'absorbed'}`, e.g. for the map), and drop every
 * alert the read covered (`covers(a)`) that it did not return and no push changed since
 * `startedAt`: it was closed or changed while this tab was not told (after a resync).
 */
export function absorb(items, { startedAt, covers = () => false }) {
  const got = new Set();
  for (const a of items) {
    got.add(a.id);
    const old = state.alerts.get(a.id);
    if (!old || old.updatedAt <= a.updatedAt) state.alerts.set(a.id, a);
  }
  for (const a of [...state.alerts.values()]) {
    if (!got.has(a.id) && covers(a) && (touched.get(a.id) ?? 0) < startedAt) state.alerts.delete(a.id);
  }
  for (const [id, at] of touched) if (at < startedAt - 60_000) touched.delete(id);
  trim();
  emit({ kind: 'absorbed' });
}

/** Closed alerts beyond MAX_CLOSED are forgotten, oldest first; active ones never. */
function trim() {
  let closed = 0;
  for (const a of state.alerts.values()) if (!isActive(a)) closed++;
  if (closed <= MAX_CLOSED) return;
  const old = [...state.alerts.values()].filter((a) => !isActive(a)).sort((x, y) => x.lastSeen - y.lastSeen);
  for (const a of old.slice(0, closed - MAX_CLOSED)) state.alerts.delete(a.id);
}

/**
 * (Re)load what every view needs: the pinned alerts and the open rescue cases. Never throws:
 * a failure is retried (1 s, 2 s, 4 s … 30 s) and shown through `state.load` and `{kind: 'load'}`;
 * success emits `{kind: 'reload'}` (lists then read their pages again).
 */
export function loadAll(role) {
  loader?.stop();
  const family = role === 'dispatcher' ? 'elevator' : null;
  let startedAt = 0;
  loader = retrying(async () => {
    startedAt = Date.now();
    return Promise.all([loadPinned(family, startedAt), get('/api/rescue-cases')]);
  }, {
    onState: (s) => { state.load = s; emit({ kind: 'load' }); },
    onData: ([alerts, cases]) => {
      absorb(alerts, {
        startedAt,
        covers: (a) => isActive(a) && (!family || a.family === family) && (a.severity === 'critical' || (nextDeadline(a) ?? Infinity) <= startedAt),
      });
      const pushed = state.cases;
      state.cases = new Map(cases.items.map((c) => [c.id, c]));
      // cases pushed while the list was being read: the newer version wins
      for (const c of pushed.values()) {
        const now = state.cases.get(c.id);
        if (now ? now.updatedAt < c.updatedAt : c.updatedAt >= startedAt) state.cases.set(c.id, c);
      }
      state.loaded = true;
      emit({ kind: 'reload' });
    },
  });
}

/** Signed out: stop loading and forget. */
export function resetState() {
  loader?.stop();
  loader = null;
  state.alerts.clear();
  state.cases.clear();
  state.fresh.clear();
  touched.clear();
  state.load = { phase: 'idle' };
  state.loaded = false;
  state.live = false;
}

export async function loadDevices() {
  const res = await get('/api/devices?limit=10000');
  state.devices = res.items;
  emit({ kind: 'devices' });
}

export function applyLive(msg, role) {
  if (msg.type === 'alert') {
    const a = msg.alert;
    if (role === 'dispatcher' && a.family !== 'elevator') return;
    const old = state.alerts.get(a.id);
    if (old && old.updatedAt > a.updatedAt) return;
    state.alerts.set(a.id, a);
    touched.set(a.id, Date.now());
    if (touched.size > 5000) for (const [id, at] of touched) if (at < Date.now() - 600_000) touched.delete(id);
    if (!old && msg.change === 'opened') {
      state.fresh.add(a.id);
      setTimeout(() => state.fresh.delete(a.id), 60_000);
    }
    if (!isActive(a)) trim();
    // entries: the timeline entries this change appended (the push is a delta, not the history)
    emit({ kind: 'alert', alert: a, change: msg.change, entries: msg.entries ?? [] });
  } else if (msg.type === 'rescueCase') {
    putCase(msg.rescueCase, msg.change);
  } else if (msg.type === 'stats') {
    state.stats = msg.stats;
    emit({ kind: 'stats' });
  }
}

const finished = (c) => c.status === 'closed' || c.status === 'false_alarm';
/** cases whose elevator card is being read (a push does not carry it) */
const reading = new Set();

/**
 * A rescue case as the API or a push gave it: kept while open, dropped once finished, never
 * replaced by an older version. A push carries the case without its `elevator` card (name,
 * address, codes, maintenance unit and phone): kept from the version before, or read once
 * through the API.
 */
export function putCase(c, change = 'updated') {
  const old = state.cases.get(c.id);
  if (old && old.updatedAt > c.updatedAt) return;
  const rc = c.elevator === undefined && old?.elevator !== undefined ? { ...c, elevator: old.elevator } : c;
  if (finished(rc)) state.cases.delete(rc.id); else state.cases.set(rc.id, rc);
  emit({ kind: 'case', rescueCase: rc, change: finished(rc) && change === 'updated' ? 'closed' : change });
  if (rc.elevator === undefined && !finished(rc) && !reading.has(rc.id)) {
    reading.add(rc.id);
    get(`/api/rescue-cases/${encodeURIComponent(rc.id)}`)
      .then((full) => { const now = state.cases.get(full.id); if (now) putCase({ ...now, elevator: full.elevator ?? null }); })
      .catch(() => {})
      .finally(() => reading.delete(rc.id));
  }
}

/** Who handles which alert (core/roles.ts mayHandle): dispatchers the 96333 rescue alerts, operators the rest. */
export const RESCUE_RULE = 'elevator.trapped';
export function mayHandle(role, rule) {
  if (role === 'admin') return true;
  return role === 'dispatcher' ? rule === RESCUE_RULE : rule !== RESCUE_RULE;
}
