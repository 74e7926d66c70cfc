/**
 * What the benchmarks share: free loopback ports, the service and Mosquitto started as
 * child processes, bulk device registration, reading counters from /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Device { id: string; secret: string }

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `ports`: start on these (a restart on the same data directory, reached by the same clients). */
export async function startOurs(dir: string, profileDir?: string, env: Record<string, string> = {}, ports?: { mqttPort: number; httpPort: number }): Promise<{ proc: ChildProcess; mqttPort: number; httpPort: number }> {
  const { mqttPort, httpPort } = ports ?? { mqttPort: await freePort(), httpPort: await freePort() };
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(profileDir)] : [];
  const proc = spawn(process.execPath, [...nodeArgs, 'dist/service/main.js'], {
    env: { ...process.env, DATA_DIR: dir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD: 'bench-admin-pass', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 30_000, 'the service');
  return { proc, mqttPort, httpPort };
}

export async function startMosquitto(dir: string, atPort?: number): Promise<{ proc: ChildProcess; port: number; version: string }> {
  const port = atPort ?? await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type error\n`);
  const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  proc.on('error', (err) => { throw new Error(`cannot start mosquitto (Debian package mosquitto): ${err.message}`); });
  await waitFor(() => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), 10_000, `mosquitto ${stderr}`);
  const version = await new Promise<string>((resolve) => {
    const v = spawn('mosquitto', ['-h'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    v.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    v.on('exit', () => resolve(/mosquitto version (\S+)/.exec(out)?.[1] ?? '?'));
  });
  return { proc, port, version };
}

export async function registerDevices(httpPort: number, n: number, family = 'elevator', prefix = 'bench-elev'): Promise<Device[]> {
  const base = `http://127.0.0.1:${httpPort}`;
  const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-admin-pass' }) });
  const { token } = await login.json() as { token: string };
  const rows = Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, family }));
  return (await importDevices(httpPort, token, rows)).created;
}

/**
 * `POST /api/devices/import?onConflict=skip` of `rows`, the created devices with their secrets.
 * Follows the answer either way the service gives it: 200 with the result (synchronous
 * import), or 202 with a background job, then `GET /api/devices/import/jobs/:id?wait=30` until
 * it is done; another import running (409 `import_running`) is waited for.
 */
export async function importDevices(httpPort: number, token: string, rows: unknown[], timeoutMs = 300_000): Promise<{ created: Device[]; skipped: string[] }> {
  const base = `http://127.0.0.1:${httpPort}`;
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const until = Date.now() + timeoutMs;
  type Job = { id: string; status: string; error?: { code: string; message: string }; errors?: unknown[]; result?: { created: Device[]; skipped: string[] } };
  for (;;) {
    const res = await fetch(`${base}/api/devices/import?onConflict=skip`, { method: 'POST', headers, body: JSON.stringify(rows) });
    const text = await res.text();
    if (res.status === 200) return JSON.parse(text) as { created: Device[]; skipped: string[] };
    if (res.status === 409 && text.includes('import_running') && Date.now() < until) { await new Promise((r) => setTimeout(r, 500)); continue; }
    if (res.status !== 202) throw new Error(`import failed: ${res.status} ${text.slice(0, 500)}`);
    let job = JSON.parse(text) as Job;
    while (job.status !== 'done' && job.status !== 'failed') {
      if (Date.now() > until) throw new Error(`import job ${job.id} not done within ${timeoutMs / 1000} s (${job.status})`);
      const r = await fetch(`${base}/api/devices/import/jobs/${encodeURIComponent(job.id)}?wait=30`, { headers: { authorization: `Bearer ${token}` } });
      if (!r.ok) throw new Error(`import job ${job.id}: ${r.status} ${(await r.text()).slice(0, 300)}`);
      job = await r.json() as Job;
    }
    if (job.status === 'failed' || !job.result) throw new Error(`import job ${job.id} failed: ${JSON.stringify(job.error ?? null)} ${JSON.stringify(job.errors?.slice(0, 3) ?? [])}`);
    return { created: job.result.created, skipped: job.result.skipped };
  }
}

export async function storedCount(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return [...text.matchAll(/^ingest_stored_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/** One scrape of the service's /metrics: the value of an unlabelled metric by name (NaN when absent). */
export async function scrapeMetrics(httpPort: number): Promise<(name: string) => number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return (name) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}


/** Resident set size of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The p-quantile (0..1) of ascending samples. */
export const pct = (sorted: ArrayLike<number>, p: number): number => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN;

/** A bearer token for the bench admin. */
export async function adminToken(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'bench-admin-pass' }) });
  if (!res.ok) throw new Error(`login failed: ${res.status}`);
  return (await res.json() as { token: string }).token;
}

/**
 * The service's event-loop delay since the previous call (prom-client's default metrics reset
 * the histogram at each scrape; its 10 ms sampling resolution is taken off): p99 and max in ms.
 */
export async function eventLoopLag(httpPort: number): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000 - 10;
  return { p99: Math.max(0, read('nodejs_eventloop_lag_p99_seconds')), max: Math.max(0, read('nodejs_eventloop_lag_max_seconds')) };
}
