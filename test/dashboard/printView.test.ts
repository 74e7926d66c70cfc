/**
 * Printing the consoles' views (dashboard/ui/js/print.js, print.css) in headless Chromium
 * (Debian package chromium, driven by playwright-core), window.print stubbed: every list view
 * has its 打印 button; under print media the header, the menu and the controls are gone, the
 * table is there with its header row repeated on every page and no row split, black on white,
 * under a head with the view, the filters set and the print time; page.pdf() makes a PDF of
 * several pages of the device list. On the wall the list's button prints the list, not the
 * map; with an alert's drawer open the drawer is printed instead of the view; the browser's
 * own print (beforeprint) gets a fresh head, afterprint puts the page back. Device text stays
 * text. Screenshots and the PDF in test-output/. Skipped without chromium, with the reason.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, openSignedIn } from '../helpers/browser.js';

const out = path.resolve('test-output');
const MARKUP = '<b>粗体</b><img src=x>';

describe.skipIf(!browserProgram.ok)(`printing the views in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function open(user: string, password: string, view: string): Promise<Page> {
    const page = await openSignedIn(browser, { contexts, pageErrors }, `${ts.httpUrl}/#/${view}`, user, password);
    // the print dialog stubbed: counted, never shown
    await page.evaluate(() => {
      const w = window as unknown as { __printed: number };
      w.__printed = 0;
      window.print = () => { w.__printed += 1; };
    });
    return page;
  }

  const printed = (p: Page) => p.evaluate(() => (window as unknown as { __printed: number }).__printed);
  const style = (p: Page, sel: string, prop: string) => p.$eval(sel, (el, k) => getComputedStyle(el).getPropertyValue(k), prop);
  /** The pages of a PDF: its page objects (`/Type /Page`, not `/Pages`). */
  const pdfPages = (pdf: Buffer) => (pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) ?? []).length;

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ ALERT_CHECKPOINT_MS: 300 });
    await addUsers(ts, [['disp1', 'dispatcher']]);
    // 70 devices in 330106 (50 on the first page of the list), 10 elsewhere; one name is markup
    const rows = Array.from({ length: 80 }, (_, i) => ({
      id: `pr-${String(i).padStart(3, '0')}`, family: 'kitchen', name: i === 0 ? MARKUP : `西湖区某餐馆 ${i} 号店`, district: i < 70 ? '330106' : '330108', meta: { storeId: `S-${i}` },
    }));
    const job = await ts.importDevices(rows);
    expect(job.status, JSON.stringify(job.error)).toBe('done');
    // the first camera reports a violation: an alert on the wall
    const secret = job.result!.created.find((c) => c.id === 'pr-000')!.secret!;
    const cam = await ts.connectDevice('pr-000', secret);
    await cam.publishAsync('kitchen/pr-000/violation', JSON.stringify({ ...examplePayload('kitchen', 'violation', 'pr-v1', Date.now()), storeId: 'S-0', type: 'rat', confidence: 0.95 }), { qos: 1 });
    await cam.endAsync();
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('every list view has its print button, and prints without the header and the controls', async () => {
    const admin = await open('admin', ADMIN_PASSWORD, 'wall');
    const disp = await open('disp1', 'disp1-password', 'alerts');
    const views = [...['wall', 'devices', 'cylinders', 'stores', 'stats', 'dead-letters', 'audit'].map((v) => [admin, v] as const), [disp, 'alerts'] as const];
    for (const [p, view] of views) {
      await p.click(`[data-nav="${view}"]`);
      const button = `#view-${view} [data-print-view]`;
      await p.waitForSelector(button, { timeout: 10_000 });
      expect(await p.textContent(button), view).toBe('打印');
      const before = await printed(p);
      await p.click(button);
      expect(await printed(p), view).toBe(before + 1);
      await p.emulateMedia({ media: 'print' });
      expect(await p.isVisible('#root > header'), view).toBe(false);
      expect(await p.isVisible(button), view).toBe(false);
      expect(await p.isVisible('#print-head'), view).toBe(true);
      expect(await p.isVisible(`#view-${view} table`), view).toBe(true);
      // the dark-screen chart turned light on paper; an admin's replay controls and hint left out
      if (view === 'stats') expect(await p.$eval('#stats-chart canvas', (c) => getComputedStyle(c).filter)).toMatch(/invert\(1\)/);
      if (view === 'dead-letters') expect(await p.isVisible('#dl-selected')).toBe(false);
      await p.screenshot({ path: path.join(out, `print-${view}-zh.png`), fullPage: true });
      await p.emulateMedia({ media: 'screen' });
    }
  });

  it('the device list on paper: no header, menu or controls; the table with its head on every page; a head with the filters; a PDF of several pages', async () => {
    const p = await open('admin', ADMIN_PASSWORD, 'devices');
    await p.fill('#device-district', '330106');
    await p.waitForFunction(() => document.querySelector('#devices-page')?.textContent === '第 1 / 2 页', undefined, { timeout: 10_000 });
    await p.waitForSelector('#device-list tbody tr[data-device]');
    expect(await p.isVisible('#print-head')).toBe(false);

    await p.click('#devices-print');
    expect(await printed(p)).toBe(1);
    // on screen nothing changed
    expect(await p.isVisible('#print-head')).toBe(false);
    expect(await p.isVisible('header nav')).toBe(true);

    await p.emulateMedia({ media: 'print' });
    for (const gone of ['#root > header', 'header nav', '#devices-print', '#device-search', '#device-district', '.pager button']) {
      expect(await p.isVisible(gone), gone).toBe(false);
    }
    expect(await p.$$eval('#view-devices button', (els) => els.filter((e) => (e as HTMLElement).offsetParent !== null).length)).toBe(0);
    expect(await p.isVisible('#device-list')).toBe(true);
    expect(await p.$$eval('#device-list tbody tr[data-device]', (els) => els.length)).toBe(50);
    const head = (await p.textContent('#print-head'))!;
    expect(head).toContain('设备');
    expect(head).toMatch(/筛选条件: .*330106/);
    expect(head).toMatch(/打印时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    expect(head).toContain('admin');
    // polled: the list may be drawn again meanwhile (the wall's refresh), and a row replaced
    // between the query and the read has no computed style
    await expect.poll(() => style(p, '#device-list thead', 'display')).toBe('table-header-group');
    await expect.poll(() => style(p, '#device-list tbody tr[data-device]', 'break-inside')).toBe('avoid');
    await expect.poll(() => style(p, 'body', 'background-color')).toBe('rgb(255, 255, 255)');
    await expect.poll(() => style(p, '#device-list td', 'color')).toBe('rgb(0, 0, 0)');
    // the table across the page, not the screen's split
    const [table, page] = await p.evaluate(() => [document.querySelector('#device-list')!.getBoundingClientRect().width, document.body.getBoundingClientRect().width]);
    expect(table).toBeGreaterThan(page * 0.9);
    // device text as text, on paper too
    expect(await p.$$eval('#device-list img, #device-list b', (els) => els.length)).toBe(0);
    await p.screenshot({ path: path.join(out, 'print-devices-zh.png'), fullPage: true });

    const pdf = await p.pdf({ format: 'A4' });
    writeFileSync(path.join(out, 'print-devices-zh.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdfPages(pdf)).toBeGreaterThan(1);
    await p.emulateMedia({ media: 'screen' });
    expect(await p.isVisible('#print-head')).toBe(false);
  });

  it('the wall: its list button prints the list, not the map; an open alert drawer prints alone; the browser\'s own print gets a fresh head', async () => {
    const w = await open('admin', ADMIN_PASSWORD, 'wall');
    await w.waitForSelector('tr.alert-row[data-id]', { timeout: 15_000 });
    await w.click('#alerts-print');
    expect(await printed(w)).toBe(1);
    await w.emulateMedia({ media: 'print' });
    expect(await w.isVisible('.list-panel')).toBe(true);
    expect(await w.isVisible('tr.alert-row')).toBe(true);
    expect(await w.$$eval('#view-wall > .print-hidden, #view-wall .print-hidden', (els) => els.length)).toBeGreaterThan(0);
    expect(await w.isVisible('#wall-trapped')).toBe(false);
    expect(await w.isVisible('#root > header')).toBe(false);
    const head = (await w.textContent('#print-head'))!;
    expect(head).toContain('监控大屏');
    expect(head).toContain('未关闭');
    expect(head).toContain('实时告警');
    await w.screenshot({ path: path.join(out, 'print-wall-list-zh.png'), fullPage: true });
    await w.emulateMedia({ media: 'screen' });
    // the page as it was once the print is done
    await w.evaluate(() => window.dispatchEvent(new Event('afterprint')));
    expect(await w.evaluate(() => document.body.dataset.print ?? null)).toBeNull();
    expect(await w.$$eval('.print-hidden', (els) => els.length)).toBe(0);

    // an alert's drawer: printed instead of the wall
    await w.click('tr.alert-row[data-id]');
    await w.waitForSelector('#alert-detail .drawer h2');
    await w.click('#detail-print');
    expect(await printed(w)).toBe(2);
    await w.emulateMedia({ media: 'print' });
    expect(await w.isVisible('#root')).toBe(false);
    expect(await w.isVisible('#alert-detail .drawer h2')).toBe(true);
    expect(await w.isVisible('#detail-print')).toBe(false);
    const detailHead = (await w.textContent('#print-head'))!;
    expect(detailHead).toContain('告警详情');
    expect(await w.isVisible('#print-filters')).toBe(false);
    expect(await w.textContent('#alert-detail')).toContain(MARKUP);
    await w.screenshot({ path: path.join(out, 'print-alert-detail-zh.png'), fullPage: true });
    const pdf = await w.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await w.emulateMedia({ media: 'screen' });

    // the drawer closed, Ctrl+P (beforeprint) prints the whole wall under a fresh head
    await w.click('#alert-detail button:has-text("关闭")');
    await w.evaluate(() => { window.dispatchEvent(new Event('afterprint')); window.dispatchEvent(new Event('beforeprint')); });
    await w.emulateMedia({ media: 'print' });
    expect(await w.isVisible('#root')).toBe(true);
    expect(await w.isVisible('#wall-trapped')).toBe(true);
    expect(await w.textContent('#print-head')).toContain('筛选条件');
    await w.emulateMedia({ media: 'screen' });
    expect(pageErrors).toEqual([]);
  });
});
