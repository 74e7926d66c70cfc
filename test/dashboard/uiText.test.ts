/**
 * The Chinese UI in a real browser (Debian's chromium driven by playwright-core): the alert
 * drawer shows the alert, its evidence and the refusal of an action in Chinese, built from codes
 * (dashboard/ui/js/fieldText.js, errorText.js), with the timeline above the device's readings
 * and no heartbeat among them; a note the system wrote (an auto-resolve's reason) in Chinese
 * from its code (dashboard/ui/js/systemNote.js); Esc closes the drawer; toasts stack instead of overlapping, an
 * `ok` one in its own colour; on a phone the header fits the screen. Skipped locally when
 * chromium is missing (Debian package chromium); CI (REQUIRE_EXTERNAL=1) fails instead.
 */
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, signIn } from '../helpers/browser.js';

describe.skipIf(!browserProgram.ok)(`the Chinese UI in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  let cam: MqttClient;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function open(viewport = { width: 1600, height: 900 }, user = 'op1'): Promise<Page> {
    const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, ts.httpUrl, user, `${user}-password`);
    return page;
  }

  beforeAll(async () => {
    ts = await startService({ ALERT_TICK_MS: 200 });
    await addUsers(ts, [['op1', 'operator'], ['disp1', 'dispatcher']]);
    const d = await ts.registerDevice({ id: 'cam-text-1', family: 'kitchen', name: '后厨一号', district: '330106', meta: { storeId: 'S-TXT', storeName: '好味道' } });
    cam = await ts.connectDevice(d.id, d.secret);
    for (let i = 0; i < 5; i++) await cam.publishAsync(`kitchen/${d.id}/heartbeat`, JSON.stringify(examplePayload('kitchen', 'heartbeat', `hb-${i}`, Date.now())), { qos: 1 });
    await cam.publishAsync(`kitchen/${d.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'v-smoke', Date.now()), storeId: 'S-TXT', type: 'smoking', confidence: 0.8765 }), { qos: 1 });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await cam?.endAsync().catch(() => {});
    await closeAll(contexts, browser, ts);
  });

  it('the drawer speaks Chinese from codes; Esc closes it', async () => {
    const p = await open();
    const row = '#view-wall tr.alert-row';
    await p.waitForSelector(row, { timeout: 15_000 });
    await p.click(row);
    await p.waitForSelector('#alert-detail #detail-summary');
    const summary = await p.textContent('#detail-summary');
    expect(summary).toContain('抽烟');
    expect(summary).toContain('置信度 0.877');
    expect(summary).not.toMatch(/Kitchen violation|confidence/);
    // evidence keys by name, the number by locale
    const evidence = await p.textContent('#alert-detail table');
    expect(evidence).toContain('置信度: 0.877');
    expect(evidence).not.toContain('confidence:');
    // a class-2 detection: no plain acknowledge, the store's answer instead
    expect(await p.$('#alert-detail [data-action="ack"]')).toBeNull();
    expect(await p.textContent('#alert-detail [data-action="store-answer"]')).toBe('记录商户答复');
    // the timeline comes before the readings, and the readings leave heartbeats out
    await p.waitForFunction(() => [...document.querySelectorAll('#alert-detail h3')].some((h) => h.textContent === '最近数据' && h.nextElementSibling?.tagName === 'TABLE'), undefined, { timeout: 10_000 });
    const order = await p.$$eval('#alert-detail h3', (hs) => hs.map((h) => h.textContent));
    expect(order.indexOf('处置记录')).toBeGreaterThan(-1);
    expect(order.indexOf('处置记录')).toBeLessThan(order.indexOf('最近数据'));
    expect(await p.$eval('#alert-detail', (el) => el.textContent ?? '')).not.toMatch(/\bheartbeat\b/);
    // a refused action says why in Chinese (alert_conflict + its reason), never the service's English
    // (a string: the page's own modules, imported in the page, not by the test's bundler)
    await p.evaluate(`Promise.all([import('/js/api.js'), import('/js/dom.js')]).then(async ([{ post }, { toast }]) => {
      const id = document.querySelector('#view-wall tr.alert-row').getAttribute('data-id');
      try { await post('/api/alerts/' + id + '/recheck', { passed: true, note: 'x' }); } catch (err) { toast(err.message); }
    })`);
    const refused = await p.textContent('#toasts .toast-error');
    expect(refused).toContain('告警当前状态不允许此操作');
    expect(refused).not.toMatch(/answer|store/i);
    await p.keyboard.press('Escape');
    await p.waitForSelector('#alert-detail', { state: 'detached', timeout: 5000 });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('an auto-resolved alert\'s reason is shown in Chinese from its code, not as the service\'s English', async () => {
    const d = await ts.registerDevice({ id: 'elev-text-1', family: 'elevator', name: '文三路 1 号梯', district: '330106', meta: {} });
    const elev = await ts.connectDevice(d.id, d.secret);
    try {
      await elev.publishAsync(`elevator/${d.id}/fault`, JSON.stringify({ ...examplePayload('elevator', 'fault', 'f-2', Date.now()), code: 2 }), { qos: 1 });
      await elev.publishAsync(`elevator/${d.id}/fault`, JSON.stringify({ ...examplePayload('elevator', 'fault', 'f-40', Date.now()), code: 40 }), { qos: 1 });
    } finally {
      await elev.endAsync().catch(() => {});
    }
    let alert: { id: string; status: string } | undefined;
    for (let i = 0; i < 100 && alert?.status !== 'resolved'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      const res = await ts.service.http.inject({ method: 'GET', url: `/api/alerts?deviceId=${d.id}&status=resolved`, headers: { authorization: `Bearer ${ts.adminToken}` } });
      alert = (res.json() as { items: Array<{ id: string; status: string }> }).items[0];
    }
    expect(alert?.status).toBe('resolved');
    const detail = await ts.service.http.inject({ method: 'GET', url: `/api/alerts/${alert!.id}`, headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect(detail.json().timeline.at(-1)).toMatchObject({ action: 'auto_resolved', code: 'fault.back_to_normal', params: { event: 40 }, note: expect.stringMatching(/back to normal/) as string });

    const p = await open();
    await p.waitForSelector('#view-wall', { timeout: 15_000 });
    await p.evaluate(`import('/js/alertDetail.js').then(({ openAlert }) => openAlert(${JSON.stringify(alert!.id)}))`);
    await p.waitForFunction(() => (document.querySelector('#detail-timeline')?.textContent ?? '').includes('自动恢复'), undefined, { timeout: 10_000 });
    const row = await p.$$eval('#detail-timeline tr', (trs) => trs.map((tr) => tr.textContent ?? '').find((x) => x.includes('自动恢复')) ?? '');
    expect(row).toMatch(/事件 40 恢复正常（序号 \d+）/);
    expect(row).not.toMatch(/back to normal|seq/);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('toasts stack without overlapping; ok has its own colour', async () => {
    const p = await open();
    await p.evaluate(`import('/js/dom.js').then(({ toast }) => { toast('第一条错误'); toast('第二条错误'); toast('已保存', 'ok'); })`);
    const boxes = await p.$$eval('#toasts .toast', (els) => els.map((el) => {
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, bg: getComputedStyle(el).backgroundColor, text: el.textContent };
    }));
    expect(boxes.map((b) => b.text)).toEqual(['第一条错误', '第二条错误', '已保存']);
    for (let i = 1; i < boxes.length; i++) expect(boxes[i]!.top).toBeGreaterThanOrEqual(boxes[i - 1]!.bottom);
    expect(boxes[2]!.bg).not.toBe(boxes[0]!.bg);
    await p.click('#toasts .toast >> nth=0');
    expect(await p.$$eval('#toasts .toast', (els) => els.length)).toBe(2);
  }, 60_000);

  it('on a phone the dispatcher console and its header fit the screen', async () => {
    const p = await open({ width: 390, height: 844 }, 'disp1');
    await p.waitForSelector('#view-dispatch, #phone-submit', { timeout: 15_000 });
    const wide = await p.evaluate(() => [...document.querySelectorAll('header, header > *, header > * > *')]
      .map((el) => ({ el: `${el.tagName}${el.id ? `#${el.id}` : ''}.${el.className}`, right: Math.round(el.getBoundingClientRect().right) }))
      .filter((x) => x.right > 390));
    expect(wide).toEqual([]);
    const over = await p.evaluate(() => [...document.querySelectorAll('main *, body > *')]
      .filter((el) => el.getBoundingClientRect().right > 390.01 && el.getBoundingClientRect().width > 0)
      .slice(0, 8).map((el) => `${el.tagName}${el.id ? `#${el.id}` : ''}.${el.className} ${Math.round(el.getBoundingClientRect().width)}`));
    expect(over).toEqual([]);
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  }, 60_000);
});
