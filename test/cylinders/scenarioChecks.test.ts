/**
 * What the cylinder scenarios need of the simulator (simulators/fleet/): lost cylinders in the
 * fleet's registry, expectations that count only the alerts naming a reason, and
 * `cylinderTrace` expectations over GET /api/cylinders/:code/trace (scans, reason, stations),
 * checked here against a stub API.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, type ApiClient } from '../../simulators/apiClient.js';
import { defaultFleetConfig, mergeFleet, planFleet } from '../../simulators/fleet/fleet.js';
import { parseScenario, ScenarioError, type Expectation } from '../../simulators/fleet/scenario.js';
import { formatResults, verifyExpectations } from '../../simulators/fleet/verify.js';
import { parseCylinderRecord } from '../../core/cylinders/cylinderRecord.js';

const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);
const plan = planFleet(mergeFleet(defaultFleetConfig, {
  prefix: 'sc', kitchen: { cameras: 0 }, elevator: { count: 0 }, dispenser: { stations: 0 },
  cylinder: { scanners: 2, stations: 2, cylindersPerStation: 50, scanS: 0, shares: { expired: 0, overdue: 0, foreign: 0, scrapped: 0, dueSoon: 0, lost: 0.3 } },
}), T0, 'm');
const [scan0, scan1] = plan.byFamily.cylinder as [string, string];

describe('lost cylinders in the fleet', () => {
  it('a lost share gives registry rows with status lost, valid for the import, and pool cylinders of kind lost', () => {
    const lost = plan.cylinders.filter((c) => c.status === 'lost');
    expect(lost.length).toBeGreaterThan(10);
    for (const c of lost) expect(parseCylinderRecord(c).ok).toBe(true);
    const pooled = Object.values(plan.pools).flat().filter((c) => c.kind === 'lost').map((c) => c.code).sort();
    expect(pooled).toEqual(lost.map((c) => c.code).sort());
  });

  it('without a lost share nothing changes (the default fleet has none)', () => {
    const plain = planFleet(mergeFleet(defaultFleetConfig, { cylinder: { cylindersPerStation: 100 } }), T0, 'm');
    expect(plain.cylinders.some((c) => c.status === 'lost')).toBe(false);
  });
});

const base = { name: 'x', description: 'x', durationS: 1 };
const problems = (expect1: unknown): string[] => {
  try {
    parseScenario({ ...base, expect: [expect1] });
    return [];
  } catch (e) {
    return (e as ScenarioError).problems;
  }
};

describe('expectation fields', () => {
  it.each<[string, unknown, string[]]>([
    ['a trace of a cylinder', { rule: 'cylinderTrace', cylinder: { code: 'C-1' }, min: 8, stations: 2 }, []],
    ['a reason on an alert rule', { rule: 'cylinder.refused', reason: 'lost' }, []],
    ['a trace without its cylinder', { rule: 'cylinderTrace', min: 1 }, ['expect[0].cylinder: cylinder is needed by cylinderTrace and only there']],
    ['a cylinder on an alert rule', { rule: 'cylinder.refused', cylinder: { code: 'C-1' } }, ['expect[0].cylinder: cylinder is needed by cylinderTrace and only there']],
    ['stations on an alert rule', { rule: 'cylinder.refused', stations: 2 }, ['expect[0].stations: stations is for cylinderTrace']],
  ])('%s', (_name, e, want) => {
    expect(problems(e)).toEqual(want);
  });
});

/** A stub of the API: alerts and traces as given, 404 for any other trace. */
function stubApi(alerts: Array<{ rule: string; condition: string; severity: string; device: string }>, traces: Record<string, Array<{ deviceId: string; stationId: string; reasons: string[] }>>): ApiClient {
  return {
    async request(_method: string, path: string, opts: { query?: Record<string, unknown> } = {}) {
      const t = /^\/api\/cylinders\/([^/]+)\/trace$/.exec(path);
      if (t) {
        const scans = traces[decodeURIComponent(t[1]!)];
        if (!scans) throw new ApiError(404, 'cylinder_not_found', 'no cylinder');
        return { scans };
      }
      const q = opts.query ?? {};
      return { items: alerts.filter((a) => a.rule === q.rule && (!q.deviceId || a.device === q.deviceId)).map((a, i) => ({ id: `a${i}`, rule: a.rule, severity: a.severity, condition: a.condition, device: { id: a.device } })) };
    },
  } as unknown as ApiClient;
}

describe('--verify with reasons and traces', () => {
  const api = stubApi([
    { rule: 'cylinder.refused', condition: 'C-1|lost', severity: 'major', device: scan0 },
    { rule: 'cylinder.refused', condition: 'C-2|scrapped+not_owner', severity: 'major', device: scan0 },
    { rule: 'cylinder.flagged', condition: 'C-1|lost+not_owner', severity: 'major', device: scan1 },
  ], {
    'C-1': [
      { deviceId: scan0, stationId: 'ST-1', reasons: [] }, { deviceId: scan0, stationId: 'ST-1', reasons: [] },
      { deviceId: scan1, stationId: 'ST-2', reasons: ['lost', 'not_owner'] }, { deviceId: 'not-ours', stationId: 'ST-9', reasons: [] },
    ],
  });
  const check = async (e: Partial<Expectation> & { rule: string }) =>
    (await verifyExpectations(api, plan, [{ min: 1, ...e } as Expectation], { since: T0, settleMs: 0 }))[0]!;

  it.each<[string, Partial<Expectation> & { rule: string }, boolean, number]>([
    ['refused naming lost', { rule: 'cylinder.refused', reason: 'lost', max: 1 }, true, 1],
    ['refused naming not_owner (one of two reasons)', { rule: 'cylinder.refused', reason: 'not_owner', max: 1 }, true, 1],
    ['no refusal names inspection_overdue', { rule: 'cylinder.refused', reason: 'inspection_overdue', min: 0, max: 0 }, true, 0],
    ['a reason is a whole reason, not a substring', { rule: 'cylinder.refused', reason: 'owner', min: 0, max: 0 }, true, 0],
    ['the trace: this fleet\'s scans only, at two stations', { rule: 'cylinderTrace', cylinder: { code: 'C-1' }, min: 3, max: 3, stations: 2 }, true, 3],
    ['the trace of one device', { rule: 'cylinderTrace', cylinder: { code: 'C-1' }, device: 'cylinder#0', min: 2, max: 2, stations: 1 }, true, 2],
    ['trace scans with a reason', { rule: 'cylinderTrace', cylinder: { code: 'C-1' }, reason: 'lost', min: 1, max: 1 }, true, 1],
    ['the wrong number of stations fails', { rule: 'cylinderTrace', cylinder: { code: 'C-1' }, stations: 1 }, false, 3],
    ['a cylinder with no trace (404) counts 0', { rule: 'cylinderTrace', cylinder: { code: 'C-404' }, min: 0, max: 0 }, true, 0],
  ])('%s', async (_name, e, ok, got) => {
    const r = await check(e);
    expect([r.ok, r.got], r.why).toEqual([ok, got]);
  });

  it('prints the trace expectations with their cylinder', async () => {
    const r = await check({ rule: 'cylinderTrace', cylinder: { code: 'C-1' }, stations: 1 });
    expect(formatResults([r])[1]).toMatch(/FAIL {2}cylinderTrace C-1 .* 3 scans at 2 station\(s\), expected 1/);
  });
});
