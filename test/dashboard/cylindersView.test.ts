/**
 * The cylinder view (#/cylinders) in headless Chromium (Debian package chromium, driven by
 * playwright-core): an admin imports a small registry pasted as CSV (a bad row first: every row
 * error shown, nothing imported), the code is scanned at its own station and at another one (a
 * refusal, not_owner), and its trace lists both scans in order with the refusal's reason in
 * Chinese; an operator name with markup stays text; `truncated` is said; an unknown code says
 * "not found"; an operator reads the registry and traces without the import, a dispatcher is
 * refused the view; the trace in English after the language switch. Screenshot in
 * test-output/. Skipped without chromium; REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, addUsers, closeAll, openSignedIn } from '../helpers/browser.js';

const out = path.resolve('test-output');
const CODE = 'LPG-UI-0001';
const MARKUP = '<img src=x onerror=alert(1)>';
const CSV_BAD = [
  'code,model,mfgDate,nextInspection,ownerStationId,status',
  `${CODE},YSP15,2023-05-01,2030-05-01,ST-A,in_service`,
  'LPG-UI-0002,YSP15,2021-02-29,2030-05-01,ST-A,in_service',
].join('\n');
const CSV_GOOD = CSV_BAD.replace('2021-02-29', '2021-02-28');

describe.skipIf(!browserProgram.ok)(`cylinder view in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const clients: MqttClient[] = [];
  const pageErrors: string[] = [];
  /** alert(), confirm(), prompt() the page opened: a payload that ran would open one */
  const jsDialogs: string[] = [];
  let n = 0;

  async function open(user: string, password: string, view: string): Promise<Page> {
    return openSignedIn(browser, { contexts, pageErrors, jsDialogs }, `${ts.httpUrl}/#/${view}`, user, password);
  }

  async function scanner(id: string, stationId: string): Promise<MqttClient> {
    const d = await ts.registerDevice({ id, family: 'cylinder', district: '330106', meta: { stationId } });
    const c = await ts.connectDevice(d.id, d.secret);
    clients.push(c);
    return c;
  }

  /** One scan, stored (PUBACK) before it returns. */
  async function scan(c: MqttClient, device: string, stationId: string, operatorId: string): Promise<void> {
    await c.publishAsync(`cylinder/${device}/scan`, JSON.stringify({ msgId: `ui-${++n}`, ts: Date.now(), cylinderCode: CODE, stationId, point: 'pre_fill', operatorId }), { qos: 1 });
  }

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ ALERT_CHECKPOINT_MS: 200 });
    await addUsers(ts, [['op1', 'operator'], ['disp1', 'dispatcher']]);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.endAsync().catch(() => {});
    await closeAll(contexts, browser, ts);
  });

  it('imports a registry (row errors first), traces a code scanned at two stations, refusal reason in Chinese, markup as text', async () => {
    const a = await scanner('cyl-ui-a', 'ST-A');
    const b = await scanner('cyl-ui-b', 'ST-B');
    const p = await open('admin', ADMIN_PASSWORD, 'cylinders');
    await p.waitForSelector('#view-cylinders #cyl-import');
    const nav = await p.$$eval('header nav a', (els) => els.map((e) => (e as HTMLElement).dataset.nav));
    expect(nav).toEqual(expect.arrayContaining(['cylinders', 'stores']));
    expect(await p.textContent('header nav a[data-nav="cylinders"]')).toBe('气瓶档案');

    // a bad row: every problem listed by row and field, nothing imported
    await p.fill('#cyl-import-text', CSV_BAD);
    await p.click('#cyl-import-go');
    await p.waitForSelector('#cyl-import-rows tr[data-row="2"]', { timeout: 10_000 });
    expect(await p.textContent('#cyl-import-msg')).toContain('未导入任何记录');
    expect(await p.textContent('#cyl-import-rows tr[data-row="2"]')).toContain('mfgDate');
    expect((await ts.service.http.inject({ url: '/api/cylinders', headers: { authorization: `Bearer ${ts.adminToken}` } })).json()).toMatchObject({ total: 0 });

    // fixed: imported, and the registry lists it
    await p.fill('#cyl-import-text', CSV_GOOD);
    await p.click('#cyl-import-go');
    await p.waitForSelector('#cyl-import-msg[data-code="done"]', { timeout: 10_000 });
    expect(await p.textContent('#cyl-import-msg')).toBe('已导入：新增 2 个，更新 0 个，跳过 0 个');
    expect(await p.$$('#cyl-import-rows')).toHaveLength(0);
    await p.waitForSelector(`#cyl-table tr[data-code="${CODE}"]`, { timeout: 10_000 });
    expect(await p.textContent('#cyl-page')).toContain('共 2 个');
    expect(await p.textContent(`#cyl-table tr[data-code="${CODE}"]`)).toContain('在用');

    // scanned at its own station, then at another one by an operator whose id is markup
    await scan(a, 'cyl-ui-a', 'ST-A', 'OP-1');
    // the trace orders by device time: the second scan a few ms later, never in the same ms
    await new Promise((r) => setTimeout(r, 5));
    await scan(b, 'cyl-ui-b', 'ST-B', MARKUP);

    await p.click(`#cyl-table tr[data-code="${CODE}"]`);
    await p.waitForSelector('#cyl-scans tbody tr:nth-child(2)', { timeout: 10_000 });
    expect(p.url()).toContain(`#/cylinders/${CODE}`);
    const rows = await p.$$eval('#cyl-scans tbody tr', (trs) => trs.map((tr) => ({
      decision: (tr as HTMLElement).dataset.decision,
      station: tr.querySelector('[data-col="station"]')!.textContent,
      point: tr.querySelector('[data-col="point"]')!.textContent,
      operator: tr.querySelector('[data-col="operator"]')!.textContent,
      device: tr.querySelector('[data-col="device"]')!.textContent,
      reasons: tr.querySelector('[data-col="reasons"]')!.textContent,
    })));
    expect(rows).toEqual([
      { decision: 'allow', station: 'ST-A', point: '充装前检查', operator: 'OP-1', device: 'cyl-ui-a', reasons: '-' },
      { decision: 'refuse', station: 'ST-B', point: '充装前检查', operator: MARKUP, device: 'cyl-ui-b', reasons: '非本站气瓶' },
    ]);
    expect(await p.textContent('#cyl-scans tbody tr:nth-child(2) .tag')).toBe('拒绝');
    expect(await p.textContent('#cyl-scans tbody tr:nth-child(2) [data-col="alerts"]')).toBe('气瓶拒充');
    expect(await p.$$eval('#cyl-stations li', (els) => els.map((e) => e.textContent))).toEqual(['ST-A', 'ST-B']);
    expect(await p.textContent('#cyl-record')).toContain('ST-A');
    expect(await p.$$('#cyl-truncated')).toHaveLength(0);
    // the markup stayed text: no element was made of it, no script ran
    expect(await p.$$('#view-cylinders img')).toHaveLength(0);
    await p.screenshot({ path: path.join(out, 'cylinders-trace-zh.png'), fullPage: true });

    // a code neither registered nor scanned: "not found", in words
    await p.fill('#cyl-code', 'NO-SUCH-CODE');
    await p.click('#cyl-search-go');
    await p.waitForSelector('#cyl-not-found', { timeout: 10_000 });
    expect(await p.textContent('#cyl-not-found')).toBe('未找到气瓶 NO-SUCH-CODE：既未登记，也从未被扫码');

    // the API says older scans exist: the page says so
    await p.route('**/api/cylinders/*/trace', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, json: { ...(await res.json() as object), truncated: true } });
    });
    await p.fill('#cyl-code', CODE);
    await p.click('#cyl-search-go');
    await p.waitForSelector('#cyl-truncated', { timeout: 10_000 });
    expect(await p.textContent('#cyl-truncated')).toBe('仅显示最近的 2 次扫码，更早的扫码记录未显示');
    await p.unroute('**/api/cylinders/*/trace');

    // English after the switch: the address opens the same trace again
    await p.click('#lang');
    await p.waitForSelector('#cyl-scans tbody tr:nth-child(2)', { timeout: 10_000 });
    expect(await p.textContent('#cyl-scans tbody tr:nth-child(2) [data-col="reasons"]')).toBe('not this station\'s');
    expect(await p.textContent('#cyl-scans tbody tr:nth-child(2) [data-col="point"]')).toBe('pre-fill check');
    await p.click('#lang');
    expect(jsDialogs).toEqual([]);
  });

  it('an operator reads the registry and traces without the import; a dispatcher is refused the view', async () => {
    const op = await open('op1', 'op1-password', `cylinders/${CODE}`);
    await op.waitForSelector('#cyl-scans tbody tr:nth-child(2)', { timeout: 10_000 });
    await op.waitForSelector(`#cyl-table tr[data-code="${CODE}"]`, { timeout: 10_000 });
    expect(await op.$$('#cyl-import')).toHaveLength(0);
    // the registry's filters: status and code
    await op.selectOption('#cyl-status', 'lost');
    await op.waitForSelector('#cyl-table tr[data-code]', { state: 'detached', timeout: 10_000 });
    await op.selectOption('#cyl-status', '');
    await op.fill('#cyl-q', '0002');
    await op.waitForFunction(() => [...document.querySelectorAll('#cyl-table tr[data-code]')].map((e) => (e as HTMLElement).dataset.code).join() === 'LPG-UI-0002', null, { timeout: 10_000 });

    const disp = await open('disp1', 'disp1-password', 'cylinders');
    await disp.waitForSelector('#view-unknown [data-reason="forbidden"]');
    expect(await disp.$$('header nav a[data-nav="cylinders"]')).toHaveLength(0);
    expect(pageErrors).toEqual([]);
    expect(jsDialogs).toEqual([]);
  });
});
