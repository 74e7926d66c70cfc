/**
 * MQTT connection limits and pre-authentication input (docs/security.md): a stranger's
 * sockets are capped per source address and in all, closed within MQTT_CONNECT_TIMEOUT_MS
 * when they do not authenticate (nothing sent, one byte, half a TLS handshake, a silent
 * WebSocket) on TCP, TLS and WebSocket alike, while registered devices elsewhere keep their
 * PUBACKs; and nothing a connection sends before it authenticates is written to the store:
 * it is counted in /metrics instead.
 */
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MqttClient, type IClientOptions } from 'mqtt';
import WebSocket from 'ws';
import { encodeConnect } from '../../simulators/load/rawMqtt.js';
import { programs } from '../helpers/external.js';
import { connectMqtt, startService, type TestService } from '../helpers/service.js';
import { throwawayTls } from '../helpers/tls.js';

const openssl = programs(['openssl'], 'openssl');
const TIMEOUT_MS = 1500;
/** how late past the connect timeout a close may be seen (a loaded test machine: timers, the test's own event loop) */
const SLACK_MS = 2000;
const CAP = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ts`: connect timeout 1.5 s, for the deadlines; `slow`: 60 s, so that no slot frees during a flood and the caps can be counted exactly */
let ts: TestService;
let slow: TestService;
let certDir = '';

beforeAll(async () => {
  const overrides: Record<string, unknown> = { MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS: CAP };
  if (openssl.ok) {
    const tls = await throwawayTls();
    certDir = tls.dir;
    Object.assign(overrides, tls.settings);
  }
  ts = await startService({ ...overrides, MQTT_CONNECT_TIMEOUT_MS: TIMEOUT_MS });
  slow = await startService({ ...overrides, MQTT_CONNECT_TIMEOUT_MS: 60_000 });
});
afterAll(async () => {
  await ts?.dispose();
  await slow?.dispose();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

async function metrics(s: TestService = ts): Promise<(name: string, reason: string) => number> {
  const text = (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
  return (name, reason) => Number(new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

interface Held { closedAt: number | null; openedAt: number; destroy(): void }

/** A plain TCP socket to `port` from `localAddress`; sends `first` (or nothing) and waits. */
function tcp(port: number, localAddress: string, first: Buffer | null): Promise<Held> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    const h: Held = { closedAt: null, openedAt: Date.now(), destroy: () => socket.destroy() };
    socket.on('error', () => undefined);
    socket.on('close', () => { h.closedAt = Date.now(); resolve(h); });
    socket.on('connect', () => { h.openedAt = Date.now(); if (first) socket.write(first); resolve(h); });
  });
}

/** A TLS connection that completes its handshake, then sends `first` (or nothing). */
function tlsHeld(port: number, localAddress: string, first: Buffer | null): Promise<Held> {
  return new Promise((resolve) => {
    const socket = tls.connect({ socket: net.connect({ host: '127.0.0.1', port, localAddress }), ca: readFileSync(path.join(certDir, 'cert.pem')), servername: 'localhost' });
    const h: Held = { closedAt: null, openedAt: Date.now(), destroy: () => socket.destroy() };
    socket.on('error', () => undefined);
    socket.on('close', () => { h.closedAt = Date.now(); resolve(h); });
    socket.on('secureConnect', () => { if (first) socket.write(first); resolve(h); });
  });
}

/** A WebSocket upgraded at /mqtt, then sending `first` as one binary frame (or nothing). Null h when refused (503). */
function wsHeld(httpPort: number, localAddress: string, first: Buffer | null): Promise<Held & { refused: boolean }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/mqtt`, 'mqtt', { localAddress });
    const h = { closedAt: null as number | null, openedAt: Date.now(), refused: false, destroy: () => ws.terminate() };
    ws.on('error', () => undefined);
    ws.on('unexpected-response', (_req, res) => { h.refused = res.statusCode === 503; h.closedAt = Date.now(); ws.terminate(); resolve(h); });
    ws.on('close', () => { h.closedAt ??= Date.now(); resolve(h); });
    ws.on('open', () => { if (first) ws.send(first); resolve(h); });
  });
}

/** MQTT.js over TCP from a chosen loopback source address (its own tcp builder takes none); resolves on CONNACK 0. */
function connectFrom(port: number, localAddress: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = new MqttClient(() => net.connect({ host: '127.0.0.1', port, localAddress }), { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', (err) => { c.end(true); reject(err); });
  });
}

const stillOpen = (held: Held[]) => held.filter((h) => h.closedAt === null).length;

/** Until at most `n` are open (the server closes refused sockets as soon as it accepts them; a loaded machine may take a moment). */
async function waitAtMost(held: Held[], n: number, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (stillOpen(held) > n && Date.now() < until) await sleep(25);
}

async function waitClosed(held: Held[], ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (stillOpen(held) > 0 && Date.now() < until) await sleep(25);
}

/** A registered device on another address publishing QoS 1 while the flood lasts: its PUBACK times. */
async function deviceMeanwhile(s: TestService, localAddress: string, during: () => Promise<void>): Promise<number[]> {
  const { id, secret } = await s.registerDevice({ id: `lim-meanwhile-${Math.random().toString(36).slice(2, 8)}`, family: 'elevator' });
  const c = await connectFrom(s.started.mqttPort, localAddress, { username: id, password: secret, clientId: id });
  const times: number[] = [];
  let stop = false;
  const loop = (async () => {
    for (let i = 0; !stop; i++) {
      const t0 = Date.now();
      await c.publishAsync(`elevator/${id}/heartbeat`, JSON.stringify({ msgId: `during-${Date.now()}-${i}`, ts: Date.now() }), { qos: 1 });
      times.push(Date.now() - t0);
      await sleep(50);
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await loop;
    await c.endAsync();
  }
  return times;
}

describe('sockets that do not authenticate are closed within MQTT_CONNECT_TIMEOUT_MS', () => {
  const lifetimes = (held: Held[]) => held.map((h) => h.closedAt! - h.openedAt);

  it('TCP: a flood of 300 idle and one-byte sockets from one address is capped and closed in time; a device elsewhere keeps its PUBACKs', async () => {
    const before = await metrics();
    let held: Held[] = [];
    const acks = await deviceMeanwhile(ts, '127.0.0.1', async () => {
      held = await Promise.all(Array.from({ length: 300 }, (_, i) => tcp(ts.started.mqttPort, '127.0.0.2', i % 2 ? Buffer.from([0x10]) : null)));
      await waitAtMost(held, CAP, 1000);
      expect(stillOpen(held)).toBeLessThanOrEqual(CAP);
      await waitClosed(held, TIMEOUT_MS + SLACK_MS);
    });
    expect(stillOpen(held)).toBe(0);
    expect(Math.max(...lifetimes(held))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    expect(acks.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...acks)).toBeLessThan(SLACK_MS);
    const after = await metrics();
    expect(after('mqtt_connections_refused_total', 'address_unauthenticated')).toBeGreaterThan(before('mqtt_connections_refused_total', 'address_unauthenticated'));
    expect(after('mqtt_preauth_closed_total', 'connect_timeout')).toBeGreaterThan(before('mqtt_preauth_closed_total', 'connect_timeout'));
  });

  it.skipIf(!openssl.ok)('TLS: a socket that never starts the handshake, sends one byte of it, or completes it and sends nothing or one byte', async () => {
    const port = ts.started.mqttsPort!;
    const held = (await Promise.all([
      ...Array.from({ length: 10 }, () => tcp(port, '127.0.0.3', null)),
      ...Array.from({ length: 10 }, () => tcp(port, '127.0.0.3', Buffer.from([0x16]))),
      ...Array.from({ length: 10 }, () => tlsHeld(port, '127.0.0.3', null)),
      ...Array.from({ length: 10 }, () => tlsHeld(port, '127.0.0.3', Buffer.from([0x10]))),
    ]));
    await waitClosed(held, TIMEOUT_MS + SLACK_MS);
    expect(stillOpen(held)).toBe(0);
    expect(Math.max(...lifetimes(held))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('WebSocket /mqtt: an upgraded socket that sends nothing or one byte', async () => {
    const held = await Promise.all(Array.from({ length: 20 }, (_, i) => wsHeld(ts.started.httpPort, '127.0.0.4', i % 2 ? Buffer.from([0x10]) : null)));
    expect(held.every((h) => !h.refused)).toBe(true);
    await waitClosed(held, TIMEOUT_MS + SLACK_MS);
    expect(stillOpen(held)).toBe(0);
    expect(Math.max(...lifetimes(held))).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });
});

describe('connections that have not authenticated are capped per source address (MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS)', () => {
  it('TCP: past the cap a socket is closed at once; the other addresses and devices are served', async () => {
    const before = await metrics(slow);
    let held: Held[] = [];
    const acks = await deviceMeanwhile(slow, '127.0.0.1', async () => {
      held = await Promise.all(Array.from({ length: 300 }, (_, i) => tcp(slow.started.mqttPort, '127.0.0.2', i % 2 ? Buffer.from([0x10]) : null)));
      await waitAtMost(held, CAP);
      await sleep(100);
      expect(stillOpen(held)).toBe(CAP);
    });
    expect(acks.length).toBeGreaterThanOrEqual(3);
    expect((await metrics(slow))('mqtt_connections_refused_total', 'address_unauthenticated') - before('mqtt_connections_refused_total', 'address_unauthenticated')).toBe(300 - CAP);
    // another address is not affected by that one's cap
    const other = await Promise.all(Array.from({ length: 10 }, () => tcp(slow.started.mqttPort, '127.0.0.9', null)));
    await sleep(100);
    expect(stillOpen(other)).toBe(10);
    for (const h of [...held, ...other]) h.destroy();
  });

  it.skipIf(!openssl.ok)('TLS: counted before the handshake; a device over TLS still connects', async () => {
    const port = slow.started.mqttsPort!;
    const flood = await Promise.all(Array.from({ length: CAP + 50 }, () => tcp(port, '127.0.0.3', null)));
    await waitAtMost(flood, CAP);
    await sleep(100);
    expect(stillOpen(flood)).toBe(CAP);
    const dev = await slow.registerDevice({ id: 'lim-tls-elev', family: 'elevator' });
    const c = await connectMqtt(`mqtts://localhost:${port}`, { username: dev.id, password: dev.secret, clientId: dev.id, ca: readFileSync(path.join(certDir, 'cert.pem')) });
    await c.publishAsync(`elevator/${dev.id}/heartbeat`, JSON.stringify({ msgId: 'tls-1', ts: Date.now() }), { qos: 1 });
    await c.endAsync();
    for (const h of flood) h.destroy();
  });

  it('WebSocket /mqtt: past the cap the upgrade gets 503 and is closed; a device over WebSocket from another address is served', async () => {
    const before = await metrics(slow);
    const flood = await Promise.all(Array.from({ length: CAP + 50 }, () => wsHeld(slow.started.httpPort, '127.0.0.5', null)));
    expect(flood.filter((h) => h.refused).length).toBe(50);
    expect(stillOpen(flood)).toBe(CAP);
    expect((await metrics(slow))('mqtt_connections_refused_total', 'address_unauthenticated') - before('mqtt_connections_refused_total', 'address_unauthenticated')).toBe(50);
    const dev = await slow.registerDevice({ id: 'lim-ws-elev', family: 'elevator' });
    const c = await connectMqtt(`ws://127.0.0.1:${slow.started.httpPort}/mqtt`, { username: dev.id, password: dev.secret, clientId: dev.id });
    await c.publishAsync(`elevator/${dev.id}/heartbeat`, JSON.stringify({ msgId: 'ws-lim-1', ts: Date.now() }), { qos: 1 });
    await c.endAsync();
    for (const h of flood) h.destroy();
  });
});

describe('the total cap and the per-address cap on authenticated connections', () => {
  it('MQTT_MAX_CONNECTIONS closes connections past it at once; MQTT_MAX_CONNECTIONS_PER_ADDRESS answers CONNACK 3, but a device may take over its own', async () => {
    const s = await startService({ MQTT_MAX_CONNECTIONS: 30, MQTT_MAX_CONNECTIONS_PER_ADDRESS: 2 });
    try {
      // the default is derived, never "no limit"
      expect(ts.service.config.mqtt.maxConnections).toBeGreaterThan(0);
      const devs = await Promise.all([1, 2, 3, 4].map((i) => s.registerDevice({ id: `lim-addr-${i}`, family: 'kitchen' })));
      const connect = (d: { id: string; secret: string }, localAddress: string) =>
        connectFrom(s.started.mqttPort, localAddress, { username: d.id, password: d.secret, clientId: d.id });
      const a = await connect(devs[0]!, '127.0.0.6');
      const b = await connect(devs[1]!, '127.0.0.6');
      await expect(connect(devs[2]!, '127.0.0.6')).rejects.toMatchObject({ code: 3 });
      // the first device reconnecting from there takes over its own connection: allowed
      const aClosed = new Promise<void>((resolve) => a.once('close', () => resolve()));
      const a2 = await connect(devs[0]!, '127.0.0.6');
      await aClosed;
      a.end(true);
      // another address has its own count
      const d = await connect(devs[3]!, '127.0.0.7');
      expect((await metrics(s))('mqtt_connections_refused_total', 'address_connections')).toBe(1);

      // the total: 30 open at most (3 devices hold 3), the rest closed at once
      const held = await Promise.all(Array.from({ length: 40 }, (_, i) => tcp(s.started.mqttPort, `127.0.1.${1 + (i % 10)}`, null)));
      await waitAtMost(held, 30 - 3);
      await sleep(100);
      expect(stillOpen(held)).toBe(30 - 3);
      expect((await metrics(s))('mqtt_connections_refused_total', 'max_connections')).toBe(40 - 27);
      for (const h of held) h.destroy();
      await sleep(100);
      for (const c of [a2, b, d]) await c.endAsync();
    } finally {
      await s.dispose();
    }
  });
});

describe('nothing a connection sends before it authenticates is stored', () => {
  /** Remaining Length of 2 MiB: over MQTT_MAX_PACKET_BYTES (1 MiB) */
  const huge = Buffer.from([0x80, 0x80, 0x80, 0x01]);

  it('oversized packets, oversized CONNECTs and junk from strangers write no dead letter and no connection state; /metrics counts them', async () => {
    const victim = await ts.registerDevice({ id: 'lim-pre-victim', family: 'elevator' });
    await ts.service.ingest.flushed();
    const lettersBefore = (await ts.service.store.deadLetters.list({ limit: 100_000 })).length;
    const before = await metrics();
    const sends: Buffer[] = [
      Buffer.concat([Buffer.from([0x30]), huge]), // a PUBLISH header of 2 MiB, no CONNECT
      Buffer.concat([Buffer.from([0x10]), huge]), // a CONNECT header of 2 MiB
      Buffer.concat([encodeConnect(victim.id, victim.id, 'wrong-secret'), Buffer.from([0x30]), huge]), // bad credentials, then an oversized packet
      Buffer.concat([encodeConnect('someone-else', victim.id, victim.secret), Buffer.from([0x30]), huge]), // good credentials, wrong client id
      Buffer.from([0xc0, 0x00]), // PINGREQ before CONNECT [MQTT-3.1.0-1]
      Buffer.from([0x00, 0x00, 0x00, 0x00]), // a reserved packet type
    ];
    const rounds = 40;
    const held: Held[] = [];
    for (let r = 0; r < rounds; r++) {
      held.push(...await Promise.all(sends.map((b, i) => tcp(ts.started.mqttPort, `127.0.2.${1 + ((r * sends.length + i) % 50)}`, b))));
    }
    await waitClosed(held, 3000);
    expect(stillOpen(held)).toBe(0);
    await ts.service.ingest.flushed();
    await ts.service.tracker.flush();
    expect((await ts.service.store.deadLetters.list({ limit: 100_000 })).length).toBe(lettersBefore);
    const api = await ts.service.http.inject({ method: 'GET', url: '/api/dead-letters?reason=packet_too_large', headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(api.statusCode).toBe(200);
    expect(JSON.stringify(api.json())).not.toContain(victim.id);
    expect(ts.service.tracker.get(victim.id)?.connected ?? false).toBe(false);
    expect((await ts.service.store.devices.loadConnectionStates()).some((st) => st.deviceId === victim.id)).toBe(false);
    const after = await metrics();
    expect(after('mqtt_preauth_closed_total', 'packet_too_large') - before('mqtt_preauth_closed_total', 'packet_too_large')).toBe(4 * rounds);
    expect(after('mqtt_preauth_closed_total', 'invalid_packet') - before('mqtt_preauth_closed_total', 'invalid_packet')).toBe(2 * rounds);
  });

  it('an authenticated device\'s oversized packet is still a dead letter', async () => {
    const dev = await ts.registerDevice({ id: 'lim-post-auth', family: 'elevator' });
    const socket = net.connect({ host: '127.0.0.1', port: ts.started.mqttPort });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('connect', () => socket.write(encodeConnect(dev.id, dev.id, dev.secret)));
    socket.once('data', () => socket.write(Buffer.concat([Buffer.from([0x30]), huge])));
    await closed;
    await ts.service.ingest.flushed();
    const letters = await ts.service.store.deadLetters.list({ deviceId: dev.id, reason: 'packet_too_large', limit: 5 });
    expect(letters).toHaveLength(1);
  });
});
