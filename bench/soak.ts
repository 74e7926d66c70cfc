/**
 * Soak (not CI): the service as a child process (`node dist/service/main.js`) under a steady
 * QoS 1 load, default 1 hour at 5,000 readings/s from 100 devices, with the service's RSS
 * sampled every SOAK_SAMPLE_S seconds. Reports RSS growth: overall, and the slope over the
 * second half (after the dedupe window and caches have filled), plus ack latency and whether
 * every acknowledged reading was stored.
 *
 *   npm run bench:soak                                  # 1 h, 5k/s
 *   SOAK_SECONDS=180 npm run bench:soak                 # a 3-minute version
 *   SOAK_VICTORIA=1 SOAK_SECONDS=180 npm run bench:soak # also forward to a local VictoriaMetrics
 *
 * Settings (environment): SOAK_SECONDS (3600), SOAK_RATE (5000 readings/s), SOAK_DEVICES
 * (100), SOAK_SAMPLE_S (10), SOAK_MAX_INFLIGHT (200 per device), SOAK_VICTORIA (0/1).
 * Output: one line per sample, then a JSON summary on the last line (with the device-clustered
 * history's runs, seals, merges and failures at the end).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { examplePayload } from '../core/schemas/examples.js';
import { freePort, registerDevices, scrapeMetrics, startOurs, storedCount, waitFor } from './lib/harness.js';
import { connectAll, rawClients } from '../simulators/load/connect.js';
import { startPaced } from '../simulators/load/generator.js';
import { PublishTemplate } from '../simulators/load/template.js';

const num = (name: string, dflt: number): number => (process.env[name] ? Number(process.env[name]) : dflt);
const SECONDS = num('SOAK_SECONDS', 3600);
const RATE = num('SOAK_RATE', 5000);
const DEVICES = num('SOAK_DEVICES', 100);
const SAMPLE_S = num('SOAK_SAMPLE_S', 10);
const MAX_INFLIGHT = num('SOAK_MAX_INFLIGHT', 200);
const VICTORIA = process.env.SOAK_VICTORIA === '1';
const TICK_MS = 50;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < n; i++) { num2 += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den ? num2 / den : 0;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

async function startVictoria(dir: string): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn('victoria-metrics', [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${path.join(dir, 'vm')}`, '-loggerLevel=ERROR'], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`)).ok, 15_000, 'victoria-metrics (Debian package victoria-metrics)');
  return { proc, url };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-soak-'));
  const vm = VICTORIA ? await startVictoria(dir) : null;
  const stopVictoria = async (): Promise<void> => {
    if (!vm || vm.proc.exitCode !== null) return;
    const exited = new Promise((r) => vm.proc.once('exit', r));
    vm.proc.kill('SIGTERM');
    await exited;
  };
  const env: Record<string, string> = vm ? { INFLUX_URL: vm.url, INFLUX_BUCKET: 'soak' } : {};
  let ours: Awaited<ReturnType<typeof startOurs>>;
  try {
    ours = await startOurs(path.join(dir, 'data'), undefined, env);
  } catch (err) {
    await stopVictoria();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = ours.proc.pid!;
  try {
    const devices = await registerDevices(ours.httpPort, DEVICES, 'elevator', 'soak-elev');
    const clients = rawClients(devices);
    await connectAll(clients, { port: ours.mqttPort, concurrency: 1, onFailed: (_c, e) => { throw e; } });
    // ack latencies: at most 200k, each new one replacing a random one once full (the recent ones weigh most)
    const latencies: number[] = [];
    const started = Date.now();
    const templates = clients.map((c) => new PublishTemplate(`elevator/${c.id}/heartbeat`, 1, 's-', (msgId, ts) => examplePayload('elevator', 'heartbeat', msgId, ts)));
    const load = startPaced({
      clients, rate: RATE, qos: 1, window: MAX_INFLIGHT, tickMs: TICK_MS, blocked: 'drop',
      packet: (k, pid) => { const seq = clients[k]!.seq; return templates[k]!.fill(seq, started + seq - 1, pid); },
      onLatency: (ms) => {
        if (latencies.length < 200_000) latencies.push(ms);
        else latencies[Math.floor(Math.random() * latencies.length)] = ms;
      },
    });

    const samples: Array<{ t: number; rssMb: number; acked: number; stored: number }> = [];
    process.stdout.write(`soak: ${SECONDS}s at ${RATE}/s QoS 1 from ${DEVICES} devices${vm ? ', forwarding to VictoriaMetrics' : ''}; service pid ${pid}\n`);
    const end = started + SECONDS * 1000;
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(SAMPLE_S * 1000, Math.max(0, end - Date.now()))));
      const t = (Date.now() - started) / 1000;
      const sample = { t, rssMb: rssMb(pid), acked: load.acked, stored: await storedCount(ours.httpPort) };
      samples.push(sample);
      process.stdout.write(`t=${t.toFixed(0)}s rss=${sample.rssMb.toFixed(1)}MB acked=${sample.acked} stored=${sample.stored} rate=${(sample.acked / t).toFixed(0)}/s skipped=${load.skipped}\n`);
    }
    load.stop();
    // let the last acks arrive
    await waitFor(async () => load.inflight === 0, 30_000, 'the last PUBACKs').catch(() => undefined);
    const totalAcked = load.acked;
    const stored = await storedCount(ours.httpPort);
    let influxLag: number | null = null;
    if (vm) {
      await waitFor(async () => (await scrapeMetrics(ours.httpPort))('influx_lag_readings') === 0, 60_000, 'influx to catch up').catch(() => undefined);
      influxLag = (await scrapeMetrics(ours.httpPort))('influx_lag_readings');
    }
    // device-clustered history under the load: how much was sorted, and whether any step failed
    const metric = await scrapeMetrics(ours.httpPort);
    const history = {
      runs: metric('history_runs'), clusteredReadings: metric('history_clustered_readings'), seals: metric('history_seals_total'),
      merges: metric('history_merges_total'), failures: metric('history_failures_total'),
    };
    const sorted = latencies.sort((a, b) => a - b);
    const warm = samples.filter((s) => s.t >= Math.min(60, SECONDS / 4));
    const secondHalf = samples.filter((s) => s.t >= SECONDS / 2);
    const summary = {
      seconds: SECONDS,
      targetRate: RATE,
      achievedRate: Math.round(totalAcked / SECONDS),
      sent: load.sent,
      acked: totalAcked,
      stored,
      skippedForBackpressure: load.skipped,
      ackLatencyMs: { p50: +percentile(sorted, 50).toFixed(1), p99: +percentile(sorted, 99).toFixed(1), max: +(sorted[sorted.length - 1] ?? NaN).toFixed(1) },
      rssMb: {
        first: +(samples[0]?.rssMb ?? NaN).toFixed(1),
        afterWarmup: +(warm[0]?.rssMb ?? NaN).toFixed(1),
        last: +(samples[samples.length - 1]?.rssMb ?? NaN).toFixed(1),
        max: +Math.max(...samples.map((s) => s.rssMb)).toFixed(1),
        growthAfterWarmup: +((samples[samples.length - 1]?.rssMb ?? NaN) - (warm[0]?.rssMb ?? NaN)).toFixed(1),
        secondHalfSlopeMbPerHour: +(slope(secondHalf.map((s) => s.t), secondHalf.map((s) => s.rssMb)) * 3600).toFixed(1),
      },
      influxLagAtEnd: influxLag,
      history,
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    for (const c of clients) c.destroy();
  } finally {
    ours.proc.kill('SIGTERM');
    await new Promise((r) => ours.proc.once('exit', r));
    await stopVictoria();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
