/**
 * Two services as cluster nodes over one real PostgreSQL and one real Redis (cluster mode:
 * service/alertsWiring.ts, cluster/clusterAlerts.ts): an elevator registered through A sends a
 * trapped alarm through B; the owner of its slot raises it once: the wall (/ws) of either node
 * shows it, an alerts/# subscriber on A receives it once, A's API lists it; a dispatcher's
 * acknowledgement through A and the case's dispatch through B reach the owner wherever it is,
 * and both walls follow. Then the configuration: REDIS_URL and DATABASE_URL make a node of a
 * service started from them alone.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { shares, slotOf } from '../../core/cluster/slots.js';
import { programs } from '../helpers/external.js';
import { Client } from '../helpers/liveClient.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';
import { RedisServer } from '../helpers/redisServer.js';
import { collect, connectMqtt, startService, type TestService } from '../helpers/service.js';
import { within } from './clusterNodes.js';

const pgBin = postgresPrograms();
const redisBin = programs(['redis-server'], 'redis-server');
const missing = !pgBin.ok ? pgBin.reason : !redisBin.ok ? redisBin.reason : null;
const settings = { ALERT_TICK_MS: 100, ALERT_CHECKPOINT_MS: 200 };

describe.skipIf(missing !== null)(`two cluster nodes${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  let a: TestService;
  let b: TestService;
  let url: string;
  const clients: MqttClient[] = [];
  const walls: Client[] = [];
  beforeAll(async () => {
    [redis, pg] = await Promise.all([RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : ''), PostgresServer.start(pgBin.ok ? pgBin.paths : {})]);
    url = await pg.createDatabase('cluster_service');
    const node = (nodeId: string) => startService(settings, undefined, { sharedStore: { url, nodeId }, mqttCluster: { redisUrl: redis.url, nodeId } });
    a = await node('node-a');
    b = await node('node-b');
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const w of walls) w.close();
    await a?.dispose();
    await b?.dispose();
    await Promise.all([redis?.dispose(), pg?.dispose()]);
  });

  const api = async (s: TestService, method: 'GET' | 'POST', path: string, token = s.adminToken, payload?: unknown) => {
    const res = await s.service.http.inject({ method, url: path, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { items?: Array<Record<string, unknown>> } };
  };

  it('a trapped alarm through B is raised once, seen on both walls and by an alerts/# subscriber on A; actions through either node reach its owner', async () => {
    await api(a, 'POST', '/api/users', a.adminToken, { username: 'disp1', password: 'dispatcher-pass', role: 'dispatcher' });
    const disp = await within(3000, 'the dispatcher known on B', async () => b.token('disp1', 'dispatcher-pass').catch(() => undefined));
    const dispA = await a.token('disp1', 'dispatcher-pass');
    // both nodes hold slots; the elevator's may be on either
    const share = shares(['node-a', 'node-b']);
    await within(15_000, 'slots shared', () => a.service.clusterAlerts!.engines.held().length === share.get('node-a') && b.service.clusterAlerts!.engines.held().length === share.get('node-b'));
    const dev = await a.registerDevice({ id: 'c-elev-1', family: 'elevator', district: '330106' });
    const owner = await a.service.clusterAlerts!.engines.holderNow(slotOf(dev.id));
    expect(['node-a', 'node-b']).toContain(owner);

    const wallA = await Client.open(`ws://127.0.0.1:${a.started.httpPort}/ws?token=${dispA}`);
    const wallB = await Client.open(`ws://127.0.0.1:${b.started.httpPort}/ws?token=${disp}`);
    walls.push(wallA, wallB);
    await wallA.next((m) => m.type === 'hello');
    await wallB.next((m) => m.type === 'hello');
    const subscriber = await connectMqtt(a.mqttUrl, { username: 'disp1', password: 'dispatcher-pass', clientId: 'user:disp1:wall' });
    clients.push(subscriber);
    await subscriber.subscribeAsync('alerts/elevator/trapped', { qos: 1 });
    const alertsSeen = collect(subscriber, 3, 5000);

    const device = await b.connectDevice(dev.id, dev.secret);
    clients.push(device);
    await device.publishAsync(`elevator/${dev.id}/fault`, JSON.stringify({ ...examplePayload('elevator', 'fault', 'f-1', Date.now()), code: 11, floor: 4 }), { qos: 1 });

    const onA = await wallA.next((m) => m.type === 'alert' && (m.alert as { device: { id: string } }).device.id === dev.id, 5000);
    const onB = await wallB.next((m) => m.type === 'alert' && (m.alert as { device: { id: string } }).device.id === dev.id, 5000);
    const alertId = (onA.alert as { id: string }).id;
    expect((onB.alert as { id: string }).id).toBe(alertId);
    expect(a.service.alerts.activeAlerts().map((x) => x.id)).toContain(alertId);
    expect(b.service.alerts.activeAlerts().map((x) => x.id)).toContain(alertId);
    const listed = await within(3000, 'A lists the alert', async () => (await api(a, 'GET', `/api/alerts?deviceId=${dev.id}`)).body.items?.[0]);
    expect(listed.id).toBe(alertId);

    // acknowledged through A, wherever the owner is
    const ack = await api(a, 'POST', `/api/alerts/${alertId}/ack`, dispA, { note: '已接警' });
    expect(ack.status).toBe(200);
    expect(ack.body.status).toBe('acknowledged');
    await wallB.next((m) => m.type === 'alert' && (m.alert as { id: string; status: string }).id === alertId && (m.alert as { status: string }).status === 'acknowledged', 3000);
    // the case's dispatch through B
    const caseId = (listed.rescueCaseId ?? (await api(b, 'GET', `/api/alerts/${alertId}`)).body.rescueCaseId) as string;
    const step = await api(b, 'POST', `/api/rescue-cases/${caseId}/steps`, disp, { step: 'dispatched', note: '派单' });
    expect(step.status, JSON.stringify(step.body)).toBe(200);
    await wallA.next((m) => m.type === 'rescueCase' && (m.rescueCase as { id: string; status: string }).status === 'dispatched', 3000);

    // an action the state refuses is refused as on one node, through the other node too
    const again = await api(b, 'POST', `/api/alerts/${alertId}/ack`, disp, {});
    expect(again.status).toBe(409);
    expect((again.body.error as { code: string }).code).toBe('alert_conflict');
    expect((await api(b, 'POST', '/api/alerts/no-such-alert/ack', disp, {})).status).toBe(404);

    // the alert went out on alerts/# once (opened), not once per node
    const bodies = (await alertsSeen).map((m) => JSON.parse(m.payload.toString()) as { change: string; alert: { id: string; status: string } });
    expect(bodies.filter((x) => x.alert.id === alertId && x.change === 'opened')).toHaveLength(1);
    expect(bodies.filter((x) => x.alert.id === alertId && x.alert.status === 'acknowledged').length).toBeGreaterThanOrEqual(1);
    // stored once
    expect((await api(a, 'GET', `/api/alerts?deviceId=${dev.id}&rule=elevator.trapped`)).body.items).toHaveLength(1);
  }, 60_000);

  it('a phone trapping through either node opens its case on the owner; store scores gather every owner\'s; the black list answers on both', async () => {
    // a token issued on A a moment ago works on B at once (B reads it from the shared store before the change bus tells it)
    const disp = await a.token('disp1', 'dispatcher-pass');
    expect((await api(b, 'GET', '/api/rescue-cases', disp)).status).toBe(200);
    const fresh = await a.token('disp1', 'dispatcher-pass');
    const wallB = await Client.open(`ws://127.0.0.1:${b.started.httpPort}/ws?token=${fresh}`);
    walls.push(wallB);
    expect((await wallB.next((m) => m.type === 'hello' || m.type === 'error')).type).toBe('hello');
    expect((await api(b, 'GET', '/api/rescue-cases', `sst_${'z'.repeat(43)}`)).status).toBe(401);
    const elev = await a.registerDevice({ id: 'c-elev-phone', family: 'elevator', district: '330106' });
    await within(3000, 'the elevator known on B', () => b.service.registry.get(elev.id));
    const phoned = await api(b, 'POST', '/api/rescue-cases', disp, { elevatorId: elev.id, floor: '3', note: '乘客来电' });
    expect(phoned.status, JSON.stringify(phoned.body)).toBe(201);
    expect(await within(3000, 'the phoned case on A\'s wall', () => a.service.alerts.activeRescueCases().find((c) => c.elevatorId === elev.id))).toMatchObject({ id: phoned.body.id, source: 'phone' });
    // the same incident called in again through A joins the case
    const again = await api(a, 'POST', '/api/rescue-cases', disp, { elevatorId: elev.id, floor: '3', note: '又一位来电' });
    expect([again.status, again.body.id, again.body.merged], JSON.stringify(again.body)).toEqual([200, phoned.body.id, true]);

    // stores whose slots are spread over both nodes: a class-3 detection (no hat) through B counts on A
    const stores = Array.from({ length: 6 }, (_, i) => `S-c${i}`);
    const cams = await Promise.all(stores.map((storeId) => a.registerDevice({ id: `cam-${storeId}`, family: 'kitchen', district: '330106', meta: { storeId } })));
    expect(new Set(await Promise.all(stores.map((st) => a.service.clusterAlerts!.engines.holderNow(slotOf(st))))).size).toBe(2);
    await within(3000, 'the cameras known on B', () => cams.every((c) => b.service.registry.get(c.id)));
    const cam = await b.connectDevice(cams[0]!.id, cams[0]!.secret);
    clients.push(cam);
    await cam.publishAsync(`kitchen/${cams[0]!.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'v-1', Date.now()), storeId: stores[0], type: 'no_chef_hat' }), { qos: 1 });
    const scores = await within(5000, 'the detection scored', async () => {
      const got = (await api(a, 'GET', '/api/stores/scores')).body.items as Array<{ storeId: string; score: number }>;
      return got.find((x) => x.storeId === stores[0])!.score < 100 && got;
    });
    expect(scores.filter((x) => stores.includes(x.storeId)).map((x) => [x.storeId, x.score]).sort()).toEqual(stores.map((st, i) => [st, i === 0 ? 99 : 100]).sort());
    const onB = (await api(b, 'GET', '/api/stores/scores')).body.items as Array<{ storeId: string; score: number }>;
    expect(onB.filter((x) => stores.includes(x.storeId)).sort((x, y) => x.storeId.localeCompare(y.storeId))).toEqual(scores.filter((x) => stores.includes(x.storeId)).sort((x, y) => x.storeId.localeCompare(y.storeId)));
    for (const s of [a, b]) expect((await api(s, 'GET', '/api/stores/lists?kind=black')).status).toBe(200);
  }, 30_000);

  it('/healthz and /metrics tell each node\'s share, its peers and Redis', async () => {
    const share = shares(['node-a', 'node-b']);
    for (const [s, id] of [[a, 'node-a'], [b, 'node-b']] as const) {
      const health = (await s.service.http.inject({ method: 'GET', url: '/healthz' })).json() as { ok: boolean; components: Record<string, { ok: boolean; detail: string }> };
      expect(health.components.cluster).toEqual({ ok: true, detail: `${id} holds ${share.get(id)} of 256 slots; peers node-a, node-b` });
      const metrics = (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toMatch(new RegExp(`^cluster_slots_held ${share.get(id)}$`, 'm'));
      expect(metrics).toMatch(/^cluster_peers 2$/m);
      expect(metrics).toMatch(/^redis_up 1$/m);
      expect(metrics).toMatch(/^component_up\{component="cluster"\} 1$/m);
    }
  });
});
