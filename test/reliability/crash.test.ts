/**
 * Crash: the real entry point (`node dist/service/main.js`) under QoS 1 load from devices
 * that retry until acknowledged is killed with SIGKILL mid-load and restarted on the same
 * DATA_DIR and ports, with and without the ingest journal. Every acknowledged reading is then
 * stored exactly once: the PUBACK is sent only after the group commit (DuckDB's WAL fsync, or
 * the journal's, replayed into DuckDB at start), and a reading stored whose PUBACK was lost
 * in the crash is recognised by (device, msgId) when the device sends it again (the dedupe
 * window is reloaded from the store at start).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import { freePort } from '../store/influx/victoria.js';
import { RetryingDevice } from './retryingDevice.js';

const entry = path.resolve('dist/service/main.js');
const ADMIN = 'crash-admin-password';

interface Proc { child: ChildProcess; exited: Promise<number | null> }

async function startEntry(dir: string, mqttPort: number, httpPort: number, journal: boolean): Promise<Proc> {
  const child = spawn(process.execPath, [entry], {
    env: { ...process.env, INGEST_JOURNAL: String(journal), DATA_DIR: dir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD: ADMIN, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) return { child, exited };
    } catch { /* not yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`service did not start: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function registerDevices(httpPort: number, ids: string[]): Promise<Array<{ id: string; secret: string }>> {
  const base = `http://127.0.0.1:${httpPort}`;
  const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN }) });
  const { token } = await login.json() as { token: string };
  const res = await fetch(`${base}/api/devices/import`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(ids.map((id) => ({ id, family: 'dispenser' }))) });
  if (res.status !== 202) throw new Error(`import refused: ${res.status} ${await res.text()}`);
  // a background job: follow it to its end
  let job = await res.json() as { id: string; status: string; error?: unknown; result?: { created: Array<{ id: string; secret: string }> } };
  while (job.status !== 'done' && job.status !== 'failed') {
    job = await (await fetch(`${base}/api/devices/import/jobs/${job.id}?wait=30`, { headers: { authorization: `Bearer ${token}` } })).json() as typeof job;
  }
  if (job.status !== 'done') throw new Error(`import failed: ${JSON.stringify(job.error)}`);
  return job.result!.created;
}

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe.skipIf(!existsSync(entry))(`kill -9 under QoS 1 load${existsSync(entry) ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  // with the journal, acknowledged readings may be in the journal only: the restart writes them to DuckDB
  it.each([false, true])('after a restart every acknowledged reading is stored exactly once (INGEST_JOURNAL=%s)', async (journal) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-crash-'));
    dirs.push(dir);
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    let proc = await startEntry(dir, mqttPort, httpPort, journal);
    const DEVICES = 20;
    const PER_DEVICE = 1000;
    const creds = await registerDevices(httpPort, Array.from({ length: DEVICES }, (_, i) => `crash-${i}`));
    const t0 = Date.now() - 600_000;
    const devices = creds.map((c) => new RetryingDevice({
      port: mqttPort, id: c.id, secret: c.secret, topic: `dispenser/${c.id}/heartbeat`, window: 50, retryMs: 50,
      payloads: Array.from({ length: PER_DEVICE }, (_, i) => Buffer.from(JSON.stringify(examplePayload('dispenser', 'heartbeat', `m-${i}`, t0 + i)))),
    }));
    const ackedTotal = (): number => devices.reduce((n, d) => n + d.acked.size, 0);
    try {
      for (const d of devices) d.start();
      // kill when roughly a third is acknowledged: commits are in flight, PUBACKs on the wire
      const deadline = Date.now() + 20_000;
      while (ackedTotal() < (DEVICES * PER_DEVICE) / 3) {
        if (Date.now() > deadline) throw new Error(`load did not progress: ${ackedTotal()} acked`);
        await new Promise((r) => setTimeout(r, 5));
      }
      proc.child.kill('SIGKILL');
      await proc.exited;
      const ackedAtCrash = devices.map((d) => new Set(d.acked));
      const ackedBefore = ackedTotal();
      expect(ackedBefore).toBeLessThan(DEVICES * PER_DEVICE);

      proc = await startEntry(dir, mqttPort, httpPort, journal);
      await Promise.race([
        Promise.all(devices.map((d) => d.done)),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`devices did not finish: ${ackedTotal()} acked`)), 40_000)),
      ]);
      for (const d of devices) d.stop();
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toBe(0);

      const store = new DuckDbStore(path.join(dir, 'supervision.duckdb'));
      await store.open();
      try {
        for (const [k, d] of devices.entries()) {
          const rows = await store.readings.query({ deviceId: d.o.id, family: 'dispenser', channel: 'heartbeat', limit: PER_DEVICE * 2 });
          const ids = rows.map((r) => r.msgId);
          const stored = new Set(ids);
          // exactly once: no duplicates, and everything acknowledged (before and after the crash) is there
          expect(stored.size, d.o.id).toBe(ids.length);
          const missing = [...ackedAtCrash[k]!].filter((i) => !stored.has(`m-${i}`));
          expect(missing, `${d.o.id}: acknowledged before the crash but not stored`).toEqual([]);
          expect(ids.length).toBe(PER_DEVICE);
        }
        expect(await store.readings.count()).toBe(DEVICES * PER_DEVICE);
      } finally {
        await store.close();
      }
      // devices really were cut off and came back
      expect(devices.every((d) => d.connects >= 2)).toBe(true);
    } finally {
      for (const d of devices) d.stop();
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    }
  }, 90_000);
});
