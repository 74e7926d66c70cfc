/**
 * The broker and ingest over real sockets: a real service (DuckDB in a temp dir) and MQTT.js
 * clients. What docs/protocol.md promises a device, checked from the device's side.
 */
import { connect, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MqttClient } from 'mqtt';
import { channelList, families, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { encodeConnect } from '../../simulators/load/rawMqtt.js';
import { collect, connectMqtt, startService, type TestService } from '../helpers/service.js';

let ts: TestService;
const devices = new Map<Family, { id: string; secret: string }>();

beforeAll(async () => {
  ts = await startService({ MQTT_MAX_PAYLOAD_BYTES: 2048, MQTT_MAX_PACKET_BYTES: 8192 });
  for (const family of families) {
    const d = await ts.registerDevice({ id: `t-${family}-1`, family });
    devices.set(family, { id: d.id, secret: d.secret });
  }
});
afterAll(async () => ts?.dispose());

const dev = (f: Family) => devices.get(f)!;

async function withDevice<T>(family: Family, fn: (c: MqttClient, id: string) => Promise<T>): Promise<T> {
  const d = dev(family);
  const c = await ts.connectDevice(d.id, d.secret);
  try {
    return await fn(c, d.id);
  } finally {
    // endAsync never settles on a connection the broker already closed
    if (c.connected) await c.endAsync(); else c.end(true);
  }
}

/** The SUBACK return codes (MQTT.js rejects a SUBACK holding 0x80, but carries the packet). */
async function subackOf(c: MqttClient, topics: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(topics, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted?: number[] } }).packet;
    if (!packet?.granted) throw err;
    return packet.granted;
  }
}

async function storedReadings(family: Family, deviceId: string, channel?: string) {
  return ts.service.store.readings.query({ deviceId, family, limit: 10_000, ...(channel ? { channel } : {}) });
}

describe('QoS 1 PUBACK means stored', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s is in the store when the PUBACK arrives', async (_key, family, channel) => {
    await withDevice(family, async (c, id) => {
      const msgId = `puback-${channel}-${Date.now()}`;
      await c.publishAsync(`${family}/${id}/${channel}`, JSON.stringify(examplePayload(family, channel, msgId, Date.now())), { qos: 1 });
      // no waiting: the PUBACK itself is the promise that the row is committed
      const rows = await storedReadings(family, id, channel);
      expect(rows.map((r) => r.msgId)).toContain(msgId);
    });
  });

  it('a duplicate msgId is acknowledged and stored once, also when sent concurrently', async () => {
    await withDevice('elevator', async (c, id) => {
      const payload = JSON.stringify(examplePayload('elevator', 'status', 'dup-1', Date.now()));
      await Promise.all([1, 2, 3].map(() => c.publishAsync(`elevator/${id}/status`, payload, { qos: 1 })));
      await c.publishAsync(`elevator/${id}/status`, payload, { qos: 1 });
      await c.publishAsync(`elevator/${id}/status`, payload, { qos: 0 });
      const rows = (await storedReadings('elevator', id, 'status')).filter((r) => r.msgId === 'dup-1');
      expect(rows).toHaveLength(1);
      expect(ts.service.ingest.metrics.duplicates).toBeGreaterThanOrEqual(4);
    });
  });

  it('QoS 2 works too: the reading is stored when the handshake completes', async () => {
    await withDevice('kitchen', async (c, id) => {
      await c.publishAsync(`kitchen/${id}/heartbeat`, JSON.stringify({ msgId: 'qos2-1', ts: Date.now() }), { qos: 2, retain: true });
      expect((await storedReadings('kitchen', id, 'heartbeat')).map((r) => r.msgId)).toContain('qos2-1');
    });
  });

  it('normalises ts (RFC 3339 with offset) and records the receive time', async () => {
    await withDevice('dispenser', async (c, id) => {
      const before = Date.now();
      await c.publishAsync(`dispenser/${id}/tank`, JSON.stringify(examplePayload('dispenser', 'tank', 'ts-1', '2026-11-23T08:00:00+08:00')), { qos: 1 });
      const row = (await storedReadings('dispenser', id, 'tank')).find((r) => r.msgId === 'ts-1')!;
      expect(row.ts).toBe(Date.UTC(2026, 10, 23, 0, 0, 0));
      expect(row.receivedAt).toBeGreaterThanOrEqual(before);
    });
  });
});

describe('refused connections and topics', () => {
  it('refuses a wrong secret (CONNACK 4), an unknown device and anonymous clients (CONNACK 5)', async () => {
    await expect(connectMqtt(ts.mqttUrl, { username: dev('kitchen').id, password: 'wrong-secret' })).rejects.toMatchObject({ code: 4 });
    await expect(connectMqtt(ts.mqttUrl, { username: 'no-such-device', password: 'x' })).rejects.toMatchObject({ code: 4 });
    await expect(connectMqtt(ts.mqttUrl, {})).rejects.toMatchObject({ code: 5 });
  });

  it('closes a device that publishes to another device\'s topic and records it', async () => {
    const d = dev('kitchen');
    const c = await ts.connectDevice(d.id, d.secret);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(`kitchen/${dev('elevator').id}/violation`, JSON.stringify(examplePayload('kitchen', 'violation', 'abuse-1', Date.now())), { qos: 1 });
    await closed;
    c.end(true);
    const letters = await ts.service.store.deadLetters.list({ deviceId: d.id, reason: 'topic_not_allowed', limit: 10 });
    expect(letters[0]).toMatchObject({ topic: `kitchen/${dev('elevator').id}/violation`, reason: 'topic_not_allowed' });
    // nothing was stored under the other device
    expect((await storedReadings('elevator', dev('elevator').id)).some((r) => r.msgId === 'abuse-1')).toBe(false);
  });

  it('refuses subscriptions to #, other devices and readings; grants own error and scan/reply', async () => {
    await withDevice('cylinder', async (c, id) => {
      const granted = await subackOf(c, [`cylinder/${id}/error`, `cylinder/${id}/scan/reply`, '#', `cylinder/${dev('kitchen').id}/error`, `cylinder/${id}/scan`, '$SYS/#'
      ]);
      expect(granted).toEqual([1, 1, 128, 128, 128, 128]);
      // the connection stays up after a refused subscription
      await c.publishAsync(`cylinder/${id}/heartbeat`, JSON.stringify({ msgId: 'after-suback', ts: Date.now() }), { qos: 1 });
      expect(c.connected).toBe(true);
    });
  });
});

describe('bad input: dead letter, error reply, connection stays up', () => {
  const cases: Array<[string, string, Buffer | string, string]> = [
    ['invalid JSON', 'violation', '{"msgId": "x",', 'invalid_json'],
    ['invalid UTF-8', 'violation', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_json'],
    ['an array', 'violation', '[1,2,3]', 'invalid_json'],
    ['schema failure', 'violation', JSON.stringify({ msgId: 'bad-schema', ts: Date.now(), storeId: 'S', type: 'cat', confidence: 3 }), 'schema'],
    ['an unknown channel', 'temperature', JSON.stringify({ msgId: 'u', ts: Date.now() }), 'unknown_channel'],
    ['a platform -> device channel', 'error', '{}', 'topic_not_allowed'],
    ['a too large payload', 'violation', JSON.stringify({ msgId: 'big', ts: Date.now(), pad: 'x'.repeat(3000) }), 'too_large'],
  ];

  it.each(cases)('%s', async (_name, channel, payload, reason) => {
    await withDevice('kitchen', async (c, id) => {
      await c.subscribeAsync(`kitchen/${id}/error`, { qos: 1 });
      const replies = collect(c, 1);
      const closeOnAbuse = reason === 'topic_not_allowed';
      if (closeOnAbuse) {
        const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
        c.publish(`kitchen/${id}/${channel}`, payload, { qos: 1 });
        await closed;
      } else {
        await c.publishAsync(`kitchen/${id}/${channel}`, payload, { qos: 1 });
        const [reply] = await replies;
        expect(reply?.topic).toBe(`kitchen/${id}/error`);
        const body = JSON.parse(reply!.payload.toString());
        expect(body).toMatchObject({ topic: `kitchen/${id}/${channel}`, reason });
        expect(typeof body.detail).toBe('string');
        if (reason === 'schema') {
          expect(body.msgId).toBe('bad-schema');
          expect(body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['confidence', 'type']);
        }
        // still connected and still storing
        const msgId = `after-${reason}-${Date.now()}`;
        await c.publishAsync(`kitchen/${id}/heartbeat`, JSON.stringify({ msgId, ts: Date.now() }), { qos: 1 });
        expect((await storedReadings('kitchen', id, 'heartbeat')).some((r) => r.msgId === msgId)).toBe(true);
      }
      const letters = await ts.service.store.deadLetters.list({ deviceId: id, reason, limit: 50 });
      const letter = letters.find((l) => l.topic === `kitchen/${id}/${channel}`);
      expect(letter).toBeDefined();
      const raw = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
      expect(letter!.rawSize).toBe(raw.length);
      expect(Buffer.from(letter!.raw).equals(raw.subarray(0, letter!.raw.length))).toBe(true);
    });
  });

  it('closes a connection that sends a packet over MQTT_MAX_PACKET_BYTES and records it', async () => {
    const d = dev('dispenser');
    const c = await ts.connectDevice(d.id, d.secret);
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(`dispenser/${d.id}/txn`, 'x'.repeat(20_000), { qos: 1 });
    await closed;
    c.end(true);
    // the dead letter is written by the next group commit, not before the close
    await ts.service.ingest.flushed();
    const letters = await ts.service.store.deadLetters.list({ deviceId: d.id, reason: 'packet_too_large', limit: 5 });
    expect(letters.length).toBeGreaterThan(0);
    // the service is fine: another device still stores
    await withDevice('elevator', async (c2, id) => {
      await c2.publishAsync(`elevator/${id}/fault`, JSON.stringify(examplePayload('elevator', 'fault', 'after-big', Date.now())), { qos: 1 });
    });
  });
});

describe('transports and state', () => {
  it('accepts MQTT over WebSocket at /mqtt on the HTTP port', async () => {
    const d = dev('elevator');
    const c = await connectMqtt(`ws://127.0.0.1:${ts.started.httpPort}/mqtt`, { username: d.id, password: d.secret, clientId: d.id });
    await c.publishAsync(`elevator/${d.id}/heartbeat`, JSON.stringify({ msgId: 'ws-1', ts: Date.now() }), { qos: 1 });
    await c.endAsync();
    expect((await storedReadings('elevator', d.id, 'heartbeat')).some((r) => r.msgId === 'ws-1')).toBe(true);
  });

  it('a CONNECT from a socket its device already closed does not take over the live session (reconnect storm)', async () => {
    // In a storm a device gives up on an attempt whose CONNACK is late, closes it and connects
    // again; the server may read the abandoned CONNECT only afterwards. Taking over the client
    // id then would drop the device's live session for a socket nobody reads [MQTT-3.1.4-2].
    const d = dev('elevator');
    const clientId = d.id;
    const live = await ts.connectDevice(d.id, d.secret, { reconnectPeriod: 0 });
    let closed = false;
    live.on('close', () => { closed = true; });
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const sock = connect(ts.started.mqttPort, '127.0.0.1', () => { sock.end(encodeConnect(clientId, d.id, d.secret)); });
        sock.on('close', () => resolve());
        sock.on('error', () => resolve());
        sock.resume();
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toBe(false);
    await live.publishAsync(`elevator/${d.id}/heartbeat`, JSON.stringify({ msgId: 'after-stale', ts: Date.now() }), { qos: 1 });
    await live.endAsync();
    expect((await storedReadings('elevator', d.id, 'heartbeat')).some((r) => r.msgId === 'after-stale')).toBe(true);
  });

  it('sets TCP_NODELAY on device connections: a PUBACK or reply is not held back by Nagle\'s algorithm', async () => {
    // with Nagle, a PUBACK written while the previous one is unacknowledged at TCP level waited
    // for the device's delayed ACK or its next packet (background PUBACK p50 21 ms -> 8 ms at 5k/s)
    const original = Socket.prototype.setNoDelay;
    const calls: Array<{ localPort: number | undefined; on: boolean | undefined }> = [];
    const spy = vi.spyOn(Socket.prototype, 'setNoDelay').mockImplementation(function (this: Socket, on?: boolean) {
      calls.push({ localPort: this.localPort, on });
      return original.call(this, on);
    });
    try {
      const d = dev('kitchen');
      const c = await ts.connectDevice(d.id, d.secret);
      await c.endAsync();
      expect(calls.filter((x) => x.localPort === ts.started.mqttPort)).toEqual([{ localPort: ts.started.mqttPort, on: true }]);
    } finally {
      spy.mockRestore();
    }
  });

  it('tracks connection state and last seen per device', async () => {
    const d = dev('cylinder');
    const c = await ts.connectDevice(d.id, d.secret);
    await c.publishAsync(`cylinder/${d.id}/heartbeat`, JSON.stringify({ msgId: 'seen-1', ts: Date.now() }), { qos: 1 });
    const res = await ts.service.http.inject({ method: 'GET', url: `/api/devices/${d.id}`, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(res.json().connection.connected).toBe(true);
    expect(res.json().connection.lastSeen).not.toBeNull();
    await c.endAsync();
    await new Promise((r) => setTimeout(r, 100));
    expect(ts.service.tracker.get(d.id)?.connected).toBe(false);
  });
});

describe('open mode', () => {
  it('accepts anonymous clients only when MQTT_ALLOW_ANONYMOUS is set, still checking the device', async () => {
    const open = await startService({ MQTT_ALLOW_ANONYMOUS: true });
    try {
      await open.registerDevice({ id: 'open-cam', family: 'kitchen' });
      // anonymous client ids are anon:{id} (or empty with clean session: assigned)
      const c = await connectMqtt(open.mqttUrl, { clientId: 'anon:open-test' });
      await c.publishAsync('kitchen/open-cam/heartbeat', JSON.stringify({ msgId: 'o1', ts: Date.now() }), { qos: 1 });
      await c.publishAsync('kitchen/ghost/heartbeat', JSON.stringify({ msgId: 'o2', ts: Date.now() }), { qos: 1 });
      expect(c.connected).toBe(true);
      await c.endAsync();
      expect((await open.service.store.readings.query({ deviceId: 'open-cam', family: 'kitchen', limit: 10 })).map((r) => r.msgId)).toEqual(['o1']);
      expect((await open.service.store.deadLetters.list({ reason: 'unknown_device', limit: 10 }))[0]?.topic).toBe('kitchen/ghost/heartbeat');
    } finally {
      await open.dispose();
    }
  });
});
