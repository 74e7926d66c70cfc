/**
 * dashboard/routes/devices.ts on a real service, with fastify inject: registration
 * (POST /api/devices), the list, one device and its secret rotation, and its readings as
 * published by a real device over MQTT. The import jobs are in devices.import.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, detailPaths, expectError, publish, until, type Loose, routeService } from '../../helpers/api.js';
import { connectMqtt, type TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

routeService({}, (s) => ({ ts, opToken, dispToken } = s));

describe('POST /api/devices', () => {
  it('registers a device and returns its secret once (32 chars base64url)', async () => {
    const body = { id: 'reg-lift-1', family: 'elevator', name: 'Lift 1', location: { lat: 30.25, lng: 120.17 }, district: '330106', meta: { registrationCode: 'R-1', arrivalDeadlineMin: 45 } };
    const res = await api('POST', '/api/devices', { payload: body });
    expect(res.statusCode).toBe(201);
    expect(Object.keys(res.data).sort()).toEqual(['family', 'id', 'secret']);
    expect(res.data).toMatchObject({ id: 'reg-lift-1', family: 'elevator' });
    expect(res.data.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(ts.service.registry.authenticate('reg-lift-1', Buffer.from(res.data.secret))).not.toBeNull();

    const got = await api('GET', '/api/devices/reg-lift-1');
    expect(got.statusCode).toBe(200);
    expect(got.data).toMatchObject({ id: 'reg-lift-1', family: 'elevator', name: 'Lift 1', location: { lat: 30.25, lng: 120.17 }, district: '330106', meta: { registrationCode: 'R-1', arrivalDeadlineMin: 45 } });
    expect(got.body).not.toContain(res.data.secret);
    expect(got.data).not.toHaveProperty('secretHash');
    expect(got.data).not.toHaveProperty('secret');
  });

  it('two devices get different secrets', async () => {
    const a = await api('POST', '/api/devices', { payload: { id: 'reg-a', family: 'kitchen' } });
    const b = await api('POST', '/api/devices', { payload: { id: 'reg-b', family: 'kitchen' } });
    expect(a.data.secret).not.toBe(b.data.secret);
  });

  it.each([
    ['bad id characters', { id: 'bad id!', family: 'kitchen' }, ['id'], /A-Za-z0-9/],
    ['id of 65 characters', { id: 'x'.repeat(65), family: 'kitchen' }, ['id'], null],
    ['empty id', { id: '', family: 'kitchen' }, ['id'], null],
    ['unknown family', { id: 'v-1', family: 'boiler' }, ['family'], /kitchen/],
    ['missing family', { id: 'v-2' }, ['family'], null],
    ['meta key of another family', { id: 'v-3', family: 'kitchen', meta: { registrationCode: 'x' } }, ['meta'], /kitchen devices take: storeId, storeName, address, cameraArea/],
    ['unknown meta key (elevator)', { id: 'v-4', family: 'elevator', meta: { color: 'red' } }, ['meta'], /elevator devices take: registrationCode, rescueCode/],
    ['meta value out of range', { id: 'v-5', family: 'elevator', meta: { arrivalDeadlineMin: 4 } }, ['meta.arrivalDeadlineMin'], null],
    ['bad district (5 digits)', { id: 'v-6', family: 'kitchen', district: '33010' }, ['district'], /GB\/T 2260/],
    ['bad district (letters)', { id: 'v-7', family: 'kitchen', district: '33010a' }, ['district'], null],
    ['lat over 90', { id: 'v-8', family: 'kitchen', location: { lat: 90.0001, lng: 0 } }, ['location.lat'], null],
    ['lat under -90', { id: 'v-9', family: 'kitchen', location: { lat: -91, lng: 0 } }, ['location.lat'], null],
    ['lng over 180', { id: 'v-10', family: 'kitchen', location: { lat: 0, lng: 180.5 } }, ['location.lng'], null],
    ['location missing lng', { id: 'v-11', family: 'kitchen', location: { lat: 0 } }, ['location.lng'], null],
    ['unknown top-level key', { id: 'v-12', family: 'kitchen', colour: 'red' }, ['(root)'], /colour/],
    ['empty name', { id: 'v-13', family: 'kitchen', name: '' }, ['name'], null],
    ['several problems at once', { id: 'bad id', family: 'kitchen', district: '1', location: { lat: 100, lng: 0 } }, ['id', 'district', 'location.lat'], null],
  ])('%s -> 400 validation naming %j', async (_d, payload, paths, message) => {
    const res = await api('POST', '/api/devices', { payload });
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toEqual(expect.arrayContaining(paths));
    if (message) expect(res.data.error.message).toMatch(message);
    expect((await api('GET', `/api/devices/${encodeURIComponent(String(payload.id ?? 'none'))}`)).statusCode).not.toBe(200);
  });

  it('boundary values are accepted: lat/lng at ±90/±180, 9- and 12-digit districts, 64-char id', async () => {
    for (const [i, body] of ([
      { location: { lat: 90, lng: 180 }, district: '330106001' },
      { location: { lat: -90, lng: -180 }, district: '330106001002' },
    ] as const).entries()) {
      expect((await api('POST', '/api/devices', { payload: { id: `edge-${i}`, family: 'kitchen', ...body } })).statusCode).toBe(201);
    }
    expect((await api('POST', '/api/devices', { payload: { id: 'e'.repeat(64), family: 'dispenser' } })).statusCode).toBe(201);
  });

  it('duplicate id -> 409 device_exists, and the first secret keeps working', async () => {
    const first = await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'cylinder' } });
    expect(first.statusCode).toBe(201);
    expectError(await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'cylinder' } }), 409, 'device_exists');
    expectError(await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'kitchen' } }), 409, 'device_exists');
    expect(ts.service.registry.authenticate('dup-1', Buffer.from(first.data.secret))).not.toBeNull();
  });
});

describe('GET /api/devices', () => {
  beforeAll(async () => {
    const rows = [
      { id: 'lst-a', family: 'kitchen', name: 'Alpha Kitchen', district: '330106' },
      { id: 'lst-b', family: 'kitchen', name: 'Beta', district: '330106001' },
      { id: 'lst-c', family: 'elevator', name: 'Gamma Lift', district: '330108' },
      { id: 'lst-d', family: 'elevator', district: '110101' },
      { id: 'lst-e', family: 'cylinder', name: 'alpha station' },
    ];
    expect((await ts.importDevices(rows)).status).toBe('done');
  });

  const ids = (res: { data: Loose }): string[] => res.data.items.map((d: { id: string }) => d.id);

  it.each([
    ['q on id', '?q=lst-', ['lst-a', 'lst-b', 'lst-c', 'lst-d', 'lst-e'], 5],
    ['family', '?q=lst-&family=elevator', ['lst-c', 'lst-d'], 2],
    ['district prefix (county)', '?q=lst-&district=330106', ['lst-a', 'lst-b'], 2],
    ['district prefix (city)', '?q=lst-&district=3301', ['lst-a', 'lst-b', 'lst-c'], 3],
    ['q on name, case-insensitive', '?q=ALPHA', ['lst-a', 'lst-e'], 2],
    ['family and q', '?family=cylinder&q=alpha', ['lst-e'], 1],
    ['limit', '?q=lst-&limit=2', ['lst-a', 'lst-b'], 5],
    ['limit and offset', '?q=lst-&limit=2&offset=2', ['lst-c', 'lst-d'], 5],
    ['offset past the end', '?q=lst-&offset=10', [], 5],
    ['nothing matches', '?q=lst-&family=dispenser', [], 0],
  ])('%s (%s)', async (_d, query, expected, total) => {
    const res = await api('GET', `/api/devices${query}`, { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(ids(res)).toEqual(expected);
    expect(res.data.total).toBe(total);
  });

  it.each([
    ['unknown family', '?family=boiler', 'family'],
    ['limit 0', '?limit=0', 'limit'],
    ['limit over the maximum', '?limit=10001', 'limit'],
    ['negative offset', '?offset=-1', 'offset'],
    ['non-numeric limit', '?limit=ten', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/devices${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('items carry connection state: connected while a device is on, last seen, then disconnected', async () => {
    const d = await ts.registerDevice({ id: 'lst-conn', family: 'elevator' });
    const before = (await api('GET', '/api/devices?q=lst-conn')).data.items[0];
    expect(before.connection).toEqual({ connected: false, lastSeen: null, lastConnectedAt: null, lastDisconnectedAt: null });

    const t0 = Date.now();
    const c = await ts.connectDevice(d.id, d.secret);
    await until(async () => (await api('GET', '/api/devices/lst-conn')).data.connection.connected === true);
    const on = (await api('GET', '/api/devices?q=lst-conn')).data.items[0].connection;
    expect(on.connected).toBe(true);
    expect(Date.parse(on.lastConnectedAt)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(Date.parse(on.lastSeen)).toBeGreaterThanOrEqual(Date.parse(on.lastConnectedAt));
    expect(on.lastDisconnectedAt).toBeNull();

    await c.endAsync();
    await until(async () => (await api('GET', '/api/devices/lst-conn')).data.connection.connected === false);
    const off = (await api('GET', '/api/devices/lst-conn')).data.connection;
    expect(Date.parse(off.lastDisconnectedAt)).toBeGreaterThanOrEqual(Date.parse(on.lastConnectedAt));
  });
});

describe('GET /api/devices/:id and secret rotation', () => {
  it('unknown id -> 404 device_not_found (get, readings, secret)', async () => {
    expectError(await api('GET', '/api/devices/no-such-device'), 404, 'device_not_found');
    expectError(await api('GET', '/api/devices/no-such-device/readings'), 404, 'device_not_found');
    expectError(await api('POST', '/api/devices/no-such-device/secret'), 404, 'device_not_found');
  });

  it('POST /api/devices/:id/secret issues a new secret; the old one stops authenticating', async () => {
    const d = await ts.registerDevice({ id: 'rot-1', family: 'dispenser' });
    const res = await api('POST', '/api/devices/rot-1/secret');
    expect(res.statusCode).toBe(200);
    expect(res.data).toMatchObject({ id: 'rot-1', family: 'dispenser' });
    expect(res.data.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.data.secret).not.toBe(d.secret);
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(d.secret))).toBeNull();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(res.data.secret))).toMatchObject({ id: 'rot-1' });
    // and over MQTT
    await expect(connectMqtt(ts.mqttUrl, { username: 'rot-1', password: d.secret })).rejects.toMatchObject({ code: 4 });
    const c = await ts.connectDevice('rot-1', res.data.secret);
    await c.endAsync();
    // the new secret survives a reload of the registry from the store
    await ts.service.registry.start();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(res.data.secret))).not.toBeNull();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(d.secret))).toBeNull();
  });
});

describe('GET /api/devices/:id/readings', () => {
  const T = Date.UTC(2026, 10, 23, 0, 0, 0);
  const iso = (ms: number) => new Date(ms).toISOString();
  beforeAll(async () => {
    const d = await ts.registerDevice({ id: 'rd-lift', family: 'elevator' });
    const c = await ts.connectDevice(d.id, d.secret);
    try {
      await publish(c, 'elevator/rd-lift/status', JSON.stringify(examplePayload('elevator', 'status', 's3', T + 3000)));
      await publish(c, 'elevator/rd-lift/status', JSON.stringify(examplePayload('elevator', 'status', 's1', T + 1000)));
      // RFC 3339 with offset: the same instant as T + 2000
      await publish(c, 'elevator/rd-lift/fault', JSON.stringify({ ...examplePayload('elevator', 'fault', 'f2', '2026-11-23T08:00:02+08:00'), vendor: 'x' }));
      await publish(c, 'elevator/rd-lift/heartbeat', JSON.stringify(examplePayload('elevator', 'heartbeat', 'h4', T + 4000)));
    } finally {
      await c.endAsync();
    }
  });

  const msgIds = (res: { data: Loose }): string[] => res.data.items.map((i: { msgId: string }) => i.msgId);

  it('every channel, newest last, with ISO times, data and extra', async () => {
    const res = await api('GET', '/api/devices/rd-lift/readings', { token: dispToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.data.deviceId).toBe('rd-lift');
    expect(res.data.family).toBe('elevator');
    expect(msgIds(res)).toEqual(['s1', 'f2', 's3', 'h4']);
    const fault = res.data.items[1];
    expect(fault).toMatchObject({ channel: 'fault', ts: iso(T + 2000), data: { code: 2, floor: 7, detail: 'door failed to close 3 times' }, extra: { vendor: 'x' } });
    expect(Number.isNaN(Date.parse(fault.receivedAt))).toBe(false);
    expect(res.data.items[0]).toMatchObject({ channel: 'status', data: { floor: 7, direction: 'stop', serviceMode: 'normal' }, extra: null });
  });

  it.each([
    ['channel=status', ['s1', 's3']],
    ['channel=fault', ['f2']],
    ['channel=heartbeat', ['h4']],
    [`from=${T + 2000}`, ['f2', 's3', 'h4']],
    [`to=${T + 2000}`, ['s1', 'f2']],
    [`from=${T + 1500}&to=${T + 3500}`, ['f2', 's3']],
    [`from=${encodeURIComponent('2026-11-23T08:00:02+08:00')}`, ['f2', 's3', 'h4']],
    [`from=${encodeURIComponent(iso(T + 2500))}&to=${encodeURIComponent('2026-11-23T00:00:03.000Z')}`, ['s3']],
    [`channel=status&from=${T + 2000}`, ['s3']],
    ['limit=2', ['s3', 'h4']],
    ['limit=1&channel=status', ['s3']],
    [`from=${T + 10_000}`, []],
  ])('%s', async (query, expected) => {
    const res = await api('GET', `/api/devices/rd-lift/readings?${query}`, { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(msgIds(res)).toEqual(expected);
  });

  it.each([
    ['unknown channel', 'channel=nonsense', 'channel'],
    ['another family\'s channel', 'channel=violation', 'channel'],
    ['platform -> device channel', 'channel=error', 'channel'],
    ['scan/reply', 'channel=scan%2Freply', 'channel'],
    ['prototype name', 'channel=constructor', 'channel'],
    ['words for time', 'from=yesterday', 'from'],
    ['bad RFC 3339', 'to=2026-13-45T99:00:00Z', 'to'],
    ['empty from', 'from=', 'from'],
    ['limit 0', 'limit=0', 'limit'],
    ['limit over the maximum', 'limit=10001', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/devices/rd-lift/readings?${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('the stored readings show in /metrics', async () => {
    const body = (await api('GET', '/metrics', { token: null })).body;
    const m = body.match(/^ingest_stored_total\{family="elevator",channel="status"\} (\d+)/m);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(2);
  });
});
