/**
 * Connection coverage on a real service (dashboard/routes/devices.ts, dashboard/metrics.ts):
 * GET /api/devices/coverage per family and district, GET /api/devices?neverConnected=true,
 * the coverage gauges on /metrics, with devices that are connected now, connected and left,
 * never connected, refused; and the counts after a restart.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { apiFor, expectError, routeService, until, type Loose } from '../../helpers/api.js';
import { startService, type TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

/** registered, ever connected, connected now -> the answer's counts */
const c = (registered: number, ever: number, now: number): Loose => ({
  registered, everConnected: ever, connectedNow: now, neverConnected: registered - ever,
  coverage: registered ? ever / registered : null, connectedNowRatio: registered ? now / registered : null,
});

const fleet = [
  { id: 'lift-a', family: 'elevator', district: '330106' }, // connected now
  { id: 'lift-b', family: 'elevator', district: '330106' }, // connected, then left
  { id: 'lift-c', family: 'elevator', district: '330108' }, // never: only a refused CONNECT (wrong secret)
  { id: 'cam-a', family: 'kitchen', district: '330106001' }, // connected now
  { id: 'cam-b', family: 'kitchen' }, // never, no district
  { id: 'cyl-a', family: 'cylinder', district: '330108' }, // never
] as const;

let registeredFrom = 0;
let registeredTo = 0;
const clients: MqttClient[] = [];

routeService({}, (s) => ({ ts, opToken, dispToken } = s));
afterAll(async () => {
  for (const cl of clients) await cl.endAsync(true).catch(() => undefined);
});

const connected = async (id: string): Promise<boolean> => (await api('GET', `/api/devices/${id}`)).data.connection.connected === true;

describe('connection coverage', () => {
  it('set-up: 6 devices; 2 connected now, 1 connected and left, 3 never (one of them refused, plus an unknown id refused)', async () => {
    registeredFrom = Date.now();
    const secrets: Record<string, string> = {};
    for (const d of fleet) secrets[d.id] = (await ts.registerDevice(d)).secret;
    registeredTo = Date.now();

    clients.push(await ts.connectDevice('lift-a', secrets['lift-a']!), await ts.connectDevice('cam-a', secrets['cam-a']!));
    const b = await ts.connectDevice('lift-b', secrets['lift-b']!);
    await until(() => connected('lift-b'));
    await b.endAsync();
    await until(async () => !(await connected('lift-b')));
    // a refused CONNECT is no connection: lift-c stays never connected, and an unregistered id is not counted at all
    await expect(ts.connectDevice('lift-c', 'not-the-secret-of-lift-c-000000')).rejects.toThrow();
    await expect(ts.connectDevice('lift-x', secrets['lift-a']!)).rejects.toThrow();
    await until(async () => (await connected('lift-a')) && (await connected('cam-a')));
  });

  it('GET /api/devices/coverage: total, every family, every district', async () => {
    const res = await api('GET', '/api/devices/coverage');
    expect(res.statusCode, res.body).toBe(200);
    expect(Date.parse(res.data.at)).toBeGreaterThanOrEqual(registeredTo);
    expect(res.data.total).toEqual(c(6, 3, 2));
    expect(res.data.byFamily).toEqual([
      { family: 'kitchen', ...c(2, 1, 1) },
      { family: 'elevator', ...c(3, 2, 1) },
      { family: 'cylinder', ...c(1, 0, 0) },
      { family: 'dispenser', ...c(0, 0, 0) },
    ]);
    expect(res.data.byDistrict).toEqual([
      { district: null, ...c(1, 0, 0) },
      { district: '330106', ...c(2, 2, 1) },
      { district: '330106001', ...c(1, 1, 1) },
      { district: '330108', ...c(2, 0, 0) },
    ]);
  });

  it.each<[string, string, Loose]>([
    ['family', '?family=elevator', c(3, 2, 1)],
    ['district prefix (330106 takes 330106001)', '?district=330106', c(3, 3, 2)],
    ['family and district', '?family=elevator&district=330108', c(1, 0, 0)],
    ['a district with nothing', '?district=4401', c(0, 0, 0)],
  ])('filter by %s', async (_what, query, total) => {
    const res = await api('GET', `/api/devices/coverage${query}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.data.total).toEqual(total);
  });

  it.each([['?family=boiler'], ['?district=%00'], ['?district=1234567890123']])('bad filter %s -> 400 validation', async (query) => {
    expectError(await api('GET', `/api/devices/coverage${query}`), 400, 'validation');
  });

  it('every role that reads devices may read it; no token: 401', async () => {
    for (const token of [opToken, dispToken]) expect((await api('GET', '/api/devices/coverage', { token })).statusCode).toBe(200);
    expectError(await api('GET', '/api/devices/coverage', { token: null }), 401, 'unauthorized');
  });

  it('GET /api/devices?neverConnected=true: the never-connected devices with their registration time, in id order', async () => {
    const res = await api('GET', '/api/devices?neverConnected=true');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.data.total).toBe(3);
    expect(res.data.items.map((d: Loose) => d.id)).toEqual(['cam-b', 'cyl-a', 'lift-c']);
    for (const d of res.data.items) {
      expect(Date.parse(d.createdAt)).toBeGreaterThanOrEqual(registeredFrom);
      expect(Date.parse(d.createdAt)).toBeLessThanOrEqual(registeredTo);
      expect(d.connection).toEqual({ connected: false, lastSeen: null, lastConnectedAt: null, lastDisconnectedAt: null });
    }
    const ever = await api('GET', '/api/devices?neverConnected=false');
    expect(ever.data.total).toBe(3);
    expect(ever.data.items.map((d: Loose) => d.id)).toEqual(['cam-a', 'lift-a', 'lift-b']);
  });

  it('the list pages (capped at 10,000 a page), filters like the list, and its totals are the coverage counts', async () => {
    const page = await api('GET', '/api/devices?neverConnected=true&limit=2&offset=2');
    expect(page.data).toMatchObject({ total: 3, items: [{ id: 'lift-c' }] });
    expectError(await api('GET', '/api/devices?neverConnected=true&limit=10001'), 400, 'validation');
    expectError(await api('GET', '/api/devices?neverConnected=yes'), 400, 'validation');
    expect((await api('GET', '/api/devices?neverConnected=true&q=lift')).data.items.map((d: Loose) => d.id)).toEqual(['lift-c']);

    const coverage = (await api('GET', '/api/devices/coverage')).data;
    for (const row of coverage.byFamily) {
      const list = await api('GET', `/api/devices?neverConnected=true&family=${row.family}`);
      expect(list.data.total, row.family).toBe(row.neverConnected);
    }
    for (const row of coverage.byDistrict.filter((r: Loose) => r.district)) {
      const list = await api('GET', `/api/devices?neverConnected=true&district=${row.district}`);
      // the list's district is a prefix: 330106 takes 330106001 too
      const expected = coverage.byDistrict.filter((r: Loose) => r.district?.startsWith(row.district)).reduce((n: number, r: Loose) => n + r.neverConnected, 0);
      expect(list.data.total, row.district).toBe(expected);
    }
  });

  it('/metrics: registered, connected now and never connected per family, and never connected in total', async () => {
    const res = await api('GET', '/metrics', { token: null });
    expect(res.statusCode).toBe(200);
    for (const name of ['devices_registered_by_family', 'devices_connected_by_family', 'devices_never_connected_by_family', 'devices_never_connected']) {
      expect(res.body).toMatch(new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    }
    const value = (line: string): number | undefined => {
      const m = res.body.match(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm'));
      return m ? Number(m[1]) : undefined;
    };
    const expected: Array<[string, number, number, number]> = [
      // family, registered, connected now, never connected
      ['kitchen', 2, 1, 1], ['elevator', 3, 1, 1], ['cylinder', 1, 0, 1], ['dispenser', 0, 0, 0],
    ];
    for (const [family, registered, now, never] of expected) {
      expect(value(`devices_registered_by_family{family="${family}"}`), family).toBe(registered);
      expect(value(`devices_connected_by_family{family="${family}"}`), family).toBe(now);
      expect(value(`devices_never_connected_by_family{family="${family}"}`), family).toBe(never);
    }
    expect(value('devices_never_connected')).toBe(3);
    // the totals that were there before stay as they were, and agree
    expect(value('devices_registered')).toBe(6);
    expect(value('devices_connected')).toBe(2);
  });

  it('/metrics follows a new registration at the next scrape', async () => {
    await ts.registerDevice({ id: 'disp-a', family: 'dispenser' });
    const res = await api('GET', '/metrics', { token: null });
    expect(res.body).toMatch(/^devices_registered_by_family\{family="dispenser"\} 1$/m);
    expect(res.body).toMatch(/^devices_never_connected_by_family\{family="dispenser"\} 1$/m);
    expect(res.body).toMatch(/^devices_never_connected 4$/m);
    expect((await api('GET', '/api/devices/coverage?family=dispenser')).data.total).toEqual(c(1, 0, 0));
  });
});

describe('after a restart', () => {
  let first: TestService | undefined;
  let second: TestService | undefined;
  afterAll(async () => {
    await first?.stop();
    await second?.dispose();
  });

  it('devices that connected before stay ever connected; nobody is connected now', async () => {
    first = await startService();
    const a = await first.registerDevice({ id: 'r-lift-a', family: 'elevator', district: '330106' });
    await first.registerDevice({ id: 'r-lift-b', family: 'elevator', district: '330106' });
    const client = await first.connectDevice('r-lift-a', a.secret);
    await until(async () => first!.service.tracker.get('r-lift-a')?.connected === true);
    // stopped with the device still connected: the state is written at stop
    await first.stop();
    await client.endAsync(true);

    second = await startService({}, first.dataDir);
    const res = await second.service.http.inject({ url: '/api/devices/coverage', headers: { authorization: `Bearer ${second.adminToken}` } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().total).toEqual(c(2, 1, 0));
    const list = await second.service.http.inject({ url: '/api/devices?neverConnected=true', headers: { authorization: `Bearer ${second.adminToken}` } });
    expect(list.json().items.map((d: Loose) => d.id)).toEqual(['r-lift-b']);
  });
});
