/**
 * Restart: stop the service, start it again on the same DATA_DIR, and everything is there:
 * devices (credentials still valid), readings, dead letters, users, connection history, and
 * duplicate detection of messages sent before the restart. Also the real entry point
 * (`node dist/service/main.js`, what `npm start` runs) on an empty DATA_DIR and on a bad config.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService } from '../helpers/service.js';

describe('restart on the same DATA_DIR', () => {
  it('keeps devices, readings, dead letters, users and dedupe state', async () => {
    const first = await startService();
    const dir = first.dataDir;
    try {
      const dev = await first.registerDevice({ id: 'restart-disp-1', family: 'dispenser', district: '330106', meta: { stationId: 'FS-9' } });
      const opToken = first.adminToken;
      await first.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${opToken}` }, payload: { username: 'op1', password: 'operator-pass', role: 'operator' } });
      const c = await first.connectDevice(dev.id, dev.secret);
      for (let i = 0; i < 50; i++) {
        await c.publishAsync(`dispenser/${dev.id}/txn`, JSON.stringify(examplePayload('dispenser', 'txn', `txn-${i}`, Date.now())), { qos: 1 });
      }
      await c.publishAsync(`dispenser/${dev.id}/txn`, '{broken', { qos: 1 });
      await c.endAsync();
      await first.stop();

      const second = await startService({}, dir);
      try {
        const store = second.service.store;
        expect((await store.readings.query({ deviceId: dev.id, family: 'dispenser', channel: 'txn', limit: 1000 })).length).toBe(50);
        expect((await store.deadLetters.list({ deviceId: dev.id, limit: 10 }))[0]?.reason).toBe('invalid_json');
        expect(second.service.registry.get(dev.id)?.meta).toEqual({ stationId: 'FS-9' });
        await expect(second.token('op1', 'operator-pass')).resolves.toBeTruthy();
        // a token issued before the restart still works (sessions are in the store)
        const me = await second.service.http.inject({ method: 'GET', url: '/api/me', headers: { authorization: `Bearer ${opToken}` } });
        expect(me.statusCode).toBe(200);
        expect(second.service.tracker.get(dev.id)?.lastConnectedAt).not.toBeNull();

        // the device resends a message it sent before the restart: still stored once
        const c2 = await second.connectDevice(dev.id, dev.secret);
        await c2.publishAsync(`dispenser/${dev.id}/txn`, JSON.stringify(examplePayload('dispenser', 'txn', 'txn-7', Date.now())), { qos: 1 });
        await c2.publishAsync(`dispenser/${dev.id}/txn`, JSON.stringify(examplePayload('dispenser', 'txn', 'txn-new', Date.now())), { qos: 1 });
        await c2.endAsync();
        const rows = await store.readings.query({ deviceId: dev.id, family: 'dispenser', channel: 'txn', limit: 1000 });
        expect(rows.filter((r) => r.msgId === 'txn-7')).toHaveLength(1);
        expect(rows).toHaveLength(51);
        // sequence numbers continue instead of restarting
        const seqs = rows.map((r) => r.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const entry = path.resolve('dist/service/main.js');

function runEntry(env: Record<string, string>, untilLine: RegExp | null, timeoutMs = 20_000): Promise<{ code: number | null; output: string; kill: () => Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const kill = async () => { child.kill('SIGTERM'); return exited; };
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`timeout; output so far:\n${output}`)); }, timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (untilLine && untilLine.test(output)) { clearTimeout(timer); resolve({ code: null, output, kill }); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); resolve({ code, output, kill }); });
  });
}

describe.skipIf(!existsSync(entry))(`the entry point${existsSync(entry) ? '' : ' (skipped: run `npm run build` first; `npm test` does)'}`, () => {
  it('starts on an empty DATA_DIR, serves /healthz, names the admin password file, stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-entry-'));
    try {
      const httpPort = 20000 + Math.floor(Math.random() * 20000);
      const run = await runEntry({ DATA_DIR: path.join(dir, 'data'), HTTP_PORT: String(httpPort), MQTT_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1' }, /Admin login:.*\n/);
      expect(run.output).toMatch(/admin-password\.txt/);
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      expect(res.status).toBe(200);
      expect(readFileSync(path.join(dir, 'data', 'admin-password.txt'), 'utf8').trim().length).toBeGreaterThanOrEqual(16);
      expect(await run.kill()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a bad setting and names it', async () => {
    const run = await runEntry({ MQTT_PORT: 'eighty', DATA_DIR: path.join(tmpdir(), 'never-created') }, null);
    expect(run.code).toBe(2);
    expect(run.output).toMatch(/MQTT_PORT="eighty"/);
  });
});
