/**
 * P1-style QoS 1 background load, paced at a target rate, generated in a child process so that
 * the benchmark's own probe client does not share an event loop with the generator (both still
 * share the machine's two cores with the broker under test: the load is the point).
 *
 * The child is the load generator (simulators/load/): it connects every device over raw MQTT,
 * then publishes `elevator/{id}/status` readings paced round robin, by elapsed time, with at
 * most `window` unacknowledged per device: when the broker falls behind, messages that would
 * exceed the window are skipped, so the achieved rate (PUBACKs per second) is what the broker
 * sustains, never a queue growing in our memory. Packets come from one template per device
 * with the msgId, timestamp and packet id patched in (no JSON encoding per message). The
 * status has no passenger on board, so it raises no alert.
 *
 *   const load = await startBackgroundLoad({ port, devices, rate: 20000 });
 *   const a = await load.counters(); ... const b = await load.counters();
 *   await load.stop();
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectAll, rawClients } from '../../simulators/load/connect.js';
import { startPaced } from '../../simulators/load/generator.js';
import { Reservoir } from '../../simulators/load/latency.js';
import { idleElevatorStatus, PublishTemplate } from '../../simulators/load/template.js';
import type { Device } from './harness.js';

export interface BackgroundOptions {
  port: number;
  /** devices with credentials (ours), or a count of anonymous clients (Mosquitto) */
  devices: Device[] | number;
  /** target readings per second over all devices */
  rate: number;
  /** unacknowledged messages per device at most */
  window?: number;
}

export interface Counters {
  sent: number;
  acked: number;
  /** sends skipped because the device's window was full (the broker is behind) */
  skipped: number;
  atMs: number;
  /** PUBACK latencies (ms) since the previous counters() call, ascending (a bounded sample) */
  ackMs: number[];
}

export interface BackgroundLoad {
  counters(): Promise<Counters>;
  stop(): Promise<Counters>;
}

type ToWorker = { type: 'start'; opts: BackgroundOptions; tag: string } | { type: 'counters' } | { type: 'stop' };
type FromWorker = { type: 'ready' } | { type: 'counters'; counters: Counters } | { type: 'error'; message: string };

export async function startBackgroundLoad(opts: BackgroundOptions): Promise<BackgroundLoad> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let waiting: Array<(m: FromWorker) => void> = [];
  let failure: Error | null = null;
  child.on('message', (m: FromWorker) => {
    if (m.type === 'error') failure = new Error(`background load: ${m.message}`);
    const w = waiting;
    waiting = [];
    for (const f of w) f(m);
  });
  child.on('exit', (code) => {
    if (code) failure ??= new Error(`background load exited with ${code}`);
    const w = waiting;
    waiting = [];
    for (const f of w) f({ type: 'error', message: failure?.message ?? 'exited' });
  });
  const next = (): Promise<FromWorker> => new Promise((resolve) => waiting.push(resolve));
  const ask = async (msg: ToWorker): Promise<Counters> => {
    const answer = next();
    child.send(msg);
    const m = await answer;
    if (m.type !== 'counters') throw failure ?? new Error(`background load: ${JSON.stringify(m)}`);
    return m.counters;
  };
  const ready = next();
  child.send({ type: 'start', opts, tag: `bg${Date.now().toString(36)}` } satisfies ToWorker);
  const m = await ready;
  if (m.type !== 'ready') { child.kill(); throw failure ?? new Error(`background load: ${JSON.stringify(m)}`); }
  return {
    counters: () => ask({ type: 'counters' }),
    stop: async () => {
      const c = await ask({ type: 'stop' });
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      return c;
    },
  };
}

/** The child: connect every device, then the paced generator with one template per device. */
async function worker(opts: BackgroundOptions, tag: string, send: (m: FromWorker) => void): Promise<{ counters: () => Counters; stop: () => void }> {
  const devices = typeof opts.devices === 'number' ? Array.from({ length: opts.devices }, (_, i) => ({ id: `bg-${i}` })) : opts.devices;
  const clients = rawClients(devices);
  await connectAll(clients, {
    port: opts.port, concurrency: 1,
    onConnected: (c, socket) => socket.on('error', (e) => send({ type: 'error', message: `${c.id}: ${e.message}` })),
    onFailed: (_c, e) => { throw e; },
  });
  const templates = clients.map((c) => new PublishTemplate(`elevator/${c.id}/status`, 1, `${tag}-`, idleElevatorStatus));
  const latencies = new Reservoir(50_000);
  const load = startPaced({
    clients, rate: opts.rate, qos: 1, window: opts.window ?? 64, tickMs: 5, blocked: 'drop',
    packet: (k, pid, ts) => templates[k]!.fill(clients[k]!.seq, ts, pid),
    onLatency: (ms) => latencies.add(ms),
  });
  return {
    counters: () => ({ sent: load.sent, acked: load.acked, skipped: load.skipped, atMs: performance.now(), ackMs: latencies.take() }),
    stop: () => { load.stop(); for (const c of clients) c.destroy(); },
  };
}

if (process.argv[2] === '--worker' && process.send) {
  // the benchmark went away: so do we
  process.on('disconnect', () => process.exit(0));
  const send = (m: FromWorker): void => { process.send!(m); };
  let w: Awaited<ReturnType<typeof worker>> | null = null;
  process.on('message', (m: ToWorker) => {
    if (m.type === 'start') {
      worker(m.opts, m.tag, send).then((x) => { w = x; send({ type: 'ready' }); }, (e: Error) => { send({ type: 'error', message: e.message }); process.exit(1); });
    } else if (m.type === 'counters') {
      send({ type: 'counters', counters: w!.counters() });
    } else {
      const c = w!.counters();
      w!.stop();
      process.send!({ type: 'counters', counters: c } satisfies FromWorker, () => process.exit(0));
    }
  });
}
