/**
 * District scope of accounts (accounts/scope.ts; the promise is the table in docs/api.md,
 * District scope) on a real service, with fastify inject: devices, alerts, dead letters, rescue
 * cases, stores and cylinders in two districts (330106 西湖区 "here", 330108 滨江区 "there"), an
 * operator and a dispatcher scoped to 330106. Every list as a table of what the scoped account
 * sees (exactly) and what only the admin sees; reads and actions outside the scope answered as
 * unknown ids; the statistics counted over the scope; the live push, its catch-up and its
 * statistics filtered; alert topics over MQTT refused. The users API: districtUsers.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { scopedDistrict } from '../../../accounts/scope.js';
import { apiFor, expectError, routeService, until, type Loose } from '../../helpers/api.js';
import { Client, type Msg } from '../../helpers/liveClient.js';
import { connectMqtt, type TestService } from '../../helpers/service.js';

let ts: TestService;
const api = apiFor(() => ts);
routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts } = s));

const HERE = '330106';
const THERE = '330108';
const sides = { here: HERE, there: THERE } as const;
type Side = keyof typeof sides;
/** tokens of the accounts scoped to 330106 */
let op: string;
let disp: string;
const alerts: Record<Side, string[]> = { here: [], there: [] };
/** of those, the elevators' (the trapped-passenger alerts of the rescue cases) */
const lifts: Record<Side, string[]> = { here: [], there: [] };
const cases: Record<Side, string> = { here: '', there: '' };

beforeAll(async () => {
  for (const [username, role] of [['op106', 'operator'], ['disp106', 'dispatcher']] as const) {
    const r = await api('POST', '/api/users', { payload: { username, password: `${username}-password`, role, district: HERE } });
    expect(r.statusCode, r.body).toBe(201);
  }
  op = await ts.token('op106', 'op106-password');
  disp = await ts.token('disp106', 'disp106-password');
  for (const [side, district] of Object.entries(sides) as Array<[Side, string]>) {
    const cam = await ts.registerDevice({ id: `cam-${side}`, family: 'kitchen', district, meta: { storeId: `S-${side}`, storeName: `店 ${side}` } });
    await ts.registerDevice({ id: `cam-${side}-clean`, family: 'kitchen', district, meta: { storeId: `S-${side}-clean` } });
    await ts.registerDevice({ id: `lift-${side}`, family: 'elevator', district });
    await ts.registerDevice({ id: `scan-${side}`, family: 'cylinder', district, meta: { stationId: `ST-${side}` } });
    // three class-1/2 detections flag the store (black list); one message is not JSON (a dead letter)
    const c = await ts.connectDevice(cam.id, cam.secret);
    for (const type of ['rat', 'smoking', 'trash_uncovered']) {
      const body = { ...examplePayload('kitchen', 'violation', `v-${type}`, Date.now()), storeId: `S-${side}`, type, confidence: 0.95 };
      await c.publishAsync(`kitchen/${cam.id}/violation`, JSON.stringify(body), { qos: 1 });
    }
    await c.publishAsync(`kitchen/${cam.id}/violation`, '{', { qos: 1 });
    await c.endAsync();
    const rc = await api('POST', '/api/rescue-cases', { payload: { elevatorId: `lift-${side}` } });
    expect(rc.statusCode, rc.body).toBe(201);
    cases[side] = rc.data.id;
  }
  // a store whose camera has no district: outside every scope
  await ts.registerDevice({ id: 'cam-nowhere', family: 'kitchen', meta: { storeId: 'S-nowhere' } });
  const cyl = (code: string, station: string) => ({ code, model: 'YSP15', mfgDate: '2023-05-01', nextInspection: '2030-05-01', ownerStationId: station, status: 'in_service' });
  expect((await api('POST', '/api/cylinders/import', { payload: [cyl('C-here', 'ST-here'), cyl('C-there', 'ST-there')] })).statusCode).toBe(200);
  await until(async () => (await api('GET', '/api/stores/flagged')).data.items.length === 2);
  for (const a of (await api('GET', '/api/alerts?limit=5000')).data.items as Array<{ id: string; family: string; device: { district: string } }>) {
    const side = a.device.district === HERE ? 'here' : 'there';
    alerts[side].push(a.id);
    if (a.family === 'elevator') lifts[side].push(a.id);
  }
  expect(alerts.here.length).toBeGreaterThanOrEqual(4);
  expect(alerts.there.length).toBe(alerts.here.length);
});

const sorted = (xs: string[]) => [...new Set(xs)].sort();

describe('what a list filter becomes within a scope (scopedDistrict)', () => {
  const op106 = { role: 'operator', district: HERE } as const;
  it.each([
    ['an admin, no filter', { role: 'admin', district: null }, undefined, undefined],
    ['an admin, a filter', { role: 'admin', district: null }, '3301', '3301'],
    ['the whole city, a filter', { role: 'operator', district: null }, THERE, THERE],
    ['scoped, no filter', op106, undefined, HERE],
    ['scoped, an empty filter', op106, '', HERE],
    ['scoped, a wider filter', op106, '33', HERE],
    ['scoped, a narrower filter', op106, '33010601', '33010601'],
    ['scoped, another district', op106, THERE, false],
  ] as const)('%s', (_name, user, asked, want) => {
    expect(scopedDistrict(user, asked)).toBe(want);
  });
});

/** route, token, what the answer names, what the scoped account sees (exactly), what only the admin sees */
type Row = [string, () => string, (d: Loose) => string[], () => string[], () => string[]];
const ids = (d: Loose) => d.items.map((x: { id: string }) => x.id);
const devicesOf = (side: Side) => [`cam-${side}`, `cam-${side}-clean`, `lift-${side}`, `scan-${side}`];
const rows: Row[] = [
  ['/api/alerts?limit=5000', () => op, ids, () => alerts.here, () => alerts.there],
  ['/api/alerts?limit=5000&district=33', () => op, ids, () => alerts.here, () => alerts.there],
  ['/api/alerts?limit=5000&district=330108', () => op, ids, () => [], () => alerts.there],
  ['/api/alerts?limit=5000&family=elevator', () => disp, ids, () => lifts.here, () => lifts.there],
  ['/api/devices', () => op, ids, () => devicesOf('here'), () => [...devicesOf('there'), 'cam-nowhere']],
  ['/api/devices?neverConnected=true', () => op, ids, () => devicesOf('here').slice(1), () => devicesOf('there').slice(1)],
  ['/api/devices/coverage', () => op, (d) => d.byDistrict.map((r: { district: string | null }) => String(r.district)), () => [HERE], () => [THERE, 'null']],
  ['/api/dead-letters', () => op, (d) => d.items.map((x: { deviceId: string }) => x.deviceId), () => ['cam-here'], () => ['cam-there']],
  ['/api/rescue-cases', () => op, ids, () => [cases.here], () => [cases.there]],
  ['/api/rescue-cases?scope=all', () => disp, ids, () => [cases.here], () => [cases.there]],
  ['/api/rescue-cases?scope=all&elevatorId=lift-there', () => disp, ids, () => [], () => [cases.there]],
  ['/api/stores/flagged', () => op, (d) => d.items.map((x: { storeId: string }) => x.storeId), () => ['S-here'], () => ['S-there']],
  ['/api/stores/lists?kind=black', () => op, (d) => d.items.map((x: { storeId: string }) => x.storeId), () => ['S-here'], () => ['S-there']],
  ['/api/stores/lists?kind=red', () => op, (d) => d.items.map((x: { storeId: string }) => x.storeId), () => ['S-here-clean'], () => ['S-there-clean', 'S-nowhere']],
  ['/api/stores/scores', () => op, (d) => d.items.map((x: { storeId: string }) => x.storeId), () => ['S-here', 'S-here-clean'], () => ['S-there', 'S-there-clean', 'S-nowhere']],
  ['/api/cylinders', () => op, (d) => d.items.map((x: { code: string }) => x.code), () => ['C-here'], () => ['C-there']],
  ['/api/stats/on-time', () => op, (d) => d.byDistrict.map((r: { district: string | null }) => String(r.district)), () => [HERE], () => [THERE]],
];

describe('every list, as the scoped account and as the admin sees it', () => {
  it.each(rows)('%s', async (route, token, names, mine, theirs) => {
    const scoped = await api('GET', route, { token: token() });
    expect(scoped.statusCode, scoped.body).toBe(200);
    expect(sorted(names(scoped.data))).toEqual(sorted(mine()));
    const admin = await api('GET', route);
    expect(sorted(names(admin.data))).toEqual(expect.arrayContaining(sorted(theirs())));
  });

  it('counts and pages are the scope\'s: a page of one is never cut short, the totals are the district\'s', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Loose = await api('GET', `/api/alerts?limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: op });
      expect(page.data.items).toHaveLength(1);
      seen.push(page.data.items[0].id);
      cursor = page.data.nextCursor;
    } while (cursor);
    expect(sorted(seen)).toEqual(sorted(alerts.here));
    expect((await api('GET', '/api/devices?limit=1', { token: op })).data).toMatchObject({ total: 4, items: [expect.anything()] });
    expect((await api('GET', '/api/devices/coverage', { token: op })).data.total).toMatchObject({ registered: 4 });
    expect((await api('GET', '/api/devices/coverage?district=330108', { token: op })).data.total).toMatchObject({ registered: 0 });
    const black = await ts.service.http.inject({ url: '/api/stores/lists?kind=black&format=csv', headers: { authorization: `Bearer ${op}` } });
    expect(black.body).toContain('"S-here"');
    expect(black.body).not.toContain('S-there');
    const draw = await api('POST', '/api/stores/draw', { token: op, payload: { count: 10 } });
    expect([draw.data.population, sorted(draw.data.items.map((x: { storeId: string }) => x.storeId))]).toEqual([2, ['S-here', 'S-here-clean']]);
    expect((await api('POST', '/api/stores/draw', { token: op, payload: { count: 10, district: THERE } })).data.population).toBe(0);
  });

  it('the on-time rates and their drill-down count the scope only', async () => {
    const mine = await api('GET', '/api/stats/on-time', { token: op });
    const all = await api('GET', '/api/stats/on-time');
    expect(mine.data.total.alerts).toBe(alerts.here.length);
    expect(mine.data.total.rescue.cases).toBe(1);
    expect(all.data.total.alerts).toBe(alerts.here.length + alerts.there.length);
    expect((await api('GET', '/api/stats/on-time?district=330108', { token: op })).data.total.alerts).toBe(0);
    const drill = (q: string, token?: string) => api('GET', `/api/stats/on-time/items?measure=alerts${q}`, token === undefined ? {} : { token });
    expect((await drill('', op)).data.total).toBe(alerts.here.length);
    expect(sorted((await drill(`&district=${HERE}`, op)).data.ids)).toEqual(sorted(alerts.here));
    expect((await drill(`&district=${THERE}`, op)).data).toMatchObject({ total: 0, ids: [] });
    expect((await drill('&district=', op)).data.total).toBe(0);
    expect((await drill(`&district=${THERE}`)).data.total).toBe(alerts.there.length);
  });
});

describe('one item outside the scope is answered as an unknown one', () => {
  const reads: Array<[string, (s: Side) => string, string]> = [
    ['alert', (s) => `/api/alerts/${alerts[s][0]}`, 'alert_not_found'],
    ['alert timeline', (s) => `/api/alerts/${alerts[s][0]}/timeline`, 'alert_not_found'],
    ['device', (s) => `/api/devices/cam-${s}`, 'device_not_found'],
    ['readings', (s) => `/api/devices/cam-${s}/readings`, 'device_not_found'],
    ['history', (s) => `/api/devices/lift-${s}/history?channel=status&field=floor`, 'device_not_found'],
    ['rescue case', (s) => `/api/rescue-cases/${cases[s]}`, 'rescue_case_not_found'],
    ['cylinder', (s) => `/api/cylinders/C-${s}`, 'cylinder_not_found'],
    ['cylinder trace', (s) => `/api/cylinders/C-${s}/trace`, 'cylinder_not_found'],
  ];
  it.each(reads)('%s', async (_what, url, code) => {
    expect((await api('GET', url('here'), { token: op })).statusCode).toBe(200);
    expectError(await api('GET', url('there'), { token: op }), 404, code);
    expect((await api('GET', url('there'))).statusCode).toBe(200);
  });

  it('alert actions: 404 as for an id that does not exist, before any role check; inside the scope they work', async () => {
    const there = alerts.there[0]!;
    const unknown = await api('POST', '/api/alerts/no-such-alert/ack', { token: op, payload: {} });
    for (const [path, payload] of [['ack', {}], ['resolve', {}], ['note', { note: '看一下' }], ['false-positive', {}], ['assign', { assignee: '张三' }]] as const) {
      const r = await api('POST', `/api/alerts/${there}/${path}`, { token: op, payload });
      expectError(r, 404, 'alert_not_found');
      expect(r.data.error.message).toBe(unknown.data.error.message.replace('no-such-alert', there));
    }
    // the trapped-passenger alert of the case there: 404 to the scoped dispatcher too, not 403
    const trapped = lifts.there[0]!;
    expectError(await api('POST', `/api/alerts/${trapped}/note`, { token: disp, payload: { note: 'x' } }), 404, 'alert_not_found');
    const here = (await api('GET', '/api/alerts?family=kitchen&limit=1', { token: op })).data.items[0].id;
    expect((await api('POST', `/api/alerts/${here}/note`, { token: op, payload: { note: '已通知门店' } })).statusCode).toBe(200);
    expect((await api('GET', `/api/alerts/${there}`)).data.notes).toBe(0);
  });

  it('black-list steps: a store outside the scope is refused as one never listed', async () => {
    const step = (store: string) => api('POST', `/api/stores/${store}/list-steps`, { token: op, payload: { stage: 'notified', note: '已书面通知' } });
    const never = await step('S-unknown');
    const there = await step('S-there');
    expect([there.statusCode, there.data.error.code, there.data.error.details]).toEqual([409, 'store_list_refused', { reason: 'not_listed' }]);
    expect(there.data.error.message).toBe(never.data.error.message.replace('S-unknown', 'S-there'));
    expect((await step('S-here')).data.stage).toBe('notified');
    expect((await api('GET', '/api/stores/lists?kind=black')).data.items.find((e: { storeId: string }) => e.storeId === 'S-there').stage).toBe('flagged');
  });

  it('rescue: steps, escalations and phone reports outside the scope are unknown; inside they work', async () => {
    expectError(await api('POST', `/api/rescue-cases/${cases.there}/steps`, { token: disp, payload: { step: 'dispatched' } }), 404, 'rescue_case_not_found');
    expectError(await api('POST', `/api/rescue-cases/${cases.there}/escalations/1/ack`, { token: disp }), 404, 'rescue_case_not_found');
    expectError(await api('POST', '/api/rescue-cases', { token: disp, payload: { elevatorId: 'lift-there' } }), 404, 'device_not_found');
    expect((await api('POST', `/api/rescue-cases/${cases.here}/steps`, { token: disp, payload: { step: 'dispatched' } })).data.status).toBe('dispatched');
    expect((await api('GET', `/api/rescue-cases/${cases.there}`)).data.status).toBe('alarmed');
  });
});

describe('the live push of a scoped account', () => {
  const wsUrl = (token: string, q = '') => `${ts.httpUrl.replace('http', 'ws')}/ws?token=${token}${q}`;
  const districtOf = (m: Msg): string | null | undefined => m.type === 'alert' ? (m.alert as { device: { district: string | null } }).device.district
    : m.type === 'rescueCase' ? (m.rescueCase as { district: string | null }).district
      : m.type === 'storeFlag' ? (m.storeId === 'S-here' ? HERE : m.storeId === 'S-there' ? THERE : null) : undefined;

  it('gets only its district\'s alert, case and store events, live and on catch-up, and its district\'s numbers', async () => {
    const mine = await Client.open(wsUrl(op));
    const admin = await Client.open(wsUrl(ts.adminToken));
    const hello = await mine.next((m) => m.type === 'hello');
    expect(hello.user).toEqual({ username: 'op106', role: 'operator', district: HERE });
    type Stats = { devices: number; open: number; today: Record<string, number> };
    const myStats = (await mine.next((m) => m.type === 'stats')).stats as Stats;
    const allStats = (await admin.next((m) => m.type === 'stats')).stats as Stats;
    expect(myStats.devices).toBe(4);
    expect(allStats.devices).toBe(9);
    const open = (await api('GET', '/api/alerts?status=open,acknowledged&limit=5000', { token: op })).data.items.length;
    expect(myStats.open).toBe(open);
    expect(Object.values(myStats.today).reduce((a, b) => a + b, 0)).toBe(alerts.here.length);

    // changes in both districts, by the admin: the admin hears both, the scoped account its own
    for (const id of [alerts.there[1]!, alerts.here[1]!]) {
      expect((await api('POST', `/api/alerts/${id}/note`, { payload: { note: '巡查' } })).statusCode).toBe(200);
    }
    await admin.next((m) => m.type === 'alert' && (m.alert as { id: string }).id === alerts.there[1]);
    await admin.next((m) => m.type === 'alert' && (m.alert as { id: string }).id === alerts.here[1]);
    await mine.next((m) => m.type === 'alert' && (m.alert as { id: string }).id === alerts.here[1]);
    const events = (c: Client) => c.got.filter((m) => districtOf(m) !== undefined);
    expect(events(mine).every((m) => districtOf(m) === HERE)).toBe(true);

    // a reconnecting scoped client replays its district's events only
    const epoch = String(hello.epoch);
    const again = await Client.open(wsUrl(op, `&since=0&epoch=${epoch}`));
    await again.next((m) => m.type === 'stats');
    const replayed = events(again);
    expect(replayed.length).toBeGreaterThan(3);
    expect(replayed.every((m) => districtOf(m) === HERE)).toBe(true);
    expect(replayed.some((m) => m.type === 'rescueCase') && replayed.some((m) => m.type === 'storeFlag')).toBe(true);
    const full = await Client.open(wsUrl(ts.adminToken, `&since=0&epoch=${epoch}`));
    await full.next((m) => m.type === 'stats');
    expect(events(full).some((m) => districtOf(m) === THERE)).toBe(true);
    for (const c of [mine, admin, again, full]) c.close();
  });

  it('alert topics over MQTT carry no district: a scoped account may not subscribe to them', async () => {
    const c = await connectMqtt(ts.mqttUrl, { username: 'op106', password: 'op106-password', clientId: 'user:op106' });
    const granted = await c.subscribeAsync('alerts/#', { qos: 1 }).then((g) => g.map((x) => x.qos), (err: { packet?: { granted: number[] } }) => err.packet?.granted ?? []);
    expect(granted).toEqual([128]);
    await c.endAsync();
  });
});
