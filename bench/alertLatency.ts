/**
 * P2 alert latency: from a device's publish to the alert arriving on a dashboard client's
 * `/ws`, while P1-style QoS 1 background readings run at a target rate (generated in a child
 * process, bench/lib/backgroundLoad.ts). The path measured is the whole promise: the reading
 * is validated, committed (rules only see stored readings), evaluated by the alert engine and
 * pushed by the live hub.
 *
 * Probes are elevator fault codes, sent open loop every `--interval-ms` (not waiting for the
 * previous answer), each on a (probe elevator, code) pair used once, so each one opens a new
 * `elevator.fault` alert (a code repeated on the same elevator would only update the open one
 * within its 24 h window; distinct codes are distinct alerts, docs/rules/elevator.md).
 *
 * The peer, in the same run and under the same background load (anonymous, same rate, same
 * generator), is Mosquitto relaying a QoS 1 publish to a QoS 1 subscriber: publish ->
 * subscriber receipt, on the same probe schedule.
 *
 *   npm run bench:alerts -- [--rate 20000] [--clients 100] [--probes 300] [--interval-ms 100]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { startBackgroundLoad, type BackgroundLoad, type Counters } from './lib/backgroundLoad.js';
import { adminToken, pct, registerDevices, startMosquitto, startOurs } from './lib/harness.js';

const args = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '100' },
    probes: { type: 'string', default: '300' },
    'interval-ms': { type: 'string', default: '100' },
    window: { type: 'string', default: '64' },
    warmup: { type: 'string', default: '5' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
}).values;
if (args.help) {
  process.stdout.write('Usage: npm run bench:alerts -- [--rate 20000] [--clients 100] [--probes 300] [--interval-ms 100] [--window 64] [--warmup 5] [--profile DIR]\n' +
    '  --rate         background QoS 1 readings/s (target; the achieved rate is reported)\n' +
    '  --clients      background devices\n' +
    '  --window       unacknowledged background messages per device at most\n' +
    '  --warmup       seconds of background load before the first probe\n' +
    '  --profile DIR  run the service under node --cpu-prof, writing the profile to DIR\n');
  process.exit(0);
}

/** Fault codes that each raise their own elevator.fault alert (11 is elevator.trapped's). */
const CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15];
const PROBE_TIMEOUT_MS = 15_000;

interface ProbeRun { latencies: number[]; lost: number; bg: { rate: number; ackP50: number; ackP99: number; skipped: number } }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Probes fired open loop, one every `intervalMs`: `publish(i)` sends probe i and returns the key
 * its arrival will be announced with; the receiving side calls `arrived(key)`.
 */
class Probes {
  private readonly sentAt = new Map<string, number>();
  private readonly latencies: number[] = [];
  private lost = 0;
  private settled = 0;
  private target = 0;
  private done: () => void = () => undefined;

  arrived(key: string): void {
    const t = this.sentAt.get(key);
    if (t === undefined) return;
    this.sentAt.delete(key);
    this.latencies.push(performance.now() - t);
    this.settle();
  }

  async run(n: number, intervalMs: number, publish: (i: number) => string): Promise<{ latencies: number[]; lost: number }> {
    const finished = new Promise<void>((r) => { this.done = r; });
    this.target = this.settled + n;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = t0 + i * intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      const sent = performance.now();
      const key = publish(i);
      this.sentAt.set(key, sent);
      setTimeout(() => { if (this.sentAt.delete(key)) { this.lost++; this.settle(); } }, PROBE_TIMEOUT_MS).unref();
    }
    await finished;
    return { latencies: [...this.latencies].sort((a, b) => a - b), lost: this.lost };
  }

  private settle(): void {
    if (++this.settled === this.target) this.done();
  }
}

function bgSummary(a: Counters, b: Counters): ProbeRun['bg'] {
  return { rate: (b.acked - a.acked) / ((b.atMs - a.atMs) / 1000), ackP50: pct(b.ackMs, 0.5), ackP99: pct(b.ackMs, 0.99), skipped: b.skipped - a.skipped };
}

async function runOurs(dir: string, rate: number, clients: number, probes: number, intervalMs: number, window: number, warmupS: number): Promise<ProbeRun> {
  const ours = await startOurs(path.join(dir, 'data'), args.profile);
  let load: BackgroundLoad | null = null;
  const probeClients: mqtt.MqttClient[] = [];
  let ws: WebSocket | null = null;
  try {
    const bg = await registerDevices(ours.httpPort, clients, 'elevator', 'bench-bg');
    const probeDevices = await registerDevices(ours.httpPort, Math.ceil(probes / CODES.length), 'elevator', 'bench-probe');
    const token = await adminToken(ours.httpPort);
    for (const d of probeDevices) {
      probeClients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${ours.mqttPort}`, { username: d.id, password: d.secret, clientId: d.id, reconnectPeriod: 0 }));
    }
    ws = new WebSocket(`ws://127.0.0.1:${ours.httpPort}/ws?token=${encodeURIComponent(token)}`);
    const socket = ws;
    const probesRun = new Probes();
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; change?: string; alert?: { rule: string; condition: string; device: { id: string } } };
        if (m.type === 'hello') resolve();
        else if (m.type === 'alert' && m.change === 'opened' && m.alert?.rule === 'elevator.fault') probesRun.arrived(`${m.alert.device.id}/${m.alert.condition}`);
      });
    });

    load = await startBackgroundLoad({ port: ours.mqttPort, devices: bg, rate, window });
    await sleep(warmupS * 1000);
    const before = await load.counters();
    const run = await probesRun.run(probes, intervalMs, (i) => {
      const k = i % probeDevices.length;
      const code = CODES[Math.floor(i / probeDevices.length)]!;
      const d = probeDevices[k]!;
      probeClients[k]!.publish(`elevator/${d.id}/fault`, JSON.stringify({ msgId: `probe-${i}`, ts: Date.now(), code, floor: 1, detail: 'bench probe' }), { qos: 1 });
      return `${d.id}/${code}`;
    });
    const after = await load.counters();
    return { ...run, bg: bgSummary(before, after) };
  } finally {
    ws?.terminate();
    for (const c of probeClients) c.end(true);
    await load?.stop().catch(() => undefined);
    ours.proc.kill('SIGTERM');
    await new Promise((r) => (ours.proc.exitCode !== null ? r(null) : ours.proc.once('exit', r)));
  }
}

async function runMosquitto(dir: string, rate: number, clients: number, probes: number, intervalMs: number, window: number, warmupS: number): Promise<ProbeRun & { version: string }> {
  const mosq = await startMosquitto(dir);
  let load: BackgroundLoad | null = null;
  const url = `mqtt://127.0.0.1:${mosq.port}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'probe-sub', reconnectPeriod: 0 });
  const pub = await mqtt.connectAsync(url, { clientId: 'probe-pub', reconnectPeriod: 0 });
  try {
    await sub.subscribeAsync('bench/probe/#', { qos: 1 });
    const probesRun = new Probes();
    sub.on('message', (_topic, payload) => probesRun.arrived(payload.toString()));
    load = await startBackgroundLoad({ port: mosq.port, devices: clients, rate, window });
    await sleep(warmupS * 1000);
    const before = await load.counters();
    const run = await probesRun.run(probes, intervalMs, (i) => {
      pub.publish(`bench/probe/${i % 25}`, `probe-${i}`, { qos: 1 });
      return `probe-${i}`;
    });
    const after = await load.counters();
    return { ...run, bg: bgSummary(before, after), version: mosq.version };
  } finally {
    sub.end(true);
    pub.end(true);
    await load?.stop().catch(() => undefined);
    mosq.proc.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const rate = Number(args.rate);
  const clients = Number(args.clients);
  const probes = Number(args.probes);
  const intervalMs = Number(args['interval-ms']);
  const window = Number(args.window);
  const warmupS = Number(args.warmup);
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-p2-'));
  try {
    const ours = await runOurs(dir, rate, clients, probes, intervalMs, window, warmupS);
    const peer = await runMosquitto(dir, rate, clients, probes, intervalMs, window, warmupS);
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
    const k = (x: number) => `${(x / 1000).toFixed(1)}k/s`;
    const lines = [
      '| path | probes (lost) | p50 ms | p99 ms | background achieved (target) | background PUBACK p50 / p99 ms | ratio to peer (p99) |',
      '|---|---|---|---|---|---|---|',
      `| device publish -> alert on /ws (ours: validate, commit, rules, push) | ${probes} (${ours.lost}) | ${f(pct(ours.latencies, 0.5))} | ${f(pct(ours.latencies, 0.99))} | ${k(ours.bg.rate)} (${k(rate)}) | ${f(ours.bg.ackP50)} / ${f(ours.bg.ackP99)} | ${(pct(ours.latencies, 0.99) / pct(peer.latencies, 0.99)).toFixed(2)}x |`,
      `| publish -> QoS 1 subscriber (mosquitto ${peer.version}) | ${probes} (${peer.lost}) | ${f(pct(peer.latencies, 0.5))} | ${f(pct(peer.latencies, 0.99))} | ${k(peer.bg.rate)} (${k(rate)}) | ${f(peer.bg.ackP50)} / ${f(peer.bg.ackP99)} | 1.00x |`,
    ];
    const short = ours.bg.rate < rate * 0.95 ? `; ours acknowledged ${k(ours.bg.rate)} of the ${k(rate)} asked (service, generator and probes share the cores)` : '';
    process.stdout.write(`\nP2 alert latency, ${new Date().toISOString().slice(0, 10)}, ${probes} probe alerts every ${intervalMs} ms under QoS 1 background from ${clients} devices${short}; target p99 <= 50 ms\n${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
