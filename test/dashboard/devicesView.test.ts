/**
 * The device view in headless Chromium (Debian package chromium, driven by playwright-core):
 * 120 devices in two districts paged 50 at a time with the total, the district filter (and a
 * district-scoped operator's scope), connected now and last seen from the connection state,
 * and one elevator's detail: its open alert, its running 96333 case, and the history chart over
 * a preset and a custom from/to in China time. Screenshots in test-output/. Skipped without
 * chromium; REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, addUsers, closeAll, openSignedIn } from '../helpers/browser.js';

const out = path.resolve('test-output');
/** a datetime-local value in China Standard Time, to the second */
const cst = (ms: number): string => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19);
const HOUR = 3_600_000;

describe.skipIf(!browserProgram.ok)(`device view in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  let lift: MqttClient | undefined;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let caseId = '';

  async function open(user: string, password: string): Promise<Page> {
    const page = await openSignedIn(browser, { contexts, pageErrors }, ts.httpUrl, user, password);
    await page.click('[data-nav="devices"]');
    await page.waitForSelector('#device-list tbody tr[data-device]');
    return page;
  }

  const text = async (p: Page, sel: string) => (await p.textContent(sel))?.trim() ?? '';
  const rowIds = (p: Page) => p.$$eval('#device-list tbody tr[data-device]', (els) => els.map((e) => (e as HTMLElement).dataset.device!));

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ ALERT_CHECKPOINT_MS: 300 });
    await addUsers(ts, [['op1', 'operator']]);
    const res = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` },
      payload: { username: 'op106', password: 'op106-password', role: 'operator', district: '330106' } });
    expect(res.statusCode, res.body).toBe(201);
    // 70 in 330106, 50 in 330108 (the elevator among them); one import, as a bureau would
    const rows = Array.from({ length: 119 }, (_, i) => ({
      id: `dv-${String(i).padStart(3, '0')}`, family: 'kitchen', name: `门店 ${i}`, district: i < 70 ? '330106' : '330108', meta: { storeId: `S-${i}` },
    }));
    const job = await ts.importDevices([...rows, { id: 'dv-lift', family: 'elevator', name: '江南大道 1 号梯', district: '330108' }]);
    expect(job.status, JSON.stringify(job.error)).toBe('done');
    const secret = job.result!.created.find((c) => c.id === 'dv-lift')!.secret!;
    // the elevator connects and reports its status over the last hours: connected now, last seen, a history
    lift = await ts.connectDevice('dv-lift', secret);
    for (let i = 0; i < 6; i++) {
      const body = { ...examplePayload('elevator', 'status', `st-${i}`, Date.now() - (6 - i) * 20 * 60_000), floor: i + 1 };
      await lift.publishAsync('elevator/dv-lift/status', JSON.stringify(body), { qos: 1 });
    }
    const rc = await ts.service.http.inject({ method: 'POST', url: '/api/rescue-cases', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { elevatorId: 'dv-lift' } });
    expect(rc.statusCode, rc.body).toBe(201);
    caseId = rc.json<{ id: string }>().id;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await lift?.endAsync();
    await closeAll(contexts, browser, ts);
  });

  it('pages 50 at a time with the total; the district filter narrows the list, the pages and connected now', async () => {
    const p = await open('op1', 'op1-password');
    expect(await text(p, '#devices-total')).toBe('共 120 台');
    expect(await text(p, '#devices-online')).toBe('当前在线 1 / 120 台');
    expect(await text(p, '#devices-page')).toBe('第 1 / 3 页');
    expect(await rowIds(p)).toHaveLength(50);
    expect(await p.isDisabled('#devices-prev')).toBe(true);
    const first = await rowIds(p);
    await p.click('#devices-next');
    await p.waitForFunction(() => document.querySelector('#devices-page')!.textContent === '第 2 / 3 页');
    const second = await rowIds(p);
    expect(second).toHaveLength(50);
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    await p.click('#devices-next');
    await p.waitForFunction(() => document.querySelector('#devices-page')!.textContent === '第 3 / 3 页');
    expect(await rowIds(p)).toHaveLength(20);
    expect(await p.isDisabled('#devices-next')).toBe(true);

    await p.fill('#device-district', '330108');
    await p.waitForFunction(() => document.querySelector('#devices-total')!.textContent === '共 50 台');
    expect(await text(p, '#devices-page')).toBe('第 1 / 1 页');
    expect(await text(p, '#devices-online')).toBe('当前在线 1 / 50 台');
    // the district column names the place; its code is the cell's title
    const districts = await p.$$eval('#device-list tbody tr[data-device] td:nth-child(4)', (els) => [...new Set(els.map((e) => e.getAttribute('title')))]);
    expect(districts).toEqual(['330108']);
    await p.screenshot({ path: path.join(out, 'devices-list-zh.png') });
  });

  it('shows connected now and last seen from the connection state', async () => {
    const p = await open('op1', 'op1-password');
    await p.fill('#device-search', 'dv-lift');
    await p.waitForFunction(() => document.querySelector('#devices-total')!.textContent === '共 1 台');
    const lastSeen = await p.getAttribute('tr[data-device="dv-lift"] td.last-seen', 'data-last-seen');
    expect(Date.now() - Date.parse(lastSeen!)).toBeLessThan(5 * 60_000);
    expect(await text(p, 'tr[data-device="dv-lift"] td.last-seen')).toMatch(/\d{2}:\d{2}:\d{2}/);
    expect(await p.getAttribute('tr[data-device="dv-lift"] [data-connected]', 'data-connected')).toBe('true');
    // searching hides connected now: the coverage counts families and districts, not names
    expect(await text(p, '#devices-online')).toBe('');
    await p.fill('#device-search', 'dv-000');
    await p.waitForFunction(() => document.querySelector('#devices-total')!.textContent === '共 1 台' && !!document.querySelector('tr[data-device="dv-000"]'));
    expect(await text(p, 'tr[data-device="dv-000"] td.last-seen')).toBe('从未连接');
    expect(await p.getAttribute('tr[data-device="dv-000"] [data-connected]', 'data-connected')).toBe('false');
  });

  it('a device\'s detail: its open alert, its running case, the history chart over a preset and a custom range', async () => {
    const p = await open('op1', 'op1-password');
    await p.fill('#device-search', 'dv-lift');
    await p.waitForSelector('tr[data-device="dv-lift"]');
    await p.waitForFunction(() => document.querySelectorAll('#device-list tbody tr[data-device]').length === 1);
    await p.click('tr[data-device="dv-lift"]');
    await p.waitForSelector('#device-alerts [data-alert-id]');
    expect(await text(p, '#device-connected')).toBe('在线');
    expect(await text(p, '#device-alerts')).toContain('电梯困人');
    expect(await p.getAttribute('#device-case [data-case-id]', 'data-case-id')).toBe(caseId);

    // the status channel's floor over the last 24 h: the six readings
    await p.selectOption('#history-controls select >> nth=0', 'status');
    await p.waitForFunction(() => Number(document.querySelector('#history-chart')!.getAttribute('data-points')) > 0);
    const points = Number(await p.getAttribute('#history-chart', 'data-points'));
    expect(points).toBeGreaterThanOrEqual(1);
    expect(points).toBeLessThanOrEqual(6);
    // a custom range: the hour before the readings holds none; the last 90 minutes holds the last four or five
    const now = Date.now();
    await p.fill('#history-from', cst(now - 4 * HOUR));
    await p.fill('#history-to', cst(now - 3 * HOUR));
    await p.click('#history-apply');
    await p.waitForFunction(() => document.querySelector('#history-chart')!.getAttribute('data-points') === '0');
    // the inputs read as China time, to the second
    const asCst = (ms: number) => Date.parse(`${cst(ms)}+08:00`);
    expect(await p.getAttribute('#history-chart', 'data-range')).toBe(`${asCst(now - 4 * HOUR)}-${asCst(now - 3 * HOUR)}`);
    // the end before the start is refused in the page, nothing asked
    await p.fill('#history-from', cst(now - HOUR));
    await p.fill('#history-to', cst(now - 2 * HOUR));
    await p.click('#history-apply');
    expect(await text(p, '#history-range-error')).toBe('开始时间须早于结束时间');
    await p.selectOption('#history-controls select >> nth=2', '24h');
    await p.waitForFunction((n) => document.querySelector('#history-chart')!.getAttribute('data-points') === String(n), points);
    expect(await text(p, '#history-range-error')).toBe('');
    await p.screenshot({ path: path.join(out, 'devices-detail-zh.png') });

    // the alert opens its drawer
    await p.click('#device-alerts [data-alert-id]');
    await p.waitForSelector('#alert-detail');
    expect(pageErrors).toEqual([]);
  });

  it('a district-scoped operator sees only the district\'s devices', async () => {
    const p = await open('op106', 'op106-password');
    expect(await text(p, '#devices-total')).toBe('共 70 台');
    expect(await text(p, '#devices-online')).toBe('当前在线 0 / 70 台');
    await p.fill('#device-district', '330108');
    await p.waitForFunction(() => document.querySelector('#devices-total')!.textContent === '共 0 台');
    expect(await text(p, '#device-list tbody')).toBe('没有符合条件的设备');
    expect(pageErrors).toEqual([]);
  });
});
