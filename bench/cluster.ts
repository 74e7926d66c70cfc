/**
 * The cost of the cluster path (docs/cluster.md), in one run on one machine: the same P1 and P2
 * measurements against
 *   1. one node on the embedded default (DuckDB),
 *   2. one cluster node (REDIS_URL + DATABASE_URL: a redis-server and a PostgreSQL with durable
 *      commits, both started here on loopback),
 *   3. two cluster nodes (node-a, node-b) over the same two, the load's devices split evenly
 *      over the two nodes' MQTT ports (no balancer: HAProxy would only add a hop),
 * with Mosquitto as P1's peer, measured first and last (their tails and the load average printed
 * say how noisy the shared machine was).
 *
 * P1: QoS 1 readings paced at `--rate` over `--clients` devices registered through the API
 * (bench/lib/backgroundLoad.ts: when the node falls behind, a device's full window skips sends,
 * so the achieved rate is what the node sustains; the default rate is above what any of our
 * configurations sustains here, so it is the capacity, with the latencies of a node at its
 * limit), for `--seconds` after `--warmup`: readings
 * acknowledged per second, PUBACK p50/p99. P2: elevator fault probes, open loop, each a new
 * alert, from publish to the alert on a dashboard /ws client of node-a, under `--alert-rate`
 * background readings from the same devices (bench/alertLatency.ts's method; with two nodes
 * the probes alternate between them, so half cross to node-a's wall through Redis). P2 runs
 * first on each fresh configuration, so P1's backlog (PostgreSQL written behind the journal)
 * does not delay the alerts.
 *
 *   npm run bench:cluster -- [--rate 40000] [--seconds 15] [--clients 100] [--probes 140]
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { ownerOf, slotOf } from '../core/cluster/slots.js';
import { startBackgroundLoad, type BackgroundLoad, type Counters } from './lib/backgroundLoad.js';
import { acceptsDevice, postgresPrograms, redisProgram, startNodes, startPostgres, startRedis, stopNodes, stopProcess, tempDir, type Node, type Postgres } from './lib/clusterNodes.js';
import { adminToken, pct, registerDevices, startMosquitto, waitFor, type Device } from './lib/harness.js';

const args = parseArgs({
  options: {
    rate: { type: 'string', default: '40000' },
    'alert-rate': { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    clients: { type: 'string', default: '100' },
    probes: { type: 'string', default: '140' },
    'interval-ms': { type: 'string', default: '100' },
    window: { type: 'string', default: '64' },
    help: { type: 'boolean', default: false },
  },
}).values;

if (args.help) {
  process.stdout.write('Usage: npm run bench:cluster -- [--rate 40000] [--seconds 15] [--clients 100] [--probes 140] [--alert-rate 5000] [--warmup 3] [--interval-ms 100] [--window 64]\n' +
    'P1 and P2 against 1 embedded node, 1 cluster node and 2 cluster nodes (PostgreSQL and redis-server started here), Mosquitto as P1\'s peer.\n' +
    '  --rate        P1 offered QoS 1 readings/s over all devices (the achieved rate is what is reported;\n' +
    '                above a node\'s capacity, it is the sustained rate: sends a full window skips are dropped)\n' +
    '  --seconds     P1 measured seconds per configuration, after --warmup seconds\n' +
    '  --clients     devices of the load (split evenly over the nodes)\n' +
    '  --probes      P2 alert probes per configuration, one every --interval-ms\n' +
    '  --alert-rate  P2 background QoS 1 readings/s\n' +
    '  --window      unacknowledged readings per device at most\n' +
    'Cluster configurations are skipped (and said so) without redis-server or PostgreSQL\'s initdb/pg_ctl (Debian: redis-server, postgresql).\n');
  process.exit(0);
}

const RATE = Number(args.rate);
const ALERT_RATE = Number(args['alert-rate']);
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const CLIENTS = Number(args.clients);
const PROBES = Number(args.probes);
const INTERVAL_MS = Number(args['interval-ms']);
const WINDOW = Number(args.window);
/** Fault codes that each raise their own elevator.fault alert (11 is elevator.trapped's). */
const CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15];
const PROBE_TIMEOUT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`); };

interface P1 { rate: number; p50: number; p99: number }
interface P2 { p50: number; p99: number; lost: number; bgRate: number; paths: string }
interface Row { name: string; nodes: number; p1?: P1; p2?: P2; note?: string }

/**
 * The background load generator (a child process each), one per port with an even share of the
 * devices and of the rate: a node's clients connect to it directly.
 */
async function splitLoad(ports: number[], devices: Device[] | number, rate: number): Promise<{ counters: () => Promise<Counters[]>; stop: () => Promise<void> }> {
  const loads: BackgroundLoad[] = [];
  try {
    for (let i = 0; i < ports.length; i++) {
      const share = typeof devices === 'number' ? devices : devices.filter((_, k) => k % ports.length === i);
      loads.push(await startBackgroundLoad({ port: ports[i]!, devices: share, rate: rate / ports.length, window: WINDOW }));
    }
  } catch (err) {
    await Promise.all(loads.map((l) => l.stop().catch(() => undefined)));
    throw err;
  }
  return {
    counters: () => Promise.all(loads.map((l) => l.counters())),
    stop: async () => { await Promise.all(loads.map((l) => l.stop().catch(() => undefined))); },
  };
}

/** Acknowledged per second summed over the generators, and their PUBACK latencies pooled (equal rates: equal weight). */
function summarize(before: Counters[], after: Counters[]): P1 {
  const rate = after.reduce((s, a, i) => s + (a.acked - before[i]!.acked) / ((a.atMs - before[i]!.atMs) / 1000), 0);
  const lat = after.flatMap((a) => a.ackMs).sort((x, y) => x - y);
  return { rate, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

/** P1 on these MQTT ports: warm up, measure `SECONDS`, stop. */
async function p1(ports: number[], devices: Device[] | number): Promise<P1> {
  const load = await splitLoad(ports, devices, RATE);
  try {
    await sleep(WARMUP * 1000);
    const before = await load.counters();
    await sleep(SECONDS * 1000);
    return summarize(before, await load.counters());
  } finally {
    await load.stop();
  }
}

/** P2: probes open loop under background load; the alert is awaited on node-a's /ws. */
async function p2(nodes: Node[], bg: Device[], probeDevices: Device[]): Promise<P2> {
  const a = nodes[0]!;
  const token = await adminToken(a.httpPort);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  /** latencies by path: the node the probe device is connected to > the owner of its rule slot */
  const byPath = new Map<string, number[]>();
  const pathOf = new Map<string, string>();
  let lost = 0;
  let settled = 0;
  let allSettled: () => void = () => undefined;
  const settle = (): void => { if (++settled === PROBES) allSettled(); };
  const ws = new WebSocket(`ws://127.0.0.1:${a.httpPort}/ws?token=${encodeURIComponent(token)}`);
  const probeClients: mqtt.MqttClient[] = [];
  let load: Awaited<ReturnType<typeof splitLoad>> | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; change?: string; alert?: { rule: string; condition: string; device: { id: string } } };
        if (m.type === 'hello') resolve();
        else if (m.type === 'alert' && m.change === 'opened' && m.alert?.rule === 'elevator.fault') {
          const key = `${m.alert.device.id}/${m.alert.condition}`;
          const t = sentAt.get(key);
          if (t !== undefined && sentAt.delete(key)) {
            const ms = performance.now() - t;
            latencies.push(ms);
            const p = pathOf.get(m.alert.device.id)!;
            byPath.set(p, [...(byPath.get(p) ?? []), ms]);
            settle();
          }
        }
      });
    });
    // probe devices alternate between the nodes: with two, half the alerts are raised or pushed across
    for (const [k, d] of probeDevices.entries()) {
      const port = nodes[k % nodes.length]!.mqttPort;
      pathOf.set(d.id, `${nodes[k % nodes.length]!.id}>${ownerOf(slotOf(d.id), nodes.map((n) => n.id))}`);
      probeClients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: d.id, password: d.secret, clientId: d.id, reconnectPeriod: 0 }));
    }
    load = await splitLoad(nodes.map((n) => n.mqttPort), bg, ALERT_RATE);
    await sleep(WARMUP * 1000);
    const before = await load.counters();
    const finished = new Promise<void>((r) => { allSettled = r; });
    const t0 = performance.now();
    for (let i = 0; i < PROBES; i++) {
      const wait = t0 + i * INTERVAL_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const k = i % probeDevices.length;
      const code = CODES[Math.floor(i / probeDevices.length)]!;
      const d = probeDevices[k]!;
      const key = `${d.id}/${code}`;
      sentAt.set(key, performance.now());
      probeClients[k]!.publish(`elevator/${d.id}/fault`, JSON.stringify({ msgId: `probe-${i}`, ts: Date.now(), code, floor: 1, detail: 'bench probe' }), { qos: 1 });
      setTimeout(() => { if (sentAt.delete(key)) { lost++; settle(); } }, PROBE_TIMEOUT_MS).unref();
    }
    await finished;
    const bgRate = summarize(before, await load.counters()).rate;
    latencies.sort((x, y) => x - y);
    const paths = [...byPath].sort().map(([p, l]) => `${p} p50 ${pct(l.sort((x, y) => x - y), 0.5).toFixed(1)} ms (${l.length})`).join(', ');
    return { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), lost, bgRate, paths };
  } finally {
    ws.terminate();
    for (const c of probeClients) c.end(true);
    await load?.stop();
  }
}

/** Register the devices through node-a's API, wait until every node accepts them, then P2 and P1. */
async function measure(name: string, nodes: Node[]): Promise<Row> {
  const a = nodes[0]!;
  const bg = await registerDevices(a.httpPort, CLIENTS, 'elevator', 'bench-bg');
  const probeDevices = await registerDevices(a.httpPort, Math.ceil(PROBES / CODES.length), 'elevator', 'bench-probe');
  for (const n of nodes.slice(1)) {
    for (const d of [bg.at(-1)!, probeDevices.at(-1)!]) await waitFor(() => acceptsDevice(n.mqttPort, d.id, d.secret), 30_000, `${n.id} to accept ${d.id}`);
  }
  log(`${name}: P2, ${PROBES} probes under ${ALERT_RATE}/s`);
  const r2 = await p2(nodes, bg, probeDevices);
  log(`${name}: P2 p50 ${r2.p50.toFixed(1)} ms, p99 ${r2.p99.toFixed(1)} ms, lost ${r2.lost}; P1 at ${RATE}/s for ${SECONDS} s`);
  await sleep(2000);
  const r1 = await p1(nodes.map((n) => n.mqttPort), bg);
  log(`${name}: P1 ${Math.round(r1.rate)}/s acked, p50 ${r1.p50.toFixed(1)} ms, p99 ${r1.p99.toFixed(1)} ms`);
  return { name, nodes: nodes.length, p1: r1, p2: r2 };
}

async function mosquittoP1(label: string): Promise<Row> {
  const tmp = tempDir('supervision-bench-mosq-');
  const mosq = await startMosquitto(tmp.dir);
  try {
    const r = await p1([mosq.port], CLIENTS);
    log(`${label}: P1 ${Math.round(r.rate)}/s acked`);
    return { name: `${label} (mosquitto ${mosq.version})`, nodes: 1, p1: r };
  } finally {
    await stopProcess(mosq.proc);
    tmp.remove();
  }
}

/** A configuration of nodes, started, measured and stopped; a failure becomes the row's note, and the run goes on. */
async function configuration(name: string, ids: string[], cluster: (() => Promise<{ redisUrl: string; databaseUrl: string; stop: () => Promise<void> }>) | null): Promise<Row> {
  log(`${name}: starting`);
  let infra: Awaited<ReturnType<NonNullable<typeof cluster>>> | null = null;
  let nodes: Node[] = [];
  try {
    infra = cluster ? await cluster() : null;
    nodes = await startNodes(ids, infra);
    return await measure(name, nodes);
  } catch (err) {
    log(`${name}: failed: ${(err as Error).message}`);
    return { name, nodes: ids.length, note: `failed: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}` };
  } finally {
    await stopNodes(nodes);
    await infra?.stop();
  }
}

const f = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1));
const k = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : `${(x / 1000).toFixed(1)}k`);
const ratio = (x: number | undefined, y: number | undefined): string => (x === undefined || y === undefined || !Number.isFinite(x / y) ? '-' : `${(x / y).toFixed(2)}x`);

function report(rows: Row[], peers: Row[]): string {
  const peerRate = peers.length ? peers.reduce((s, p) => s + p.p1!.rate, 0) / peers.length : NaN;
  const lines = [
    `P1 offered ${k(RATE)} readings/s QoS 1 from ${CLIENTS} devices for ${SECONDS} s; P2 ${PROBES} probes every ${INTERVAL_MS} ms under ${k(ALERT_RATE)}/s, alert awaited on node-a's /ws`,
    '| configuration | P1 acked/s | per node | vs Mosquitto | P1 ack p50 / p99 ms | P2 alert p50 / p99 ms (lost) | P2 background achieved/s |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of [...peers, ...rows]) {
    const isPeer = peers.includes(r);
    lines.push(`| ${r.name}${r.note ? ` (${r.note})` : ''} | ${k(r.p1?.rate)} | ${k(r.p1 ? r.p1.rate / r.nodes : undefined)} | ${isPeer ? 'peer' : ratio(r.p1?.rate, peerRate)} | ${f(r.p1?.p50)} / ${f(r.p1?.p99)} | ${r.p2 ? `${f(r.p2.p50)} / ${f(r.p2.p99)} (${r.p2.lost})` : '-'} | ${k(r.p2?.bgRate)} |`);
  }
  const [emb, c1, c2] = ['embedded', 'cluster, 1 node', 'cluster, 2 nodes'].map((n) => rows.find((r) => r.name.startsWith(n)));
  const cost = (label: string, x: Row | undefined, y: Row | undefined): string =>
    `| ${label} | ${ratio(x?.p1?.rate, y?.p1?.rate)} | ${ratio(x?.p1 && x.p1.rate / x.nodes, y?.p1 && y.p1.rate / y.nodes)} | ${ratio(x?.p1?.p99, y?.p1?.p99)} | ${ratio(x?.p2?.p99, y?.p2?.p99)} |`;
  lines.push('', 'The cost of the cluster path', '| ratio | P1 acked/s | P1 per node | P1 ack p99 | P2 alert p99 |', '|---|---|---|---|---|',
    cost('1 cluster node / 1 embedded', c1, emb), cost('2 cluster nodes / 1 cluster node', c2, c1), cost('2 cluster nodes / 1 embedded', c2, emb));
  for (const r of rows) if (r.p2 && r.nodes > 1) lines.push('', `P2 of ${r.name} by path (node the probe device is on > owner of its rule slot): ${r.p2.paths}`);
  if (peers.length === 2) lines.push('', `Mosquitto first and last: ${k(peers[0]!.p1!.rate)}/s (ack p99 ${f(peers[0]!.p1!.p99)} ms) and ${k(peers[1]!.p1!.rate)}/s (${f(peers[1]!.p1!.p99)} ms); the ratio uses their mean. `
    + 'Where Mosquitto acknowledges the whole offered rate, the ratio is to the offered rate: the generator delivered it; the two tails and the load average show the noise.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync('dist/service/main.js')) throw new Error('dist/service/main.js missing: npm run build (npm run bench:cluster does)');
  const pgBins = postgresPrograms();
  const redisBin = redisProgram();
  const missing = typeof pgBins === 'string' ? pgBins : !redisBin ? 'redis-server not found on PATH (Debian package redis-server)' : null;
  if (missing) log(`cluster configurations skipped: ${missing}`);
  const rows: Row[] = [];
  const peers: Row[] = [];
  // the machine is shared: its 1-minute load at both ends says how much else ran beside the bench
  const loadAtStart = loadavg()[0]!;
  let pgServer: Postgres | null = null;
  try {
    peers.push(await mosquittoP1('Mosquitto, first'));
    rows.push(await configuration('embedded (DuckDB), 1 node', ['embedded'], null));
    // PostgreSQL failing to start is a row's note like a missing program: the other rows still print
    const started = missing ? null : await startPostgres(pgBins as Exclude<typeof pgBins, string>).catch((err: Error) => {
      log(`PostgreSQL did not start: ${err.message}`);
      return `failed: PostgreSQL did not start: ${err.message.split('\n')[0]!.slice(0, 200)}`;
    });
    if (started === null || typeof started === 'string') {
      const note = started ?? `skipped: ${missing}`;
      rows.push({ name: 'cluster, 1 node', nodes: 1, note }, { name: 'cluster, 2 nodes', nodes: 2, note });
    } else {
      pgServer = started;
      // a fresh database and redis-server per configuration: no rows, sessions or feed streams carried over
      const infra = (db: string) => async () => {
        const redis = await startRedis(redisBin);
        try {
          return { redisUrl: redis.url, databaseUrl: await started.createDatabase(db), stop: redis.stop };
        } catch (err) {
          await redis.stop();
          throw err;
        }
      };
      rows.push(await configuration('cluster, 1 node (PostgreSQL + Redis)', ['node-a'], infra('bench_one')));
      rows.push(await configuration('cluster, 2 nodes (node-a + node-b)', ['node-a', 'node-b'], infra('bench_two')));
    }
    peers.push(await mosquittoP1('Mosquitto, last'));
  } finally {
    await pgServer?.stop();
  }
  process.stdout.write(`\nbench:cluster, ${new Date().toISOString().slice(0, 16)} UTC, node ${process.version}, load average ${loadAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end\n${report(rows, peers)}\n`);
}

await main();
