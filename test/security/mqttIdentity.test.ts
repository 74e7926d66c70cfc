/**
 * MQTT identities, client ids and sessions (docs/security.md): a client id names a session,
 * so each identity has its own namespace of ids. A device connects with its device id, an
 * integration account with `user:{username}[:{tag}]`, an anonymous client (open mode) with
 * `anon:{id}`; anything else is refused with CONNACK 0x02 and takes nothing over. A
 * persistent session is never handed to another identity, and a device's connection state
 * is counted per connection, so takeovers and overlapping connects of its own id cannot
 * leave it shown connected with no connection, or disconnected with one.
 */
import net from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeConnect } from '../../simulators/load/rawMqtt.js';
import { connectMqtt, startService, type TestService } from '../helpers/service.js';

let ts: TestService;
let victim: { id: string; secret: string };
let attacker: { id: string; secret: string };
const USER = { username: 'integ-ops', password: 'integration-pass-1' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ts = await startService();
  victim = await ts.registerDevice({ id: 'id-victim-scan', family: 'cylinder', meta: { stationId: 'ST-01' } });
  attacker = await ts.registerDevice({ id: 'id-attacker-cam', family: 'kitchen' });
  const res = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { ...USER, role: 'operator' } });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => ts?.dispose());

async function end(c: MqttClient): Promise<void> {
  if (c.connected) await c.endAsync(); else c.end(true);
}

/** The CONNACK return code a CONNECT with these options gets (0 = accepted; the client is then closed). */
async function connackOf(opts: IClientOptions, url = ts.mqttUrl): Promise<number> {
  try {
    const c = await connectMqtt(url, opts);
    await end(c);
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number') throw err;
    return code;
  }
}

async function connectionOf(id: string): Promise<{ connected: boolean }> {
  const res = await ts.service.http.inject({ method: 'GET', url: `/api/devices/${id}`, headers: { authorization: `Bearer ${ts.adminToken}` } });
  expect(res.statusCode).toBe(200);
  return res.json().connection;
}

async function metric(name: string, reason: string): Promise<number> {
  const text = (await ts.service.http.inject({ method: 'GET', url: '/metrics' })).body;
  const m = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** A CONNECT (MQTT 3.1.1) as simulators/load/rawMqtt.ts encodes it, with the clean session flag of choice. */
function connectPacket(clientId: string, clean: boolean, username?: string, password?: string): Buffer {
  const packet = encodeConnect(clientId, username, password);
  // fixed header (1 byte type + 1-2 bytes length), "MQTT" (6), level (1), then the flags
  const flagsAt = packet.indexOf(Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04])) + 7;
  if (!clean) packet[flagsAt] = packet[flagsAt]! & ~0x02;
  return packet;
}

/** Open a raw TCP connection, send a CONNECT; resolves with the socket, and its CONNACK code (null if closed first). */
function rawConnect(connect: Buffer, port = ts.started.mqttPort, delayMs = -1): { socket: net.Socket; connack: Promise<number | null>; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.on('connect', () => { if (delayMs < 0) socket.write(connect); else setTimeout(() => socket.write(connect), delayMs); });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const connack = new Promise<number | null>((resolve) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 4 && buf[0] === 0x20) resolve(buf[3]!);
    });
    socket.once('close', () => resolve(null));
  });
  return { socket, connack, closed };
}

describe('a device\'s client id is its device id', () => {
  it('another device connecting with the victim\'s client id gets CONNACK 0x02; the victim stays connected and counted', async () => {
    const before = await metric('mqtt_connect_refused_total', 'identifier_rejected');
    const v = await ts.connectDevice(victim.id, victim.secret);
    let victimClosed = false;
    v.on('close', () => { victimClosed = true; });
    try {
      expect(await connackOf({ username: attacker.id, password: attacker.secret, clientId: victim.id })).toBe(2);
      // a dashboard account over MQTT may not take a device's id either
      expect(await connackOf({ username: USER.username, password: USER.password, clientId: victim.id })).toBe(2);
      await sleep(200);
      expect(victimClosed).toBe(false);
      expect(v.connected).toBe(true);
      expect(ts.service.tracker.get(victim.id)?.connected).toBe(true);
      expect((await connectionOf(victim.id)).connected).toBe(true);
      // the victim's connection still works
      await v.publishAsync(`cylinder/${victim.id}/heartbeat`, JSON.stringify({ msgId: 'victim-after', ts: Date.now() }), { qos: 1 });
      // and the refused attacker never showed as connected under either id
      expect(ts.service.tracker.get(attacker.id)?.connected ?? false).toBe(false);
      expect(await metric('mqtt_connect_refused_total', 'identifier_rejected')).toBe(before + 2);
    } finally {
      await end(v);
    }
  });

  it('a device with any other client id, or an empty one, gets CONNACK 0x02', async () => {
    const d = { username: attacker.id, password: attacker.secret };
    expect(await connackOf({ ...d, clientId: `${attacker.id}-2` })).toBe(2);
    expect(await connackOf({ ...d, clientId: `user:${USER.username}` })).toBe(2);
    expect(await connackOf({ ...d, clientId: 'anon:x' })).toBe(2);
    expect(await connackOf({ ...d, clientId: '' })).toBe(2);
    expect(await rawConnect(connectPacket('', false, attacker.id, attacker.secret)).connack).toBe(2);
    expect(await connackOf({ ...d, clientId: attacker.id })).toBe(0);
  });

  it('credentials are checked first: a wrong secret with a foreign client id is still CONNACK 4', async () => {
    expect(await connackOf({ username: attacker.id, password: 'wrong', clientId: victim.id })).toBe(4);
  });
});

describe('a persistent session belongs to the identity that made it', () => {
  it('a queued message waits for the victim: another identity with its client id is refused and never sees it', async () => {
    const replyTopic = `cylinder/${victim.id}/scan/reply`;
    // the victim makes a persistent session with a QoS 1 subscription, then goes away
    const v1 = await ts.connectDevice(victim.id, victim.secret, { clean: false });
    await v1.subscribeAsync([replyTopic, `cylinder/${victim.id}/error`], { qos: 1 });
    await v1.endAsync();
    await sleep(100);
    // the platform queues a reply for it
    const secret = JSON.stringify({ msgId: 'queued-1', decision: 'refuse', reasons: ['unregistered'], note: 'for the victim only' });
    ts.service.broker.publish(replyTopic, secret, 1);
    await sleep(100);

    // attackers with their own credentials and the victim's client id, persistent sessions asked for
    for (const opts of [
      { username: attacker.id, password: attacker.secret },
      { username: USER.username, password: USER.password },
    ]) {
      const seen: string[] = [];
      const code = await new Promise<number>((resolve) => {
        const c = mqtt.connect(ts.mqttUrl, { ...opts, clientId: victim.id, clean: false, reconnectPeriod: 0, connectTimeout: 5000 });
        c.on('message', (_t, payload) => seen.push(payload.toString()));
        c.once('connect', (connack) => { resolve(connack.sessionPresent ? 100 : 0); c.end(true); });
        c.once('error', (err) => { resolve((err as { code?: number }).code ?? -1); c.end(true); });
      });
      expect(code).toBe(2);
      await sleep(100);
      expect(seen).toEqual([]);
    }

    // the victim comes back: its session is there, with the message
    const got = await new Promise<{ sessionPresent: boolean; messages: string[] }>((resolve, reject) => {
      const messages: string[] = [];
      let sessionPresent = false;
      const c = mqtt.connect(ts.mqttUrl, { username: victim.id, password: victim.secret, clientId: victim.id, clean: false, reconnectPeriod: 0, connectTimeout: 5000 });
      c.on('message', (t, payload) => {
        if (t === replyTopic) messages.push(payload.toString());
        c.end(true);
        resolve({ sessionPresent, messages });
      });
      c.once('connect', (connack) => { sessionPresent = connack.sessionPresent; });
      c.once('error', reject);
      setTimeout(() => { c.end(true); resolve({ sessionPresent, messages }); }, 3000);
    });
    expect(got.sessionPresent).toBe(true);
    expect(got.messages).toEqual([secret]);
  });
});

describe('connection state is counted per connection', () => {
  it('a device taking over its own connection is legal; the state follows the live one', async () => {
    const c1 = await ts.connectDevice(attacker.id, attacker.secret);
    const c1Closed = new Promise<void>((resolve) => c1.once('close', () => resolve()));
    const c2 = await ts.connectDevice(attacker.id, attacker.secret);
    await c1Closed;
    c1.end(true);
    await sleep(100);
    expect(ts.service.tracker.get(attacker.id)?.connected).toBe(true);
    await c2.publishAsync(`kitchen/${attacker.id}/heartbeat`, JSON.stringify({ msgId: 'takeover-1', ts: Date.now() }), { qos: 1 });
    await c2.endAsync();
    await sleep(100);
    expect(ts.service.tracker.get(attacker.id)?.connected).toBe(false);
    expect((await connectionOf(attacker.id)).connected).toBe(false);
  });

  it('overlapping connects with the device\'s own id leave exactly one connection, and the state right when it closes', async () => {
    const dev = await ts.registerDevice({ id: 'id-overlap-elev', family: 'elevator' });
    const connectedBefore = ts.service.tracker.connectedDevices;
    for (let round = 0; round < 5; round++) {
      // one live connection, then eight more CONNECTs of the same id within a few ms (a device
      // retrying in a reconnect storm), so that aedes' takeovers of the id overlap
      const first = rawConnect(encodeConnect(dev.id, dev.id, dev.secret));
      expect(await first.connack).toBe(0);
      const storm = Array.from({ length: 8 }, (_, i) => rawConnect(encodeConnect(dev.id, dev.id, dev.secret), ts.started.mqttPort, i % 2 ? Math.random() * 5 : 0));
      const codes = await Promise.all(storm.map((s) => s.connack));
      expect(codes.every((c) => c === 0 || c === null)).toBe(true);
      await sleep(300);
      const all = [first, ...storm];
      const open = all.filter((s) => !s.socket.destroyed && s.socket.readyState === 'open');
      // the broker keeps one of them [MQTT-3.1.4-2]; the device shows connected
      expect(open.length).toBe(1);
      expect(ts.service.tracker.get(dev.id)?.connected).toBe(true);
      expect((await connectionOf(dev.id)).connected).toBe(true);
      expect(ts.service.tracker.connectedDevices).toBe(connectedBefore + 1);
      // the device goes away: it must show disconnected
      for (const s of open) s.socket.destroy();
      await Promise.all(all.map((s) => s.closed));
      await sleep(200);
      expect(ts.service.tracker.get(dev.id)?.connected).toBe(false);
      expect((await connectionOf(dev.id)).connected).toBe(false);
      expect(ts.service.tracker.connectedDevices).toBe(connectedBefore);
    }
  });
});

describe('integration accounts: client ids user:{username}[:{tag}]', () => {
  const creds = { username: USER.username, password: USER.password };

  it('accepts its own namespace and refuses anything else with 0x02', async () => {
    expect(await connackOf({ ...creds, clientId: `user:${USER.username}` })).toBe(0);
    expect(await connackOf({ ...creds, clientId: `user:${USER.username}:grafana-1` })).toBe(0);
    expect(await connackOf({ ...creds, clientId: USER.username })).toBe(2);
    expect(await connackOf({ ...creds, clientId: 'user:admin' })).toBe(2);
    expect(await connackOf({ ...creds, clientId: `user:${USER.username}:` })).toBe(2);
    expect(await connackOf({ ...creds, clientId: `user:${USER.username}:a/b` })).toBe(2);
    expect(await connackOf({ ...creds, clientId: 'mqttjs_1234' })).toBe(2);
  });

  it('with its own id it receives alerts', async () => {
    const c = await connectMqtt(ts.mqttUrl, { ...creds, clientId: `user:${USER.username}:alerts` });
    try {
      const granted = await c.subscribeAsync('alerts/#', { qos: 1 });
      expect(granted[0]?.qos).toBe(1);
      const got = new Promise<string>((resolve) => c.once('message', (t) => resolve(t)));
      ts.service.broker.publish('alerts/kitchen/test.rule', '{}', 1);
      expect(await got).toBe('alerts/kitchen/test.rule');
    } finally {
      await end(c);
    }
  });
});

describe('open mode (MQTT_ALLOW_ANONYMOUS): client ids anon:{id}', () => {
  it('anonymous clients use anon:{id} or an empty id with clean session; device and user ids are refused with 0x02', async () => {
    const open = await startService({ MQTT_ALLOW_ANONYMOUS: true });
    try {
      const d = await open.registerDevice({ id: 'open-elev-1', family: 'elevator' });
      const connack = async (opts: IClientOptions): Promise<number> => {
        try { await end(await connectMqtt(open.mqttUrl, opts)); return 0; } catch (err) { return (err as { code: number }).code; }
      };
      expect(await connack({ clientId: 'anon:tester-1' })).toBe(0);
      expect(await connack({ clientId: '', clean: true })).toBe(0);
      // [MQTT-3.1.3-8]
      expect(await rawConnect(connectPacket('', false), open.started.mqttPort).connack).toBe(2);
      expect(await connack({ clientId: d.id })).toBe(2);
      expect(await connack({ clientId: 'user:admin' })).toBe(2);
      expect(await connack({ clientId: 'mqttjs_abc' })).toBe(2);
      // the device itself, with its credentials and id, is unaffected by open mode
      const c = await open.connectDevice(d.id, d.secret);
      const anonymous = await connectMqtt(open.mqttUrl, { clientId: 'anon:x' });
      await sleep(100);
      expect(c.connected).toBe(true);
      expect(open.service.tracker.get(d.id)?.connected).toBe(true);
      await end(anonymous);
      await end(c);
    } finally {
      await open.dispose();
    }
  });
});
