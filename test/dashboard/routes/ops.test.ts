/**
 * dashboard/routes/ops.ts and the rest of the app's own answers on a real service, with fastify
 * inject: /healthz, /metrics, the OpenAPI document at /docs, the 404 for unknown routes, and the
 * static UI (served locally with ECharts, never the server sources).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFor, expectError } from '../../helpers/api.js';
import { startService, type TestService } from '../../helpers/service.js';

let ts: TestService;
const api = apiFor(() => ts);

beforeAll(async () => {
  ts = await startService();
});
afterAll(async () => ts?.dispose());

describe('ops routes', () => {
  it('GET /healthz: 200 with each component up, no token needed', async () => {
    const res = await api('GET', '/healthz', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.data).toMatchObject({ ok: true, components: { store: { ok: true }, broker: { ok: true }, http: { ok: true } } });
  });

  it('GET /metrics: Prometheus text with the ingest metrics, no token needed', async () => {
    const res = await api('GET', '/metrics', { token: null });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain/);
    for (const name of [
      'ingest_received_total', 'ingest_stored_total', 'ingest_duplicates_total', 'ingest_dead_letters_total', 'ingest_batches_total',
      'ingest_store_failures_total', 'ingest_pending_rows', 'ingest_dedupe_entries', 'ingest_batch_commit_seconds',
      'mqtt_connected_clients', 'devices_registered',
    ]) expect(res.body).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    expect(res.body).toMatch(/^# TYPE ingest_received_total counter$/m);
    expect(res.body).toMatch(/^ingest_received_total \d+$/m);
    expect(res.body).toMatch(/^devices_registered \d+$/m);
  });

  it('GET /docs/json: an OpenAPI document listing the /api routes', async () => {
    const res = await api('GET', '/docs/json', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.data.openapi).toMatch(/^3\./);
    const paths = res.data.paths as Record<string, Record<string, unknown>>;
    const expected: Array<[string, string]> = [
      ['/api/login', 'post'], ['/api/users', 'get'], ['/api/users', 'post'], ['/api/devices', 'get'], ['/api/devices', 'post'],
      ['/api/devices/import', 'post'], ['/api/devices/import/jobs', 'get'], ['/api/devices/import/jobs/{id}', 'get'], ['/api/devices/{id}', 'get'], ['/api/devices/{id}/secret', 'post'],
      ['/api/devices/{id}/readings', 'get'], ['/api/dead-letters', 'get'], ['/healthz', 'get'], ['/metrics', 'get'],
    ];
    for (const [p, method] of expected) expect(paths[p]?.[method], `${method} ${p}`).toBeDefined();
    expect(res.data.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it.each([['GET', '/nope'], ['GET', '/api/nope'], ['POST', '/api/devices/x/y/z']] as const)('%s %s: 404 not_found', async (method, url) => {
    const res = await api(method, url);
    expectError(res, 404, 'not_found');
  });
});

describe('static UI', () => {
  it('serves the login page, the modules and ECharts without internet, never the server sources', async () => {
    const page = await ts.service.http.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('/vendor/echarts.min.js');
    expect(page.body).not.toMatch(/https?:\/\//);
    const main = await ts.service.http.inject({ url: '/js/main.js' });
    expect(main.statusCode).toBe(200);
    expect(main.headers['content-type']).toMatch(/javascript/);
    const echarts = await ts.service.http.inject({ url: '/vendor/echarts.min.js' });
    expect(echarts.statusCode).toBe(200);
    expect(echarts.body.length).toBeGreaterThan(500_000);
    expect((await ts.service.http.inject({ url: '/serve.ts' })).statusCode).toBe(404);
    expect((await ts.service.http.inject({ url: '/vendor/package.json' })).statusCode).toBe(404);
    const i18n = await ts.service.http.inject({ url: '/i18n.json' });
    expect(i18n.json()).toHaveProperty('zh');
    // the API's own 404 still answers in the error format
    expect((await ts.service.http.inject({ url: '/api/nope', headers: { authorization: `Bearer ${ts.adminToken}` } })).json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
