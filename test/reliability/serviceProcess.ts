/**
 * The built service (`node dist/service/main.js`, `npm run build`) as a child process, for tests
 * that kill it: start it on a data directory and ports and wait for /healthz 200, log in, import
 * devices through the API (a background job, followed to its end).
 *
 * The environment passed on is the test runner's without any of the service's settings (or
 * CONFIG_FILE), plus the given ones: what is not given is the service's default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { settings } from '../../service/config.js';

export const entry = path.resolve('dist/service/main.js');

export interface ServiceProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** what it wrote to stderr */
  stderr(): string;
  /** its stdout log lines (pino JSON) for which `keepLine` held */
  lines: string[];
}

export interface StartOptions {
  /** settings as environment variables (everything else stays at its default) */
  env: Record<string, string>;
  httpPort: number;
  /** longest wait for /healthz 200 */
  startMs?: number;
  /** stdout lines to keep (default none; stdout is read either way, so the child never blocks) */
  keepLine?: (line: string) => boolean;
}

/** Spawn the service and resolve once /healthz answers 200; throws with its stderr if it exits or never gets there. */
export async function startServiceProcess(o: StartOptions): Promise<ServiceProcess> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !Object.hasOwn(settings, k) && k !== 'CONFIG_FILE') env[k] = v;
  const child = spawn(process.execPath, [entry], { env: { ...env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); });
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    if (o.keepLine) for (const l of parts) if (o.keepLine(l)) lines.push(l);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + (o.startMs ?? 60_000);
  let last = '';
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${o.httpPort}/healthz`);
      last = `${res.status} ${await res.text()}`;
      if (res.ok) return { child, exited, stderr: () => stderr, lines };
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`service did not answer /healthz 200 (last: ${last || 'no answer'}): ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An API session token. */
export async function login(base: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await res.json() as { token: string }).token;
}

/** POST /api/devices/import (JSON rows) and follow its job to the end: the created devices with their secrets. */
export async function importDevices(base: string, token: string, rows: unknown[]): Promise<Array<{ id: string; family: string; secret: string }>> {
  const auth = { authorization: `Bearer ${token}` };
  const res = await fetch(`${base}/api/devices/import`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(rows) });
  type Job = { id: string; status: string; error?: unknown; errors?: unknown; result?: { created: Array<{ id: string; family: string; secret: string }> } };
  if (res.status !== 202) throw new Error(`import refused: ${res.status} ${await res.text()}`);
  let job = await res.json() as Job;
  for (let i = 0; i < 20 && job.status !== 'done' && job.status !== 'failed'; i++) {
    const r = await fetch(`${base}/api/devices/import/jobs/${job.id}?wait=30`, { headers: auth });
    if (!r.ok) throw new Error(`import job ${job.id}: ${r.status} ${await r.text()}`);
    job = await r.json() as Job;
  }
  if (job.status !== 'done' || !job.result) throw new Error(`import did not succeed: ${JSON.stringify({ status: job.status, error: job.error, errors: job.errors })}`);
  return job.result.created;
}
