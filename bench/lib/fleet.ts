/**
 * A fleet of idle device connections for the P3 benchmark (bench/connections.ts), spread over
 * several child processes (one file descriptor per connection, and this machine allows 20,000
 * per process) and several loopback source addresses (127.0.0.x, ~28k ephemeral ports each).
 * Each process runs its slice of the devices with the load generator's heartbeating devices
 * (simulators/load/heartbeats.ts: a QoS 1 heartbeat every `heartbeatMs`, kept until acked;
 * on a drop, queue, reconnect with a doubling delay and send again), and answers this
 * module's requests over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RawDevice } from '../../simulators/load/client.js';
import { startHeartbeats, type HeartbeatFleet, type HeartbeatOptions, type HeartbeatStats } from '../../simulators/load/heartbeats.js';

export type FleetDevice = RawDevice;

export interface FleetOptions extends HeartbeatOptions {
  /** child processes sharing the devices */
  processes: number;
}

export type FleetStats = HeartbeatStats;

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

if (process.argv[2] === '--worker' && process.send) {
  // the benchmark went away: so do we
  process.on('disconnect', () => process.exit(0));
  let w: HeartbeatFleet | null = null;
  const reply = (r: Reply, then: () => void = () => undefined): void => { process.send!(r, then); };
  process.on('message', async (req: Request & { id: number }) => {
    try {
      if (req.type === 'start') {
        w = startHeartbeats(req.opts);
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
