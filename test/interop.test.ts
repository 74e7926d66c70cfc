/**
 * Interop with clients we did not write: Eclipse Mosquitto's mosquitto_pub and mosquitto_sub
 * (Debian package mosquitto-clients), over TCP and TLS (certificate made by openssl).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../ingest/schemas/examples.js';
import { programs } from './helpers/external.js';
import { startService, type TestService } from './helpers/service.js';

const run = promisify(execFile);
const mosquitto = programs(['mosquitto_pub', 'mosquitto_sub'], 'mosquitto-clients');
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
      certDir = mkdtempSync(path.join(tmpdir(), 'supervision-tls-'));
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')]);
      Object.assign(overrides, { TLS_CERT_FILE: path.join(certDir, 'cert.pem'), TLS_KEY_FILE: path.join(certDir, 'key.pem'), MQTTS_PORT: 0 });
    }
    ts = await startService(overrides);
    dev = await ts.registerDevice({ id: 'mosq-elevator-1', family: 'elevator', meta: { registrationCode: '31103301002019120001' } });
  });
  afterAll(async () => {
    await ts?.dispose();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const base = () => ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-u', dev.id, '-P', dev.secret, '-V', 'mqttv311'];

  it('mosquitto_pub -q 1 stores a reading, visible through the readings API', async () => {
    const payload = JSON.stringify(examplePayload('elevator', 'fault', 'mosq-1', Date.now()));
    await run('mosquitto_pub', [...base(), '-q', '1', '-t', `elevator/${dev.id}/fault`, '-m', payload]);
    const res = await ts.service.http.inject({ method: 'GET', url: `/api/devices/${dev.id}/readings?channel=fault`, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((r: { msgId: string }) => r.msgId)).toContain('mosq-1');
  });

  it('mosquitto_sub receives the error reply to a bad payload sent by mosquitto_pub', async () => {
    const sub = subscribe([...base(), '-i', 'mosq-sub-1', '-q', '1', '-t', `elevator/${dev.id}/error`, '-C', '1', '-W', '10']);
    await sub.ready;
    await run('mosquitto_pub', [...base(), '-i', 'mosq-pub-1', '-q', '1', '-t', `elevator/${dev.id}/status`, '-m', '{"msgId":"mosq-bad","floor":"seven"}']);
    const [line] = await sub.messages;
    expect(line).toMatch(new RegExp(`^elevator/${dev.id}/error `));
    const body = JSON.parse(line!.slice(line!.indexOf(' ') + 1));
    expect(body).toMatchObject({ msgId: 'mosq-bad', reason: 'schema', topic: `elevator/${dev.id}/status` });
    expect(body.issues.map((i: { path: string }) => i.path)).toContain('floor');
  });

  it('mosquitto_sub receives the allow/refuse reply to a scan sent by mosquitto_pub', async () => {
    const scanner = await ts.registerDevice({ id: 'mosq-scan-1', family: 'cylinder', meta: { stationId: 'ST-01' } });
    const creds = ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-u', scanner.id, '-P', scanner.secret, '-V', 'mqttv311'];
    const sub = subscribe([...creds, '-i', 'mosq-scan-sub', '-q', '1', '-t', `cylinder/${scanner.id}/scan/reply`, '-C', '1', '-W', '10']);
    await sub.ready;
    const scan = { msgId: 'mosq-scan-1', ts: Date.now(), cylinderCode: 'NOT-IN-REGISTRY', stationId: 'ST-01', point: 'pre_fill', operatorId: 'OP-1' };
    await run('mosquitto_pub', [...creds, '-i', 'mosq-scan-pub', '-q', '1', '-t', `cylinder/${scanner.id}/scan`, '-m', JSON.stringify(scan)]);
    const [line] = await sub.messages;
    const reply = JSON.parse(line!.slice(line!.indexOf(' ') + 1));
    expect(reply).toMatchObject({ msgId: 'mosq-scan-1', cylinderCode: 'NOT-IN-REGISTRY', decision: 'refuse' });
    expect(reply.reasons).toContain('unregistered');
  });

  it('refuses mosquitto_pub with a wrong secret', async () => {
    await expect(run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-u', dev.id, '-P', 'nope', '-q', '1', '-t', `elevator/${dev.id}/heartbeat`, '-m', '{}']))
      .rejects.toMatchObject({ code: expect.any(Number) });
  });

  it.skipIf(!openssl.ok)('accepts mosquitto_pub over TLS', async () => {
    const payload = JSON.stringify({ msgId: 'mosq-tls-1', ts: Date.now() });
    await run('mosquitto_pub', ['-h', 'localhost', '-p', String(ts.started.mqttsPort), '--cafile', path.join(certDir, 'cert.pem'),
      '-u', dev.id, '-P', dev.secret, '-q', '1', '-t', `elevator/${dev.id}/heartbeat`, '-m', payload]);
    const rows = await ts.service.store.queryReadings({ deviceId: dev.id, family: 'elevator', channel: 'heartbeat', limit: 10 });
    expect(rows.map((r) => r.msgId)).toContain('mosq-tls-1');
  });
});
