/**
 * A fleet of idle device connections for the P3 benchmark (bench/connections.ts), spread over
 * several child processes (one file descriptor per connection, and this machine allows 20,000
 * per process) and several loopback source addresses (127.0.0.x, ~28k ephemeral ports each).
 *
 * Each device behaves like a terminal's firmware: connect (raw MQTT 3.1.1, bench/lib/rawMqtt.ts),
 * publish a QoS 1 heartbeat every `heartbeatMs` (first one at a random offset, so the fleet's
 * heartbeats are spread), keep every heartbeat until its PUBACK. When the connection drops, the
 * device keeps the unacknowledged ones, queues `queueOnDrop` readings at once plus the
 * heartbeats that fall due while it is down, and reconnects after a jittered, doubling delay
 * (`retryMinMs` .. `retryMaxMs`); once back it sends them all (the unacknowledged ones with DUP).
 * Readings generated while a storm is armed are counted as "outage" readings until acked, so
 * the caller knows when every queued reading has been delivered.
 *
 * msgIds are `${tag}-${n}`, n = 1.. per device, so the caller can check the store for every one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { connectRaw, encodeConnect, encodePublish } from './rawMqtt.js';

export interface FleetDevice { id: string; secret?: string }

export interface FleetOptions {
  port: number;
  devices: FleetDevice[];
  /** child processes sharing the devices */
  processes: number;
  /** local source addresses, round robin over the devices */
  sources: string[];
  heartbeatMs: number;
  keepaliveS: number;
  /** connections being opened at once per process (initial connect) */
  concurrency: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** readings a device queues when its connection drops (e.g. the event it noticed) */
  queueOnDrop: number;
  tag: string;
}

export interface FleetStats {
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

type Request = { type: 'start'; opts: Omit<FleetOptions, 'processes'> } | { type: 'stats' } | { type: 'arm' } | { type: 'quiesce'; timeoutMs: number } | { type: 'stop' };
type Reply = { id: number; ok: true; stats?: FleetStats; sent?: Array<[string, number]> } | { id: number; ok: false; error: string };

export interface Fleet {
  /** resolves once every device had its first connect attempt (with retries) */
  stats(): Promise<FleetStats>;
  /** count everything generated or unacknowledged from now on as outage readings */
  arm(): Promise<void>;
  /** stop generating; resolve when nothing is queued or in flight, with readings generated per device */
  quiesce(timeoutMs?: number): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

class Worker {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Reply) => void>();
  constructor(readonly child: ChildProcess) {
    child.on('message', (r: Reply) => { this.pending.get(r.id)?.(r); this.pending.delete(r.id); });
    child.on('exit', (code) => {
      for (const [id, f] of this.pending) f({ id, ok: false, error: `fleet process exited with ${code}` });
      this.pending.clear();
    });
  }

  async call(req: Request): Promise<Reply & { ok: true }> {
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve) => this.pending.set(id, resolve));
    this.child.send({ ...req, id });
    const r = await reply;
    if (!r.ok) throw new Error(r.error);
    return r;
  }
}

const sum = (xs: FleetStats[]): FleetStats => xs.reduce((a, s) => ({
  devices: a.devices + s.devices, up: a.up + s.up, disconnects: a.disconnects + s.disconnects, connectFailures: a.connectFailures + s.connectFailures,
  sent: a.sent + s.sent, acked: a.acked + s.acked, outageTotal: a.outageTotal + s.outageTotal, outageOutstanding: a.outageOutstanding + s.outageOutstanding,
  firstErrors: [...a.firstErrors, ...s.firstErrors.filter((e) => !a.firstErrors.includes(e))].slice(0, 5),
}), { devices: 0, up: 0, disconnects: 0, connectFailures: 0, sent: 0, acked: 0, outageTotal: 0, outageOutstanding: 0, firstErrors: [] });

/** Start the fleet's processes and connect every device; resolves when all had their attempt. */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const k = Math.max(1, Math.min(opts.processes, opts.devices.length));
  const workers = Array.from({ length: k }, () => new Worker(fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })));
  const per = Math.ceil(opts.devices.length / k);
  const srcPer = Math.max(1, Math.floor(opts.sources.length / k));
  await Promise.all(workers.map((w, i) => {
    // each process its own slice of devices and, when there are enough, its own source addresses
    const sources = opts.sources.length >= k ? opts.sources.slice(i * srcPer, i === k - 1 ? undefined : (i + 1) * srcPer) : opts.sources;
    const { processes: _p, ...rest } = opts;
    return w.call({ type: 'start', opts: { ...rest, devices: opts.devices.slice(i * per, (i + 1) * per), sources } });
  }));
  const all = async (req: Request) => Promise.all(workers.map((w) => w.call(req)));
  return {
    stats: async () => sum((await all({ type: 'stats' })).map((r) => r.stats!)),
    arm: async () => { await all({ type: 'arm' }); },
    quiesce: async (timeoutMs = 60_000) => new Map((await all({ type: 'quiesce', timeoutMs })).flatMap((r) => r.sent!)),
    stop: async () => {
      await Promise.all(workers.map(async (w) => {
        const exited = new Promise((r) => (w.child.exitCode !== null ? r(null) : w.child.once('exit', r)));
        await w.call({ type: 'stop' }).catch(() => undefined);
        await exited;
      }));
    },
  };
}

// ---------------------------------------------------------------- the worker process

interface Msg { n: number; ts: number; outage: boolean; resend: boolean }

interface Conn {
  d: FleetDevice;
  local: string;
  socket: net.Socket | null;
  nextPid: number;
  inflight: Map<number, Msg>;
  queue: Msg[];
  n: number;
  nextHeartbeat: number;
  attempt: number;
}

const PUBLISH_DUP = 0x08;
const CONNECT_TIMEOUT_MS = 15_000;

function runWorker(opts: Omit<FleetOptions, 'processes'>): { stats: () => FleetStats; arm: () => void; quiesce: (timeoutMs: number) => Promise<Array<[string, number]>>; stop: () => void; connected: Promise<void> } {
  const conns: Conn[] = opts.devices.map((d, i) => ({ d, local: opts.sources[i % opts.sources.length]!, socket: null, nextPid: 1, inflight: new Map(), queue: [], n: 0, nextHeartbeat: Infinity, attempt: 0 }));
  let up = 0;
  let disconnects = 0;
  let connectFailures = 0;
  let sent = 0;
  let acked = 0;
  let outageTotal = 0;
  let outageOutstanding = 0;
  let armed = false;
  let generating = true;
  let stopped = false;
  const firstErrors: string[] = [];
  const noteError = (m: string): void => { if (firstErrors.length < 5 && !firstErrors.includes(m)) firstErrors.push(m); };

  const newMsg = (c: Conn): Msg => {
    const m: Msg = { n: ++c.n, ts: Date.now(), outage: armed, resend: false };
    if (armed) { outageTotal++; outageOutstanding++; }
    return m;
  };

  const flush = (c: Conn): void => {
    const s = c.socket;
    if (!s || !c.queue.length) return;
    const out: Buffer[] = [];
    for (const m of c.queue) {
      const pid = c.nextPid;
      c.nextPid = pid >= 65535 ? 1 : pid + 1;
      const payload = Buffer.from(`{"msgId":"${opts.tag}-${m.n}","ts":${m.ts},"fw":"1.4.2","rssi":-61,"uptimeS":${Math.floor(m.n * opts.heartbeatMs / 1000)}}`);
      const p = encodePublish(`elevator/${c.d.id}/heartbeat`, payload, 1, pid);
      if (m.resend) p[0]! |= PUBLISH_DUP;
      c.inflight.set(pid, m);
      out.push(p);
      sent++;
    }
    c.queue = [];
    s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  };

  const onAck = (c: Conn, pid: number): void => {
    const m = c.inflight.get(pid);
    if (!m) return;
    c.inflight.delete(pid);
    acked++;
    if (m.outage) outageOutstanding--;
  };

  const onDrop = (c: Conn): void => {
    c.socket = null;
    up--;
    disconnects++;
    // unacknowledged readings go first, in order, marked for resend
    const unacked = [...c.inflight.values()].sort((a, b) => a.n - b.n);
    c.inflight.clear();
    for (const m of unacked) {
      m.resend = true;
      if (armed && !m.outage) { m.outage = true; outageTotal++; outageOutstanding++; }
    }
    const fresh: Msg[] = [];
    if (generating) for (let i = 0; i < opts.queueOnDrop; i++) fresh.push(newMsg(c));
    c.queue = [...unacked, ...c.queue, ...fresh];
    c.attempt = 0;
    scheduleReconnect(c);
  };

  const attemptConnect = async (c: Conn): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const abandon = new AbortController();
    const p = connectRaw(opts.port, '127.0.0.1', encodeConnect(c.d.id, c.d.secret ? c.d.id : undefined, c.d.secret, opts.keepaliveS), (pid) => onAck(c, pid), c.local, undefined, abandon.signal);
    try {
      const socket = await Promise.race([p, new Promise<never>((_, reject) => {
        // no CONNACK in time: the device closes this attempt before it tries again
        timer = setTimeout(() => { reject(new Error(`no CONNACK within ${CONNECT_TIMEOUT_MS} ms`)); abandon.abort(); }, CONNECT_TIMEOUT_MS);
      })]);
      if (stopped) { socket.destroy(); return false; }
      c.socket = socket;
      up++;
      socket.on('close', () => { if (c.socket === socket) onDrop(c); });
      if (c.nextHeartbeat === Infinity) c.nextHeartbeat = Date.now() + Math.random() * opts.heartbeatMs;
      flush(c);
      return true;
    } catch (e) {
      p.then((s) => s.destroy(), () => undefined);
      connectFailures++;
      noteError((e as Error).message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR'));
      return false;
    } finally {
      clearTimeout(timer);
    }
  };

  const scheduleReconnect = (c: Conn): void => {
    if (stopped) return;
    const base = Math.min(opts.retryMaxMs, opts.retryMinMs * 2 ** c.attempt);
    setTimeout(async () => {
      if (stopped) return;
      if (await attemptConnect(c)) return;
      c.attempt++;
      scheduleReconnect(c);
    }, base * (0.5 + Math.random() * 0.5));
  };

  // initial connect: bounded concurrency, 3 attempts each, then the reconnect loop
  const connected = (async () => {
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, conns.length) }, async () => {
      while (next < conns.length) {
        const c = conns[next++]!;
        let ok = false;
        for (let i = 0; i < 3 && !ok; i++) ok = await attemptConnect(c);
        if (!ok) scheduleReconnect(c);
      }
    }));
  })();

  const tick = setInterval(() => {
    if (!generating) return;
    const now = Date.now();
    for (const c of conns) {
      if (c.nextHeartbeat > now) continue;
      c.nextHeartbeat += opts.heartbeatMs;
      c.queue.push(newMsg(c));
      flush(c);
    }
  }, 100);

  return {
    connected,
    stats: () => ({ devices: conns.length, up, disconnects, connectFailures, sent, acked, outageTotal, outageOutstanding, firstErrors }),
    arm: () => { armed = true; },
    quiesce: async (timeoutMs) => {
      generating = false;
      const until = Date.now() + timeoutMs;
      while (Date.now() < until && conns.some((c) => c.queue.length || c.inflight.size)) await new Promise((r) => setTimeout(r, 100));
      return conns.map((c): [string, number] => [c.d.id, c.n]);
    },
    stop: () => {
      stopped = true;
      clearInterval(tick);
      for (const c of conns) { const s = c.socket; c.socket = null; s?.destroy(); }
    },
  };
}

if (process.argv[2] === '--worker' && process.send) {
  // the benchmark went away: so do we
  process.on('disconnect', () => process.exit(0));
  let w: ReturnType<typeof runWorker> | null = null;
  const reply = (r: Reply, then: () => void = () => undefined): void => { process.send!(r, then); };
  process.on('message', async (req: Request & { id: number }) => {
    try {
      if (req.type === 'start') {
        w = runWorker(req.opts);
        await w.connected;
        reply({ id: req.id, ok: true, stats: w.stats() });
      } else if (req.type === 'stats') {
        reply({ id: req.id, ok: true, stats: w!.stats() });
      } else if (req.type === 'arm') {
        w!.arm();
        reply({ id: req.id, ok: true });
      } else if (req.type === 'quiesce') {
        reply({ id: req.id, ok: true, sent: await w!.quiesce(req.timeoutMs), stats: w!.stats() });
      } else {
        w?.stop();
        reply({ id: req.id, ok: true }, () => process.exit(0));
      }
    } catch (e) {
      reply({ id: req.id, ok: false, error: (e as Error).message });
    }
  });
}
