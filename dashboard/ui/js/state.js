// What the browser knows: alerts and open rescue cases (loaded through the API, then kept
// current by /ws), the latest live statistics, and the devices for the map. Views subscribe.
import { get } from './api.js';

const MAX_ALERTS = 1000;
export const state = {
  alerts: new Map(),
  cases: new Map(),
  stats: null,
  devices: [],
  live: false,
  /** alert ids that appeared in the last moments (the wall flashes them) */
  fresh: new Set(),
};
const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function emit(what) {
  for (const fn of listeners) fn(what);
}

export async function loadAll(role) {
  const family = role === 'dispatcher' ? '&family=elevator' : '';
  const [alerts, cases] = await Promise.all([get(`/api/alerts?limit=500${family}`), get('/api/rescue-cases')]);
  state.alerts = new Map(alerts.items.map((a) => [a.id, a]));
  state.cases = new Map(cases.items.map((c) => [c.id, c]));
  emit({ kind: 'reload' });
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
    if (!old) {
      state.fresh.add(a.id);
      setTimeout(() => state.fresh.delete(a.id), 1500);
      if (state.alerts.size > MAX_ALERTS) {
        const oldest = [...state.alerts.values()].sort((x, y) => x.lastSeen - y.lastSeen)[0];
        state.alerts.delete(oldest.id);
      }
    }
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
