/**
 * Devices that behave like a terminal's firmware (the reconnect storm of bench/connections.ts,
 * run in several processes by bench/lib/fleet.ts): each connects over raw MQTT (client.ts),
 * publishes a QoS 1 heartbeat every `heartbeatMs` (the first at a random offset, so the
 * fleet's heartbeats are spread) and keeps every heartbeat until its PUBACK. When the
 * connection drops, a device keeps the unacknowledged ones, queues `queueOnDrop` readings at
 * once plus the heartbeats that fall due while it is down, and reconnects after a jittered,
 * doubling delay (`retryMinMs` .. `retryMaxMs`); once back it sends them all (the
 * unacknowledged ones again, with DUP). Readings generated while a storm is armed are counted
 * as "outage" readings until acked, so the caller knows when every queued reading arrived.
 *
 * msgIds are `${tag}-${n}`, n = 1.. per device, so the caller can check the store for every one.
 */
import { PUBLISH_DUP, type RawClient, type RawDevice } from './client.js';
import { connectAll, rawClients } from './connect.js';
import { encodePublish } from './rawMqtt.js';

export interface HeartbeatOptions {
  port: number;
  devices: RawDevice[];
  /** local source addresses, round robin over the devices */
  sources: string[];
  heartbeatMs: number;
  keepaliveS: number;
  /** connections being opened at once (initial connect) */
  concurrency: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** readings a device queues when its connection drops (e.g. the event it noticed) */
  queueOnDrop: number;
  tag: string;
}

export interface HeartbeatStats {
  devices: number;
  up: number;
  disconnects: number;
  connectFailures: number;
  sent: number;
  acked: number;
  /** readings generated or unacknowledged while the storm was armed */
  outageTotal: number;
  outageOutstanding: number;
  firstErrors: string[];
}

export interface HeartbeatFleet {
  /** resolves once every device had its first connect attempts (3, then the reconnect loop) */
  connected: Promise<void>;
  stats(): HeartbeatStats;
  /** count everything generated or unacknowledged from now on as outage readings */
  arm(): void;
  /** stop generating; resolves when nothing is queued or in flight, with the readings generated per device */
  quiesce(timeoutMs: number): Promise<Array<[string, number]>>;
  stop(): void;
}

interface Msg { n: number; ts: number; outage: boolean; resend: boolean }
interface Device { client: RawClient<Msg>; queue: Msg[]; nextHeartbeat: number; attempt: number }

export function startHeartbeats(opts: HeartbeatOptions): HeartbeatFleet {
  const devices: Device[] = rawClients<Msg>(opts.devices, opts.sources).map((client) => ({ client, queue: [], nextHeartbeat: Infinity, attempt: 0 }));
  const connect = { port: opts.port, keepaliveS: opts.keepaliveS };
  // the counters stats() reports
  const n = { up: 0, disconnects: 0, connectFailures: 0, sent: 0, acked: 0, outageTotal: 0, outageOutstanding: 0 };
  let armed = false;
  let generating = true;
  let stopped = false;
  const firstErrors: string[] = [];
  const failed = (e: Error): void => {
    n.connectFailures++;
    const m = e.message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR');
    if (firstErrors.length < 5 && !firstErrors.includes(m)) firstErrors.push(m);
  };

  const newMsg = (d: Device): Msg => {
    const m: Msg = { n: ++d.client.seq, ts: Date.now(), outage: armed, resend: false };
    if (armed) { n.outageTotal++; n.outageOutstanding++; }
    return m;
  };

  const flush = (d: Device): void => {
    const c = d.client;
    if (!c.socket || !d.queue.length) return;
    for (const m of d.queue) {
      const pid = c.takePid();
      const payload = Buffer.from(`{"msgId":"${opts.tag}-${m.n}","ts":${m.ts},"fw":"1.4.2","rssi":-61,"uptimeS":${Math.floor(m.n * opts.heartbeatMs / 1000)}}`);
      const p = encodePublish(`elevator/${c.id}/heartbeat`, payload, 1, pid);
      if (m.resend) p[0]! |= PUBLISH_DUP;
      c.push(p, pid, m);
      n.sent++;
    }
    d.queue = [];
    c.flush();
  };

  const onDrop = (d: Device): void => {
    n.up--;
    n.disconnects++;
    // unacknowledged readings go first, in order, marked for resend
    const unacked = d.client.takeInflight().sort((a, b) => a.n - b.n);
    for (const m of unacked) {
      m.resend = true;
      if (armed && !m.outage) { m.outage = true; n.outageTotal++; n.outageOutstanding++; }
    }
    const fresh: Msg[] = [];
    if (generating) for (let i = 0; i < opts.queueOnDrop; i++) fresh.push(newMsg(d));
    d.queue = [...unacked, ...d.queue, ...fresh];
    d.attempt = 0;
    scheduleReconnect(d);
  };

  const onConnected = (d: Device): void => {
    if (stopped) { d.client.destroy(); return; }
    n.up++;
    if (d.nextHeartbeat === Infinity) d.nextHeartbeat = Date.now() + Math.random() * opts.heartbeatMs;
    flush(d);
  };

  const scheduleReconnect = (d: Device): void => {
    if (stopped) return;
    const base = Math.min(opts.retryMaxMs, opts.retryMinMs * 2 ** d.attempt);
    setTimeout(async () => {
      if (stopped) return;
      try {
        await d.client.connect(connect);
        onConnected(d);
        return;
      } catch (e) {
        failed(e as Error);
      }
      d.attempt++;
      scheduleReconnect(d);
    }, base * (0.5 + Math.random() * 0.5));
  };

  for (const d of devices) {
    d.client.onAck = (_ms, m) => { n.acked++; if (m?.outage) n.outageOutstanding--; };
    d.client.onClose = () => onDrop(d);
  }
  const byClient = new Map(devices.map((d) => [d.client, d]));
  // initial connect: bounded concurrency, 3 attempts each, then the reconnect loop
  const connected = connectAll(devices.map((d) => d.client), {
    ...connect, concurrency: opts.concurrency, attempts: 3,
    onConnected: (c) => onConnected(byClient.get(c)!),
    onAttemptFailed: (_c, e) => failed(e),
    onFailed: (c) => scheduleReconnect(byClient.get(c)!),
  });

  const tick = setInterval(() => {
    if (!generating) return;
    const now = Date.now();
    for (const d of devices) {
      if (d.nextHeartbeat > now) continue;
      d.nextHeartbeat += opts.heartbeatMs;
      d.queue.push(newMsg(d));
      flush(d);
    }
  }, 100);

  return {
    connected,
    stats: () => ({ devices: devices.length, ...n, firstErrors }),
    arm: () => { armed = true; },
    quiesce: async (timeoutMs) => {
      generating = false;
      const until = Date.now() + timeoutMs;
      while (Date.now() < until && devices.some((d) => d.queue.length || d.client.inflight.size)) await new Promise((r) => setTimeout(r, 100));
      return devices.map((d): [string, number] => [d.client.id, d.client.seq]);
    },
    stop: () => {
      stopped = true;
      clearInterval(tick);
      for (const d of devices) d.client.destroy();
    },
  };
}
