/**
 * Interop with clients we did not write: Eclipse Mosquitto's mosquitto_pub, mosquitto_sub and
 * mosquitto_rr (Debian package mosquitto-clients), over TCP and TLS (certificate made by
 * openssl). A device's client id is its device id (`-i`), so one device is one connection: a
 * reply to what it publishes is read on that same connection, as mosquitto_rr does (publish,
 * then wait on the response topic; with -V mqttv311 it subscribes to it first).
 */
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../core/schemas/examples.js';
import { programs } from './helpers/external.js';
import { startService, type TestService } from './helpers/service.js';
import { throwawayTls } from './helpers/tls.js';

const run = promisify(execFile);
const mosquitto = programs(['mosquitto_pub', 'mosquitto_sub', 'mosquitto_rr'], 'mosquitto-clients');
const openssl = programs(['openssl'], 'openssl');

/** Run mosquitto_sub until it has `count` messages (-C) or the timeout (-W) passes. */
function subscribe(args: string[]): { ready: Promise<void>; messages: Promise<string[]> } {
  const child = spawn('mosquitto_sub', [...args, '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  // mosquitto_sub has no "subscribed" signal on stdout; give it a moment to SUBSCRIBE
  const ready = new Promise<void>((resolve) => setTimeout(resolve, 400));
  const messages = new Promise<string[]>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 || code === 27 ? resolve(out.split('\n').filter(Boolean)) : reject(new Error(`mosquitto_sub exited ${code}: ${err}`))));
  });
  return { ready, messages };
}

describe.skipIf(!mosquitto.ok)(`mosquitto clients${mosquitto.ok ? '' : ` (skipped: ${mosquitto.reason})`}`, () => {
  let ts: TestService;
  let dev: { id: string; secret: string };
  let certDir = '';

  beforeAll(async () => {
    const overrides: Record<string, unknown> = {};
    if (openssl.ok) {
      const tls = await throwawayTls();
      certDir = tls.dir;
      Object.assign(overrides, tls.settings);
    }
    ts = await startService(overrides);
    dev = await ts.registerDevice({ id: 'mosq-elevator-1', family: 'elevator', meta: { registrationCode: '31103301002019120001' } });
  });
  afterAll(async () => {
    await ts?.dispose();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const base = () => ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-i', dev.id, '-u', dev.id, '-P', dev.secret, '-V', 'mqttv311'];

  it('mosquitto_pub -q 1 stores a reading, visible through the readings API', async () => {
    const payload = JSON.stringify(examplePayload('elevator', 'fault', 'mosq-1', Date.now()));
    await run('mosquitto_pub', [...base(), '-q', '1', '-t', `elevator/${dev.id}/fault`, '-m', payload]);
    const res = await ts.service.http.inject({ method: 'GET', url: `/api/devices/${dev.id}/readings?channel=fault`, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((r: { msgId: string }) => r.msgId)).toContain('mosq-1');
  });

  it('mosquitto_pub without the device id as client id is refused (identifier rejected)', async () => {
    const args = ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-u', dev.id, '-P', dev.secret, '-V', 'mqttv311', '-q', '1', '-t', `elevator/${dev.id}/heartbeat`, '-m', '{}'];
    await expect(run('mosquitto_pub', args)).rejects.toMatchObject({ stderr: expect.stringMatching(/identifier rejected/i) });
    await expect(run('mosquitto_pub', [...args, '-i', 'someone-else'])).rejects.toMatchObject({ stderr: expect.stringMatching(/identifier rejected/i) });
  });

  it('mosquitto_rr gets the error reply to a bad payload on the same connection', async () => {
    const { stdout } = await run('mosquitto_rr', [...base(), '-q', '1', '-t', `elevator/${dev.id}/status`, '-e', `elevator/${dev.id}/error`, '-m', '{"msgId":"mosq-bad","floor":"seven"}', '-W', '10']);
    const body = JSON.parse(stdout.trim());
    expect(body).toMatchObject({ msgId: 'mosq-bad', reason: 'schema', topic: `elevator/${dev.id}/status` });
    expect(body.issues.map((i: { path: string }) => i.path)).toContain('floor');
  });

  it('mosquitto_rr gets the allow/refuse reply to a scan on the same connection', async () => {
    const scanner = await ts.registerDevice({ id: 'mosq-scan-1', family: 'cylinder', meta: { stationId: 'ST-01' } });
    const creds = ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-i', scanner.id, '-u', scanner.id, '-P', scanner.secret, '-V', 'mqttv311'];
    const scan = { msgId: 'mosq-scan-1', ts: Date.now(), cylinderCode: 'NOT-IN-REGISTRY', stationId: 'ST-01', point: 'pre_fill', operatorId: 'OP-1' };
    const { stdout } = await run('mosquitto_rr', [...creds, '-q', '1', '-t', `cylinder/${scanner.id}/scan`, '-e', `cylinder/${scanner.id}/scan/reply`, '-m', JSON.stringify(scan), '-W', '10']);
    const reply = JSON.parse(stdout.trim());
    expect(reply).toMatchObject({ msgId: 'mosq-scan-1', cylinderCode: 'NOT-IN-REGISTRY', decision: 'refuse' });
    expect(reply.reasons).toContain('unregistered');
  });

  it('mosquitto_sub signed in as an integration account, client id user:{username}, receives alerts', async () => {
    const res = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { username: 'mosq-integ', password: 'mosq-integ-pass', role: 'operator' } });
    expect(res.statusCode).toBe(201);
    const sub = subscribe(['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-i', 'user:mosq-integ:cli', '-u', 'mosq-integ', '-P', 'mosq-integ-pass', '-V', 'mqttv311', '-q', '1', '-t', 'alerts/#', '-C', '1', '-W', '10']);
    await sub.ready;
    ts.service.broker.publish('alerts/elevator/interop.test', '{"ok":true}', 1);
    expect(await sub.messages).toEqual(['alerts/elevator/interop.test {"ok":true}']);
  });

  it('refuses mosquitto_pub with a wrong secret', async () => {
    await expect(run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-u', dev.id, '-P', 'nope', '-q', '1', '-t', `elevator/${dev.id}/heartbeat`, '-m', '{}']))
      .rejects.toMatchObject({ code: expect.any(Number) });
  });

  it.skipIf(!openssl.ok)('accepts mosquitto_pub over TLS', async () => {
    const payload = JSON.stringify({ msgId: 'mosq-tls-1', ts: Date.now() });
    await run('mosquitto_pub', ['-h', 'localhost', '-p', String(ts.started.mqttsPort), '--cafile', path.join(certDir, 'cert.pem'),
      '-i', dev.id, '-u', dev.id, '-P', dev.secret, '-q', '1', '-t', `elevator/${dev.id}/heartbeat`, '-m', payload]);
    const rows = await ts.service.store.readings.query({ deviceId: dev.id, family: 'elevator', channel: 'heartbeat', limit: 10 });
    expect(rows.map((r) => r.msgId)).toContain('mosq-tls-1');
  });
});
