/**
 * Every query parameter of every route is validated by its schema: hostile and out-of-range
 * values answer 400 `validation`, never 500 (docs/security.md, Query and body validation).
 * The routes and their parameters are read from the app's own OpenAPI document, so a route
 * added later is covered without editing this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';

let ts: TestService;
const ids: Record<string, string> = {};

beforeAll(async () => {
  ts = await startService();
  ids.id = (await ts.registerDevice({ id: 'sec-elev-1', family: 'elevator', name: 'q' })).id;
  ids.code = 'NO-SUCH-CYLINDER';
  ids.username = 'admin';
});
afterAll(async () => { await ts?.dispose(); });

interface Spec { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema?: { type?: string; enum?: unknown[] } }> }>> }

function getRoutes(): Array<{ url: string; query: string[] }> {
  const spec = ts.service.http.swagger() as unknown as Spec;
  const out: Array<{ url: string; query: string[] }> = [];
  for (const [p, methods] of Object.entries(spec.paths)) {
    const get = methods.get;
    if (!get) continue;
    const query = (get.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name);
    const url = p.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(ids[name] ?? 'x'));
    out.push({ url, query });
  }
  return out;
}

/** Values no parameter of ours accepts: each must be refused with 400, whatever the parameter. */
const refused = [
  '99999999999999999999', // past int64: DuckDB overflow before
  '1e309', '-1', '1.5', 'NaN', 'Infinity', '0x10', '__proto__', 'constructor', 'toString',
  'x'.repeat(5000), '\u0000', '2026-13-45T99:99:99Z',
];

async function get(url: string): Promise<{ status: number; body: { error?: { code: string } } }> {
  const res = await ts.service.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ts.adminToken}` } });
  return { status: res.statusCode, body: res.statusCode === 200 ? {} : res.json() };
}

describe('every query parameter refuses hostile values with 400', () => {
  it('the OpenAPI document lists the list routes with their parameters', () => {
    const routes = getRoutes();
    const names = routes.map((r) => r.url);
    for (const expected of ['/api/alerts', '/api/devices', '/api/dead-letters', '/api/rescue-cases', '/api/cylinders', '/api/stats/on-time']) {
      expect(names).toContain(expected);
    }
    expect(routes.find((r) => r.url === '/api/alerts')!.query).toContain('since');
  });

  it.each(refused.map((v) => [v.length > 24 ? `${v.slice(0, 8)}… (${v.length} characters)` : JSON.stringify(v), v] as const))('value %s on every parameter of every GET route -> 400 validation, never 500', async (_label, value) => {
    const problems: string[] = [];
    for (const { url, query } of getRoutes()) {
      for (const name of query) {
        // the device query `q` and the free-text filters take any short text; a long or NUL one is still refused
        const free = ['q', 'rule', 'reason', 'deviceId', 'elevatorId', 'stationId', 'district', 'actor', 'target'].includes(name);
        if (free && value.length <= 64 && !value.includes('\u0000')) continue;
        const { status, body } = await get(`${url}?${name}=${encodeURIComponent(value)}`);
        if (status !== 400 || body.error?.code !== 'validation') problems.push(`${url}?${name}=${value.slice(0, 24)} -> ${status} ${body.error?.code ?? ''}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each([
    ['/api/devices/sec-elev-1/history?channel=__proto__&field=x', 'channel'],
    ['/api/devices/sec-elev-1/history?channel=constructor&field=x', 'channel'],
    ['/api/devices/sec-elev-1/history?channel=status&field=__proto__', 'field'],
    ['/api/devices/sec-elev-1/readings?channel=__proto__', 'channel'],
    ['/api/alerts?since=99999999999999999999', 'since'],
    ['/api/alerts?since=253402300800000', 'since'],
    ['/api/dead-letters?since=-5', 'since'],
    ['/api/devices?offset=1e300', 'offset'],
    ['/api/cylinders?offset=99999999999', 'offset'],
    ['/api/stats/on-time?from=1&to=99999999999999999999', 'to'],
    ['/api/alerts?limit=10&limit=20', 'limit'],
  ])('%s -> 400 naming %s', async (url, path) => {
    const res = await ts.service.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(res.statusCode, res.body).toBe(400);
    const err = (res.json() as { error: { code: string; details?: Array<{ path: string }> } }).error;
    expect(err.code).toBe('validation');
    expect(err.details?.map((d) => d.path)).toContain(path);
  });

  it('values in range are still served', async () => {
    for (const url of ['/api/alerts?since=0&limit=5000', '/api/alerts?since=2026-11-23T08:00:00%2B08:00', '/api/devices?offset=0&limit=1',
      '/api/devices/sec-elev-1/readings?channel=status&from=0&to=253402300799999', '/api/stats/on-time?from=2026-11-01&to=2026-11-30']) {
      const res = await ts.service.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ts.adminToken}` } });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    }
  });
});
