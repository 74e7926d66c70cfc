/**
 * Disk full / store error: when a group commit fails, the QoS 1 messages in it are not
 * acknowledged (no PUBACK: the broker closes the connection, the device resends), /healthz
 * answers 503 naming the store, and once the store works again the resend is stored once and
 * /healthz is back to 200.
 *
 * Two ways: a fault-injecting wrapper around the real DuckDB store (always), and a real full
 * filesystem (a small tmpfs; needs root and mount, skipped with the reason otherwise).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectRaw, encodeConnect, encodePublish } from '../../simulators/load/rawMqtt.js';
import { examplePayload } from '../../core/schemas/examples.js';
import type { DeadLetter, Reading } from '../../store/types.js';
import { startService, type TestService } from '../helpers/service.js';
import { aroundAppends } from '../helpers/storeSpy.js';

interface Attempt { acked: boolean; closed: boolean }

/** One QoS 1 PUBLISH on a fresh raw connection: was it acknowledged, was the connection closed? */
async function publishOnce(port: number, dev: { id: string; secret: string }, msgId: string, waitMs: number): Promise<Attempt> {
  let acked = false;
  let closed = false;
  const socket: net.Socket = await connectRaw(port, '127.0.0.1', encodeConnect(dev.id, dev.id, dev.secret), () => { acked = true; });
  socket.on('close', () => { closed = true; });
  socket.write(encodePublish(`elevator/${dev.id}/status`, Buffer.from(JSON.stringify(examplePayload('elevator', 'status', msgId, Date.now()))), 1, 1));
  const deadline = Date.now() + waitMs;
  while (!acked && !closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return { acked, closed };
}

async function storedIds(s: TestService, id: string): Promise<string[]> {
  return (await s.service.store.readings.query({ deviceId: id, family: 'elevator', channel: 'status', limit: 10_000 })).map((r) => r.msgId);
}

describe('store error (fault injection)', () => {
  it('refuses QoS 1 (no PUBACK) while commits fail, reports it on /healthz, recovers when the store does', async () => {
    const s = await startService();
    try {
      const dev = await s.registerDevice({ id: 'sf-1', family: 'elevator' });
      const store = s.service.store;
      const real = store.readings.appendBatch.bind(store.readings);
      let failing = false;
      store.readings.appendBatch = (r: readonly Reading[], d: readonly DeadLetter[]) =>
        (failing ? Promise.reject(new Error('IO Error: Could not write file: No space left on device')) : real(r, d));

      expect(await publishOnce(s.started.mqttPort, dev, 'before', 3000)).toEqual({ acked: true, closed: false });
      failing = true;
      for (let i = 0; i < 3; i++) {
        expect(await publishOnce(s.started.mqttPort, dev, 'during', 3000)).toEqual({ acked: false, closed: true });
      }
      // the journal's applier writes to DuckDB a moment after the acknowledgements (journaledStore.ts)
      let down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      for (const end = Date.now() + 5000; down.statusCode !== 503 && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 20));
        down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      }
      expect(down.statusCode).toBe(503);
      expect(down.json().components.store).toMatchObject({ ok: false });
      expect(down.json().components.store.detail).toMatch(/No space left/);
      // the reason and since when, also as fields
      expect(down.json().components.store.error).toMatch(/No space left/);
      expect(Number.isNaN(Date.parse(down.json().components.store.since))).toBe(false);
      const metrics = await s.service.http.inject({ method: 'GET', url: '/metrics' });
      expect(Number(/^ingest_store_failures_total (\d+)$/m.exec(metrics.body)?.[1])).toBeGreaterThanOrEqual(3);
      expect(Number(/^component_up\{component="store"\} (\d+)$/m.exec(metrics.body)?.[1])).toBe(0);

      failing = false;
      // the device's resend of the refused message is stored, once, and acknowledged
      expect(await publishOnce(s.started.mqttPort, dev, 'during', 3000)).toEqual({ acked: true, closed: false });
      expect(await publishOnce(s.started.mqttPort, dev, 'during', 3000)).toEqual({ acked: true, closed: false });
      expect((await storedIds(s, dev.id)).sort()).toEqual(['before', 'during']);
      const up = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      expect(up.statusCode).toBe(200);
      expect(up.json().components.store.error).toBeUndefined();
      const after = (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
      expect(Number(/^component_up\{component="store"\} (\d+)$/m.exec(after)?.[1])).toBe(1);
    } finally {
      await s.dispose();
    }
  });
});

describe('DuckDB failing behind the journal (fault injection)', () => {
  it('keeps acknowledging from the journal, reports 503 with the backlog, and writes everything once DuckDB works again', async () => {
    const s = await startService({ INGEST_JOURNAL: true });
    try {
      const dev = await s.registerDevice({ id: 'sf-2', family: 'elevator' });
      let failing = true;
      aroundAppends(s.service.journal!.inner, (write) => (failing ? Promise.reject(new Error('IO Error: Could not write file: No space left on device')) : write()));
      const sent = ['j-1', 'j-2', 'j-3'];
      for (const id of sent) expect(await publishOnce(s.started.mqttPort, dev, id, 3000)).toEqual({ acked: true, closed: false });
      // the journal's applier writes to DuckDB a moment after the acknowledgements (journaledStore.ts)
      let down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      for (const end = Date.now() + 5000; down.statusCode !== 503 && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 20));
        down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      }
      expect(down.statusCode).toBe(503);
      expect(down.json().components.store.detail).toMatch(/writing to DuckDB fails: .*No space left.*3 readings are kept in the journal/);
      const metrics = (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
      expect(Number(/^journal_backlog_rows (\d+)$/m.exec(metrics)?.[1])).toBe(3);
      expect(Number(/^journal_apply_failures_total (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
      // the journal cannot drain: its own component says so, with the backlog
      expect(down.json().components.journal).toMatchObject({ ok: false, error: expect.stringMatching(/No space left/) });
      expect(down.json().components.journal.detail).toMatch(/cannot drain into DuckDB: .*3 readings are kept in the journal/);
      expect(Number(/^component_up\{component="journal"\} (\d+)$/m.exec(metrics)?.[1])).toBe(0);
      expect(Number(/^component_up\{component="store"\} (\d+)$/m.exec(metrics)?.[1])).toBe(0);

      failing = false;
      // the query waits for the journal's batches to reach DuckDB
      expect((await storedIds(s, dev.id)).sort()).toEqual(sent);
      const up = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      expect(up.statusCode).toBe(200);
      expect(up.json().components.journal).toMatchObject({ ok: true, detail: 'backlog 0 readings' });
    } finally {
      await s.dispose();
    }
  });
});

/** A tmpfs of `mb` MB mounted on a new temp dir, or the reason it cannot be. */
function mountTmpfs(mb: number): { dir: string } | { reason: string } {
  if (process.platform !== 'linux') return { reason: 'needs Linux tmpfs' };
  if (process.getuid?.() !== 0) return { reason: 'needs root to mount a small tmpfs' };
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs is not permitted here (${(e as Error).message.split('\n')[0]})` };
  }
}

/** Fill the filesystem of `dir` completely; returns the filler's path (delete it to free the space). */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512, 1]) {
      const buf = Buffer.alloc(size, 1);
      for (;;) {
        try { writeSync(fd, buf); } catch { break; }
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

const mounted = mountTmpfs(64);
const mountedDir = 'dir' in mounted ? mounted.dir : null;
afterAll(() => {
  if (!mountedDir) return;
  try { execFileSync('umount', [mountedDir], { stdio: 'pipe' }); } catch { /* busy: leave it */ }
  rmSync(mountedDir, { recursive: true, force: true });
});

describe.skipIf(!mountedDir)(`a real full filesystem${mountedDir ? '' : ` (skipped: ${'reason' in mounted ? mounted.reason : ''})`}`, () => {
  it('no PUBACK while the disk is full, 503 on /healthz, recovery when space returns', async () => {
    const s = await startService({ DATA_DIR: mountedDir, STATE_FLUSH_INTERVAL_MS: 60_000, ALERT_CHECKPOINT_MS: 60_000 });
    try {
      const dev = await s.registerDevice({ id: 'full-1', family: 'elevator' });
      expect(await publishOnce(s.started.mqttPort, dev, 'before', 3000)).toEqual({ acked: true, closed: false });
      const filler = fill(mountedDir!);
      // DuckDB may still have room in blocks it already holds: send until a commit fails
      const acked: string[] = [];
      let refused: string | null = null;
      for (let i = 0; i < 2000 && !refused; i++) {
        const a = await publishOnce(s.started.mqttPort, dev, `full-${i}`, 3000);
        if (a.acked) acked.push(`full-${i}`); else refused = `full-${i}`;
      }
      expect(refused, 'a commit should fail on a full disk').not.toBeNull();
      // the journal's applier writes to DuckDB a moment after the acknowledgements (journaledStore.ts)
      let down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      for (const end = Date.now() + 5000; down.statusCode !== 503 && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 20));
        down = await s.service.http.inject({ method: 'GET', url: '/healthz' });
      }
      expect(down.statusCode).toBe(503);
      expect(down.json().components.store.ok).toBe(false);

      unlinkSync(filler);
      // the device resends until acknowledged
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        ok = (await publishOnce(s.started.mqttPort, dev, refused!, 3000)).acked;
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok, 'commits should succeed again once space is freed').toBe(true);
      const ids = await storedIds(s, dev.id);
      expect(ids.filter((x) => x === refused)).toHaveLength(1);
      for (const a of ['before', ...acked]) expect(ids).toContain(a);
      expect((await s.service.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await s.stop();
    }
  });
});
