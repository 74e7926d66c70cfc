/**
 * The exports (docs/api.md, Table exports) on a real service, with fastify inject: alerts
 * (GET /api/alerts/export), rescue cases (GET /api/rescue-cases/export), the on-time rates and
 * the items behind a figure (`format=` on /api/stats/on-time and /items). Each file's type and
 * name, read back by readers we did not write (csv-parse; Python for XLSX), the same rows as the
 * JSON of the read route with the same filters and none other, district scope, role
 * permissions, text that looks like a formula kept as text, and the row bound.
 */
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../core/alerts/alert.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { EXPORT_MAX_ROWS, alertHeader, caseHeader, outcomeHeader, ratesHeader } from '../../../dashboard/routes/exportTables.js';
import { XLSX_TYPE } from '../../../dashboard/routes/tableOut.js';
import { apiFor, expectError, routeService, until } from '../../helpers/api.js';
import { insertBulkAlerts } from '../../helpers/bulkAlerts.js';
import type { TestService } from '../../helpers/service.js';
import { python, readXlsx } from '../../helpers/xlsx.js';

let ts: TestService;
let dispToken: string;
const api = apiFor(() => ts);
routeService({ ALERT_CHECKPOINT_MS: 200, DUCKDB_WORKER: 'false' }, (s) => ({ ts, dispToken } = s));

const HERE = '330106';
const THERE = '330108';
const FORMULA = '=HYPERLINK("http://evil.example","点我")';
/** tokens of an operator and a dispatcher scoped to 330106 */
let op106: string;
let disp106: string;
const caseIds: Record<'here' | 'there', string> = { here: '', there: '' };

/** A file route's answer, the body raw (XLSX is bytes). */
async function file(url: string, token: string | null = ts.adminToken) {
  return ts.service.http.inject({ url, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The rows of a CSV answer, as a spreadsheet would split them (BOM dropped). */
const csvRows = (body: string): string[][] => parse(body, { bom: true }) as string[][];

/** The first column (ids) of a CSV export, header dropped. */
const idsOf = async (url: string, token?: string) => {
  const res = await file(url, token);
  expect(res.statusCode, res.body).toBe(200);
  return csvRows(res.body).slice(1).map((r) => r[0]!).sort();
};

const jsonAlertIds = async (query: string, token = ts.adminToken) =>
  (await api<{ items: Alert[] }>('GET', `/api/alerts?limit=5000&${query}`, { token })).data.items.map((a) => a.id).sort();

beforeAll(async () => {
  for (const [username, role] of [['op106', 'operator'], ['disp106', 'dispatcher']] as const) {
    expect((await api('POST', '/api/users', { payload: { username, password: `${username}-password`, role, district: HERE } })).statusCode).toBe(201);
  }
  op106 = await ts.token('op106', 'op106-password');
  disp106 = await ts.token('disp106', 'disp106-password');
  for (const [side, district] of [['here', HERE], ['there', THERE]] as const) {
    // a name a spreadsheet would run as a formula: the alert keeps it as its device's name
    const cam = await ts.registerDevice({ id: `ex-cam-${side}`, family: 'kitchen', name: side === 'here' ? FORMULA : '滨江某餐馆', district, meta: { storeId: `S-${side}` } });
    await ts.registerDevice({ id: `ex-lift-${side}`, family: 'elevator', name: `${side} 1 号梯`, district });
    const c = await ts.connectDevice(cam.id, cam.secret);
    for (const type of ['rat', 'smoking']) {
      await c.publishAsync(`kitchen/${cam.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', `ex-${type}`, Date.now()), storeId: `S-${side}`, type, confidence: 0.95 }), { qos: 1 });
    }
    await c.endAsync();
    const rc = await api('POST', '/api/rescue-cases', { payload: { elevatorId: `ex-lift-${side}`, floor: '3' } });
    expect(rc.statusCode, rc.body).toBe(201);
    caseIds[side] = rc.data.id;
  }
  // the case here dispatched, the unit's name formula-looking text
  const step = await api('POST', `/api/rescue-cases/${caseIds.here}/steps`, { payload: { step: 'dispatched', details: { unit: '@SUM(1) 维保', technician: '张师傅' } } });
  expect(step.statusCode, step.body).toBe(200);
  await until(async () => (await jsonAlertIds('family=kitchen')).length === 4);
});

describe('each export: content type, file name, a file that reads back with the route\'s header', () => {
  const stamp = String.raw`\d{8}-\d{4}`;
  const days = String.raw`\d{8}-\d{8}`;
  it.each([
    ['alerts', '/api/alerts/export?', `alerts-${stamp}`, alertHeader],
    ['rescue cases', '/api/rescue-cases/export?', `rescue-cases-${stamp}`, caseHeader],
    ['on-time rates', '/api/stats/on-time?', `on-time-rates-${days}`, ratesHeader],
    ['on-time items (alerts)', '/api/stats/on-time/items?measure=alerts&', `on-time-items-${days}`, outcomeHeader],
    ['on-time items (cases)', '/api/stats/on-time/items?measure=cases&', `on-time-items-${days}`, caseHeader],
  ])('%s', async (_name, url, name, header) => {
    const csv = await file(`${url}format=csv`);
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="${name}\\.csv"$`));
    const rows = csvRows(csv.body);
    expect(rows[0]).toEqual(header);
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.every((r) => r.length === header.length)).toBe(true);

    const xlsx = await file(`${url}format=xlsx`);
    expect(xlsx.statusCode).toBe(200);
    expect(xlsx.headers['content-type']).toBe(XLSX_TYPE);
    expect(xlsx.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="${name}\\.xlsx"$`));
    if (python.ok) {
      const x = readXlsx(xlsx.rawPayload);
      expect(x.badEntry).toBeNull();
      expect(x.formula).toBe(false);
      expect(x.rows[0]).toEqual(header);
      // the same table as the CSV (numbers as numbers, an empty cell as none)
      expect(x.rows.length).toBe(rows.length);
    }
  });

  it('alerts export is the default CSV; an unknown format or filter value is 400', async () => {
    expect((await file('/api/alerts/export')).headers['content-type']).toBe('text/csv; charset=utf-8');
    expectError(await api('GET', '/api/alerts/export?format=pdf'), 400, 'validation');
    expectError(await api('GET', '/api/alerts/export?severity=urgent'), 400, 'validation');
    expectError(await api('GET', '/api/rescue-cases/export?from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z'), 400, 'validation');
  });
});

describe('filters apply: exactly the alerts GET /api/alerts lists with the same filters', () => {
  it.each([
    ['a family and a district', `family=kitchen&district=${THERE}`],
    ['a severity', 'severity=critical'],
    ['two statuses', 'status=open,acknowledged&family=kitchen'],
    ['a device', 'deviceId=ex-cam-here'],
    ['a rule', 'rule=elevator.trapped'],
    ['a time nobody reached yet', `since=${Date.now() + 86_400_000}`],
  ])('%s', async (_name, query) => {
    const all = await idsOf('/api/alerts/export');
    const got = await idsOf(`/api/alerts/export?${query}`);
    expect(got).toEqual(await jsonAlertIds(query));
    // and the filter left something out: what must not be in the file is not
    expect(all.filter((id) => !got.includes(id)).length).toBeGreaterThan(0);
  });

  it('the file names the device as the alert opened with it, times as ISO text', async () => {
    const res = await file('/api/alerts/export?deviceId=ex-cam-here&severity=critical');
    const [header, row] = csvRows(res.body);
    const cell = (k: string) => row![header!.indexOf(k)]!;
    expect(cell('deviceId')).toBe('ex-cam-here');
    expect(cell('district')).toBe(HERE);
    expect(cell('severity')).toBe('critical');
    expect(cell('firstSeen')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(cell('acknowledgedAt')).toBe('');
  });
});

describe('formula-looking text stays text', () => {
  it.each([
    ['an alert\'s device name', '/api/alerts/export?deviceId=ex-cam-here', 'deviceName', FORMULA],
    ['a rescue case\'s unit', `/api/rescue-cases/export?elevatorId=ex-lift-here`, 'maintenanceUnit', '@SUM(1) 维保'],
  ])('%s: CSV prefixes a quote, XLSX keeps the text as typed with no formula', async (_name, url, column, text) => {
    const [header, row] = csvRows((await file(`${url}&format=csv`)).body);
    expect(row![header!.indexOf(column)]).toBe(`'${text}`);
    if (python.ok) {
      const x = readXlsx((await file(`${url}&format=xlsx`)).rawPayload);
      expect(x.rows[1]![x.rows[0]!.indexOf(column)]).toBe(text);
      expect(x.formula).toBe(false);
    }
  });
});

describe('rescue cases: step times, minutes, deadlines met', () => {
  it('the dispatched case has its dispatch on time, its arrival pending; scope=active and a period filter', async () => {
    const res = await file('/api/rescue-cases/export?elevatorId=ex-lift-here');
    const [header, row, more] = csvRows(res.body);
    expect(more).toBeUndefined();
    const cell = (k: string) => row![header!.indexOf(k)]!;
    expect([cell('id'), cell('source'), cell('status'), cell('dispatchOutcome'), cell('arrivalOutcome'), cell('technician'), cell('elevatorName')])
      .toEqual([caseIds.here, 'phone', 'dispatched', 'onTime', 'pending', '张师傅', 'here 1 号梯']);
    expect(Number(cell('minutesToDispatch'))).toBeLessThan(5);
    expect(cell('arrivedAt')).toBe('');
    expect(Date.parse(cell('arrivalBy')) - Date.parse(cell('alarmAt'))).toBe(30 * 60_000);
    expect(await idsOf('/api/rescue-cases/export?scope=active')).toEqual([caseIds.here, caseIds.there].sort());
    expect(await idsOf(`/api/rescue-cases/export?to=${Date.now() - 3_600_000}`)).toEqual([]);
    expect(await idsOf(`/api/rescue-cases/export?from=${Date.now() - 3_600_000}`)).toEqual([caseIds.here, caseIds.there].sort());
  });
});

describe('district scope and roles: as the read routes', () => {
  it.each([
    ['alerts, no filter', '/api/alerts/export', () => op106, async () => jsonAlertIds(`district=${HERE}`)],
    ['alerts, another district asked', `/api/alerts/export?district=${THERE}`, () => op106, async () => []],
    ['rescue cases (dispatcher)', '/api/rescue-cases/export', () => disp106, async () => [caseIds.here]],
    ['rescue cases, active', '/api/rescue-cases/export?scope=active', () => disp106, async () => [caseIds.here]],
    ['items behind the total', '/api/stats/on-time/items?measure=alerts', () => op106, async () => jsonAlertIds(`district=${HERE}`)],
    ['items under another district', `/api/stats/on-time/items?measure=alerts&districtPrefix=${THERE}`, () => op106, async () => []],
  ])('%s: the scoped account\'s district only', async (_name, url, token, expected) => {
    const got = await idsOf(`${url}${url.includes('?') ? '&' : '?'}format=csv`, token());
    expect(got).toEqual(await expected());
    expect(got.length === 0 || (await jsonAlertIds(`district=${THERE}`)).every((id) => !got.includes(id))).toBe(true);
  });

  it('the rates file is counted over the scope: one district row, the scope\'s', async () => {
    const rows = csvRows((await file('/api/stats/on-time?format=csv', op106)).body);
    expect(rows.filter((r) => r[0] === 'district').map((r) => r[1])).toEqual([HERE]);
    // the same figures as the JSON the statistics view shows
    const json = (await api('GET', '/api/stats/on-time', { token: op106 })).data;
    const total = rows.find((r) => r[0] === 'total')!;
    expect(Number(total[ratesHeader.indexOf('alerts')])).toBe(json.total.alerts);
    expect(Number(total[ratesHeader.indexOf('cases')])).toBe(json.total.rescue.cases);
    expect(rows.filter((r) => r[0] === 'day').map((r) => r[1])).toEqual(json.byDay.map((d: { day: string }) => d.day));
  });

  it('the items of a figure under a district prefix: both districts\' with 3301, one with its code', async () => {
    const both = await idsOf('/api/stats/on-time/items?measure=alerts&districtPrefix=3301&format=csv');
    expect(both).toEqual(await jsonAlertIds('district=3301'));
    expect(await idsOf(`/api/stats/on-time/items?measure=alerts&district=${THERE}&format=csv`)).toEqual(await jsonAlertIds(`district=${THERE}`));
  });

  it.each([
    ['/api/stats/on-time?format=csv', 403],
    ['/api/stats/on-time/items?measure=alerts&format=xlsx', 403],
    ['/api/alerts/export', 200],
    ['/api/rescue-cases/export', 200],
  ])('dispatcher: %s -> %i; without a token: 401', async (url, status) => {
    expect((await file(url, dispToken)).statusCode).toBe(status);
    expect((await file(url, null)).statusCode).toBe(401);
  });
});

describe('the row bound', () => {
  it(`${EXPORT_MAX_ROWS} rows export; one more is 400 export_too_large, the drill-down's file too`, async () => {
    // closed alerts in a district of their own (made by DuckDB in one statement)
    const T0 = Date.now() - 2 * 86_400_000;
    await insertBulkAlerts(ts, EXPORT_MAX_ROWS + 1, T0, '339900');
    expect((await ts.service.store.alerts.get('bulk-000007'))).toMatchObject({ id: 'bulk-000007', firstSeen: T0 + 7, lastSeen: T0 + 7, updatedAt: T0 + 7 });

    const res = await api('GET', '/api/alerts/export?district=339900');
    expectError(res, 400, 'export_too_large');
    expect(res.data.error.details).toEqual({ maxRows: EXPORT_MAX_ROWS });
    expectError(await api('GET', '/api/stats/on-time/items?measure=alerts&districtPrefix=339900&format=xlsx'), 400, 'export_too_large');
    // narrowed to the bound: every row, one file
    const ok = await file(`/api/alerts/export?district=339900&until=${T0 + EXPORT_MAX_ROWS}`);
    expect(ok.statusCode).toBe(200);
    const rows = csvRows(ok.body);
    expect(rows).toHaveLength(EXPORT_MAX_ROWS + 1);
    expect(rows[1]![0]).toBe(`bulk-${String(EXPORT_MAX_ROWS - 1).padStart(6, '0')}`);
    expect(new Set(rows.map((r) => r[0])).size).toBe(EXPORT_MAX_ROWS + 1);
  }, 60_000);
});
