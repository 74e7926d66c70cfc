/**
 * P4 cylinder reply: a filling-station scanner publishes `scan` and waits for the allow/refuse
 * on `scan/reply`, while background devices publish readings at a target rate. The peer, in
 * the same run and under the same background load, is Mosquitto relaying a message from a
 * client back to itself (publish -> subscriber): the least any broker round trip costs.
 *
 *   npm run bench:cylinder -- [--rate 20000] [--clients 100] [--scans 300]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { examplePayload } from '../core/schemas/examples.js';
import { eventLoopLag, registerDevices, startMosquitto, startOurs, type Device } from './lib/harness.js';
import { connectAll, rawClients } from '../simulators/load/connect.js';
import { startPaced } from '../simulators/load/generator.js';
import { PublishTemplate } from '../simulators/load/template.js';

const args = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '100' },
    scans: { type: 'string', default: '300' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
}).values;
if (args.help) {
  process.stdout.write('Usage: npm run bench:cylinder -- [--rate 20000] [--clients 100] [--scans 300] [--profile DIR]\n' +
    '  --profile DIR  run the service under node --cpu-prof, writing the profile to DIR\n');
  process.exit(0);
}

/**
 * Paced QoS 0 background load (the load generator, every 10 ms); a device whose socket holds
 * more than 1 MiB unwritten skips its turn (the broker is behind: do not pile up in our memory).
 * `sent` counts the messages scheduled, skipped ones included.
 */
async function background(port: number, devices: Device[], creds: boolean, rate: number): Promise<{ stop: () => void; sent: () => number }> {
  const clients = rawClients(creds ? devices : devices.map((d) => ({ id: d.id })));
  await connectAll(clients, { port, concurrency: 1, onFailed: (_c, e) => { throw e; } });
  const templates = clients.map((c) => new PublishTemplate(`elevator/${c.id}/status`, 0, 'bg-', (msgId, ts) => examplePayload('elevator', 'status', msgId, ts)));
  const load = startPaced({
    clients, rate, qos: 0, window: 0, tickMs: 10, blocked: 'drop', maxBufferedBytes: 1 << 20,
    packet: (k, _pid, ts) => templates[k]!.fill(clients[k]!.seq, ts, 0),
  });
  return { stop: () => { load.stop(); for (const c of clients) c.destroy(); }, sent: () => load.sent + load.skipped };
}

/** publish on `pubTopic`, wait for the matching message on `subTopic`; latencies in ms. */
async function roundTrips(url: string, opts: mqtt.IClientOptions, pubTopic: string, subTopic: string, n: number, body: (i: number) => string, key: (payload: Buffer) => string): Promise<number[]> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...opts });
  await c.subscribeAsync(subTopic, { qos: 1 });
  const pending = new Map<string, (t: number) => void>();
  c.on('message', (_t, p) => pending.get(key(p))?.(performance.now()));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `rt-${i}`;
    const t0 = performance.now();
    const got = new Promise<number>((resolve, reject) => {
      pending.set(id, resolve);
      setTimeout(() => reject(new Error(`no answer to ${id} within 5 s`)), 5000).unref();
    });
    c.publish(pubTopic, body(i), { qos: 1 });
    out.push((await got) - t0);
    pending.delete(id);
    await new Promise((r) => setTimeout(r, 20));
  }
  await c.endAsync();
  return out;
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))]!;

async function main(): Promise<void> {
  const rate = Number(args.rate);
  const clients = Number(args.clients);
  const scans = Number(args.scans);
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-p4-'));
  const ours = await startOurs(path.join(dir, 'data'), args.profile);
  const mosq = await startMosquitto(dir);
  try {
    const base = `http://127.0.0.1:${ours.httpPort}`;
    const { token } = await (await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-admin-pass' }) })).json() as { token: string };
    await fetch(`${base}/api/cylinders/import`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ code: 'LPG-BENCH-1', model: 'YSP15', mfgDate: '2023-01-01', nextInspection: '2030-01-01', ownerStationId: 'ST-1', status: 'in_service' }]),
    });
    const bg = await registerDevices(ours.httpPort, clients);
    const [scanner] = await registerDevices(ours.httpPort, 1, 'cylinder', 'bench-scanner');

    const load = await background(ours.mqttPort, bg, true, rate);
    await eventLoopLag(ours.httpPort);
    const ourTimes = await roundTrips(`mqtt://127.0.0.1:${ours.mqttPort}`, { clientId: scanner!.id, username: scanner!.id, password: scanner!.secret },
      `cylinder/${scanner!.id}/scan`, `cylinder/${scanner!.id}/scan/reply`, scans,
      (i) => JSON.stringify({ msgId: `rt-${i}`, ts: Date.now(), cylinderCode: 'LPG-BENCH-1', stationId: 'ST-1', point: i % 2 ? 'fill' : 'pre_fill', operatorId: 'OP-1' }),
      (p) => (JSON.parse(p.toString()) as { msgId: string }).msgId);
    const ourRate = load.sent();
    const lag = await eventLoopLag(ours.httpPort);
    load.stop();

    const load2 = await background(mosq.port, bg, false, rate);
    const peerTimes = await roundTrips(`mqtt://127.0.0.1:${mosq.port}`, {}, 'bench/echo', 'bench/echo', scans, (i) => `rt-${i}`, (p) => p.toString());
    load2.stop();

    ourTimes.sort((a, b) => a - b);
    peerTimes.sort((a, b) => a - b);
    const lines = [
      '| round trip | p50 ms | p99 ms | ratio to peer (p99) |',
      '|---|---|---|---|',
      `| scan -> allow/refuse reply (ours, rules and registry) | ${pct(ourTimes, 0.5).toFixed(1)} | ${pct(ourTimes, 0.99).toFixed(1)} | ${(pct(ourTimes, 0.99) / pct(peerTimes, 0.99)).toFixed(2)}x |`,
      `| publish -> own subscription (mosquitto ${mosq.version}) | ${pct(peerTimes, 0.5).toFixed(1)} | ${pct(peerTimes, 0.99).toFixed(1)} | 1.00x |`,
    ];
    lines.push(`\nour event loop's delay during the scans: p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms (DUCKDB_WORKER=${process.env.DUCKDB_WORKER ?? 'true'})`);
    process.stdout.write(`\nP4 cylinder reply, ${new Date().toISOString().slice(0, 10)}, ${scans} scans under ~${rate} readings/s background (${ourRate} sent during ours); target p99 <= 20 ms\n${lines.join('\n')}\n`);
  } finally {
    ours.proc.kill('SIGTERM');
    mosq.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
