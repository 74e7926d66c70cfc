/**
 * A cluster node killed with -9 under QoS 1 load (docs/cluster.md): two nodes as real processes
 * (`node dist/service/main.js`, `npm run build`) over a real PostgreSQL (durable commits) and
 * Redis (append-only, fsynced), behind a real HAProxy with docs/haproxy.cfg as it is; devices of
 * all four families and the API go through HAProxy. node-b, owner of the slot of a trapped
 * elevator (E1), is killed while every device sends; then:
 * - every device is back (through HAProxy, on node-a) within RECONNECT_MS;
 * - E1's alert and rescue case go on on node-a under the same ids, and their clock runs there:
 *   the case's dispatch deadline (shortened to 15 s) is breached and shown;
 * - a trapped alarm of E2 (also of a slot node-b held) is raised once, and a dispatcher on
 *   node-a's wall saw both alarms open;
 * - node-b restarted on its DATA_DIR takes its share of the slots back, and every reading a
 *   device saw acknowledged is in PostgreSQL exactly once (readings acknowledged by node-b and
 *   not yet written from its journal reach PostgreSQL when it restarts: PUBACK means fsynced on
 *   the node that took it), among them one whose PUBACK the kill took away for certain (a
 *   probe device, sent again through the survivor), which timing alone catches only sometimes.
 * Not through HAProxy, and why: the wall (to know its node), the import job (see there), the
 * probe's first send (to reach node-b for certain), /metrics and /healthz per node.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerOf, shares, slotOf } from '../../core/cluster/slots.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { connectRaw, encodeConnect, encodePublish } from '../../simulators/load/rawMqtt.js';
import { programs } from '../helpers/external.js';
import { HaproxyServer } from '../helpers/haproxy.js';
import { Client } from '../helpers/liveClient.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';
import { RedisServer } from '../helpers/redisServer.js';
import { throwawayTls } from '../helpers/tls.js';
import { entry, importDevices, login, type ServiceProcess } from '../reliability/serviceProcess.js';
import { freePort } from '../store/influx/victoria.js';
import { gauge, killNode, PacedDevice, startNode, within, type NodeSpec } from './clusterNodes.js';

const pgBin = postgresPrograms();
const others = programs(['redis-server', 'haproxy', 'openssl'], 'redis-server, haproxy and openssl');
const built = (() => { try { readFileSync(entry); return true; } catch { return false; } })();
const missing = !pgBin.ok ? pgBin.reason : !others.ok ? others.reason : !built ? 'run `npm run build` first (`npm test` does)' : null;
const CONFIG = new URL('../../docs/haproxy.cfg', import.meta.url).pathname;
const ADMIN = 'kill-node-admin-password';
const NODES = ['node-a', 'node-b'];
/** how long every device may take to be back after the kill: HAProxy's redispatch (about 1 s a retry) and the device's 200-300 ms back-off, with room */
const RECONNECT_MS = 15_000;
/** the rescue case's dispatch deadline (ALERT_OVERRIDES rescue.dispatchMin 0.25) */
const DISPATCH_MS = 15_000;
const FAMILIES = ['dispenser', 'cylinder', 'kitchen', 'elevator'] as const;

/** An elevator id whose slot node-b owns while both nodes live: the alarm's state must move at the kill. */
const onB = (prefix: string): string => {
  for (let i = 0; ; i++) if (ownerOf(slotOf(`${prefix}${i}`), NODES) === 'node-b') return `${prefix}${i}`;
};

describe.skipIf(missing !== null)(`a cluster node killed with -9 under QoS 1 load, behind HAProxy${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let pgServer: PostgresServer;
  let redis: RedisServer;
  let proxy: HaproxyServer;
  let dbUrl = '';
  const dirs: string[] = [];
  const specs: Record<string, NodeSpec> = {};
  const procs: Record<string, ServiceProcess> = {};
  const ports = { mqtt: 0, mqtts: 0, http: 0 };
  const devices: PacedDevice[] = [];
  const closers: Array<() => void> = [];

  /** both nodes count each other and hold exactly their rendezvous share */
  const shared = async (): Promise<boolean> => {
    const share = shares(NODES);
    for (const n of NODES) {
      if ((await gauge(specs[n]!.httpPort, 'cluster_peers')) !== 2) return false;
      if ((await gauge(specs[n]!.httpPort, 'cluster_slots_held')) !== share.get(n)) return false;
    }
    return true;
  };

  beforeAll(async () => {
    [pgServer, redis] = await Promise.all([
      // commits must survive: a node drops a journal batch once PostgreSQL has committed it
      PostgresServer.start(pgBin.ok ? pgBin.paths : {}, { durable: true }),
      RedisServer.start(others.ok ? others.paths['redis-server']! : '', { persist: true }),
    ]);
    dbUrl = await pgServer.createDatabase('kill_node');
    const env = {
      REDIS_URL: redis.url, DATABASE_URL: dbUrl, ADMIN_PASSWORD: ADMIN, LOG_LEVEL: 'error', ALERT_TICK_MS: '200', ALERT_CHECKPOINT_MS: '500',
      // HAProxy passes each client's address on (PROXY v2 on MQTT, X-Forwarded-For on HTTP)
      TRUSTED_PROXIES: '127.0.0.1', MQTT_PROXY_PROTOCOL: 'true',
      ALERT_OVERRIDES: JSON.stringify({ rescue: { dispatchMin: DISPATCH_MS / 60_000 } }),
    };
    for (const n of NODES) {
      const dataDir = mkdtempSync(path.join(tmpdir(), `supervision-${n}-`));
      dirs.push(dataDir);
      specs[n] = { nodeId: n, dataDir, mqttPort: await freePort(), httpPort: await freePort(), env };
    }
    // one after the other: the first applies the migrations, the second finds them done
    for (const n of NODES) procs[n] = await startNode(specs[n]!);
    await within(20_000, 'the slots shared by both nodes (/metrics cluster_peers, cluster_slots_held)', shared);

    const tls = await throwawayTls();
    dirs.push(tls.dir);
    const pem = path.join(tls.dir, 'both.pem');
    writeFileSync(pem, readFileSync(path.join(tls.dir, 'cert.pem'), 'utf8') + readFileSync(path.join(tls.dir, 'key.pem'), 'utf8'));
    for (const k of ['mqtt', 'mqtts', 'http'] as const) ports[k] = await freePort();
    const [a, b] = [specs['node-a']!, specs['node-b']!];
    proxy = await HaproxyServer.start(others.ok ? others.paths.haproxy! : '', CONFIG, {
      LISTEN_HOST: '127.0.0.1', MAXCONN: '2000', MQTT_PORT: String(ports.mqtt), MQTTS_PORT: String(ports.mqtts), HTTP_PORT: String(ports.http), MQTTS_CERT: pem,
      NODE_A: '127.0.0.1', NODE_A_MQTT: String(a.mqttPort), NODE_A_HTTP: String(a.httpPort),
      NODE_B: '127.0.0.1', NODE_B_MQTT: String(b.mqttPort), NODE_B_HTTP: String(b.httpPort),
    }, [ports.mqtt, ports.mqtts, ports.http]);
  }, 60_000);

  afterAll(async () => {
    for (const d of devices) d.stop();
    for (const c of closers) c();
    await proxy?.stop();
    await Promise.all(Object.values(procs).map((p) => killNode(p)));
    await Promise.all([redis?.dispose(), pgServer?.dispose()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('devices move to the survivor, alerts and cases go on there under the same ids, every acknowledged reading is stored once, the node comes back', async () => {
    const [a, b] = [specs['node-a']!, specs['node-b']!];
    const viaProxy = `http://127.0.0.1:${ports.http}`;
    const onA = `http://127.0.0.1:${a.httpPort}`;
    const token = await login(viaProxy, 'admin', ADMIN);
    const api = async <T = Record<string, unknown>>(base: string, method: 'GET' | 'POST', url: string, body?: unknown, tok = token): Promise<T> => {
      const res = await fetch(`${base}${url}`, {
        method, headers: { authorization: `Bearer ${tok}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
      return await res.json() as T;
    };
    type Items = { items: Array<Record<string, unknown> & { id: string }> };
    // a token issued by one node is known to the other once the change bus has told it (a few
    // ms; until then that node answers 401): wait for both, or the next call through HAProxy may fail
    for (const n of NODES) await within(3000, `the admin token known on ${n}`, async () => (await fetch(`http://127.0.0.1:${specs[n]!.httpPort}/api/users`, { headers: { authorization: `Bearer ${token}` } })).ok);

    // a dispatcher's wall on node-a, the node that survives (directly: we know which node it is)
    await api(viaProxy, 'POST', '/api/users', { username: 'kn-disp', password: 'dispatcher-pass-1', role: 'dispatcher' });
    const wall = await Client.open(`ws://127.0.0.1:${a.httpPort}/ws?token=${await within(5000, 'the dispatcher known on node-a', () => login(onA, 'kn-disp', 'dispatcher-pass-1').catch(() => undefined))}`);
    closers.push(() => wall.close());
    await wall.next((m) => m.type === 'hello');

    // 10 devices of each family, and the two elevators that will be trapped
    const e1 = onB('kn-e1-');
    const e2 = onB('kn-e2-');
    const rows = [...FAMILIES.flatMap((family) => Array.from({ length: 10 }, (_, i) => ({ id: `kn-${family}-${i}`, family, district: '330106' }))),
      { id: e1, family: 'elevator', district: '330106' }, { id: e2, family: 'elevator', district: '330106' }, { id: 'kn-probe', family: 'dispenser', district: '330106' }];
    // the import job on node-a directly: a job lives in the memory of the node that runs it, so
    // following it through HAProxy reaches the other node half the time (404 not_found)
    const created = new Map((await importDevices(onA, token, rows)).map((d) => [d.id, d]));

    // every device a heartbeat each 75 ms (about 530 readings/s in all), QoS 1, through HAProxy
    for (const [id, d] of created) {
      if (id === e1 || id === e2 || id === 'kn-probe') continue;
      const family = d.family as (typeof FAMILIES)[number];
      devices.push(new PacedDevice({
        port: ports.mqtt, id, secret: d.secret, topic: `${family}/${id}/heartbeat`, everyMs: 75,
        payload: (msgId) => Buffer.from(JSON.stringify(examplePayload(family, 'heartbeat', msgId, Date.now()))),
      }));
    }
    for (const d of devices) d.start();
    await within(10_000, 'every device connected through HAProxy and acknowledged', () => devices.every((d) => d.connected && d.acked.size > 0));
    // leastconn spreads them over both nodes
    const clientsOn = async (port: number): Promise<number> => Number(/(\d+) clients/.exec((await api<{ components: { broker: { detail: string } } }>(`http://127.0.0.1:${port}`, 'GET', '/healthz')).components.broker.detail)?.[1] ?? 0);
    const spread = [await clientsOn(a.httpPort), await clientsOn(b.httpPort)];
    expect(spread[1], `clients on node-a, node-b: ${spread.join(', ')}; HAProxy:\n${proxy.output}`).toBeGreaterThan(5);

    // E1 trapped (fault code 11) before the kill: its alert and case, raised on node-b, seen through HAProxy
    const trapped = async (id: string, msgId: string): Promise<void> => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: id, username: id, password: created.get(id)!.secret, reconnectPeriod: 200 });
      closers.push(() => c.end(true));
      await c.publishAsync(`elevator/${id}/fault`, JSON.stringify({ ...examplePayload('elevator', 'fault', msgId, Date.now()), code: 11, floor: 4 }), { qos: 1 });
    };
    await trapped(e1, 'e1-trapped');
    const alert1 = await within(5000, 'E1\'s trapped alert listed', async () => (await api<Items>(viaProxy, 'GET', `/api/alerts?deviceId=${e1}&rule=elevator.trapped`)).items[0]);
    const case1 = await within(5000, 'E1\'s rescue case listed', async () => (await api<Items>(viaProxy, 'GET', `/api/rescue-cases?elevatorId=${e1}`)).items[0]);
    expect(case1.alertId).toBe(alert1.id);
    await wall.next((m) => m.type === 'alert' && m.change === 'opened' && (m.alert as { id: string }).id === alert1.id, 5000);

    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    closers.push(() => void db.end());
    /** the nodes that stored a reading, once per copy */
    const copies = async (msgId: string): Promise<string[]> => (await db.query<{ node_id: string }>('SELECT node_id FROM r_heartbeat WHERE msg_id = $1 ORDER BY node_id', [msgId])).rows.map((r) => r.node_id);

    // a reading whose PUBACK the kill takes away, made certain rather than left to timing: the
    // probe device sends it to node-b (directly, with the PROXY header HAProxy would send), node-b
    // stores it and acknowledges, and the device takes the PUBACK as lost: it sends it again later
    const probe = created.get('kn-probe')!;
    const lostAck = { msgId: 'probe-lost-ack', topic: 'dispenser/kn-probe/heartbeat' };
    const lostPayload = Buffer.from(JSON.stringify(examplePayload('dispenser', 'heartbeat', lostAck.msgId, Date.now())));
    let probeAcks = 0;
    const direct = await connectRaw(b.mqttPort, '127.0.0.1', Buffer.concat([Buffer.from(`PROXY TCP4 127.0.0.1 127.0.0.1 40000 ${b.mqttPort}\r\n`),
      encodeConnect(probe.id, probe.id, probe.secret)]), () => { probeAcks++; });
    direct.on('error', () => undefined);
    direct.write(encodePublish(lostAck.topic, lostPayload, 1, 1));
    await within(5000, 'node-b acknowledged the probe\'s reading', () => probeAcks === 1);
    await within(5000, 'the probe\'s reading in PostgreSQL', async () => (await copies(lostAck.msgId)).length === 1);

    // kill -9 node-b mid-load, once it has acknowledged a good share
    await within(10_000, 'some load on both nodes', () => devices.every((d) => d.acked.size >= 20));
    const killedAt = Date.now();
    await killNode(procs['node-b']!);
    const ackedAtKill = devices.map((d) => [...d.acked]);

    // every device is back through HAProxy within the bound, on node-a (the only node left): counted
    // there, since a device cut off may not have heard of it yet when node-b's process is gone
    await within(RECONNECT_MS, `every device reconnected to node-a (HAProxy:\n${proxy.output})`,
      async () => devices.every((d) => d.connected) && (await clientsOn(a.httpPort).catch(() => 0)) >= devices.length);
    const reconnectMs = Date.now() - killedAt;
    const wasOnB = devices.filter((d) => d.lostAt >= killedAt);
    expect(wasOnB.length).toBeGreaterThan(5);
    expect(wasOnB.every((d) => d.connectedAt > d.lostAt)).toBe(true);
    await within(10_000, 'node-a holds every slot', async () => (await gauge(a.httpPort, 'cluster_slots_held')) === 256 && (await gauge(a.httpPort, 'cluster_peers')) === 1);

    // the probe sends its reading again, through HAProxy (to node-a): acknowledged, and not stored twice (below)
    const resent = await connectRaw(ports.mqtt, '127.0.0.1', encodeConnect(probe.id, probe.id, probe.secret), () => { probeAcks++; });
    closers.push(() => resent.destroy());
    resent.write(encodePublish(lostAck.topic, lostPayload, 1, 1));
    await within(5000, 'the probe\'s reading acknowledged again', () => probeAcks === 2);

    // E1's alert and case go on on node-a, the same ids, and its deadline runs there
    const again1 = await api<Record<string, unknown>>(onA, 'GET', `/api/alerts/${alert1.id}`);
    expect(again1.status).toBe('open');
    const active1 = (await api<Items>(onA, 'GET', `/api/rescue-cases?elevatorId=${e1}`)).items;
    expect(active1.map((c) => c.id)).toEqual([case1.id]);
    const breached = await within(DISPATCH_MS + 10_000, 'E1\'s dispatch deadline breached on node-a', async () => {
      const c = await api<{ fired: string[] }>(onA, 'GET', `/api/rescue-cases/${case1.id}`);
      return c.fired.includes('dispatch_breached') ? c : undefined;
    });
    expect(breached.fired.filter((e) => e === 'dispatch_breached')).toHaveLength(1);
    await wall.next((m) => m.type === 'rescueCase' && (m.rescueCase as { id: string }).id === case1.id && (m.events as string[]).includes('dispatch_breached'), 3000);

    // E2 trapped after the kill, through HAProxy: raised once, on node-a's wall once
    await trapped(e2, 'e2-trapped');
    const alert2 = await wall.next((m) => m.type === 'alert' && m.change === 'opened' && (m.alert as { device: { id: string } }).device.id === e2, 5000);
    await within(5000, 'E2\'s alert listed', async () => (await api<Items>(viaProxy, 'GET', `/api/alerts?deviceId=${e2}&rule=elevator.trapped`)).items.length > 0);

    // stop the load: every reading made is acknowledged in the end
    await Promise.race([Promise.all(devices.map((d) => d.finish())), new Promise((_, reject) => setTimeout(() => reject(new Error('outstanding readings not acknowledged')), 10_000))]);

    // how many readings acknowledged before the kill PostgreSQL lacks while node-b is down
    // (reported, not asserted: what node-b acknowledged is fsynced in its journal, and reaches
    // PostgreSQL when it restarts)
    const count = async () => (await db.query<{ device_id: string; msg_id: string; n: number; nodes: string }>(
      "SELECT device_id, msg_id, count(*)::int AS n, string_agg(node_id, '+') AS nodes FROM r_heartbeat WHERE device_id LIKE 'kn-%' AND device_id <> 'kn-probe' GROUP BY 1, 2")).rows;
    const missingFrom = (rows: Array<{ msg_id: string }>, acked: string[][]): string[] => {
      const have = new Set(rows.map((r) => r.msg_id));
      return acked.flatMap((ids) => ids.filter((m) => !have.has(m)));
    };
    const missingWhileDown = missingFrom(await count(), ackedAtKill).length;

    // node-b back on its DATA_DIR: healthy, and its share of the slots back
    procs['node-b'] = await startNode(b);
    await within(20_000, 'the slots shared again', shared);
    const health = await api<{ components: { cluster: { ok: boolean; detail: string } } }>(`http://127.0.0.1:${b.httpPort}`, 'GET', '/healthz');
    expect(health.components.cluster.detail).toContain(`node-b holds ${shares(NODES).get('node-b')} of 256 slots`);

    // E2 once: in the store, on the wall; E1's alert still the one it was
    expect((await api<Items>(viaProxy, 'GET', `/api/alerts?deviceId=${e2}&rule=elevator.trapped`)).items.map((x) => x.id)).toEqual([(alert2.alert as { id: string }).id]);
    expect(wall.got.filter((m) => m.type === 'alert' && m.change === 'opened' && (m.alert as { device: { id: string } }).device.id === e2)).toHaveLength(1);
    expect((await api<Items>(viaProxy, 'GET', `/api/alerts?deviceId=${e1}&rule=elevator.trapped`)).items.map((x) => x.id)).toEqual([alert1.id]);

    // every acknowledged reading once in PostgreSQL; node-b's journal is written there at its start
    const acked = devices.reduce((n, d) => n + d.acked.size, 0);
    const stored = await within(15_000, 'every acknowledged reading in PostgreSQL', async () => {
      const r = await count();
      return r.length >= acked ? r : undefined;
    }).catch(async () => count());
    const twice = stored.filter((r) => r.n > 1).map((r) => `${r.msg_id} by ${r.nodes}`);
    const lost = missingFrom(stored, devices.map((d) => [...d.acked]));
    console.log(`killNode: ${devices.length} devices, ${acked} readings acknowledged, ${wasOnB.length} devices on node-b, all back in ${reconnectMs} ms; `
      + `${missingWhileDown} readings acknowledged before the kill not in PostgreSQL while node-b was down; ${lost.length} acknowledged and not stored, ${twice.length} stored more than once`);
    expect(lost, 'acknowledged but not stored').toEqual([]);
    expect(twice, 'stored more than once').toEqual([]);
    // the survivor knows the reading the dead node stored: stored once, by node-b
    expect(await copies(lostAck.msgId), 'a reading sent again through the survivor after its PUBACK was lost in the kill').toEqual(['node-b']);
  }, 120_000);
});
