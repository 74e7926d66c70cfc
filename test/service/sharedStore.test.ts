/**
 * A whole service on cluster mode's shared store (store/postgresStore.ts, a real PostgreSQL on
 * loopback): a device's QoS 1 readings are acknowledged from this node's journal and land in
 * PostgreSQL under this node's id; a restart finds devices, readings and alerts there;
 * /healthz and /metrics report PostgreSQL, down while the server is gone (the journal keeps
 * the readings) and up again once it is back, with nothing lost. The health rule itself is a
 * table (service/health.ts postgresHealth).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { postgresHealth } from '../../service/health.js';
import type { PostgresStatus } from '../../store/postgres/database.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';
import { startService, type TestService } from '../helpers/service.js';

const NOW = Date.UTC(2026, 11, 7, 8, 0, 0);
const status = (over: Partial<PostgresStatus>): PostgresStatus => ({
  open: true, connections: 3, idle: 2, waiting: 0, failures: 0, lastError: null, lastErrorAt: null, failing: false, ...over,
});

describe('postgresHealth (service/health.ts)', () => {
  it.each([
    ['open, nothing failed', status({}), true],
    ['not open', status({ open: false }), false],
    ['the last contact failed, none since', status({ failures: 2, lastError: 'connect ECONNREFUSED', lastErrorAt: NOW - 1000, failing: true }), false],
    ['failed, then a statement succeeded: up, the count kept', status({ failures: 5, lastError: 'x', lastErrorAt: NOW - 2000 }), true],
  ])('%s', (_name, s, ok) => {
    const h = postgresHealth(s);
    expect(h.ok).toBe(ok);
    expect(h.detail).toContain(s.open ? '3 connections (2 idle), 0 waiting' : 'not open');
    if (!ok && s.open) {
      expect(h.error).toBe(s.lastError);
      expect(h.since).toBe(new Date(s.lastErrorAt!).toISOString());
    }
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function poll<T>(probe: () => Promise<T>, done: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  let v = await probe();
  while (!done(v) && Date.now() < until) {
    await sleep(50);
    v = await probe();
  }
  return v;
}

interface Health { ok: boolean; components: Record<string, { ok: boolean; detail?: string; error?: string }> }

const found = postgresPrograms();
describe.skipIf(!found.ok)(`a service on PostgreSQL${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
  let server: PostgresServer;
  let url: string;
  beforeAll(async () => {
    // durable: the outage below must lose no commit the service was told of
    server = await PostgresServer.start(found.ok ? found.paths : {}, { durable: true });
    url = await server.createDatabase('shared_service');
  });
  afterAll(async () => { await server?.dispose(); });

  const health = async (s: TestService) => {
    const r = await s.service.http.inject({ method: 'GET', url: '/healthz' });
    return { status: r.statusCode, body: r.json() as Health };
  };
  const storedRows = async (s: TestService) =>
    s.service.shared!.db.rows<{ node_id: string; n: string }>('SELECT node_id, count(*) AS n FROM r_elevator_status GROUP BY node_id');

  it('stores under its node id, survives a restart, and reports PostgreSQL down and up again with nothing lost', async () => {
    let s = await startService({ ALERT_CHECKPOINT_MS: 100 }, undefined, { sharedStore: { url, nodeId: 'node-a' } });
    const dataDir = s.dataDir;
    try {
      expect(s.service.duckdb).toBeNull();
      expect(s.service.archiver).toBeNull();
      const up = await health(s);
      expect(up.status).toBe(200);
      expect(up.body.components.postgres).toMatchObject({ ok: true });
      expect(up.body.components.postgres!.detail).toMatch(/^\d+ connections \(\d+ idle\), 0 waiting$/);
      const m = (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
      expect(m).toMatch(/^postgres_pool_connections \d+$/m);
      expect(m).toMatch(/^component_up\{component="postgres"\} 1$/m);

      const dev = await s.registerDevice({ id: 'pg-lift-1', family: 'elevator', district: '330106' });
      const c = await s.connectDevice(dev.id, dev.secret);
      const send = (i: number) => c.publishAsync(`elevator/${dev.id}/status`, JSON.stringify(examplePayload('elevator', 'status', `m-${i}`, Date.now() - 60_000 + i)), { qos: 1 });
      for (let i = 0; i < 5; i++) await send(i);
      expect(await poll(() => storedRows(s), (r) => Number(r[0]?.n) === 5)).toEqual([{ node_id: 'node-a', n: '5' }]);

      // the server goes away: acknowledged readings wait in the journal, /healthz says why
      await server.stop();
      for (let i = 5; i < 10; i++) await send(i);
      const down = await poll(() => health(s), (h) => h.status === 503 && h.body.components.postgres?.ok === false);
      expect(down.status).toBe(503);
      expect(down.body.components.postgres).toMatchObject({ ok: false });
      expect(down.body.components.postgres!.detail).toMatch(/^PostgreSQL unreachable: /);

      await server.restart();
      const back = await poll(() => health(s), (h) => h.status === 200, 30_000);
      expect(back.status, JSON.stringify(back.body.components)).toBe(200);
      // each acknowledged reading stored once
      expect(await poll(() => storedRows(s), (r) => Number(r[0]?.n) === 10)).toEqual([{ node_id: 'node-a', n: '10' }]);
      await c.endAsync();
      await s.stop();

      // a restart (same data dir, same database) finds the device and its readings
      s = await startService({}, dataDir, { sharedStore: { url, nodeId: 'node-a' } });
      const res = await s.service.http.inject({ method: 'GET', url: `/api/devices/${dev.id}/readings?limit=100`, headers: { authorization: `Bearer ${s.adminToken}` } });
      expect(res.statusCode, res.body).toBe(200);
      expect((res.json() as { items: unknown[] }).items).toHaveLength(10);
    } finally {
      await s.dispose();
    }
  }, 120_000);
});
