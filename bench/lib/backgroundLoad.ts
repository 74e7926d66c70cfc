/**
 * P1-style QoS 1 background load, paced at a target rate, generated in a child process so that
 * the benchmark's own probe client does not share an event loop with the generator (both still
 * share the machine's two cores with the broker under test: the load is the point).
 *
 * The child connects every device over raw MQTT (bench/lib/rawMqtt.ts), then publishes
 * `elevator/{id}/status` readings round robin, by elapsed time, with at most `window`
 * unacknowledged per device: when the broker falls behind, messages that would exceed the
 * window are skipped, so the achieved rate (PUBACKs per second) is what the broker sustains,
 * never a queue growing in our memory. Packets come from one template per device with the
 * msgId, timestamp and packet id patched in place (no JSON encoding per message). The status
 * has no passenger on board, so it raises no alert.
 *
 *   const load = await startBackgroundLoad({ port, devices, rate: 20000 });
 *   const a = await load.counters(); ... const b = await load.counters();
 *   await load.stop();
 */
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Device } from './harness.js';
import { connectRaw, encodeConnect, encodePublish } from './rawMqtt.js';

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

/** One packet template per device: msgId digits, ts digits and packet id patched per send. */
interface Template { packet: Buffer; pidAt: number; seqAt: number; tsAt: number }
const SEQ_DIGITS = 10;

function template(topic: string, tag: string): Template {
  const head = `{"msgId":"${tag}-`;
  const mid = '","ts":';
  const tail = ',"floor":3,"doorZone":true,"doorClosed":true,"moving":false,"direction":"stop","speedMps":0,"passengerPresent":false,"serviceMode":"normal","powerOk":true}';
  const payload = Buffer.from(`${head}${'0'.repeat(SEQ_DIGITS)}${mid}${'0'.repeat(13)}${tail}`, 'latin1');
  const packet = encodePublish(topic, payload, 1, 1);
  const payloadAt = packet.length - payload.length;
  return { packet, pidAt: payloadAt - 2, seqAt: payloadAt + head.length, tsAt: payloadAt + head.length + SEQ_DIGITS + mid.length };
}

async function worker(opts: BackgroundOptions, tag: string, send: (m: FromWorker) => void): Promise<{ counters: () => Counters; stop: () => void }> {
  const window = opts.window ?? 64;
  const ids = typeof opts.devices === 'number'
    ? Array.from({ length: opts.devices }, (_, i) => ({ id: `bg-${i}`, secret: '' }))
    : opts.devices;
  const n = ids.length;
  const sockets: net.Socket[] = [];
  const templates: Template[] = [];
  const inflight = ids.map(() => new Map<number, number>());
  const nextPid = new Array<number>(n).fill(1);
  const seq = new Array<number>(n).fill(0);
  let sent = 0;
  let acked = 0;
  let skipped = 0;
  let samples: number[] = [];
  const maxSamples = 50_000;
  let seen = 0;
  for (const [k, d] of ids.entries()) {
    const creds = typeof opts.devices !== 'number';
    templates.push(template(`elevator/${d.id}/status`, tag));
    sockets.push(await connectRaw(opts.port, '127.0.0.1', encodeConnect(d.id, creds ? d.id : undefined, creds ? d.secret : undefined), (pid) => {
      const at = inflight[k]!.get(pid);
      if (at === undefined) return;
      inflight[k]!.delete(pid);
      acked++;
      // reservoir sample of ack latencies
      const ms = performance.now() - at;
      seen++;
      if (samples.length < maxSamples) samples.push(ms);
      else { const j = Math.floor(Math.random() * seen); if (j < maxSamples) samples[j] = ms; }
    }));
    sockets[k]!.on('error', (e) => send({ type: 'error', message: `${d.id}: ${e.message}` }));
  }
  const started = performance.now();
  let scheduled = 0;
  let rr = 0;
  const timer = setInterval(() => {
    // by elapsed time, not by tick count: a late timer sends more, so the rate holds
    const due = Math.floor(opts.rate * (performance.now() - started) / 1000) - scheduled;
    scheduled += due;
    const out: Buffer[][] = ids.map(() => []);
    const now = Date.now();
    const tsText = String(now);
    for (let i = 0; i < due; i++) {
      const k = rr;
      rr = (rr + 1) % n;
      const fl = inflight[k]!;
      if (fl.size >= window) { skipped++; continue; }
      const t = templates[k]!;
      const b = Buffer.allocUnsafe(t.packet.length);
      t.packet.copy(b);
      const pid = nextPid[k]!;
      nextPid[k] = pid >= 65535 ? 1 : pid + 1;
      b.writeUInt16BE(pid, t.pidAt);
      b.write(String(++seq[k]!).padStart(SEQ_DIGITS, '0'), t.seqAt, 'latin1');
      b.write(tsText, t.tsAt, 'latin1');
      fl.set(pid, performance.now());
      out[k]!.push(b);
      sent++;
    }
    for (let k = 0; k < n; k++) {
      const o = out[k]!;
      if (o.length) sockets[k]!.write(o.length === 1 ? o[0]! : Buffer.concat(o));
    }
  }, 5);
  return {
    counters: () => {
      const s = samples.sort((a, b) => a - b);
      samples = [];
      seen = 0;
      return { sent, acked, skipped, atMs: performance.now(), ackMs: s };
    },
    stop: () => { clearInterval(timer); for (const s of sockets) s.destroy(); },
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
