/**
 * P1 durable ingest benchmark: QoS 1 readings from many devices, validated, stored and
 * acknowledged after commit, against Mosquitto (Debian, started here on a loopback port)
 * receiving the same stream with no subscriber: it only acknowledges, storing nothing.
 * Same load generator (simulators/load/, a burst: every packet encoded before the clock
 * starts, as fast as acks allow), same run, reported as a ratio (the machine is shared and noisy).
 *
 *   npm run bench:ingest -- [--clients 100,1000] [--messages 100000] [--window 64] [--qos 1,0]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { examplePayload } from '../core/schemas/examples.js';
import { registerDevices, scrapeMetrics, startMosquitto, startOurs, storedCount, waitFor, type Device } from './lib/harness.js';
import { connectAll, rawClients } from '../simulators/load/connect.js';
import { burstPid, runBurst } from '../simulators/load/generator.js';
import { encodePublish } from '../simulators/load/rawMqtt.js';

interface Result { target: string; clients: number; qos: 0 | 1; messages: number; elapsedMs: number; rate: number; p50: number | null; p99: number | null; stored?: number }

const args = parseArgs({
  options: {
    clients: { type: 'string', default: '100,1000' },
    messages: { type: 'string', default: '100000' },
    window: { type: 'string', default: '64' },
    qos: { type: 'string', default: '1,0' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
}).values;

if (args.help) {
  process.stdout.write('Usage: npm run bench:ingest -- [--clients 100,1000] [--messages 100000] [--window 64] [--qos 1,0] [--profile DIR]\n' +
    '  --profile DIR   run the service under node --cpu-prof, writing the profile to DIR\n');
  process.exit(0);
}

/** Build every packet before the clock starts. */
function buildPackets(devices: Device[], perClient: number, qos: 0 | 1, runTag: string): Buffer[][] {
  return devices.map((d) => Array.from({ length: perClient }, (_, i) => {
    const payload = Buffer.from(JSON.stringify(examplePayload('elevator', 'status', `${runTag}-${i}`, Date.now())));
    return encodePublish(`elevator/${d.id}/status`, payload, qos, burstPid(i));
  }));
}

/** Connect every device (anonymously for the peer), then the load generator's burst: as fast as acks allow. */
async function runLoad(port: number, devices: Device[], creds: boolean, packets: Buffer[][], qos: 0 | 1, window: number): Promise<{ elapsedMs: number; latencies: number[] }> {
  const clients = rawClients(creds ? devices : devices.map((d) => ({ id: d.id })));
  await connectAll(clients, { port, concurrency: clients.length, onFailed: (_c, e) => { throw e; } });
  const latencies: number[] = [];
  const elapsedMs = await runBurst({ clients, packets, qos, window, onLatency: (ms) => latencies.push(ms) });
  for (const c of clients) c.destroy();
  return { elapsedMs, latencies };
}

function pct(sorted: number[], p: number): number | null {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : null;
}

async function main(): Promise<void> {
  const clientCounts = args.clients!.split(',').map(Number);
  const totalMessages = Number(args.messages);
  const window = Number(args.window);
  const qosList = args.qos!.split(',').map(Number) as Array<0 | 1>;
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-bench-'));
  const ours = await startOurs(path.join(dir, 'data'), args.profile);
  const mosq = await startMosquitto(dir);
  const results: Result[] = [];
  try {
    const devices = await registerDevices(ours.httpPort, Math.max(...clientCounts));
    let run = 0;
    for (const qos of qosList) {
      for (const clients of clientCounts) {
        const perClient = Math.ceil(totalMessages / clients);
        const ds = devices.slice(0, clients);
        for (const target of ['supervision', `mosquitto ${mosq.version}`]) {
          const isOurs = target === 'supervision';
          const before = isOurs ? await storedCount(ours.httpPort) : 0;
          const packets = buildPackets(ds, perClient, qos, `r${run++}`);
          const { elapsedMs, latencies } = await runLoad(isOurs ? ours.mqttPort : mosq.port, ds, isOurs, packets, qos, window);
          let stored: number | undefined;
          let elapsed = elapsedMs;
          if (isOurs) {
            // QoS 0 is answered before the commit: count until everything is stored
            const t = performance.now();
            await waitFor(async () => (await storedCount(ours.httpPort)) - before >= clients * perClient, 60_000, 'all readings stored');
            if (qos === 0) elapsed += performance.now() - t;
            stored = (await storedCount(ours.httpPort)) - before;
          }
          latencies.sort((a, b) => a - b);
          const messages = clients * perClient;
          results.push({ target, clients, qos, messages, elapsedMs: elapsed, rate: messages / (elapsed / 1000), p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), ...(stored === undefined ? {} : { stored }) });
          process.stderr.write(`  ${target} qos${qos} ${clients} clients: ${Math.round(messages / (elapsed / 1000))} msg/s\n`);
        }
      }
    }
    commitStats = await readCommitStats(ours.httpPort);
  } finally {
    ours.proc.kill('SIGTERM');
    mosq.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(results);
  if (commitStats) process.stdout.write(`service commits: ${commitStats}\n`);
}

let commitStats = '';
async function readCommitStats(httpPort: number): Promise<string> {
  const num = await scrapeMetrics(httpPort);
  const count = num('ingest_batch_commit_seconds_count');
  const sum = num('ingest_batch_commit_seconds_sum');
  const stored = await storedCount(httpPort);
  return `${count} batches, mean ${(sum / count * 1000).toFixed(1)} ms per commit, mean ${(stored / count).toFixed(0)} rows per batch`;
}

function printTable(results: Result[]): void {
  const lines = ['| QoS | clients | target | messages | msg/s | ratio to Mosquitto | ack p50 ms | ack p99 ms | stored |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const peer = results.find((p) => p.qos === r.qos && p.clients === r.clients && p.target.startsWith('mosquitto'));
    const ratio = peer && r !== peer ? (r.rate / peer.rate).toFixed(2) + 'x' : '1.00x (peer)';
    lines.push(`| ${r.qos} | ${r.clients} | ${r.target} | ${r.messages} | ${Math.round(r.rate)} | ${ratio} | ${r.p50?.toFixed(1) ?? '-'} | ${r.p99?.toFixed(1) ?? '-'} | ${r.stored ?? '-'} |`);
  }
  process.stdout.write(`\nP1 durable ingest, ${new Date().toISOString().slice(0, 10)}, node ${process.version}\n${lines.join('\n')}\n` +
    'Mosquitto only acknowledges (no subscriber, no storage); ours validates, dedupes, stores in DuckDB and acknowledges QoS 1 after the commit.\n' +
    'QoS 0 time for ours runs until every reading is stored.\n');
}

await main();
