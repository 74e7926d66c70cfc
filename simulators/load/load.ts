/**
 * Load mode (`simulate --load`): the command line over the load generator of this folder. Up
 * to 100k device connections from one process over raw MQTT 3.1.1 sockets (client.ts on
 * rawMqtt.ts: pre-encoded CONNECT, a PUBACK scan, nothing else), spread over several loopback
 * source addresses (127.0.0.x) to get past the ~28k ephemeral ports one address has, a
 * target message rate (generator.ts, paced), QoS 0/1, a live progress line and a final JSON
 * summary.
 */
import { performance } from 'node:perf_hooks';
import { apiAccess, exitCodes, login, UsageError, type CliIo } from '../cli.js';
import { sleep } from '../fleet/runner.js';
import { connectAll, loopbackSources, rawClients } from './connect.js';
import { DESCRIPTOR_RESERVE, descriptorCheck, descriptorUse } from './descriptors.js';
import { startPaced, type PacedLoad } from './generator.js';
import { percentile, SampleLog } from './latency.js';
import { idleElevatorStatus, PublishTemplate } from './template.js';

export const loadArgOptions = {
  load: { type: 'boolean' },
  devices: { type: 'string' },
  rate: { type: 'string' },
  'source-addresses': { type: 'string' },
  'connect-concurrency': { type: 'string' },
  'inflight': { type: 'string' },
  'progress-ms': { type: 'string' },
} as const;

export const loadHelp = `  --load                     load mode instead of a city
  --devices N                device connections (default 1000, at most 100000); ids <prefix>-<n>,
                             registered by bulk import in chunks of 5000
  --rate R                   target messages per second over the whole fleet (default 1000; 0 = connect only)
  --duration S               seconds of traffic once all are connected (default 30)
  --qos 0|1                  (default 1: PUBACK latency measured)
  --source-addresses K       loopback source addresses 127.0.0.1..K (default: one per 10000 devices, the
                             service's default MQTT_MAX_CONNECTIONS_PER_ADDRESS)
  --connect-concurrency C    connections being opened at once (default 200)
  --inflight W               unacknowledged QoS 1 messages per device at most (default 8)
  --prefix P                 device id prefix (default load); a rerun with the same prefix rotates
                             every secret (one request per device): use a fresh prefix for big runs
  Every connection is an open file on both sides: --devices above what this process's open-file
  limit (ulimit -n) leaves room for is refused at start, naming the limit and how many fit;
  raise it for both processes first. The service caps MQTT connections too (docs/security.md): in all
  (MQTT_MAX_CONNECTIONS, by default derived from its open-file limit), per source address once
  authenticated (MQTT_MAX_CONNECTIONS_PER_ADDRESS, 10000) and not yet authenticated
  (MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS, 256; keep --connect-concurrency / K below it); for bigger
  runs start the service with those raised. The summary JSON goes to stdout.`;

const isLoopback = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';

export async function runLoad(v: Record<string, unknown>, io: CliIo): Promise<number> {
  const num = (name: string, def: number, min: number, max: number, int = true): number => {
    const raw = v[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (int && !Number.isInteger(n))) {
      throw new UsageError(`--${name} ${String(raw)}: expected ${int ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return n;
  };
  const devices = num('devices', 1000, 1, 100_000);
  const rate = num('rate', 1000, 0, 1_000_000, false);
  const durationS = num('duration', 30, 0, 86_400, false);
  const qos = num('qos', 1, 0, 1) as 0 | 1;
  const sources = num('source-addresses', Math.max(1, Math.ceil(devices / 10_000)), 1, 250);
  const concurrency = num('connect-concurrency', 200, 1, 10_000);
  const inflight = num('inflight', 8, 1, 1000);
  const progressMs = num('progress-ms', 1000, 100, 60_000);
  const prefix = (v.prefix as string | undefined) ?? 'load';
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(prefix)) throw new UsageError(`--prefix ${prefix}: 1-40 of [A-Za-z0-9_-]`);

  const access = apiAccess(v as { api?: string }, io.env);
  if (!access) throw new UsageError('no API password: give --password-file (e.g. data/admin-password.txt), SUPERVISION_PASSWORD or --password');
  // every connection is a descriptor: say now, not with EMFILE half way through the connect phase
  const use = descriptorUse();
  if (use) {
    const { room, problem } = descriptorCheck(devices, use);
    if (problem) throw new UsageError(problem);
    io.err(`open-file limit ${use.soft} (ulimit -n): room for ${room} connections, ${devices} requested`);
  } else {
    io.err(`cannot read this process's open-file limit (no /proc): make sure ulimit -n is above ${devices + DESCRIPTOR_RESERVE} here and in the service`);
  }
  const mqttUrl = new URL((v.mqtt as string | undefined) ?? io.env.SUPERVISION_MQTT ?? `mqtt://${new URL(access.url).hostname}:1883`);
  if (mqttUrl.protocol !== 'mqtt:') throw new UsageError(`--mqtt ${mqttUrl.href}: load mode speaks plain mqtt://`);
  const host = mqttUrl.hostname;
  const port = Number(mqttUrl.port || 1883);
  if (sources > 1 && !isLoopback(host)) throw new UsageError('--source-addresses > 1 needs a loopback service (127.0.0.x source addresses)');

  // registration: bulk import in chunks; devices known from an earlier run get a new secret
  const api = await login(access);
  const ids = Array.from({ length: devices }, (_, i) => `${prefix}-${String(i + 1).padStart(6, '0')}`);
  const secrets = new Map<string, string>();
  const regStart = performance.now();
  const skipped: string[] = [];
  for (let i = 0; i < ids.length; i += 5000) {
    const r = await api.importDevices({ json: ids.slice(i, i + 5000).map((id) => ({ id, family: 'elevator' })) }, 'skip');
    for (const c of r.created) secrets.set(c.id, c.secret);
    skipped.push(...r.skipped);
    io.err(`registered ${Math.min(i + 5000, ids.length)}/${ids.length}`);
  }
  for (let i = 0; i < skipped.length; i += 64) {
    await Promise.all(skipped.slice(i, i + 64).map(async (id) => { secrets.set(id, (await api.rotateSecret(id)).secret); }));
  }
  const registerSeconds = (performance.now() - regStart) / 1000;

  const clients = rawClients(ids.map((id) => ({ id, secret: secrets.get(id)! })), sources > 1 || isLoopback(host) ? loopbackSources(sources) : []);
  const runTag = Date.now().toString(36);
  let connected = 0;
  let connectErrors = 0;
  let retries = 0;
  let disconnects = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  const noteFirst = (msg: string): void => { if (firstErrors.length < 5 && !firstErrors.includes(msg)) firstErrors.push(msg); };
  const noteError = (msg: string): void => { errors++; noteFirst(msg); };
  // ack latencies: all of them for the summary (bounded), the last interval for the live line
  const latencies = new SampleLog(2_000_000);
  let windowSamples: number[] = [];
  let load: PacedLoad | null = null;

  const status = { phase: 'connect' as 'connect' | 'traffic' | 'done' };
  const t0 = performance.now();
  let lastSent = 0;
  let lastAcked = 0;
  let lastAt = t0;
  const progress = setInterval(() => {
    const now = performance.now();
    const dt = (now - lastAt) / 1000;
    const w = Float64Array.from(windowSamples).sort();
    windowSamples = [];
    const sent = load?.sent ?? 0;
    const acked = load?.acked ?? 0;
    io.err(`[${((now - t0) / 1000).toFixed(0)}s ${status.phase}] connected ${connected}/${devices}  sent ${Math.round((sent - lastSent) / dt)}/s  acked ${Math.round((acked - lastAcked) / dt)}/s (total ${acked})  errors ${errors + connectErrors}  p50 ${percentile(w, 50) ?? '-'} ms  p99 ${percentile(w, 99) ?? '-'} ms`);
    lastSent = sent;
    lastAcked = acked;
    lastAt = now;
  }, progressMs);

  // connect, bounded concurrency, source addresses round robin, 3 attempts each (15 s for a CONNACK)
  for (const c of clients) c.onClose = () => { connected--; disconnects++; };
  const connectStart = performance.now();
  await connectAll(clients, {
    port, host, keepaliveS: 0, concurrency, attempts: 3,
    onConnected: (_c, socket) => { connected++; socket.on('error', (e) => noteError(e.message)); },
    onAttemptFailed: (_c, _e, attempt) => { if (attempt < 3) retries++; },
    onFailed: (_c, e) => {
      connectErrors++;
      const msg = e.message;
      noteFirst(msg + (/EMFILE/.test(msg) ? ' (raise ulimit -n)' : /EADDRNOTAVAIL/.test(msg) ? ' (more --source-addresses)' : /closed before CONNACK|CONNACK 3/.test(msg) ? ' (the service\'s MQTT connection caps? see --help)' : ''));
    },
  });
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const peakConnected = connected;

  // traffic: paced round robin over the connected devices, every 20 ms; a device whose window
  // is full passes its turn to the next one (the message stays owed)
  status.phase = 'traffic';
  const trafficStart = performance.now();
  const templates: Array<PublishTemplate | undefined> = [];
  if (durationS > 0) {
    load = startPaced({
      clients, rate, qos, window: inflight, tickMs: 20, blocked: 'next',
      packet: (k, pid, ts) => (templates[k] ??= new PublishTemplate(`elevator/${clients[k]!.id}/status`, qos, `${runTag}-`, idleElevatorStatus)).fill(clients[k]!.seq, ts, pid),
      onLatency: (ms) => { latencies.add(ms); windowSamples.push(ms); },
    });
    await sleep(durationS * 1000);
    load.stop();
  }
  const trafficSeconds = (performance.now() - trafficStart) / 1000;
  const sent = load?.sent ?? 0;
  // wait briefly for the last PUBACKs
  const drainUntil = performance.now() + 5000;
  while (qos === 1 && load && load.acked < sent && performance.now() < drainUntil) await sleep(50);
  const acked = load?.acked ?? 0;
  status.phase = 'done';
  clearInterval(progress);
  const lost = qos === 1 ? sent - acked : 0;
  const disconnectsDuringRun = disconnects;
  for (const c of clients) c.destroy();

  const sorted = latencies.sorted();
  const n = sorted.length;
  const summary = {
    mode: 'load', devices, connected: peakConnected, connectErrors, connectRetries: retries, disconnectsDuringRun,
    sourceAddresses: sources, registerSeconds: round(registerSeconds), connectSeconds: round(connectSeconds), connectsPerSecond: round(peakConnected / Math.max(connectSeconds, 1e-3)),
    qos, targetRate: rate, durationS: round(trafficSeconds), sent, sentPerSecond: round(sent / Math.max(trafficSeconds, 1e-3)),
    acked, ackedPerSecond: qos === 1 ? round(acked / Math.max(trafficSeconds, 1e-3)) : null, unacked: lost, windowFullSkips: load?.skipped ?? 0,
    errors: errors + connectErrors, firstErrors,
    ackLatencyMs: qos === 1 ? { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: n ? round(sorted[n - 1]!) : null } : null,
  };
  io.out(JSON.stringify(summary, null, 2));
  return peakConnected === devices && lost === 0 ? exitCodes.ok : exitCodes.failed;
}

const round = (x: number): number => Math.round(x * 100) / 100;
