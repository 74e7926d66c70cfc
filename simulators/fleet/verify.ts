/**
 * `simulate --verify`: check a scenario's expected alerts (and dead letters, the scans of a
 * cylinder's trace, the stores of the 红黑榜, connection coverage) against the API. Polls until
 * every expectation holds or the settle time is over, then prints one line per expectation (ok
 * or FAIL with expected vs got) and returns whether all held.
 */
import { ApiError, type ApiClient } from '../apiClient.js';
import type { FleetPlan } from './fleet.js';
import { sleep } from './runner.js';
import { fleetStores, resolveDevice, resolveStore, type Expectation } from './scenario.js';

export interface CheckResult {
  expectation: Expectation;
  deviceId: string | null;
  got: number;
  severities: Record<string, number>;
  /** cylinderTrace: the stations of the counted scans */
  stations?: number;
  /** storeList: the store counted (`store`), deviceCoverage: the district counted */
  target?: string;
  ok: boolean;
  why: string;
}

interface AlertItem { id: string; rule: string; severity: string; condition: string; device: { id: string }; rectification?: unknown }
interface TraceScan { deviceId: string; stationId: string; reasons: string[] }
interface ListEntry { storeId: string; stage?: string }
interface CoverageCounts { registered: number; everConnected: number; connectedNow: number; neverConnected: number; coverage: number | null }
const coverageKeys = ['registered', 'everConnected', 'connectedNow', 'neverConnected'] as const;

/** storeList: the entries of GET /api/stores/lists?kind=<list> for the fleet's stores (or `store`), at `stage` when given. */
async function storeListCount(api: ApiClient, e: Expectation, plan: FleetPlan): Promise<{ got: number; target?: string }> {
  const target = e.store ? resolveStore(plan, e.store, 'expect') : undefined;
  const stores = new Set(target ? [target] : fleetStores(plan));
  const res = await api.request<{ items: ListEntry[] }>('GET', '/api/stores/lists', { query: { kind: e.list! } });
  return { got: res.items.filter((x) => stores.has(x.storeId) && (!e.stage || x.stage === e.stage)).length, ...(target ? { target } : {}) };
}

/**
 * deviceCoverage: the counts GET /api/devices/coverage gives for the fleet's own district (the
 * scenario requires fleet.district, so no other device counts) and `family`; each count the
 * expectation names must be exactly that.
 */
async function coverageCheck(api: ApiClient, e: Expectation, plan: FleetPlan): Promise<Pick<CheckResult, 'got' | 'ok' | 'why' | 'target'>> {
  const district = plan.config.district!;
  const { total: c } = await api.request<{ total: CoverageCounts }>('GET', '/api/devices/coverage', { query: { district, ...(e.family ? { family: e.family } : {}) } });
  const wrong = coverageKeys.filter((k) => e[k] !== undefined && c[k] !== e[k]);
  const shown = `${coverageKeys.map((k) => `${k} ${c[k]}`).join(', ')} (coverage ${c.coverage === null ? '-' : `${Math.floor(c.coverage * 100)}%`})`;
  const target = `district ${district}`;
  if (wrong.length) return { got: c.registered, ok: false, why: `expected ${wrong.map((k) => `${k} ${e[k]}`).join(', ')}; got ${shown}`, target };
  return { got: c.registered, ok: true, why: shown, target };
}

/** storeScore: the store's score now (GET /api/stores/scores); it must be exactly `score`. */
async function scoreCheck(api: ApiClient, e: Expectation, plan: FleetPlan): Promise<Pick<CheckResult, 'got' | 'ok' | 'why' | 'target'>> {
  const target = resolveStore(plan, e.store!, 'expect');
  const res = await api.request<{ items: Array<{ storeId: string; score: number; counts: Record<string, number> }> }>('GET', '/api/stores/scores');
  const s = res.items.find((x) => x.storeId === target);
  if (!s) return { got: 0, ok: false, why: `store ${target} has no score (not a store of a registered camera)`, target };
  const counts = Object.entries(s.counts).map(([t, n]) => `${t} ${n}`).join(', ') || 'nothing counted';
  return { got: s.score, ok: s.score === e.score, why: `${s.score === e.score ? '' : `expected ${e.score}; got `}score ${s.score} (${counts})`, target };
}

/** The reasons a cylinder alert's condition (`code|reason+reason`) names. */
const conditionReasons = (condition: string): string[] => condition.slice(condition.lastIndexOf('|') + 1).split('+');

/** The scans of a cylinder's trace since `since` (device time), of this fleet's devices (or one), with `reason`. */
async function traceCount(api: ApiClient, e: Expectation, deviceId: string | null, fleetIds: Set<string>, since: number): Promise<{ got: number; severities: Record<string, number>; stations: number }> {
  let scans: TraceScan[] = [];
  try {
    scans = (await api.request<{ scans: TraceScan[] }>('GET', `/api/cylinders/${encodeURIComponent(e.cylinder!.code)}/trace`, { query: { from: since, limit: 10_000 } })).scans;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const counted = scans.filter((x) => (deviceId ? x.deviceId === deviceId : fleetIds.has(x.deviceId)) && (!e.reason || x.reasons.includes(e.reason)));
  return { got: counted.length, severities: {}, stations: new Set(counted.map((x) => x.stationId)).size };
}

async function countFor(api: ApiClient, e: Expectation, deviceId: string | null, fleetIds: Set<string>, since: number): Promise<{ got: number; severities: Record<string, number>; stations?: number }> {
  if (e.rule === 'cylinderTrace') return traceCount(api, e, deviceId, fleetIds, since);
  if (e.rule === 'deadLetters') {
    const ids = deviceId ? [deviceId] : [...fleetIds];
    let got = 0;
    for (const id of ids) got += (await api.deadLetters({ deviceId: id, since, limit: 1000 })).length;
    return { got, severities: {} };
  }
  const res = await api.request<{ items: AlertItem[] }>('GET', '/api/alerts', { query: { rule: e.rule, ...(deviceId ? { deviceId } : {}), since, limit: 5000 } });
  const items = res.items.filter((a) => fleetIds.has(a.device.id) && (!e.reason || conditionReasons(a.condition).includes(e.reason))
    && (e.rectification === undefined || Boolean(a.rectification) === e.rectification));
  const severities: Record<string, number> = {};
  for (const a of items) severities[a.severity] = (severities[a.severity] ?? 0) + 1;
  return { got: items.length, severities };
}

function judge(e: Expectation, got: number, severities: Record<string, number>, stations?: number): { ok: boolean; why: string } {
  const range = e.max === undefined ? `>= ${e.min}` : e.min === e.max ? `${e.min}` : `${e.min}..${e.max}`;
  if (got < e.min || (e.max !== undefined && got > e.max)) return { ok: false, why: `expected ${range}, got ${got}` };
  if (e.stations !== undefined && stations !== e.stations) return { ok: false, why: `${got} scans at ${stations} station(s), expected ${e.stations}` };
  if (e.severity) {
    const wrong = Object.entries(severities).filter(([s]) => s !== e.severity);
    if (wrong.length) return { ok: false, why: `expected severity ${e.severity}, got ${wrong.map(([s, n]) => `${n} ${s}`).join(', ')}` };
  }
  const also = [e.severity, e.reason && `reason ${e.reason}`, e.stations && `${e.stations} stations`].filter(Boolean).map((x) => `, ${x}`).join('');
  return { ok: true, why: `${got} (expected ${range}${also})` };
}

export async function verifyExpectations(api: ApiClient, plan: FleetPlan, expectations: Expectation[], opts: { since: number; settleMs: number; pollMs?: number }): Promise<CheckResult[]> {
  const fleetIds = new Set(plan.devices.map((d) => d.id));
  const until = Date.now() + opts.settleMs;
  for (;;) {
    const results: CheckResult[] = [];
    for (const e of expectations) {
      const deviceId = e.device ? resolveDevice(plan, e.device, 'expect') : null;
      if (e.rule === 'deviceCoverage') {
        results.push({ expectation: e, deviceId, severities: {}, ...(await coverageCheck(api, e, plan)) });
        continue;
      }
      if (e.rule === 'storeScore') {
        results.push({ expectation: e, deviceId, severities: {}, ...(await scoreCheck(api, e, plan)) });
        continue;
      }
      if (e.rule === 'storeList') {
        const { got, target } = await storeListCount(api, e, plan);
        results.push({ expectation: e, deviceId, got, severities: {}, ...(target ? { target } : {}), ...judge(e, got, {}) });
        continue;
      }
      const { got, severities, stations } = await countFor(api, e, deviceId, fleetIds, opts.since);
      results.push({ expectation: e, deviceId, got, severities, ...(stations === undefined ? {} : { stations }), ...judge(e, got, severities, stations) });
    }
    // a count below min may still grow (and coverage may still settle); a count above max or a wrong severity will not get better
    const waiting = results.some((r) => !r.ok && (r.got < r.expectation.min || (r.stations ?? Infinity) < (r.expectation.stations ?? 0) || r.expectation.rule === 'deviceCoverage' || r.expectation.rule === 'storeScore'));
    if (!waiting || Date.now() >= until) return results;
    await sleep(opts.pollMs ?? 250);
  }
}

export function formatResults(results: CheckResult[]): string[] {
  const lines = [`verify: ${results.filter((r) => r.ok).length}/${results.length} expectations hold`];
  for (const r of results) {
    const e = r.expectation;
    const who = e.device ? `${e.device}${r.deviceId && r.deviceId !== e.device ? ` (${r.deviceId})` : ''}`
      : e.store ? `${e.store}${r.target && r.target !== e.store ? ` (${r.target})` : ''}` : r.target ?? 'fleet';
    const what = e.rule === 'cylinderTrace' ? `cylinderTrace ${e.cylinder!.code}`
      : e.rule === 'storeList' ? `storeList ${e.list}${e.stage ? ` ${e.stage}` : ''}`
        : e.rule === 'deviceCoverage' ? `deviceCoverage ${e.family ?? 'all'}`
          : e.rectification !== undefined ? `${e.rule}${e.rectification ? ' (rectified)' : ' (not rectified)'}` : e.rule;
    lines.push(`  ${r.ok ? 'ok  ' : 'FAIL'}  ${what.padEnd(30)} ${who.padEnd(28)} ${r.why}`);
  }
  return lines;
}
