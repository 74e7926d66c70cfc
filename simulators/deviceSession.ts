/**
 * One device's session, run the way device firmware should: connect with its own
 * credentials, subscribe to its reply topics, publish one valid message on every channel of
 * its family with QoS 1 and time each PUBACK (docs/protocol.md: the PUBACK means stored).
 * Optionally one invalid message, to show the error reply a device gets.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { examplePayload } from '../core/schemas/examples.js';
import {
  channelSchemas, cylinderScanReply, deviceError, replyChannels, schemaFor, type CylinderScanReply, type DeviceError, type Family,
} from '../core/schemas/index.js';

export interface DeviceIdentity {
  id: string;
  family: Family;
  secret: string;
}

export interface SessionOptions {
  mqttUrl: string;
  /** the longest wait for the CONNACK, each PUBACK, and the error reply to the bad message */
  timeoutMs: number;
  /** also send one invalid payload and show the error reply */
  bad: boolean;
  log: (line: string) => void;
}

export interface SessionResult {
  /** msgIds of valid messages the platform acknowledged: each must now be stored */
  acknowledged: string[];
  /** the invalid message's msgId, when one was sent: it must be a dead letter, not a reading */
  badMsgId: string | null;
  problems: string[];
}

// docs/protocol.md asks for the scan reply within 200 ms; wait a little longer before saying none came.
const SCAN_REPLY_WAIT_MS = 1000;

export async function runDeviceSession(device: DeviceIdentity, opts: SessionOptions): Promise<SessionResult> {
  const { id, family } = device;
  const result: SessionResult = { acknowledged: [], badMsgId: null, problems: [] };
  const fail = (problem: string): void => {
    result.problems.push(`${id}: ${problem}`);
    opts.log(`  FAIL ${problem}`);
  };

  let client: MqttClient;
  try {
    client = await connect(opts.mqttUrl, device, opts.timeoutMs);
  } catch (e) {
    fail(`connect to ${opts.mqttUrl}: ${(e as Error).message}`);
    return result;
  }
  opts.log(`${family} ${id}: connected to ${opts.mqttUrl}`);

  const errors = new Inbox<DeviceError>();
  const scanReplies = new Inbox<CylinderScanReply>();
  let ending = false;
  client.on('close', () => { if (!ending) opts.log('  the platform closed the connection'); });
  client.on('message', (topic, payload) => {
    const body = parseJson(payload);
    if (topic.endsWith('/scan/reply')) {
      const reply = cylinderScanReply.safeParse(body);
      if (!reply.success) { fail(`malformed scan/reply: ${payload.toString('utf8')}`); return; }
      scanReplies.put(reply.data.msgId, reply.data);
      return;
    }
    const error = deviceError.safeParse(body);
    if (!error.success) { fail(`malformed error reply: ${payload.toString('utf8')}`); return; }
    const e = error.data;
    opts.log(`  error reply  ${e.reason}: ${e.detail}${e.msgId ? `  (msgId=${e.msgId}, topic ${e.topic})` : `  (topic ${e.topic})`}`);
    if (e.msgId === undefined || e.msgId !== result.badMsgId) fail(`the platform rejected a message we believed valid (${e.reason})`);
    errors.put(e.msgId ?? '', e);
  });

  try {
    const replyTopics = replyChannels[family].map((channel) => `${family}/${id}/${channel}`);
    try {
      await withTimeout(client.subscribeAsync(replyTopics, { qos: 1 }), opts.timeoutMs, 'SUBACK');
      opts.log(`  subscribed   ${replyTopics.join(', ')}`);
    } catch (e) {
      fail(`subscribe ${replyTopics.join(', ')}: ${(e as Error).message}`);
    }

    const sent = new Map<string, string>();
    for (const channel of Object.keys(channelSchemas[family])) {
      if (!client.connected) { fail(`not connected: ${channel} not sent`); continue; }
      const msgId = newMsgId(channel);
      const payload = examplePayload(family, channel, msgId, Date.now());
      // the examples are meant to be valid; say so loudly if one drifted from its schema
      const check = schemaFor(family, channel)!.safeParse(payload);
      if (!check.success) { fail(`the example for ${family}/${channel} fails its own schema: ${check.error.message}`); continue; }
      const latency = await publish(client, `${family}/${id}/${channel}`, payload, opts.timeoutMs);
      if (typeof latency === 'string') { fail(`${family}/${id}/${channel} msgId=${msgId}: ${latency}`); continue; }
      opts.log(`  PUBACK ${formatMs(latency)}  ${family}/${id}/${channel}  msgId=${msgId}`);
      result.acknowledged.push(msgId);
      sent.set(channel, msgId);
    }

    if (opts.bad && client.connected) await sendBad(client, device, opts, result, errors, fail);

    const scanMsgId = sent.get('scan');
    if (family === 'cylinder' && scanMsgId) {
      const reply = await scanReplies.wait(scanMsgId, SCAN_REPLY_WAIT_MS);
      opts.log(reply
        ? `  scan/reply   decision=${reply.decision}${reply.reasons.length ? ` reasons=${reply.reasons.join(',')}` : ''}  msgId=${reply.msgId}`
        : `  note: no scan/reply for msgId=${scanMsgId} within ${SCAN_REPLY_WAIT_MS} ms (docs/protocol.md asks for one within 200 ms)`);
    }
  } finally {
    ending = true;
    await close(client);
  }
  return result;
}

/**
 * One invalid message on the family's main channel: `ts` in epoch seconds, the mistake
 * firmware makes most. Its PUBACK means the dead letter is stored; the error reply says why.
 */
async function sendBad(client: MqttClient, device: DeviceIdentity, opts: SessionOptions, result: SessionResult, errors: Inbox<DeviceError>, fail: (p: string) => void): Promise<void> {
  const { id, family } = device;
  const channel = Object.keys(channelSchemas[family]).find((c) => c !== 'heartbeat')!;
  const msgId = newMsgId(`bad-${channel}`);
  result.badMsgId = msgId;
  const topic = `${family}/${id}/${channel}`;
  opts.log(`  bad          ${topic}  msgId=${msgId}  (ts in epoch seconds instead of milliseconds)`);
  const latency = await publish(client, topic, examplePayload(family, channel, msgId, Math.floor(Date.now() / 1000)), opts.timeoutMs);
  if (typeof latency === 'string') { fail(`${topic} msgId=${msgId} (bad): ${latency}`); return; }
  if (!await errors.wait(msgId, opts.timeoutMs)) fail(`no error reply for the invalid message msgId=${msgId} within ${opts.timeoutMs} ms`);
}

/** PUBACK latency in milliseconds, or why there was none. */
async function publish(client: MqttClient, topic: string, payload: Record<string, unknown>, timeoutMs: number): Promise<number | string> {
  const started = performance.now();
  try {
    await withTimeout(client.publishAsync(topic, JSON.stringify(payload), { qos: 1 }), timeoutMs, 'PUBACK');
    return performance.now() - started;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Resolves on CONNACK; rejects with MQTT.js's reason (refused credentials, no server...). */
function connect(url: string, device: DeviceIdentity, timeoutMs: number): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      username: device.id,
      password: device.secret,
      // a suffix, so that running this next to the real device does not take over its session
      // the client id of a device is its device id (docs/protocol.md, Transport)
      clientId: device.id,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    });
    const settle = (err: Error | null): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
      if (err) { client.end(true); reject(err); } else resolve(client);
    };
    const onConnect = (): void => settle(null);
    const onError = (err: Error): void => settle(err);
    const onClose = (): void => settle(new Error('connection closed before CONNACK'));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
}

async function close(client: MqttClient): Promise<void> {
  // endAsync never settles on a connection the broker already closed
  if (client.connected) await withTimeout(client.endAsync(), 2000, 'DISCONNECT').catch(() => undefined);
  client.end(true);
}

/** Rejects after `ms`; the original promise's late rejection is still handled. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    promise.then(
      (v) => { clearTimeout(timer); resolve(v); },
      (e: unknown) => { clearTimeout(timer); reject(e instanceof Error ? e : new Error(String(e))); },
    );
  });
}

/** Replies keyed by msgId, and waiting for one to arrive. */
class Inbox<T> {
  private readonly got = new Map<string, T>();
  private readonly waiters = new Map<string, () => void>();

  put(msgId: string, value: T): void {
    this.got.set(msgId, value);
    this.waiters.get(msgId)?.();
  }

  wait(msgId: string, ms: number): Promise<T | undefined> {
    const have = this.got.get(msgId);
    if (have !== undefined) return Promise.resolve(have);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(msgId);
        resolve(this.got.get(msgId));
      };
      const timer = setTimeout(done, ms);
      this.waiters.set(msgId, done);
    });
  }
}

/** Unique per device and readable in the readings list: channel, time, a little randomness. */
function newMsgId(channel: string): string {
  return `${channel.replace('/', '-')}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

function formatMs(ms: number): string {
  return `${ms.toFixed(1).padStart(7)} ms`;
}
