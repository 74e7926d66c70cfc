/**
 * Exports from the dashboard in headless Chromium (Debian package chromium, driven by
 * playwright-core): the 导出 CSV / 导出 XLSX buttons of the wall's alert list (with the list's
 * filters, and a district-scoped operator's scope), of the statistics and their drill-down, and
 * of the dispatcher console's case history. Each click downloads through fetch with the bearer
 * token into a Blob; the file the browser saved is read back (csv-parse; Python for XLSX) and
 * must hold what the filters name and nothing else. Skipped without chromium; REQUIRE_EXTERNAL=1
 * turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { alertHeader, caseHeader, ratesHeader } from '../../dashboard/routes/exportTables.js';
import { startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, addUsers, closeAll, openSignedIn, downloadBy } from '../helpers/browser.js';
import { python, readXlsx } from '../helpers/xlsx.js';

const FORMULA = '=HYPERLINK("http://evil.example","点我")';
const out = path.resolve('test-output');

describe.skipIf(!browserProgram.ok)(`exports from the dashboard in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  /** alert ids per device */
  const alertsOf: Record<string, string[]> = {};
  let caseId = '';

  async function open(user: string, password: string): Promise<Page> {
    return openSignedIn(browser, { contexts, pageErrors }, ts.httpUrl, user, password, { acceptDownloads: true });
  }

  const csvRows = (bytes: Buffer): string[][] => parse(bytes.toString('utf8'), { bom: true }) as string[][];
  const ids = (rows: string[][]): string[] => rows.slice(1).map((r) => r[0]!).sort();

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ ALERT_CHECKPOINT_MS: 300 });
    await addUsers(ts, [['op1', 'operator'], ['disp1', 'dispatcher']]);
    const res = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` },
      payload: { username: 'op106', password: 'op106-password', role: 'operator', district: '330106' } });
    expect(res.statusCode, res.body).toBe(201);
    for (const [id, district, name] of [['cam-here', '330106', FORMULA], ['cam-there', '330108', '滨江某餐馆']] as const) {
      const d = await ts.registerDevice({ id, family: 'kitchen', name, district, meta: { storeId: `S-${id}` } });
      const c = await ts.connectDevice(d.id, d.secret);
      for (const type of ['rat', 'smoking']) {
        await c.publishAsync(`kitchen/${id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', `v-${type}`, Date.now()), storeId: `S-${id}`, type, confidence: 0.95 }), { qos: 1 });
      }
      await c.endAsync();
    }
    await ts.registerDevice({ id: 'lift-here', family: 'elevator', name: '文三路 1 号梯', district: '330106' });
    const rc = await ts.service.http.inject({ method: 'POST', url: '/api/rescue-cases', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { elevatorId: 'lift-here' } });
    expect(rc.statusCode, rc.body).toBe(201);
    caseId = rc.json<{ id: string }>().id;
    for (let i = 0; i < 100 && Object.values(alertsOf).flat().length < 5; i++) {
      const list = await ts.service.http.inject({ url: '/api/alerts?limit=100', headers: { authorization: `Bearer ${ts.adminToken}` } });
      for (const k of Object.keys(alertsOf)) delete alertsOf[k];
      for (const a of list.json<{ items: Array<{ id: string; device: { id: string } }> }>().items) (alertsOf[a.device.id] ??= []).push(a.id);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Object.values(alertsOf).flat()).toHaveLength(5);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('the wall\'s alert list exports what its filters show: a district, as CSV and as XLSX', async () => {
    const p = await open('op1', 'op1-password');
    await p.waitForSelector('#view-wall tr.alert-row');
    // the district filter of the list: the file holds 330108's alerts, none of 330106's
    await p.fill('#view-wall .alert-list .filters input', '330108');
    await p.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#view-wall tr.alert-row')];
      return rows.length === 2 && rows.every((tr) => tr.textContent!.includes('cam-there'));
    });
    await p.screenshot({ path: path.join(out, 'exports-wall-zh.png') });
    const csv = await downloadBy(p, '#alerts-export-csv');
    expect(csv.name).toMatch(/^alerts-\d{8}-\d{4}\.csv$/);
    const rows = csvRows(csv.bytes);
    expect(rows[0]).toEqual(alertHeader);
    expect(ids(rows)).toEqual([...alertsOf['cam-there']!].sort());

    // no filter: everything active, with the formula-looking name as text in the XLSX
    await p.fill('#view-wall .alert-list .filters input', '');
    await p.waitForFunction(() => document.querySelectorAll('#view-wall tr.alert-row').length === 5);
    const xlsx = await downloadBy(p, '#alerts-export-xlsx');
    expect(xlsx.name).toMatch(/^alerts-\d{8}-\d{4}\.xlsx$/);
    if (python.ok) {
      const x = readXlsx(xlsx.bytes);
      expect(x.formula).toBe(false);
      expect(x.rows[0]).toEqual(alertHeader);
      expect(x.rows.slice(1).map((r) => r[0]).sort()).toEqual(Object.values(alertsOf).flat().sort());
      expect(x.rows.filter((r) => r[alertHeader.indexOf('deviceName')] === FORMULA)).toHaveLength(2);
    }
  });

  it('a district-scoped operator exports only the district', async () => {
    const p = await open('op106', 'op106-password');
    await p.waitForSelector('#view-wall tr.alert-row');
    const rows = csvRows((await downloadBy(p, '#alerts-export-csv')).bytes);
    expect(ids(rows)).toEqual([...alertsOf['cam-here']!, ...alertsOf['lift-here']!].sort());
  });

  it('the statistics export their tables, and the drill-down the items behind a figure', async () => {
    const p = await open('op1', 'op1-password');
    await p.click('[data-nav="stats"]');
    await p.waitForSelector('#stats-tiles');
    const rates = await downloadBy(p, '#stats-export-csv');
    expect(rates.name).toMatch(/^on-time-rates-\d{8}-\d{8}\.csv$/);
    const rows = csvRows(rates.bytes);
    expect(rows[0]).toEqual(ratesHeader);
    const total = rows.find((r) => r[0] === 'total')!;
    expect([total[ratesHeader.indexOf('alerts')], total[ratesHeader.indexOf('cases')]]).toEqual(['5', '1']);
    expect(rows.filter((r) => r[0] === 'district').map((r) => r[1])).toEqual(['330106', '330108']);

    await p.click('button.fig[data-where="district:330108"][data-measure="alerts"][data-outcome=""]');
    await p.waitForSelector('#stats-drill [data-alert-id]');
    await p.screenshot({ path: path.join(out, 'exports-stats-zh.png') });
    const items = await downloadBy(p, '#drill-export-csv');
    expect(items.name).toMatch(/^on-time-items-\d{8}-\d{8}\.csv$/);
    const listed = await p.$$eval('#stats-drill [data-alert-id]', (els) => els.map((e) => (e as HTMLElement).dataset.alertId!).sort());
    expect(ids(csvRows(items.bytes))).toEqual(listed);
    expect(listed).toEqual([...alertsOf['cam-there']!].sort());
    expect(pageErrors).toEqual([]);
  });

  it('the dispatcher console exports the case history of a period', async () => {
    const p = await open('disp1', 'disp1-password');
    await p.waitForSelector(`#case-history tr[data-case="${caseId}"]`);
    await p.screenshot({ path: path.join(out, 'exports-dispatch-zh.png') });
    const csv = await downloadBy(p, '#cases-export-csv');
    expect(csv.name).toMatch(/^rescue-cases-\d{8}-\d{4}\.csv$/);
    const rows = csvRows(csv.bytes);
    expect(rows[0]).toEqual(caseHeader);
    expect(ids(rows)).toEqual([caseId]);
    expect(rows[1]![caseHeader.indexOf('elevatorName')]).toBe('文三路 1 号梯');
    // a period before the case: an empty file, the header only
    await p.fill('#cases-from', '2024-01-01');
    await p.fill('#cases-to', '2024-01-31');
    expect(csvRows((await downloadBy(p, '#cases-export-csv')).bytes)).toEqual([caseHeader]);
    const xlsx = await downloadBy(p, '#cases-export-xlsx');
    expect(xlsx.name).toMatch(/^rescue-cases-\d{8}-\d{4}\.xlsx$/);
    if (python.ok) expect(readXlsx(xlsx.bytes).rows).toEqual([caseHeader]);
    expect(pageErrors).toEqual([]);
  });
});
