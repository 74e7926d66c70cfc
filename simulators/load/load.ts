/**
 * Load mode (`simulate --load`): up to 100k device connections from one process over raw
 * MQTT 3.1.1 sockets (bench/lib/rawMqtt.ts: pre-encoded CONNECT, a PUBACK scan, nothing
 * else), spread over several loopback source addresses (127.0.0.x) to get past the ~28k
 * ephemeral ports one address has, a target message rate, QoS 0/1, a live progress line
 * and a final JSON summary.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectRaw, encodeConnect, encodePublish } from '../../bench/lib/rawMqtt.js';
import { apiAccess, exitCodes, login, UsageError, type CliIo } from '../cli.js';
import { sleep } from '../fleet/runner.js';

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

interface Conn {
  id: string;
  socket: net.Socket | null;
  nextPid: number;
  inflight: Map<number, number>;
  seq: number;
}

function percentile(sorted: Float64Array, p: number): number | null {
  if (!sorted.length) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) / 100;
}

/** Descriptors kept for everything but the device sockets: the API requests (up to 64 at once), logs, retries. */
export const DESCRIPTOR_RESERVE = 100;

/** This process's open-file limit (soft, as `ulimit -n` shows it, and hard) and how many files it has open; null where /proc cannot tell (not Linux). */
export function descriptorUse(): { soft: number; hard: number; open: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const m = line ? /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(line) : null;
    if (!m) return null;
    const n = (x: string): number => (x === 'unlimited' ? Infinity : Number(x));
    return { soft: n(m[1]!), hard: n(m[2]!), open: readdirSync('/proc/self/fd').length };
  } catch {
    return null;
  }
}

/**
 * How many device connections fit under the open-file limit, and the refusal when `devices`
 * do not (one descriptor per connection; Node raises its soft limit to the hard one at start,
 * so the soft limit is what this process has). Refused at start rather than failing with
 * EMFILE part way through the connect phase, and never capped silently.
 */
export function descriptorCheck(devices: number, use: { soft: number; hard: number; open: number }): { room: number; problem: string | null } {
  const room = Math.max(0, use.soft - use.open - DESCRIPTOR_RESERVE);
  if (devices <= room) return { room, problem: null };
  const needed = Math.ceil((devices + use.open + DESCRIPTOR_RESERVE) / 1000) * 1000;
  const limit = use.hard === use.soft ? `ulimit -n is ${use.soft}` : `ulimit -n is ${use.soft}, hard limit ${use.hard}`;
  return {
    room,
    problem: `--devices ${devices}: this process can open only ${room} connections: ${limit} (open files), ${use.open} already open and ${DESCRIPTOR_RESERVE} kept for the API.`
      + ` Run with --devices ${room} or fewer, or raise the limit to ${needed} or more for this process and for the service (ulimit -n ${needed} in the shell that starts each;`
      + ` above the hard limit ${use.hard} that needs root: limits.conf, systemd LimitNOFILE or the container's nofile setting, and some machines cannot raise it at all).`,
  };
}

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
  const window = num('inflight', 8, 1, 1000);
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

  const conns: Conn[] = ids.map((id) => ({ id, socket: null, nextPid: 1, inflight: new Map(), seq: 0 }));
  const runTag = Date.now().toString(36);
  let connected = 0;
  let connectErrors = 0;
  let retries = 0;
  let disconnects = 0;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  const firstErrors: string[] = [];
  // ack latencies: all of them for the summary (bounded), the last interval for the live line
  const maxSamples = 2_000_000;
  const samples = new Float64Array(maxSamples);
  let nSamples = 0;
  let windowSamples: number[] = [];
  const noteError = (msg: string): void => { errors++; if (firstErrors.length < 5 && !firstErrors.includes(msg)) firstErrors.push(msg); };

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
    io.err(`[${((now - t0) / 1000).toFixed(0)}s ${status.phase}] connected ${connected}/${devices}  sent ${Math.round((sent - lastSent) / dt)}/s  acked ${Math.round((acked - lastAcked) / dt)}/s (total ${acked})  errors ${errors + connectErrors}  p50 ${percentile(w, 50) ?? '-'} ms  p99 ${percentile(w, 99) ?? '-'} ms`);
    lastSent = sent;
    lastAcked = acked;
    lastAt = now;
  }, progressMs);

  // connect, bounded concurrency, source addresses round robin
  const connectStart = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, conns.length) }, async () => {
    while (next < conns.length) {
      const i = next++;
      const c = conns[i]!;
      const local = sources > 1 || isLoopback(host) ? `127.0.0.${1 + (i % sources)}` : undefined;
      try {
        const socket = await withRetry(() => connectRaw(port, host, encodeConnect(c.id, c.id, secrets.get(c.id)!, 0), (pid) => {
          const at = c.inflight.get(pid);
          if (at === undefined) return;
          c.inflight.delete(pid);
          acked++;
          const ms = performance.now() - at;
          if (nSamples < maxSamples) samples[nSamples++] = ms;
          windowSamples.push(ms);
        }, local), () => { retries++; });
        c.socket = socket;
        connected++;
        socket.on('error', (e) => noteError(e.message));
        socket.on('close', () => { if (c.socket === socket) { c.socket = null; connected--; disconnects++; } });
      } catch (e) {
        connectErrors++;
        const msg = (e as Error).message;
        if (firstErrors.length < 5 && !firstErrors.includes(msg)) firstErrors.push(msg + (/EMFILE/.test(msg) ? ' (raise ulimit -n)' : /EADDRNOTAVAIL/.test(msg) ? ' (more --source-addresses)' : /closed before CONNACK|CONNACK 3/.test(msg) ? ' (the service\'s MQTT connection caps? see --help)' : ''));
      }
    }
  }));
  const connectSeconds = (performance.now() - connectStart) / 1000;
  const peakConnected = connected;

  // traffic: a token bucket refilled every 20 ms, round robin over the connected devices
  status.phase = 'traffic';
  const trafficStart = performance.now();
  const sentBefore = sent;
  let rr = 0;
  let skippedFull = 0;
  const send = (c: Conn): boolean => {
    const socket = c.socket;
    if (!socket) return false;
    if (qos === 1 && c.inflight.size >= window) { skippedFull++; return false; }
    c.seq++;
    const payload = Buffer.from(`{"msgId":"${runTag}-${c.seq}","ts":${Date.now()},"floor":${c.seq % 20},"doorZone":true,"doorClosed":true,"moving":false,"direction":"stop","speedMps":0,"passengerPresent":false,"serviceMode":"normal","powerOk":true}`);
    let pid = 0;
    if (qos === 1) {
      pid = c.nextPid;
      c.nextPid = c.nextPid >= 65535 ? 1 : c.nextPid + 1;
      c.inflight.set(pid, performance.now());
    }
    socket.write(encodePublish(`elevator/${c.id}/status`, payload, qos, pid));
    sent++;
    return true;
  };
  while (durationS > 0 && performance.now() - trafficStart < durationS * 1000) {
    const due = Math.floor(((performance.now() - trafficStart) / 1000) * rate) - (sent - sentBefore);
    let tries = 0;
    for (let k = 0; k < due && tries < conns.length; ) {
      const c = conns[rr]!;
      rr = (rr + 1) % conns.length;
      tries++;
      if (send(c)) { k++; tries = 0; }
    }
    await sleep(20);
  }
  const trafficSeconds = (performance.now() - trafficStart) / 1000;
  // wait briefly for the last PUBACKs
  const drainUntil = performance.now() + 5000;
  while (qos === 1 && acked < sent && performance.now() < drainUntil) await sleep(50);
  status.phase = 'done';
  clearInterval(progress);
  const lost = qos === 1 ? sent - acked : 0;
  const disconnectsDuringRun = disconnects;
  for (const c of conns) { const s = c.socket; c.socket = null; s?.destroy(); }

  const sorted = samples.subarray(0, nSamples).sort();
  const summary = {
    mode: 'load', devices, connected: peakConnected, connectErrors, connectRetries: retries, disconnectsDuringRun,
    sourceAddresses: sources, registerSeconds: round(registerSeconds), connectSeconds: round(connectSeconds), connectsPerSecond: round(peakConnected / Math.max(connectSeconds, 1e-3)),
    qos, targetRate: rate, durationS: round(trafficSeconds), sent: sent - sentBefore, sentPerSecond: round((sent - sentBefore) / Math.max(trafficSeconds, 1e-3)),
    acked, ackedPerSecond: qos === 1 ? round(acked / Math.max(trafficSeconds, 1e-3)) : null, unacked: lost, windowFullSkips: skippedFull,
    errors: errors + connectErrors, firstErrors,
    ackLatencyMs: qos === 1 ? { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: nSamples ? round(sorted[nSamples - 1]!) : null } : null,
  };
  io.out(JSON.stringify(summary, null, 2));
  return peakConnected === devices && lost === 0 ? exitCodes.ok : exitCodes.failed;
}

const round = (x: number): number => Math.round(x * 100) / 100;

/**
 * A connect attempt that gets no CONNACK within the time (a busy broker closes a socket after
 * MQTT_CONNECT_TIMEOUT_MS, and connectRaw then never settles) is abandoned and retried, up to
 * 3 attempts.
 */
async function withRetry(attempt: () => Promise<net.Socket>, onRetry: () => void, timeoutMs = 15_000): Promise<net.Socket> {
  for (let i = 1; ; i++) {
    let timer: NodeJS.Timeout | undefined;
    const p = attempt();
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs); })]);
    } catch (e) {
      // a late CONNACK of the abandoned attempt: close that socket
      p.then((s) => s.destroy(), () => undefined);
      if (i >= 3) throw e;
      onRetry();
    } finally {
      clearTimeout(timer);
    }
  }
}
