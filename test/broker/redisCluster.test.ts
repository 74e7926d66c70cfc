/**
 * MQTT across nodes (broker/redisBackends.ts): two services, each with its own aedes, over one
 * real Redis (Debian redis-server on loopback). A client's session and subscriptions live in
 * Redis, so they follow it to whichever node it reaches; a publish on one node reaches
 * subscribers on the other. Each node is told of the same devices and accounts here (the
 * shared PostgreSQL registry does that in cluster mode).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { programs } from '../helpers/external.js';
import { RedisServer } from '../helpers/redisServer.js';
import { collect, connectMqtt, startService, type TestService } from '../helpers/service.js';

const redisBin = programs(['redis-server'], 'redis-server');

let redis: RedisServer;
let a: TestService;
let b: TestService;

/** The device registered on A, and known on B with the same secret hash. */
async function onBoth(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const d = await a.registerDevice(body);
  const record = a.service.registry.get(d.id)!;
  await b.service.store.devices.insert([record]);
  await b.service.registry.start();
  return d;
}

describe.skipIf(!redisBin.ok)('MQTT across two nodes over Redis', () => {
  beforeAll(async () => {
    redis = await RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : '');
    a = await startService({}, undefined, { mqttCluster: { redisUrl: redis.url, nodeId: 'node-a' } });
    b = await startService({}, undefined, { mqttCluster: { redisUrl: redis.url, nodeId: 'node-b' } });
    for (const s of [a, b]) {
      const res = await s.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${s.adminToken}` }, payload: { username: 'op1', password: 'operator-pass', role: 'operator' } });
      expect(res.statusCode).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    await a?.dispose();
    await b?.dispose();
    await redis?.dispose();
  });

  it('a scanner whose session was made on node B gets its reply through node A, without subscribing again', async () => {
    const d = await onBoth({ id: 'scan-x1', family: 'cylinder', meta: { stationId: 'ST-1' } });
    const onB = await connectMqtt(b.mqttUrl, { username: d.id, password: d.secret, clientId: d.id, clean: false });
    await onB.subscribeAsync(`cylinder/${d.id}/scan/reply`, { qos: 1 });
    await onB.endAsync();
    // the scanner's connection moved (a node lost, HAProxy's next pick): the same session, on A
    const onA = await connectMqtt(a.mqttUrl, { username: d.id, password: d.secret, clientId: d.id, clean: false });
    const replies = collect(onA, 1, 5000);
    await onA.publishAsync(`cylinder/${d.id}/scan`, JSON.stringify(examplePayload('cylinder', 'scan', 'x1-1', Date.now())), { qos: 1 });
    const got = await replies;
    await onA.endAsync();
    expect(got.map((m) => m.topic)).toEqual([`cylinder/${d.id}/scan/reply`]);
    expect(JSON.parse(got[0]!.payload.toString())).toMatchObject({ msgId: 'x1-1' });
  }, 30_000);

  it('an alerts/# subscriber on node A receives the alert raised on node B', async () => {
    const sub = await connectMqtt(a.mqttUrl, { username: 'op1', password: 'operator-pass', clientId: 'user:op1:wall' });
    await sub.subscribeAsync('alerts/#', { qos: 1 });
    const alerts = collect(sub, 1, 8000);
    const d = await onBoth({ id: 'disp-x1', family: 'dispenser' });
    const dev = await b.connectDevice(d.id, d.secret);
    await dev.publishAsync(`dispenser/${d.id}/tamper`, JSON.stringify({ msgId: 'tx1', ts: Date.now(), stationId: 'FS-9', dispenserId: 'D-1', kind: 'seal_open' }), { qos: 1 });
    const got = await alerts;
    await dev.endAsync();
    await sub.endAsync();
    expect(got.map((m) => m.topic)).toEqual(['alerts/dispenser/tamper']);
    expect(JSON.parse(got[0]!.payload.toString()).alert).toMatchObject({ rule: 'dispenser.tamper', device: { id: d.id } });
  }, 30_000);

  it('QoS 1 alerts for a subscriber that was away are delivered when it comes back on the other node', async () => {
    const first = await connectMqtt(b.mqttUrl, { username: 'op1', password: 'operator-pass', clientId: 'user:op1:away', clean: false });
    await first.subscribeAsync('alerts/dispenser/#', { qos: 1 });
    await first.endAsync();
    const d = await onBoth({ id: 'disp-x2', family: 'dispenser' });
    const dev = await a.connectDevice(d.id, d.secret);
    await dev.publishAsync(`dispenser/${d.id}/tamper`, JSON.stringify({ msgId: 'tx2', ts: Date.now(), stationId: 'FS-9', dispenserId: 'D-2', kind: 'seal_open' }), { qos: 1 });
    await dev.endAsync();
    // the alert is raised once its reading is stored and the rules ran: give it that time
    await new Promise((r) => setTimeout(r, 1500));
    const back = await connectMqtt(a.mqttUrl, { username: 'op1', password: 'operator-pass', clientId: 'user:op1:away', clean: false });
    const got = await collect(back, 1, 5000);
    await back.endAsync();
    expect(got.map((m) => JSON.parse(m.payload.toString()).alert.device.id)).toEqual([d.id]);
  }, 30_000);

  it('one live connection per client id across the nodes: the second takes the first over', async () => {
    const d = await onBoth({ id: 'elev-x1', family: 'elevator' });
    const onA = await connectMqtt(a.mqttUrl, { username: d.id, password: d.secret, clientId: d.id });
    const closed = new Promise<void>((resolve) => onA.once('close', () => resolve()));
    const onB = await connectMqtt(b.mqttUrl, { username: d.id, password: d.secret, clientId: d.id });
    await closed;
    expect(onB.connected).toBe(true);
    await onB.endAsync();
    onA.end(true);
  }, 30_000);
});
