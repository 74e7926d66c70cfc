/**
 * Cluster change notices (cluster/changeBus.ts, service/clusterWiring.ts): two services over one
 * real PostgreSQL and one real Redis, each started as a cluster node. A change made through node
 * A's API reaches node B's in-memory caches within a second: devices (registered, imported,
 * secret rotated, deleted), users (created, disabled), sessions (issued, logged out), cylinders
 * (imported: B's scan check decides on them); after a Redis restart B catches up with a change
 * made while it was cut off. Without the notices B keeps what it loaded at start, and every
 * case below fails. The bus itself is tested over the same Redis with recorded refreshes.
 */
import type { MqttClient } from 'mqtt';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PasswordGuard } from '../../accounts/passwordGuard.js';
import { Sessions } from '../../accounts/sessions.js';
import { Users } from '../../accounts/users.js';
import { EventBus } from '../../core/eventBus.js';
import { DeviceRegistry } from '../../devices/deviceRegistry.js';
import type { DeviceRecord, SessionRecord, Store, UserRecord } from '../../store/types.js';
import { ChangeBus, decodeChange, encodeChange, MAX_IDS, type ChangeKind } from '../../cluster/changeBus.js';
import { programs } from '../helpers/external.js';
import { PostgresServer, postgresPrograms } from '../helpers/postgresServer.js';
import { RedisServer } from '../helpers/redisServer.js';
import { collect, connectMqtt, startService, type TestService } from '../helpers/service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` every 10 ms until it holds; the ms it took, or throws after `ms`. */
async function within(ms: number, probe: () => boolean | Promise<boolean>, what: string): Promise<number> {
  const start = Date.now();
  while (!(await probe())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
  return Date.now() - start;
}

describe('decodeChange: what a node accepts as a notice', () => {
  it.each([
    ['ids', '{"kind":"devices","ids":["a","b"],"from":"n1"}', { kind: 'devices', ids: ['a', 'b'], from: 'n1' }],
    ['all', '{"kind":"users","ids":"all","from":"n1"}', { kind: 'users', ids: 'all', from: 'n1' }],
    ['ids not strings: all of the kind', '{"kind":"sessions","ids":[1],"from":"n1"}', { kind: 'sessions', ids: 'all', from: 'n1' }],
    ['too many ids: all of the kind', JSON.stringify({ kind: 'cylinders', ids: Array.from({ length: MAX_IDS + 1 }, (_, i) => `c${i}`), from: 'n1' }), { kind: 'cylinders', ids: 'all', from: 'n1' }],
    ['unknown kind', '{"kind":"alerts","ids":["a"],"from":"n1"}', null],
    ['no sender', '{"kind":"devices","ids":["a"]}', null],
    ['not JSON', 'devices:a', null],
    ['not an object', '"devices"', null],
  ])('%s', (_name, text, expected) => {
    expect(decodeChange(text)).toEqual(expected);
  });

  it('encodes what it decodes', () => {
    const m = { kind: 'devices' as const, ids: ['x-1'], from: 'node-a' };
    expect(decodeChange(encodeChange(m))).toEqual(m);
  });
});

/** The part of a store the caches' refreshes read: what a test puts in it is "the shared store". */
function fakeStore() {
  const users = new Map<string, UserRecord>();
  const sessions = new Map<string, SessionRecord>();
  const devices = new Map<string, DeviceRecord>();
  const store = {
    accounts: {
      getUser: async (u: string) => users.get(u) ?? null,
      listUsers: async () => [...users.values()],
      loadSessions: async () => [...sessions.values()],
      deleteSessions: async (hashes: readonly string[]) => { for (const h of hashes) sessions.delete(h); },
      insertSession: async (s: SessionRecord) => { sessions.set(s.tokenHash, s); },
    },
    devices: { load: async () => [...devices.values()] },
  } as unknown as Store;
  return { store, users, sessions, devices };
}

describe('what each cache does with a refresh (another node changed the records)', () => {
  const user = (over: Partial<UserRecord> = {}): UserRecord => ({ username: 'op', role: 'operator', passwordHash: 'h1', createdAt: 1, disabled: false, district: null, ...over });

  it('users: each change is told as a local one is (user.changed), a user gone is deleted, a new one taken silently', async () => {
    const { store, users } = fakeStore();
    const bus = new EventBus<{ 'user.changed': { username: string; change: string } }>((_t, err) => { throw err; });
    const told: string[] = [];
    bus.on('user.changed', ({ username, change }) => told.push(`${username}:${change}`));
    const cache = new Users(store, new PasswordGuard({ maxPerUserAddress: 5, maxPerAddress: 50, unknownPerMinute: 10 }), bus);
    users.set('op', user());
    users.set('gone', user({ username: 'gone' }));
    await cache.start();
    users.set('op', user({ passwordHash: 'h2', disabled: true, role: 'dispatcher', district: '3301' }));
    users.delete('gone');
    users.set('new', user({ username: 'new' }));
    await cache.refresh(['op', 'gone', 'new']);
    expect(told).toEqual(['gone:deleted', 'op:password', 'op:disabled', 'op:role', 'op:district']);
    expect(cache.get('op')).toMatchObject({ disabled: true, role: 'dispatcher' });
    expect(cache.get('gone')).toBeUndefined();
    expect(cache.get('new')).toBeDefined();
    // nothing changed since: a full reload tells nothing
    await cache.refresh('all');
    expect(told).toHaveLength(5);
  });

  it('sessions: one gone from the store ends here (sessions.revoked) without a write; a new one is taken; one being ended here is not brought back', async () => {
    const { store, sessions } = fakeStore();
    const bus = new EventBus<{ 'sessions.revoked': ReadonlySet<string> }>((_t, err) => { throw err; });
    const revoked: string[] = [];
    bus.on('sessions.revoked', (ids) => revoked.push(...ids));
    const record = (tokenHash: string, username = 'op'): SessionRecord => ({ tokenHash, username, createdAt: Date.now(), expiresAt: Date.now() + 60_000 });
    const cache = new Sessions(store, () => user(), 3600, bus);
    sessions.set('t1', record('t1'));
    sessions.set('t2', record('t2'));
    await cache.start();
    cache.stop();
    const deletes = vi.spyOn(store.accounts, 'deleteSessions');
    sessions.delete('t1');
    sessions.set('t3', record('t3'));
    await cache.refresh(['op']);
    expect(revoked).toEqual(['t1']);
    expect(deletes).not.toHaveBeenCalled();
    expect(cache.size).toBe(2);
    // a logout here whose delete has not landed yet, while a notice for the same user is applied
    let land: () => void = () => undefined;
    deletes.mockImplementationOnce((hashes) => new Promise<void>((resolve) => { land = () => { for (const h of hashes) sessions.delete(h); resolve(); }; }));
    const ended = cache.revokeUser('op');
    await cache.refresh(['op']);
    expect(cache.size).toBe(0);
    land();
    await ended;
  });

  it('devices: onChange hears the new and the changed, not the unchanged; one gone from the store is dropped', async () => {
    const { store, devices } = fakeStore();
    const device = (id: string, over: Partial<DeviceRecord> = {}): DeviceRecord => ({ id, family: 'elevator', name: null, location: null, district: null, meta: {}, secretHash: 'x', createdAt: 1, updatedAt: 1, ...over });
    devices.set('d1', device('d1'));
    devices.set('d2', device('d2'));
    const cache = new DeviceRegistry(store);
    await cache.start();
    const heard: string[] = [];
    cache.onChange((ds) => heard.push(...ds.map((d) => d.id)));
    devices.set('d1', device('d1', { secretHash: 'y', updatedAt: 2 }));
    devices.delete('d2');
    devices.set('d3', device('d3'));
    await cache.refresh('all');
    expect(heard).toEqual(['d1', 'd3']);
    expect(cache.get('d2')).toBeUndefined();
    expect(cache.authenticate('d1', Buffer.from('anything'))).toBeNull();
    expect(cache.get('d1')!.secretHash).toBe('y');
  });
});

const redisBin = programs(['redis-server'], 'redis-server');
const pgBin = postgresPrograms();
const missing = [redisBin, pgBin].flatMap((p) => (p.ok ? [] : [p.reason]));

describe.skipIf(!redisBin.ok)(`the change bus over Redis${redisBin.ok ? '' : ` (skipped: ${redisBin.reason})`}`, () => {
  let redis: RedisServer;
  const buses: ChangeBus[] = [];
  beforeAll(async () => { redis = await RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : ''); });
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(buses.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => { await redis?.dispose(); });

  /** A started bus whose refreshes are recorded (`slowMs`: each takes that long). */
  async function node(nodeId: string, slowMs = 0): Promise<{ bus: ChangeBus; calls: Array<{ kind: ChangeKind; ids: readonly string[] | 'all'; at: number; end: number }> }> {
    const calls: Array<{ kind: ChangeKind; ids: readonly string[] | 'all'; at: number; end: number }> = [];
    const bus = new ChangeBus({
      redisUrl: redis.url, nodeId, log: pino({ level: 'silent' }), retryMs: 100,
      refresh: async (kind, ids) => {
        const call = { kind, ids, at: performance.now(), end: 0 };
        calls.push(call);
        await sleep(slowMs);
        call.end = performance.now();
      },
    });
    buses.push(bus);
    await bus.start();
    return { bus, calls };
  }

  it('the other node refreshes exactly what was named, once each; the sender ignores its own notice; too many ids are "all"', async () => {
    const x = await node('x');
    const y = await node('y');
    x.bus.publish('devices', ['d1', 'd2', 'd1']);
    x.bus.publish('cylinders', Array.from({ length: MAX_IDS + 1 }, (_, i) => `c${i}`));
    x.bus.publish('users', []);
    await within(2000, () => y.calls.length === 2, 'two refreshes on y');
    await sleep(100);
    expect(y.calls.map((c) => [c.kind, c.ids])).toEqual([['devices', ['d1', 'd2']], ['cylinders', 'all']]);
    expect(x.calls).toEqual([]);
  });

  it('notices are applied one at a time, in the order they were sent', async () => {
    const x = await node('x');
    const y = await node('y', 40);
    x.bus.publish('users', ['u1']);
    x.bus.publish('sessions', ['u1']);
    x.bus.publish('devices', ['d1']);
    await within(3000, () => y.calls.length === 3 && y.calls[2]!.end > 0, 'three refreshes on y');
    expect(y.calls.map((c) => c.kind)).toEqual(['users', 'sessions', 'devices']);
    for (let i = 1; i < y.calls.length; i++) expect(y.calls[i]!.at).toBeGreaterThanOrEqual(y.calls[i - 1]!.end);
  });

  it('a publish that failed is made up for by "all" of its kind once Redis takes it', async () => {
    const x = await node('x');
    const y = await node('y');
    vi.spyOn(Redis.prototype, 'publish').mockRejectedValueOnce(new Error('connection lost'));
    x.bus.publish('users', ['u1']);
    await within(3000, () => y.calls.length === 1, 'a refresh on y');
    expect(y.calls.map((c) => [c.kind, c.ids])).toEqual([['users', 'all']]);
  });

  it('after a Redis restart each subscribed node reloads every kind in full', async () => {
    const y = await node('y');
    await redis.stop();
    await sleep(300);
    await redis.start();
    await within(15_000, () => y.calls.length === 4, 'a full reload on y');
    expect(y.calls.map((c) => [c.kind, c.ids])).toEqual([['devices', 'all'], ['cylinders', 'all'], ['users', 'all'], ['sessions', 'all']]);
  }, 30_000);
});

describe.skipIf(missing.length > 0)(`two cluster nodes' caches${missing.length ? ` (skipped: ${missing.join('; ')})` : ''}`, () => {
  let redis: RedisServer;
  let pg: PostgresServer;
  let a: TestService;
  let b: TestService;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start(redisBin.ok ? redisBin.paths['redis-server']! : '');
    pg = await PostgresServer.start(pgBin.ok ? pgBin.paths : {});
    const url = await pg.createDatabase('change_bus');
    const node = (nodeId: string) => startService({}, undefined, { sharedStore: { url, nodeId }, mqttCluster: { redisUrl: redis.url, nodeId } });
    a = await node('node-a');
    b = await node('node-b');
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await a?.dispose();
    await b?.dispose();
    await redis?.dispose();
    await pg?.dispose();
  });

  const call = (s: TestService, method: 'GET' | 'POST' | 'PATCH', url: string, token: string | null = s.adminToken, payload?: unknown) =>
    s.service.http.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as string }) });
  const login = (s: TestService, username: string, password: string) => call(s, 'POST', '/api/login', null, { username, password });
  const device = async (url: string, id: string, secret: string, opts: Parameters<typeof connectMqtt>[1] = {}): Promise<MqttClient> => {
    const c = await connectMqtt(url, { username: id, password: secret, clientId: id, ...opts });
    clients.push(c);
    return c;
  };
  const refused = (url: string, id: string, secret: string) => expect(device(url, id, secret)).rejects.toThrow(/not authorized|bad user name or password|Connection refused/i);

  it('a device registered on A connects through B within a second; B\'s registry listeners hear of it', async () => {
    const heard: string[] = [];
    const off = b.service.registry.onChange((ds) => heard.push(...ds.map((d) => d.id)));
    try {
      const d = await a.registerDevice({ id: 'cb-lift-1', family: 'elevator', district: '330106' });
      const took = await within(1000, () => b.service.registry.get(d.id) !== undefined, 'B knows the device');
      const c = await device(b.mqttUrl, d.id, d.secret);
      expect(c.connected).toBe(true);
      expect(took).toBeLessThan(1000);
      await c.endAsync();
      expect(heard).toEqual([d.id]);
    } finally {
      off();
    }
  });

  it('a secret rotated on A: the old one is refused on B, the new one taken', async () => {
    const d = await a.registerDevice({ id: 'cb-lift-2', family: 'elevator' });
    await within(1000, () => b.service.registry.get(d.id) !== undefined, 'B knows the device');
    const res = await call(a, 'POST', `/api/devices/${d.id}/secret`);
    expect(res.statusCode, res.body).toBe(200);
    const fresh = (res.json() as { secret: string }).secret;
    await within(1000, () => b.service.registry.authenticate(d.id, Buffer.from(fresh)) !== null, 'B takes the new secret');
    await refused(b.mqttUrl, d.id, d.secret);
    const c = await device(b.mqttUrl, d.id, fresh);
    await c.endAsync();
  });

  it('a device deleted on A is refused on B', async () => {
    const d = await a.registerDevice({ id: 'cb-lift-3', family: 'elevator' });
    await within(1000, () => b.service.registry.get(d.id) !== undefined, 'B knows the device');
    // the API has no device deletion yet: the row goes, A drops it and announces it, as a deletion will
    await a.service.shared!.db.run('DELETE FROM devices WHERE id = $1', [d.id]);
    await a.service.registry.refresh([d.id]);
    a.service.changes!.bus.publish('devices', [d.id]);
    await within(1000, () => b.service.registry.get(d.id) === undefined, 'B drops the device');
    await refused(b.mqttUrl, d.id, d.secret);
  });

  it('devices imported on A, new and updated, and an import past a notice\'s ids (a full reload) reach B', async () => {
    const job = await a.importDevices([{ id: 'cb-imp-1', family: 'dispenser' }, { id: 'cb-imp-2', family: 'dispenser' }]);
    expect(job.status, JSON.stringify(job.error)).toBe('done');
    const created = job.result!.created;
    await within(1000, () => created.every((c) => b.service.registry.authenticate(c.id, Buffer.from(c.secret!)) !== null), 'B takes the imported secrets');
    const c = await device(b.mqttUrl, created[0]!.id, created[0]!.secret!);
    await c.endAsync();
    const update = await a.importDevices([{ id: 'cb-imp-1', family: 'dispenser', name: 'Pump 1', district: '330106' }], '?onConflict=update');
    expect(update.status).toBe('done');
    await within(1000, () => b.service.registry.get('cb-imp-1')?.name === 'Pump 1', 'B has the new name');
    const many = Array.from({ length: MAX_IDS + 5 }, (_, i) => ({ id: `cb-bulk-${i}`, family: 'kitchen' }));
    const bulk = await a.importDevices(many);
    expect(bulk.status).toBe('done');
    const last = bulk.result!.created.at(-1)!;
    await within(3000, () => b.service.registry.authenticate(last.id, Buffer.from(last.secret!)) !== null, 'B reloaded the registry');
    expect(b.service.registry.size).toBe(a.service.registry.size);
  });

  it('a user created on A logs in on B; disabled on A, B refuses the login, the token and drops the MQTT connection', async () => {
    const created = await call(a, 'POST', '/api/users', a.adminToken, { username: 'cb-op', password: 'cb-operator-pass', role: 'operator' });
    expect(created.statusCode, created.body).toBe(201);
    await within(1000, () => b.service.users.get('cb-op') !== undefined, 'B knows the user');
    const first = await login(b, 'cb-op', 'cb-operator-pass');
    expect(first.statusCode, first.body).toBe(200);
    const token = (first.json() as { token: string }).token;
    const mq = await connectMqtt(b.mqttUrl, { username: 'cb-op', password: 'cb-operator-pass', clientId: 'user:cb-op:wall' });
    clients.push(mq);
    const closed = new Promise<void>((resolve) => mq.once('close', () => resolve()));

    const disabled = await call(a, 'PATCH', '/api/users/cb-op', a.adminToken, { disabled: true });
    expect(disabled.statusCode, disabled.body).toBe(200);
    await within(1000, async () => { await Promise.race([closed, sleep(5)]); return !mq.connected; }, 'B closes the user\'s MQTT connection');
    expect((await call(b, 'GET', '/api/me', token)).statusCode).toBe(401);
    expect((await login(b, 'cb-op', 'cb-operator-pass')).statusCode).toBe(401);
  });

  it('a token issued by A works on B\'s API; after logout on A, B refuses it', async () => {
    const created = await call(a, 'POST', '/api/users', a.adminToken, { username: 'cb-disp', password: 'cb-dispatch-pass', role: 'dispatcher' });
    expect(created.statusCode, created.body).toBe(201);
    const res = await login(a, 'cb-disp', 'cb-dispatch-pass');
    expect(res.statusCode, res.body).toBe(200);
    const token = (res.json() as { token: string }).token;
    await within(1000, async () => (await call(b, 'GET', '/api/me', token)).statusCode === 200, 'B takes A\'s token');
    expect((await call(b, 'GET', '/api/me', token)).json()).toMatchObject({ username: 'cb-disp', role: 'dispatcher' });
    const out = await call(a, 'POST', '/api/logout', token);
    expect(out.statusCode, out.body).toBe(204);
    await within(1000, async () => (await call(b, 'GET', '/api/me', token)).statusCode === 401, 'B refuses the token');
  });

  it('cylinders imported on A: a scan through B is answered from them (refuse, allow, refuse)', async () => {
    const code = 'CB-LPG-000001';
    const record = (status: string) => ({ code, model: 'YSP15', mfgDate: '2023-05-01', nextInspection: '2030-05-01', ownerStationId: 'CB-ST-1', status });
    const d = await a.registerDevice({ id: 'cb-scan-1', family: 'cylinder', meta: { stationId: 'CB-ST-1' } });
    await within(1000, () => b.service.registry.get(d.id) !== undefined, 'B knows the scanner');
    const scanner = await device(b.mqttUrl, d.id, d.secret);
    await scanner.subscribeAsync(`cylinder/${d.id}/scan/reply`, { qos: 1 });
    let n = 0;
    const scan = async (): Promise<{ msgId: string; decision: string; reasons: string[] }> => {
      const replies = collect(scanner, 1, 5000);
      await scanner.publishAsync(`cylinder/${d.id}/scan`, JSON.stringify({ msgId: `cb-${++n}`, ts: Date.now(), cylinderCode: code, stationId: 'CB-ST-1', point: 'pre_fill', operatorId: 'OP-1' }), { qos: 1 });
      const got = await replies;
      expect(got).toHaveLength(1);
      return JSON.parse(got[0]!.payload.toString()) as { msgId: string; decision: string; reasons: string[] };
    };
    // not registered anywhere yet
    expect((await scan()).decision).toBe('refuse');
    const imported = await call(a, 'POST', '/api/cylinders/import?onConflict=update', a.adminToken, [record('in_service')]);
    expect(imported.statusCode, imported.body).toBe(200);
    await within(1000, () => b.service.cylinders.get(code)?.status === 'in_service', 'B has the record');
    expect(await scan()).toMatchObject({ decision: 'allow', reasons: [] });
    const scrapped = await call(a, 'POST', '/api/cylinders/import?onConflict=update', a.adminToken, [record('scrapped')]);
    expect(scrapped.statusCode, scrapped.body).toBe(200);
    await within(1000, () => b.service.cylinders.get(code)?.status === 'scrapped', 'B has the new status');
    expect(await scan()).toMatchObject({ decision: 'refuse', reasons: expect.arrayContaining(['scrapped']) });
    await scanner.endAsync();
  }, 30_000);

  it('after a Redis restart, B catches up with what changed on A while it was cut off', async () => {
    await redis.stop();
    // committed to PostgreSQL while no notice can go out
    const d = await a.registerDevice({ id: 'cb-outage-1', family: 'elevator' });
    const created = await call(a, 'POST', '/api/users', a.adminToken, { username: 'cb-outage', password: 'cb-outage-pass', role: 'operator' });
    expect(created.statusCode, created.body).toBe(201);
    await sleep(500);
    expect(b.service.registry.get(d.id)).toBeUndefined();
    await redis.start();
    await within(15_000, () => b.service.registry.get(d.id) !== undefined && b.service.users.get('cb-outage') !== undefined, 'B reloaded');
    expect((await login(b, 'cb-outage', 'cb-outage-pass')).statusCode).toBe(200);
    // and the notices flow again: A's publishing connection comes back on ioredis's own back-off
    // (up to 2 s a retry), apart from B's subscription; a notice it could not send goes out as
    // "all" once it is back
    const after = await a.registerDevice({ id: 'cb-outage-2', family: 'elevator' });
    await within(5000, () => b.service.registry.get(after.id) !== undefined, 'B hears notices again');
    const c = await device(b.mqttUrl, after.id, after.secret);
    await c.endAsync();
  }, 60_000);
});
