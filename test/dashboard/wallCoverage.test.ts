/**
 * The connection-coverage panel of the operators' wall in a real browser (Debian's chromium
 * driven by playwright-core; dashboard/ui/js/coverage.js, docs/dashboard.md, Operators' wall):
 * elevators and kitchen cameras registered, some connected now, one connected and gone, some
 * never connected. The panel shows per family connected now / registered, the ever-connected
 * coverage ("—" for a family with nothing registered) and the never-connected count; a click on
 * the count lists those devices (names as text, never HTML); the figures follow a device that
 * connects and one that is registered; the panel fits 1920x1080 and 1600x900 without page
 * scrolling in both languages; a failed read says so and recovers by itself. Screenshots go to
 * test-output/. Skipped locally when chromium is missing (Debian package chromium); CI
 * (REQUIRE_EXTERNAL=1) fails instead.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, signIn } from '../helpers/browser.js';

const out = path.resolve('test-output');
/** a never-connected camera's name: markup that must show as text */
const HOSTILE_NAME = '<img src=x id=pwned> 后厨 "B" & co';

interface Shown { connected: string; coverage: string; never: string; state: string; neverEnabled: boolean }

describe.skipIf(!browserProgram.ok)(`wall connection coverage in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const clients: MqttClient[] = [];
  const secrets: Record<string, string> = {};
  let wall: Page;

  const connect = async (id: string): Promise<MqttClient> => {
    const c = await ts.connectDevice(id, secrets[id]!);
    clients.push(c);
    return c;
  };

  async function open(viewport = { width: 1920, height: 1080 }, beforeLoad?: (p: Page) => Promise<void>): Promise<Page> {
    const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await beforeLoad?.(page);
    await signIn(page, ts.httpUrl, 'op1', 'op1-password');
    await page.waitForSelector('#wall-coverage');
    return page;
  }

  const row = (p: Page, family: string): Promise<Shown> => p.$eval(`#wall-coverage tr[data-family="${family}"]`, (tr) => {
    const btn = tr.querySelector('button.never') as HTMLButtonElement;
    const cov = tr.querySelector('.c-coverage') as HTMLElement;
    return {
      connected: tr.querySelector('.c-connected')!.textContent ?? '', coverage: cov.textContent ?? '', never: btn.textContent ?? '',
      state: cov.dataset.state ?? '', neverEnabled: !btn.disabled,
    };
  });

  /** wait until the family's row shows `connected` (connected now / registered) */
  const shows = (p: Page, family: string, connected: string, ms = 15_000): Promise<unknown> => p.waitForFunction(([f, want]) =>
    document.querySelector(`#wall-coverage tr[data-family="${f}"] .c-connected`)?.textContent === want, [family, connected], { timeout: ms });

  /** the domain panels at their tallest (redrawn only when their figures change, so the filler stays) */
  const fillDomains = (p: Page): Promise<void> => p.evaluate(() => {
    for (const panel of document.querySelectorAll('#view-wall .domains .panel')) {
      for (let i = 0; i < 30; i++) panel.append(Object.assign(document.createElement('div'), { textContent: `filler ${i}` }));
    }
  });

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ ALERT_TICK_MS: 200 });
    await addUsers(ts, [['op1', 'operator']]);
    // 5 elevators and 3 kitchen cameras, registered; nothing in the other two families
    for (let i = 1; i <= 5; i++) {
      const d = await ts.registerDevice({ id: `lift-cov-${i}`, family: 'elevator', name: `文三路 ${i} 号梯`, district: '330106' });
      secrets[d.id] = d.secret;
    }
    for (let i = 1; i <= 3; i++) {
      const d = await ts.registerDevice({ id: `cam-cov-${i}`, family: 'kitchen', name: i === 3 ? HOSTILE_NAME : `第 ${i} 食堂`, district: '330108', meta: { storeId: `S-COV-${i}` } });
      secrets[d.id] = d.secret;
    }
    // elevators: 1 and 2 connected now, 3 connected and gone, 4 and 5 never; cameras: 1 connected, 2 and 3 never
    await connect('lift-cov-1');
    await connect('lift-cov-2');
    const gone = await ts.connectDevice('lift-cov-3', secrets['lift-cov-3']!);
    await gone.endAsync();
    await connect('cam-cov-1');
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await closeAll(contexts, browser, ts);
  });

  it('(a) shows per family connected now / registered, the coverage and the never-connected count; the count lists those devices as text', async () => {
    wall = await open();
    await shows(wall, 'elevator', '2/5');
    expect(await wall.textContent('#wall-coverage h2')).toBe('设备接入率');
    expect(await row(wall, 'elevator')).toEqual({ connected: '2/5', coverage: '60%', never: '2', state: 'partial', neverEnabled: true });
    expect(await row(wall, 'kitchen')).toEqual({ connected: '1/3', coverage: '33%', never: '2', state: 'partial', neverEnabled: true });
    // nothing registered: a dash, never 0 % or NaN, and nothing to list
    for (const f of ['cylinder', 'dispenser']) expect(await row(wall, f)).toEqual({ connected: '0/0', coverage: '—', never: '0', state: 'none', neverEnabled: false });
    // the family names of the i18n table, Chinese first
    expect(await wall.$$eval('#wall-coverage tbody th', (ths) => ths.map((th) => th.textContent))).toEqual(['明厨亮灶', '电梯', '气瓶', '加油机']);
    expect(await wall.getAttribute('#wall-coverage', 'data-state')).toBe('ok');
    expect(await wall.getAttribute('#wall-coverage tr[data-family="elevator"] .c-coverage', 'title')).toBe('注册 5 台，曾接入 3 台');

    // the never-connected elevators, in a dialog that only informs
    await wall.click('#wall-coverage tr[data-family="elevator"] button.never');
    await wall.waitForSelector('#coverage-never');
    expect(await wall.textContent('#coverage-never h2')).toBe('从未接入的设备 · 电梯（2 台）');
    expect(await wall.$$eval('#coverage-never tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id).sort())).toEqual(['lift-cov-4', 'lift-cov-5']);
    expect(await wall.locator('#coverage-never button').count()).toBe(1);
    await wall.keyboard.press('Escape');
    await wall.waitForSelector('#coverage-never', { state: 'detached' });

    // a camera's name with markup is shown as it is, and nothing of it is parsed
    await wall.click('#wall-coverage tr[data-family="kitchen"] button.never');
    await wall.waitForSelector('#coverage-never tr[data-id="cam-cov-3"]');
    expect(await wall.textContent('#coverage-never tr[data-id="cam-cov-3"] td:nth-child(2)')).toBe(HOSTILE_NAME);
    expect(await wall.locator('#pwned').count()).toBe(0);
    expect(await wall.$$eval('#coverage-never tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id).sort())).toEqual(['cam-cov-2', 'cam-cov-3']);
    await wall.click('#coverage-never button[data-confirm="ok"]');
    await wall.waitForSelector('#coverage-never', { state: 'detached' });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('(b) follows a device that connects for the first time and one that is registered, without a reload', async () => {
    await connect('lift-cov-4');
    // the live statistics show one more connected device: the panel reads the coverage again
    await shows(wall, 'elevator', '3/5');
    expect(await row(wall, 'elevator')).toEqual({ connected: '3/5', coverage: '80%', never: '1', state: 'partial', neverEnabled: true });
    const d = await ts.registerDevice({ id: 'lift-cov-6', family: 'elevator', name: '新装 6 号梯', district: '330106' });
    secrets[d.id] = d.secret;
    await shows(wall, 'elevator', '3/6');
    expect(await row(wall, 'elevator')).toEqual({ connected: '3/6', coverage: '66%', never: '2', state: 'partial', neverEnabled: true });
    // every elevator connected: 100 %
    await connect('lift-cov-5');
    await connect('lift-cov-6');
    await shows(wall, 'elevator', '5/6');
    expect(await row(wall, 'elevator')).toEqual({ connected: '5/6', coverage: '100%', never: '0', state: 'full', neverEnabled: false });
    expect(await row(wall, 'kitchen')).toEqual({ connected: '1/3', coverage: '33%', never: '2', state: 'partial', neverEnabled: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('(c) fits 1920x1080 and 1600x900 in both languages without page scrolling, the whole panel in view, with the banner up and the domain panels full', async () => {
    // passengers trapped: the banner shows, and a rescue case in the trapped-elevators panel
    await clients[0]!.publishAsync('elevator/lift-cov-1/fault', JSON.stringify({ ...examplePayload('elevator', 'fault', 'cov-trap', Date.now()), code: 11, floor: 7 }), { qos: 1 });
    for (const [width, height] of [[1920, 1080], [1600, 900]] as const) {
      const p = await open({ width, height });
      await shows(p, 'elevator', '5/6');
      await p.waitForSelector('#view-wall #map canvas');
      for (const lang of ['zh', 'en']) {
        await p.waitForSelector('#wall-banner:visible', { timeout: 15_000 });
        await p.waitForSelector('#wall-trapped .case-line', { timeout: 15_000 });
        await fillDomains(p);
        const m = await p.evaluate(() => {
          const r = document.getElementById('wall-coverage')!.getBoundingClientRect();
          const map = document.querySelector('#view-wall .map-panel')!.getBoundingClientRect();
          return {
            scrollHeight: document.scrollingElement!.scrollHeight, scrollWidth: document.scrollingElement!.scrollWidth, innerHeight, innerWidth,
            top: r.top, bottom: r.bottom, right: r.right, mapHeight: map.height,
            // the panel does not scroll inside either: every line shows
            clipped: [...document.querySelectorAll('#wall-coverage tr')].some((tr) => { const b = tr.getBoundingClientRect(); return b.bottom > r.bottom || b.top < r.top; }),
          };
        });
        const at = `${width}x${height} ${lang}`;
        expect(m.scrollHeight, `${at}: page height`).toBeLessThanOrEqual(m.innerHeight);
        expect(m.scrollWidth, `${at}: page width`).toBeLessThanOrEqual(m.innerWidth);
        expect(m.top, at).toBeGreaterThanOrEqual(0);
        expect(m.bottom, at).toBeLessThanOrEqual(m.innerHeight);
        expect(m.right, at).toBeLessThanOrEqual(m.innerWidth);
        expect(m.clipped, `${at}: a line of the panel is cut off`).toBe(false);
        expect(m.mapHeight, `${at}: the map keeps its room`).toBeGreaterThanOrEqual(180);
        await p.screenshot({ path: path.join(out, `wall-coverage-${width}x${height}-${lang}.png`) });
        if (lang === 'zh') {
          await p.click('#lang');
          await p.waitForFunction(() => document.querySelector('#wall-coverage h2')?.textContent === 'Connection coverage', undefined, { timeout: 15_000 });
          await shows(p, 'elevator', '5/6');
          expect(await p.$$eval('#wall-coverage thead th', (ths) => ths.map((th) => th.textContent))).toEqual(['Family', 'Online/registered', 'Coverage', 'Never connected']);
          expect(await row(p, 'cylinder')).toMatchObject({ coverage: '—' });
        }
      }
      await p.click('#lang');
    }
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(d) a failed read says so and is retried, the figures come once it succeeds', async () => {
    let failing = true;
    let calls = 0;
    const p = await open(undefined, async (page) => {
      await page.route(/\/api\/devices\/coverage/, async (route) => {
        calls++;
        if (failing) await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'store unavailable (test)' } }) });
        else await route.continue();
      });
    });
    await p.waitForFunction(() => {
      const el = document.getElementById('coverage-load');
      return el?.dataset.state === 'failed' && /加载失败，\d+ 秒后重试/.test(el.textContent ?? '') && el.getClientRects().length > 0;
    }, undefined, { timeout: 15_000 });
    expect(await row(p, 'elevator')).toMatchObject({ connected: '-', coverage: '-' });
    const first = calls;
    failing = false;
    await shows(p, 'elevator', '5/6', 20_000);
    expect(calls).toBeGreaterThan(first);
    expect(await p.getAttribute('#coverage-load', 'data-state')).toBe('ok');
    expect(await p.textContent('#coverage-load')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
