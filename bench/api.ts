/**
 * P7 operator HTTP API at city load: how fast the alert routes answer an operator while the
 * city runs, beside the device list (an in-memory registry read) measured in the same run.
 *
 * Set-up, all on loopback against the built service (temporary data directory):
 *  - the demo city (`npm run demo`'s fleet: kitchen cameras, elevators, cylinder scanners,
 *    fuel stations; simulators/, in a child process) living its ordinary life;
 *  - `--alerts` open alerts raised through devices, as in the field: `--alerts`/2 from elevator
 *    terminals (fault codes 1-15 but 11, events 41-47: each code a distinct `elevator.fault`
 *    alert on its elevator) and the rest from kitchen cameras (each detection type a distinct
 *    `kitchen.violation` on its camera; 4 cameras per store, so stores with 3 class-1/2 alerts
 *    add a `kitchen.repeat_offender` too), `--per-device` conditions a device. The bench's
 *    devices (bench/lib/alertDevices.ts) stay connected and heartbeat every 30 s (raw MQTT), so
 *    none of them goes offline. They arrive at `--alert-rate` (200/s: 10,000 in 50 s; a burst
 *    of 1,000/s was more than the engine's checkpoints kept up with here, 2026-12-07), and the
 *    bench waits until the engine reports them (/healthz).
 *  - `--notes` notes through `POST /api/alerts/:id/note` (50 to 2,000 characters): half on
 *    `--noted-alerts` alerts (at most 190 each, under the per-alert cap of 1,000, past which 409
 *    `note_limit`), the other half one each on as many other alerts;
 *  - then the QoS 1 background load of P2 (bench/lib/backgroundLoad.ts, a child process) at
 *    `--rate` readings/s, and after `--warmup` seconds the measurement.
 *
 * Measured, interleaved (each route `--requests` times, shuffled, `--concurrency` keep-alive
 * connections of the bench's fetch): the device list `GET /api/devices?limit=200` (the peer);
 * the alert list `GET /api/alerts?status=open,acknowledged&limit=500`, the same with
 * `severity=critical`, and a paged walk of the open alerts following `nextCursor` (each page a
 * sample; a build without `nextCursor` answers one page, so a walk is one request); alert
 * detail `GET /api/alerts/:id` of the noted alerts and of alerts without notes; and
 * `GET /api/stats/on-time`. Time is from the request to the last byte of the answer.
 *
 *   npm run bench:api -- [--rate 20000] [--alerts 10000] [--notes 1000] [--requests 200] [--concurrency 4]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startBackgroundLoad, type BackgroundLoad, type Counters } from './lib/backgroundLoad.js';
import { alertingTypes, alertReadings, connectProbes, heartbeats, publishPaced, registerProbes, type ProbeDevice } from './lib/alertDevices.js';
import { adminToken, pct, registerDevices, startOurs } from './lib/harness.js';
import { addNotes, NOTE_FAILURES_IN_A_ROW } from './lib/alertNotes.js';
import { startCity, type City } from './lib/demoCity.js';
import { activeAlerts, Api, healthProblems, LIST, walk, type AlertPage } from './lib/operatorApi.js';
import { seededRng } from '../simulators/fleet/rng.js';

const usage = `Usage: npm run bench:api -- [options]
  --rate N            background QoS 1 readings/s during the measurement (target; achieved is printed) [20000]
  --clients N         background devices [100]
  --alerts N          open alerts raised through devices before measuring [10000]
  --per-device K      distinct alert conditions per device (1-8: the detection types that raise alerts) [5]
  --alert-rate N      readings/s while raising them [200]
  --notes N           notes added through the API [1000]
  --noted-alerts N    alerts that get half of the notes (at most 190 each) [5]
  --requests N        requests per route (the paged walk: pages) [200]
  --concurrency N     requests in flight (keep-alive connections) [4]
  --warmup S          seconds of background load before the first measured request [5]
  --max-seconds S     stop measuring after this long and report what was done [600]
  --setup-timeout S   bound on each set-up wait (city start, alerts reported) [300]
  --no-city           without the demo city
  --profile DIR       run the service under node --cpu-prof, writing the profile to DIR
  --help
`;

const args = parseArgs({
  options: {
    rate: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '100' },
    alerts: { type: 'string', default: '10000' },
    'per-device': { type: 'string', default: '5' },
    'alert-rate': { type: 'string', default: '200' },
    notes: { type: 'string', default: '1000' },
    'noted-alerts': { type: 'string', default: '5' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '5' },
    'max-seconds': { type: 'string', default: '600' },
    'setup-timeout': { type: 'string', default: '300' },
    'no-city': { type: 'boolean', default: false },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
}).values;
if (args.help) {
  process.stdout.write(usage);
  process.exit(0);
}

function intArg(name: keyof typeof args, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} ${String(args[name])}: expected an integer from ${min} to ${max}\n${usage}`);
    process.exit(2);
  }
  return n;
}

const opts = {
  rate: intArg('rate', 0),
  clients: intArg('clients', 1),
  alerts: intArg('alerts', 1, 1_000_000),
  perDevice: intArg('per-device', 1, alertingTypes.length),
  alertRate: intArg('alert-rate', 1),
  notes: intArg('notes', 0),
  notedAlerts: intArg('noted-alerts', 1),
  requests: intArg('requests', 1),
  concurrency: intArg('concurrency', 1, 64),
  warmupS: intArg('warmup', 0),
  maxSeconds: intArg('max-seconds', 1),
  setupTimeoutS: intArg('setup-timeout', 1),
  city: !args['no-city'],
};

/** notes on one alert at most: a heavily noted alert, well under the service's cap (1,000, then 409 note_limit) */
const NOTES_PER_ALERT_MAX = 190;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ measurement

interface Samples { ms: number[]; bytes: number; errors: number; firstError: string }
const samples = (): Samples => ({ ms: [], bytes: 0, errors: 0, firstError: '' });

type Route = 'devices' | 'list' | 'critical' | 'page' | 'walk' | 'notedDetail' | 'plainDetail' | 'stats';

async function measure(api: Api, o: { requests: number; concurrency: number; pagesPerWalk: number; noted: string[]; plain: string[]; deadline: number }): Promise<{ by: Record<Route, Samples>; cut: boolean; walkPages: number[] }> {
  const by = Object.fromEntries((['devices', 'list', 'critical', 'page', 'walk', 'notedDetail', 'plainDetail', 'stats'] as const).map((r) => [r, samples()])) as Record<Route, Samples>;
  const walkPages: number[] = [];
  const get = (route: Route, url: string) => async () => {
    const s = by[route];
    try {
      const r = await api.timed(url);
      if (r.status !== 200) throw new Error(`${r.status} ${r.body.toString().slice(0, 200)}`);
      s.ms.push(r.ms);
      s.bytes += r.body.length;
    } catch (e) {
      s.errors++;
      s.firstError ||= `${url}: ${(e as Error).message}`;
    }
  };
  const walkJob = async () => {
    const t0 = performance.now();
    try {
      let bytes = 0;
      const w = await walk(api, (ms, b) => { by.page.ms.push(ms); by.page.bytes += b; bytes += b; });
      by.walk.ms.push(performance.now() - t0);
      by.walk.bytes += bytes;
      walkPages.push(w.pages);
    } catch (e) {
      by.walk.errors++;
      by.walk.firstError ||= (e as Error).message;
    }
  };
  // rounds of one request per route, shuffled within the round; walks spread evenly among them
  const pick = seededRng(11).next;
  const walks = Math.max(1, Math.ceil(o.requests / Math.max(1, o.pagesPerWalk)));
  const jobs: Array<() => Promise<void>> = [];
  for (let i = 0; i < o.requests; i++) {
    const round = [
      get('devices', '/api/devices?limit=200'),
      get('list', LIST),
      get('critical', '/api/alerts?status=open,acknowledged&severity=critical&limit=500'),
      get('notedDetail', `/api/alerts/${encodeURIComponent(o.noted[i % o.noted.length]!)}`),
      get('plainDetail', `/api/alerts/${encodeURIComponent(o.plain[i % o.plain.length]!)}`),
      get('stats', '/api/stats/on-time'),
    ];
    if (Math.floor((i * walks) / o.requests) !== Math.floor(((i + 1) * walks) / o.requests)) round.push(walkJob);
    for (let j = round.length - 1; j > 0; j--) {
      const x = Math.floor(pick() * (j + 1));
      [round[j], round[x]] = [round[x]!, round[j]!];
    }
    jobs.push(...round);
  }
  let next = 0;
  let cut = false;
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    while (next < jobs.length) {
      if (Date.now() > o.deadline) { cut = true; return; }
      await jobs[next++]!();
    }
  }));
  for (const s of Object.values(by)) s.ms.sort((a, b) => a - b);
  return { by, cut, walkPages };
}

// ------------------------------------------------------------------ main

async function stopProc(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-p7-'));
  const log = (m: string) => process.stderr.write(`[p7 ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  let service: ChildProcess | null = null;
  let serviceExit = '';
  let stopping = false;
  let city: City | null = null;
  let load: BackgroundLoad | null = null;
  let stopBeats: (() => void) | null = null;
  const probes: ProbeDevice[] = [];
  const setupMs = opts.setupTimeoutS * 1000;
  try {
    const ours = await startOurs(path.join(dir, 'data'), args.profile);
    service = ours.proc;
    ours.proc.once('exit', (code, signal) => {
      if (stopping) return;
      serviceExit = `the service exited during the run (${signal ?? `code ${code}`})`;
      log(serviceExit);
    });
    const base = `http://127.0.0.1:${ours.httpPort}`;
    const token = await adminToken(ours.httpPort);
    const api = new Api(base, token);

    let cityLine = 'no city';
    if (opts.city) {
      log('starting the demo city...');
      city = await startCity(ours.httpPort, ours.mqttPort, setupMs);
      cityLine = `demo city (${city.fleetLine.replace(/^fleet \S+ \(seed \d+\): /, '')})`;
      log(cityLine);
    }

    // the alerts, raised by devices
    const elevatorAlerts = Math.floor(opts.alerts / 2);
    const kitchenAlerts = opts.alerts - elevatorAlerts;
    const elevators = Math.ceil(elevatorAlerts / opts.perDevice);
    const cameras = Math.ceil(kitchenAlerts / opts.perDevice);
    probes.push(...await registerProbes(ours.httpPort, token, elevators, cameras));
    await connectProbes(ours.mqttPort, probes);
    stopBeats = heartbeats(probes);
    const before = await activeAlerts(base);
    const readings = alertReadings(probes, opts.perDevice, elevatorAlerts, kitchenAlerts);
    log(`${probes.length} devices (${elevators} elevators, ${cameras} kitchen cameras) connected; raising ${readings.length} alerts at ${opts.alertRate}/s (${before} open already)...`);
    const tRaise = performance.now();
    await publishPaced(readings, opts.alertRate, setupMs);
    let active = before;
    const untilAlerts = Date.now() + setupMs;
    while ((active = await activeAlerts(base)) < before + readings.length) {
      if (Date.now() > untilAlerts) throw new Error(`the engine reports ${active - before} of ${readings.length} new open alerts after ${opts.setupTimeoutS} s`);
      await sleep(500);
    }
    log(`${active} open alerts after ${((performance.now() - tRaise) / 1000).toFixed(1)} s`);

    // notes: half on a few alerts, half one each on others
    const all = await api.getJson<AlertPage>('/api/alerts?status=open,acknowledged&limit=5000').catch(async () => walk(api, () => undefined));
    const benchAlerts = all.items.filter((a) => a.device.id.startsWith('bench-api-'));
    if (benchAlerts.length < 2) throw new Error(`the alert list shows ${benchAlerts.length} of the bench's alerts`);
    const heavyNotes = Math.floor(opts.notes / 2);
    const notedCount = Math.min(benchAlerts.length - 1, Math.max(opts.notedAlerts, Math.ceil(heavyNotes / NOTES_PER_ALERT_MAX)));
    const noted = benchAlerts.slice(0, notedCount).map((a) => a.id);
    const singles = benchAlerts.slice(notedCount, notedCount + (opts.notes - heavyNotes)).map((a) => a.id);
    const plain = benchAlerts.slice(notedCount + singles.length).map((a) => a.id).slice(0, 500);
    const lenOf = seededRng(5).next;
    const plan = [
      ...Array.from({ length: heavyNotes }, (_, i) => ({ alertId: noted[i % noted.length]!, len: 50 + Math.floor(lenOf() * 1951) })),
      ...singles.map((alertId) => ({ alertId, len: 50 + Math.floor(lenOf() * 1951) })),
    ];
    log(`adding ${plan.length} notes (${heavyNotes} on ${noted.length} alerts, ${singles.length} on one alert each)...`);
    const notes = await addNotes(api, plan, opts.concurrency, Date.now() + setupMs);
    log(`notes: ${notes.added} added, ${notes.refused} refused, ${notes.failed} failed${notes.skipped ? `, ${notes.skipped} not tried (${NOTE_FAILURES_IN_A_ROW} failures in a row, or --setup-timeout)` : ''}; POST p50 ${pct(notes.ms, 0.5).toFixed(0)} ms, max ${(notes.ms.at(-1) ?? NaN).toFixed(0)} ms${notes.failed ? `; first failure: ${notes.firstError}` : ''}`);
    if (!plain.length) plain.push(...benchAlerts.slice(-1).map((a) => a.id));

    // the background, then the measurement
    log(`background load: ${opts.clients} devices at ${opts.rate} readings/s, ${opts.warmupS} s warm-up...`);
    const bgDevices = await registerDevices(ours.httpPort, opts.clients, 'elevator', 'bench-bg');
    load = await startBackgroundLoad({ port: ours.mqttPort, devices: bgDevices, rate: opts.rate });
    await sleep(opts.warmupS * 1000);
    // warm-up requests (not counted), and the walk's length
    for (const u of ['/api/devices?limit=200', LIST, '/api/alerts?status=open,acknowledged&severity=critical&limit=500', `/api/alerts/${encodeURIComponent(noted[0]!)}`, `/api/alerts/${encodeURIComponent(plain[0]!)}`, '/api/stats/on-time']) {
      await api.timed(u).catch(() => undefined);
    }
    const probeWalk = await walk(api, () => undefined);
    log(`measuring: ${opts.requests} requests per route, concurrency ${opts.concurrency}; a walk is ${probeWalk.pages} page${probeWalk.pages === 1 ? '' : 's'}${probeWalk.cursorApi ? '' : ' (no nextCursor in this build: one page)'}...`);
    const bgBefore: Counters = await load.counters();
    const t0 = performance.now();
    const m = await measure(api, { requests: opts.requests, concurrency: opts.concurrency, pagesPerWalk: probeWalk.pages, noted, plain, deadline: Date.now() + opts.maxSeconds * 1000 });
    const seconds = (performance.now() - t0) / 1000;
    const bgAfter = await load.counters();
    const bgRate = (bgAfter.acked - bgBefore.acked) / ((bgAfter.atMs - bgBefore.atMs) / 1000);
    const openAtEnd = await activeAlerts(base).catch(() => NaN);
    const down = await healthProblems(base).catch((e: Error) => [`/healthz: ${e.message}`]);
    await load.stop();
    load = null;

    // the table
    const peer = pct(m.by.devices.ms, 0.99);
    const f = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '-');
    const kb = (s: Samples) => (s.ms.length ? (s.bytes / s.ms.length / 1024).toFixed(s.bytes / s.ms.length >= 10_240 ? 0 : 1) : '-');
    const ratio = (s: Samples) => (s.ms.length && peer > 0 ? `${(pct(s.ms, 0.99) / peer).toFixed(2)}x` : '-');
    const span = (xs: number[]) => (Math.min(...xs) === Math.max(...xs) ? String(xs[0]) : `${Math.min(...xs)}-${Math.max(...xs)}`);
    const rows: Array<[string, Route]> = [
      ['device list `GET /api/devices?limit=200` (peer)', 'devices'],
      ['alert list `GET /api/alerts?status=open,acknowledged&limit=500`', 'list'],
      ['alert list, `severity=critical`', 'critical'],
      [`alert list, paged walk: each page (${probeWalk.cursorApi ? `nextCursor, ${probeWalk.pages} page${probeWalk.pages === 1 ? '' : 's'} of 500 a walk` : 'no nextCursor: one page'})`, 'page'],
      [`alert list, paged walk: whole walk (${probeWalk.items.length} alerts)`, 'walk'],
      [`alert detail, ${noted.length} alerts with ${span(noted.map((id) => notes.perAlert.get(id) ?? 0))} notes each`, 'notedDetail'],
      [`alert detail, ${plain.length} alerts without notes`, 'plainDetail'],
      ['stats `GET /api/stats/on-time`', 'stats'],
    ];
    const lines = [
      '| route | requests (errors) | p50 ms | p99 ms | max ms | KB/answer | ratio (p99 / device list p99) |',
      '|---|---|---|---|---|---|---|',
      ...rows.map(([label, r]) => {
        const s = m.by[r];
        return `| ${label} | ${s.ms.length} (${s.errors}) | ${f(pct(s.ms, 0.5))} | ${f(pct(s.ms, 0.99))} | ${f(s.ms.length ? s.ms[s.ms.length - 1]! : NaN)} | ${kb(s)} | ${r === 'devices' ? '1.00x' : ratio(s)} |`;
      }),
    ];
    const listRatio = pct(m.by.list.ms, 0.99) / peer;
    const verdict = Number.isFinite(listRatio) ? `${listRatio.toFixed(2)}x ${listRatio <= 2 ? 'PASS' : 'MISS'}` : 'no samples';
    const others = (['critical', 'page'] as const).map((r) => `${r === 'critical' ? 'critical' : 'walk page'} ${ratio(m.by[r])}`).join(', ');
    const k = (x: number) => `${(x / 1000).toFixed(1)}k/s`;
    const short = bgRate < opts.rate * 0.95 ? ` (the service acknowledged only ${k(bgRate)} of the ${k(opts.rate)} asked; it, the generator, the city and this client share the cores)` : '';
    const errs = Object.entries(m.by).filter(([, s]) => s.errors).map(([r, s]) => `  ${r}: ${s.errors} errors, first: ${s.firstError}`);
    if (notes.failed) errs.unshift(`  notes: ${notes.failed} failed, first: ${notes.firstError}`);
    process.stdout.write([
      '',
      `P7 operator API, ${new Date().toISOString().slice(0, 10)}: ${Number.isFinite(openAtEnd) ? openAtEnd : '?'} open alerts (${readings.length} raised by ${probes.length} bench devices), ${notes.added} notes (${notes.refused} refused note_limit, ${notes.failed} failed${notes.skipped ? `, ${notes.skipped} not tried` : ''}), ${cityLine};`,
      `background QoS 1 ${k(bgRate)} achieved (${k(opts.rate)} asked, ${opts.clients} devices)${short}; ${opts.requests} requests per route interleaved, ${opts.concurrency} keep-alive connections, ${seconds.toFixed(0)} s${m.cut ? `, CUT at --max-seconds ${opts.maxSeconds}` : ''}`,
      ...lines,
      `target: alert list p99 <= 2x device list p99: ${verdict} (${others})`,
      ...(errs.length ? ['errors:', ...errs] : []),
      ...(down.length ? ['/healthz 503 at the end of the run:', ...down.map((d) => `  ${d}`)] : []),
      '',
    ].join('\n'));
  } catch (e) {
    throw serviceExit ? new Error(`${serviceExit}; then: ${(e as Error).message}`) : e;
  } finally {
    stopBeats?.();
    for (const d of probes) d.client.destroy();
    await load?.stop().catch(() => undefined);
    if (city) {
      const summary = await city.stop().catch(() => '');
      if (summary) log(`city: ${summary}`);
    }
    stopping = true;
    if (service) await stopProc(service);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();