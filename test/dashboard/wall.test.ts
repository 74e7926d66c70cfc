/**
 * The operators' wall in a real browser (Debian's chromium driven by playwright-core): 600
 * minor alerts and one older open trapped-passenger alert, the wall loading what it shows from
 * the server (critical and overdue in full, the rest a page at a time, by priority), the
 * pinned section and the banner, a list that does not move under a still pointer while alerts
 * stream in (rows updated in place, never rebuilt), the layout at 1920x1080 and 1600x900
 * without page scrolling and with the China-time clock, a failed load shown and retried, and
 * the audible alarm (WebAudio stubbed in the page to count beeps): muted for 5 minutes and back
 * by itself, and a "click to enable sound" hint, not an error, before any user gesture.
 * Screenshots go to test-output/. Skipped locally when chromium is missing (Debian package
 * chromium); CI (REQUIRE_EXTERNAL=1) fails instead.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, closeAll } from '../helpers/browser.js';

const out = path.resolve('test-output');
const CAMERAS = 120;
/** risk class 3: minor alerts (core/rules/kitchen/violation.ts) */
const MINOR_TYPES = ['no_chef_hat', 'no_mask', 'no_uniform', 'no_gloves', 'phone'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * WebAudio replaced in the page: each oscillator started is a tone, recorded in window.__beeps
 * (page time). `blocked`: as a browser does before any user gesture, a context starts
 * suspended and resume() starts it only from a click or key press (this headless Chromium
 * counts the page as used already, so the stub keeps its own account of gestures).
 */
const audioStub = (blocked: boolean): string => `(() => {
  const beeps = [];
  window.__beeps = beeps;
  let gesture = ${blocked ? 'false' : 'true'};
  for (const type of ['pointerdown', 'keydown']) window.addEventListener(type, (e) => { if (e.isTrusted) gesture = true; }, true);
  const param = () => ({ value: 0, setValueAtTime() { return this; }, exponentialRampToValueAtTime() { return this; }, linearRampToValueAtTime() { return this; } });
  const node = (extra) => Object.assign({ connect(n) { return n; }, disconnect() {} }, extra);
  function AudioContextStub() {
    this.state = gesture ? 'running' : 'suspended';
    this.onstatechange = null;
    this.destination = node({});
  }
  Object.defineProperty(AudioContextStub.prototype, 'currentTime', { get() { return performance.now() / 1000; } });
  AudioContextStub.prototype.createOscillator = function () { return node({ type: 'sine', frequency: param(), start() { beeps.push(Date.now()); }, stop() {} }); };
  AudioContextStub.prototype.createGain = function () { return node({ gain: param() }); };
  AudioContextStub.prototype.resume = function () {
    if (!gesture) return new Promise(() => {});
    this.state = 'running';
    if (this.onstatechange) this.onstatechange();
    return Promise.resolve();
  };
  AudioContextStub.prototype.close = function () { this.state = 'closed'; return Promise.resolve(); };
  window.AudioContext = AudioContextStub;
})();`;

describe.skipIf(!browserProgram.ok)(`operators' wall in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const clients: MqttClient[] = [];
  const cams: Array<{ id: string; client: MqttClient }> = [];
  let elevator: MqttClient;
  let trappedId = '';
  let wall: Page;
  let n = 0;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${ts.adminToken}` });

  async function publish(client: MqttClient, id: string, family: string, channel: string, over: Record<string, unknown> = {}): Promise<void> {
    // each camera its own store (no store reaches the repeat-offender list)
    const store = family === 'kitchen' ? { storeId: `S-${id}` } : {};
    await client.publishAsync(`${family}/${id}/${channel}`, JSON.stringify({ ...examplePayload(family as never, channel, `w${++n}`, Date.now()), ...store, ...over }), { qos: 1 });
  }

  async function activeAlerts(): Promise<Array<{ id: string; rule: string; severity: string; device: { id: string }; condition: string }>> {
    const res = await ts.service.http.inject({ url: '/api/alerts?status=open,acknowledged&limit=5000', headers: auth() });
    return (res.json() as { items: Array<{ id: string; rule: string; severity: string; device: { id: string }; condition: string }> }).items;
  }

  async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  interface OpenOpts {
    viewport?: { width: number; height: number };
    fakeClock?: boolean;
    /** WebAudio stubbed; 'blocked': no sound before a click */
    stubAudio?: 'running' | 'blocked';
    /** signed in through the session in sessionStorage: no click, so no user gesture */
    session?: { token: string; role: string; username: string };
    beforeLoad?: (page: Page) => Promise<void>;
  }

  async function open(opts: OpenOpts = {}): Promise<Page> {
    const ctx = await browser.newContext({ viewport: opts.viewport ?? { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    if (opts.fakeClock) await ctx.clock.install({ time: Date.now() });
    if (opts.stubAudio) await ctx.addInitScript({ content: audioStub(opts.stubAudio === 'blocked') });
    if (opts.session) await ctx.addInitScript({ content: `sessionStorage.setItem('session', ${JSON.stringify(JSON.stringify(opts.session))});` });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await opts.beforeLoad?.(page);
    await page.goto(ts.httpUrl);
    if (!opts.session) {
      await page.fill('#username', 'op1');
      await page.fill('#password', 'op1-password');
      await page.click('#login button[type=submit]');
    }
    await page.waitForSelector('#live.on', { timeout: 15_000 });
    return page;
  }

  const beeps = (p: Page): Promise<number> => p.evaluate(() => (window as unknown as { __beeps: number[] }).__beeps.length);
  const restRows = (p: Page): Promise<number> => p.locator('#view-wall tbody.rest tr.alert-row').count();

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    // class 3 raises minor alerts here (by default it only counts in the store score): 600 of them
    ts = await startService({ ALERT_TICK_MS: 200, ALERT_CHECKPOINT_MS: 300, ALERT_OVERRIDES: JSON.stringify({ rules: { 'kitchen.violation': { maxAlertClass: 3 } } }) });
    await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: auth(), payload: { username: 'op1', password: 'op1-password', role: 'operator' } });

    // the trapped passengers first: the oldest alert on the wall
    const elev = await ts.registerDevice({ id: 'elev-wall-01', family: 'elevator', name: '文三路 88 号 2 号梯', district: '330106', location: { lat: 30.277, lng: 120.125 } });
    elevator = await ts.connectDevice(elev.id, elev.secret);
    clients.push(elevator);
    await publish(elevator, elev.id, 'elevator', 'fault', { code: 11, floor: 7 });
    trappedId = (await until('the trapped alert', async () => (await activeAlerts()).find((a) => a.rule === 'elevator.trapped')))!.id;
    await sleep(50);

    // then 600 minor kitchen alerts: 120 cameras x 5 class-3 violation types
    const job = await ts.importDevices(Array.from({ length: CAMERAS }, (_, i) => ({
      id: `cam-w${String(i).padStart(3, '0')}`, family: 'kitchen', name: `第 ${i} 食堂`, district: `3301${String(i % 10).padStart(2, '0')}`,
      location: { lat: 30.2 + (i % 12) / 100, lng: 120.1 + Math.floor(i / 12) / 100 }, meta: { storeId: `S-W${i}` },
    })));
    expect(job.status).toBe('done');
    const created = job.result!.created as Array<{ id: string; secret: string }>;
    await Promise.all(created.map(async (d) => {
      const client = await ts.connectDevice(d.id, d.secret);
      clients.push(client);
      cams.push({ id: d.id, client });
      for (const type of MINOR_TYPES) await publish(client, d.id, 'kitchen', 'violation', { type, confidence: 0.8 });
    }));
    await until('601 active alerts', async () => (await activeAlerts()).length >= CAMERAS * MINOR_TYPES.length + 1, 30_000);
    cams.sort((a, b) => a.id.localeCompare(b.id));
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await closeAll(contexts, browser, ts);
  });

  it('(a) pins an older open trapped-passenger alert on top of 600 minor ones, with the banner; the rest comes a page at a time', async () => {
    const alerts = await activeAlerts();
    expect(alerts.filter((a) => a.severity === 'minor')).toHaveLength(600);
    wall = await open();
    await wall.waitForSelector(`#view-wall tbody.pinned tr.alert-row[data-id="${trappedId}"]`, { timeout: 15_000 });
    // the first row of the list, in view inside its panel
    expect(await wall.$eval('#view-wall table.alerts tr.alert-row', (tr) => (tr as HTMLElement).dataset.id)).toBe(trappedId);
    const inView = await wall.$eval(`tr.alert-row[data-id="${trappedId}"]`, (tr) => {
      const r = tr.getBoundingClientRect();
      const s = tr.closest('.alert-scroll')!.getBoundingClientRect();
      return r.top >= s.top && r.bottom <= s.bottom && r.bottom <= innerHeight;
    });
    expect(inView).toBe(true);
    expect(await wall.textContent(`tr.alert-row[data-id="${trappedId}"]`)).toContain('电梯困人');
    // the banner names how many and the oldest
    await wall.waitForSelector('#wall-banner:visible');
    expect(await wall.textContent('#banner-count')).toContain('紧急/超期告警 1 条');
    expect(await wall.textContent('#banner-oldest')).toContain('电梯困人');
    expect(await wall.textContent('#banner-oldest')).toContain('文三路 88 号 2 号梯');
    // the rest: the first page (100), by priority, and "more"
    await wall.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length >= 100, undefined, { timeout: 15_000 });
    expect(await restRows(wall)).toBe(100);
    expect(await wall.isVisible('#alerts-more')).toBe(true);
    expect(await wall.getAttribute('#alerts-load', 'data-state')).toBe('ok');
    // the reported case: 电梯 + 紧急 shows the trapped alert
    await wall.selectOption('#view-wall .filters select >> nth=0', 'elevator');
    await wall.selectOption('#view-wall .filters select >> nth=1', 'critical');
    await wall.waitForFunction(() => document.querySelectorAll('#view-wall tr.alert-row').length === 1, undefined, { timeout: 20_000 });
    expect(await wall.$eval('#view-wall tr.alert-row', (tr) => (tr as HTMLElement).dataset.id)).toBe(trappedId);
    await wall.selectOption('#view-wall .filters select >> nth=0', '');
    await wall.selectOption('#view-wall .filters select >> nth=1', '');
    await wall.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length === 100, undefined, { timeout: 20_000 });
    // the end of the list scrolled into view reads the next page, once
    await wall.$eval('#view-wall tfoot', (el) => el.scrollIntoView({ block: 'end' }));
    await wall.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length === 200, undefined, { timeout: 20_000 });
    await sleep(500);
    expect(await restRows(wall)).toBe(200);
    // and "more" reads the one after (clicked where it is: a pointer click scrolls it into view,
    // which reads a page by itself before the click lands)
    await wall.$eval('#alerts-more', (b) => (b as HTMLButtonElement).click());
    await wall.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length === 300, undefined, { timeout: 20_000 });
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(b) keeps the row under a still pointer while alerts stream in; rows change in place and are never rebuilt', async () => {
    const p = wall;
    await p.evaluate(() => { for (const tr of document.querySelectorAll('tr.alert-row')) (tr as unknown as { kept: boolean }).kept = true; });
    const before = await p.locator('#view-wall tr.alert-row').count();
    await p.$eval('#view-wall .alert-scroll', (el) => { el.scrollTop = 0; });
    const box = (await p.locator('#view-wall tbody.rest tr.alert-row').nth(5).boundingBox())!;
    const x = box.x + 300;
    const y = box.y + box.height / 2;
    await p.mouse.move(x - 40, y - 40);
    await p.mouse.move(x, y, { steps: 4 });
    const underId = (): Promise<string | null> => p.evaluate(([px, py]) => (document.elementFromPoint(px!, py!)?.closest('tr.alert-row') as HTMLElement | null)?.dataset.id ?? null, [x, y]);
    const first = (await underId())!;
    expect(first).toBeTruthy();
    const under = (await activeAlerts()).find((a) => a.id === first)!;
    const underCam = cams.find((c) => c.id === under.device.id)!;

    // what changes in the list meanwhile (the countdowns' ticking aside): rows added, removed or moved, rows redrawn
    await p.evaluate(() => {
      const w = window as unknown as { __moved: number; __changed: Set<string> };
      w.__moved = 0;
      w.__changed = new Set();
      new MutationObserver((records) => {
        for (const r of records) {
          const target = r.target instanceof Element ? r.target : r.target.parentElement;
          if (target?.matches('tbody.pinned, tbody.rest') && r.type === 'childList') w.__moved += r.addedNodes.length + r.removedNodes.length;
          else if (target && !target.closest('.cd')) {
            const tr = target.closest('tr.alert-row') as HTMLElement | null;
            if (tr) w.__changed.add(tr.dataset.id!);
          }
        }
      }).observe(document.querySelector('#view-wall table.alerts')!, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    // ~4 s of alerts: majors that sort above every minor, a new critical, a repeat of the row under the pointer
    const newIds = new Set<string>();
    const stream = (async () => {
      for (let i = 0; i < 10; i++) {
        await publish(cams[i]!.client, cams[i]!.id, 'kitchen', 'violation', { type: 'smoking', confidence: 0.9 });
        if (i === 3) await publish(underCam.client, underCam.id, 'kitchen', 'violation', { type: under.condition, confidence: 0.9 });
        if (i === 5) await publish(cams[20]!.client, cams[20]!.id, 'kitchen', 'violation', { type: 'rat', confidence: 0.95 });
        await sleep(380);
      }
    })();
    const seen = new Set<string | null>();
    const end = Date.now() + 5000;
    while (Date.now() < end) {
      seen.add(await underId());
      await sleep(100);
    }
    await stream;
    expect([...seen]).toEqual([first]);
    // nothing rebuilt, nothing moved: only the repeated alert's row was redrawn, in place
    const churn = await p.evaluate(() => {
      const w = window as unknown as { __moved: number; __changed: Set<string> };
      return { moved: w.__moved, changed: [...w.__changed] };
    });
    expect(churn).toEqual({ moved: 0, changed: [first] });
    // meanwhile: the row's content changed in place, the banner counted the rat, the list said what waits
    const row = `#view-wall tr.alert-row[data-id="${first}"]`;
    expect(await p.textContent(row)).toContain('×2');
    expect(await p.$eval(row, (tr) => (tr as unknown as { kept?: boolean }).kept === true)).toBe(true);
    expect(await p.textContent('#banner-count')).toContain('紧急/超期告警 2 条');
    expect(await p.textContent('#alerts-held')).toMatch(/\d+ 项变动待显示/);
    expect(await p.locator('#view-wall tbody.pinned tr.alert-row').count()).toBe(1);
    for (const a of await activeAlerts()) if (a.severity !== 'minor' && a.id !== trappedId) newIds.add(a.id);
    expect(newIds.size).toBe(11);

    // the pointer leaves: the new order shows at once, inserting the new rows and keeping the others
    await p.mouse.move(1880, 400, { steps: 3 });
    await p.waitForFunction(() => document.querySelectorAll('#view-wall tbody.pinned tr.alert-row').length === 2, undefined, { timeout: 15_000 });
    await p.waitForFunction((want) => document.querySelectorAll('#view-wall tr.alert-row').length === want, before + 11, { timeout: 15_000 });
    expect(await p.textContent('#alerts-held')).toBe('');
    const restTop = await p.$$eval('#view-wall tbody.rest tr.alert-row', (trs) => trs.slice(0, 11).map((tr) => (tr as HTMLElement).dataset.severity));
    expect(restTop).toEqual([...Array(10).fill('major'), 'minor']);
    const fresh = await p.$$eval('#view-wall tr.alert-row', (trs) => trs.filter((tr) => !(tr as unknown as { kept?: boolean }).kept).map((tr) => (tr as HTMLElement).dataset.id));
    expect(new Set(fresh)).toEqual(newIds);
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(c) fits 1920x1080 and 1600x900 without page scrolling, with the China-time clock; the list scrolls in its panel', async () => {
    const cst = (d: Date): string => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour12: false, hour: '2-digit', minute: '2-digit' }).format(d);
    for (const [width, height] of [[1920, 1080], [1600, 900]] as const) {
      const p = await open({ viewport: { width, height } });
      await p.waitForSelector('#view-wall #map canvas');
      await p.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length >= 100, undefined, { timeout: 15_000 });
      await p.waitForFunction(() => document.querySelector('#kpis [data-family="kitchen"] .n')?.textContent !== '-', undefined, { timeout: 15_000 });
      for (const lang of ['zh', 'en']) {
        const m = await p.evaluate(() => {
          const s = document.querySelector('.alert-scroll')!;
          const sr = s.getBoundingClientRect();
          const rows = [...document.querySelectorAll('#view-wall tr.alert-row')].filter((tr) => {
            const r = tr.getBoundingClientRect();
            return r.top >= sr.top && r.bottom <= sr.bottom;
          });
          return {
            scrollHeight: document.scrollingElement!.scrollHeight, scrollWidth: document.scrollingElement!.scrollWidth,
            innerHeight, innerWidth, listScrolls: s.scrollHeight > s.clientHeight, rowsInView: rows.length,
            clock: document.querySelector('#wall-clock .time')?.textContent ?? '', date: document.querySelector('#wall-clock .date')?.textContent ?? '',
            banner: !(document.getElementById('wall-banner') as HTMLElement).hidden,
          };
        });
        expect(m.scrollHeight, `${width}x${height} ${lang}: page height`).toBeLessThanOrEqual(m.innerHeight);
        expect(m.scrollWidth, `${width}x${height} ${lang}: page width`).toBeLessThanOrEqual(m.innerWidth);
        expect(m.listScrolls).toBe(true);
        expect(m.banner).toBe(true);
        expect(m.rowsInView, `${width}x${height}: alerts in view`).toBeGreaterThanOrEqual(height === 1080 ? 20 : 15);
        expect(m.clock).toMatch(/^\d{2}:\d{2}:\d{2}$/);
        const now = new Date();
        expect([cst(now), cst(new Date(now.getTime() - 2000))]).toContain(m.clock.slice(0, 5));
        expect(m.date).toMatch(/\d{4}/);
        await p.screenshot({ path: path.join(out, `wall-${width}x${height}-${lang}.png`) });
        if (lang === 'zh') {
          await p.click('#lang');
          await p.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length >= 100, undefined, { timeout: 15_000 });
          await p.waitForSelector('#view-wall #map canvas');
        }
      }
      await p.click('#lang');
    }
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(d) shows a failed load and "retrying", then recovers by itself', async () => {
    let failing = true;
    let calls = 0;
    const p = await open({
      beforeLoad: async (page) => {
        await page.route(/\/api\/alerts\?/, async (route) => {
          calls++;
          if (failing) {
            await sleep(800); // long enough to see "loading"
            await route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'store unavailable (test)' } }) });
          } else await route.continue();
        });
      },
    });
    const shows = (phase: string, text: RegExp): Promise<unknown> => p.waitForFunction(([ph, src]) => {
      const el = document.getElementById('alerts-load');
      return !!el && el.dataset.state === ph && new RegExp(src!).test(el.textContent ?? '') && el.getClientRects().length > 0;
    }, [phase, text.source], { timeout: 10_000 });
    await shows('loading', /加载中/);
    await shows('failed', /加载失败，\d+ 秒后重试/);
    expect(await p.locator('#view-wall tr.alert-row').count()).toBe(0);
    // retried by itself while failing
    const first = calls;
    await until('a retry', async () => calls > first, 10_000);
    failing = false;
    await p.waitForSelector(`#view-wall tbody.pinned tr.alert-row[data-id="${trappedId}"]`, { timeout: 20_000 });
    await p.waitForFunction(() => document.querySelectorAll('#view-wall tbody.rest tr.alert-row').length >= 100, undefined, { timeout: 15_000 });
    expect(await p.getAttribute('#alerts-load', 'data-state')).toBe('ok');
    expect(await p.textContent('#alerts-load')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(e) sounds while critical alerts are open; mute silences it for 5 minutes, then it comes back by itself', async () => {
    const p = await open({ fakeClock: true, stubAudio: 'running' });
    await p.waitForSelector(`#view-wall tbody.pinned tr.alert-row[data-id="${trappedId}"]`, { timeout: 15_000 });
    await p.waitForFunction(() => (window as unknown as { __beeps: number[] }).__beeps.length >= 2, undefined, { timeout: 20_000 });
    expect(await p.textContent('#sound-state')).toContain('报警中');
    expect(await p.isVisible('#sound-enable')).toBe(false);
    await p.click('#sound-mute');
    const muted = await beeps(p);
    expect(await p.textContent('#sound-mute')).toMatch(/已静音，0[45]:\d\d 后恢复/);
    await p.clock.fastForward('02:00');
    await p.waitForFunction(() => /已静音，0[23]:\d\d/.test(document.querySelector('#sound-mute')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await p.clock.fastForward('02:50');
    await p.waitForFunction(() => /已静音，00:\d\d/.test(document.querySelector('#sound-mute')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await sleep(500);
    expect(await beeps(p), 'no beep while muted').toBe(muted);
    // never for longer: 5 minutes on, it sounds again without anyone touching it
    await p.clock.fastForward('00:15');
    await p.waitForFunction((n) => (window as unknown as { __beeps: number[] }).__beeps.length > n, muted, { timeout: 15_000 });
    expect(await p.textContent('#sound-mute')).toContain('静音 5 分钟');
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('(e) before any user gesture: no sound and no error, a "click to enable sound" hint; a click starts it', async () => {
    const token = await ts.token('op1', 'op1-password');
    const p = await open({ stubAudio: 'blocked', session: { token, role: 'operator', username: 'op1' } });
    await p.waitForSelector(`#view-wall tbody.pinned tr.alert-row[data-id="${trappedId}"]`, { timeout: 15_000 });
    await p.waitForSelector('#sound-enable:visible', { timeout: 15_000 });
    expect(await p.textContent('#sound-enable')).toContain('点击启用报警声音');
    expect(await p.textContent('#sound-state')).toContain('未启用');
    await sleep(1500);
    expect(await beeps(p)).toBe(0);
    await p.click('#sound-enable');
    await p.waitForFunction(() => (window as unknown as { __beeps: number[] }).__beeps.length > 0, undefined, { timeout: 15_000 });
    await p.waitForSelector('#sound-enable', { state: 'hidden', timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
