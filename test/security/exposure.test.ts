/**
 * For deployments whose HTTP port strangers can reach: /docs can be switched off and /metrics
 * put behind an admin token (docs/security.md, Response headers and exposure).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';

describe('HTTP_EXPOSE_DOCS=false, METRICS_REQUIRE_TOKEN=true', () => {
  let ts: TestService;
  beforeAll(async () => { ts = await startService({ HTTP_EXPOSE_DOCS: false, METRICS_REQUIRE_TOKEN: true }); });
  afterAll(async () => { await ts?.dispose(); });

  it('/docs answers 404', async () => {
    expect((await ts.service.http.inject({ method: 'GET', url: '/docs' })).statusCode).toBe(404);
    expect((await ts.service.http.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(404);
  });

  it('/metrics needs an admin token', async () => {
    expect((await ts.service.http.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { username: 'op-m', password: 'a-good-password', role: 'operator' } });
    const op = await ts.token('op-m', 'a-good-password');
    expect((await ts.service.http.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${op}` } })).statusCode).toBe(403);
    const res = await ts.service.http.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/ingest_received_total/);
  });

  it('/healthz stays open for probes', async () => {
    expect((await ts.service.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

describe('by default', () => {
  let ts: TestService;
  beforeAll(async () => { ts = await startService(); });
  afterAll(async () => { await ts?.dispose(); });

  it('/docs and /metrics are served without a token', async () => {
    expect((await ts.service.http.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
    expect((await ts.service.http.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });
});
