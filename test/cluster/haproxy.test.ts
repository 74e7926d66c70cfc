/**
 * The deployment's balancer (docs/haproxy.cfg, used as it is) in front of two nodes, with a
 * real HAProxy on loopback: MQTT over TCP and over TLS ended at HAProxy, and MQTT over
 * WebSocket, reach a node from clients we did not write (mosquitto_pub) and ours; the node
 * sees the client's address in the PROXY header, and HAProxy's own health checks (which send
 * one too) are not refused; /healthz answers through it; when a node stops, HAProxy marks it
 * down and new connections, and a client that was on it, go to the other.
 * Each node is told of the same device here (cluster mode's shared registry does that).
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { programs } from '../helpers/external.js';
import { HaproxyServer } from '../helpers/haproxy.js';
import { startService, type TestService } from '../helpers/service.js';
import { throwawayTls } from '../helpers/tls.js';
import { freePort } from '../store/influx/victoria.js';

const run = promisify(execFile);
const found = programs(['haproxy', 'mosquitto_pub', 'openssl'], 'haproxy, mosquitto-clients and openssl');
const CONFIG = new URL('../../docs/haproxy.cfg', import.meta.url).pathname;

describe.skipIf(!found.ok)(`two nodes behind HAProxy${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
  let a: TestService;
  let b: TestService;
  let proxy: HaproxyServer;
  let certDir = '';
  const ports = { mqtt: 0, mqtts: 0, http: 0 };
  let dev: { id: string; secret: string };

  beforeAll(async () => {
    const nodeSettings = { TRUSTED_PROXIES: '127.0.0.1', MQTT_PROXY_PROTOCOL: 'true' };
    a = await startService(nodeSettings);
    b = await startService(nodeSettings);
    dev = await a.registerDevice({ id: 'hp-lift-1', family: 'elevator', district: '330106' });
    await b.service.store.devices.insert([a.service.registry.get(dev.id)!]);
    await b.service.registry.start();
    const tls = await throwawayTls();
    certDir = tls.dir;
    const pem = path.join(certDir, 'both.pem');
    writeFileSync(pem, readFileSync(path.join(certDir, 'cert.pem'), 'utf8') + readFileSync(path.join(certDir, 'key.pem'), 'utf8'));
    ports.mqtt = await freePort();
    ports.mqtts = await freePort();
    ports.http = await freePort();
    proxy = await HaproxyServer.start(found.ok ? found.paths.haproxy! : '', CONFIG, {
      LISTEN_HOST: '127.0.0.1', MAXCONN: '2000', MQTT_PORT: String(ports.mqtt), MQTTS_PORT: String(ports.mqtts), HTTP_PORT: String(ports.http), MQTTS_CERT: pem,
      NODE_A: '127.0.0.1', NODE_A_MQTT: String(a.started.mqttPort), NODE_A_HTTP: String(a.started.httpPort),
      NODE_B: '127.0.0.1', NODE_B_MQTT: String(b.started.mqttPort), NODE_B_HTTP: String(b.started.httpPort),
    }, [ports.mqtt, ports.mqtts, ports.http]);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop();
    await a?.dispose();
    await b?.dispose();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  const stored = async (s: TestService, msgId: string): Promise<boolean> => {
    const res = await s.service.http.inject({ method: 'GET', url: `/api/devices/${dev.id}/readings?channel=fault`, headers: { authorization: `Bearer ${s.adminToken}` } });
    return (res.json() as { items: Array<{ msgId: string }> }).items.some((r) => r.msgId === msgId);
  };
  const publish = (msgId: string, extra: string[] = []) => run('mosquitto_pub', ['-h', '127.0.0.1', '-i', dev.id, '-u', dev.id, '-P', dev.secret, '-V', 'mqttv311',
    '-q', '1', '-t', `elevator/${dev.id}/fault`, '-m', JSON.stringify(examplePayload('elevator', 'fault', msgId, Date.now())), ...extra]);
  const wait = async (what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> => {
    const until = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > until) throw new Error(`timed out: ${what}\n${proxy.output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('MQTT over TCP, over TLS ended at HAProxy, and over WebSocket reach a node; /healthz answers through it', async () => {
    await publish('hp-tcp', ['-p', String(ports.mqtt)]);
    await publish('hp-tls', ['-p', String(ports.mqtts), '--cafile', path.join(certDir, 'cert.pem')]);
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${ports.http}/mqtt`, { clientId: dev.id, username: dev.id, password: dev.secret, reconnectPeriod: 0 });
    await ws.publishAsync(`elevator/${dev.id}/fault`, JSON.stringify(examplePayload('elevator', 'fault', 'hp-ws', Date.now())), { qos: 1 });
    await ws.endAsync();
    for (const m of ['hp-tcp', 'hp-tls', 'hp-ws']) expect((await stored(a, m)) || (await stored(b, m)), m).toBe(true);
    const health = await fetch(`http://127.0.0.1:${ports.http}/healthz`);
    expect(health.status).toBe(200);
    // HAProxy's checks carry a PROXY header too: none was refused as one without
    expect(proxy.output).not.toMatch(/is DOWN/);
  });

  it('a node stopping is marked down; its client reconnects through HAProxy to the other, and new ones go there', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: dev.id, username: dev.id, password: dev.secret, reconnectPeriod: 200 });
    const on = a.service.tracker.get(dev.id)?.connected ? a : b;
    const other = on === a ? b : a;
    await on.stop();
    // new connections meanwhile are redispatched to the other node (option redispatch)
    await publish('hp-during', ['-p', String(ports.mqtt)]);
    expect(await stored(other, 'hp-during')).toBe(true);
    const name = on === a ? 'node-a' : 'node-b';
    await wait('HAProxy marks the stopped node down', () => proxy.output.includes(`mqtt_nodes/${name} is DOWN`));
    await wait('the client is back, on the other node', () => client.connected && other.service.tracker.get(dev.id)?.connected === true);
    await client.publishAsync(`elevator/${dev.id}/fault`, JSON.stringify(examplePayload('elevator', 'fault', 'hp-after', Date.now())), { qos: 1 });
    expect(await stored(other, 'hp-after')).toBe(true);
    await client.endAsync();
    await publish('hp-new', ['-p', String(ports.mqtt)]);
    expect(await stored(other, 'hp-new')).toBe(true);
  }, 60_000);
});
