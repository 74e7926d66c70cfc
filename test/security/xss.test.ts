/**
 * Stored XSS through the dashboard (docs/security.md, "The web UI: device and user text is
 * never HTML"). A real service; devices registered through the API and the CSV import with
 * hostile names and metadata; devices publishing hostile cylinder codes, dispenser ids,
 * store ids and snapshot URLs over MQTT; an operator writing hostile notes. Headless Chromium
 * (Debian package chromium) then walks every view as admin: the wall with every map point
 * hovered so its tooltip renders, the alert list, the alert detail drawers, the dispatch
 * console, devices, statistics, users, and the language switch. No payload may run
 * (window.__xss is never set), each must be visible as literal text, no CSP violation may
 * be reported (the UI never even tries inline script or style), and the page's CSP must be
 * strict. Skipped without chromium; REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { expectStrictCsp, parseCsp } from './csp.js';
import { browserProgram, launchChromium } from '../helpers/browser.js';

const uiDir = path.resolve('dashboard/ui');

// Each payload names the field it came through, so a failure says which one ran.
const img = (tag: string): string => `<img src=x onerror="window.__xss='${tag}'">`;
const svg = (tag: string): string => `"><svg onload="window.__xss='${tag}'">`;
const script = (tag: string): string => `</script><script>window.__xss='${tag}'</script>`;

const P = {
  cylinderCode: img('cylinderCode'),
  scanStation: svg('scanStation'),
  dispenserId: img('dispenserId'),
  tamperStation: svg('tamperStation'),
  storeId: script('storeId'),
  area: img('area'),
  snapshotUrl: "javascript:window.__xss='snapshotUrl'",
  faultDetail: img('faultDetail'),
  camName: img('camName'),
  elevatorName: svg('elevatorName'),
  scannerName: script('scannerName'),
  dispenserName: `<iframe srcdoc="<script>parent.__xss='dispenserName'</script>">`,
  csvName: `${img('csvName')}, "quoted"`,
  csvElevatorName: svg('csvElevatorName'),
  maintenanceUnit: img('maintenanceUnit'),
  storeName: `<a href="javascript:window.__xss='storeName'">storeName</a>`,
  note: `${script('note')} <b onmouseover="window.__xss='noteB'">hover</b>`,
  assignee: img('assignee'),
  username: '<img src=x onerror=window.__xss=1>',
};

/** One CSV field, quoted (commas, quotes and angle brackets survive the import as they are). */
const csvField = (v: string): string => `"${v.replace(/"/g, '""')}"`;

describe.skipIf(!browserProgram.ok)(`stored XSS in the dashboard${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  let usernameAccepted = false;
  const clients: MqttClient[] = [];
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${ts.adminToken}` });
  let n = 0;

  async function publish(d: { id: string; family: string; secret: string }, channel: string, over: Record<string, unknown>): Promise<void> {
    const c = await ts.connectDevice(d.id, d.secret);
    clients.push(c);
    await c.publishAsync(`${d.family}/${d.id}/${channel}`, JSON.stringify({ ...examplePayload(d.family as never, channel, `x${++n}`, Date.now()), ...over }), { qos: 1 });
  }

  async function alerts(): Promise<Array<{ id: string; rule: string; status: string; device: { id: string } }>> {
    const res = await ts.service.http.inject({ url: '/api/alerts?limit=500', headers: auth() });
    return (res.json() as { items: Array<{ id: string; rule: string; status: string; device: { id: string } }> }).items;
  }

  beforeAll(async () => {
    ts = await startService({ ALERT_TICK_MS: 200, ALERT_CHECKPOINT_MS: 300 });
    const cam = await ts.registerDevice({ id: 'cam-x1', family: 'kitchen', name: P.camName, district: '330106', location: { lat: 30.20, lng: 120.10 }, meta: { storeId: 'S-X', storeName: P.storeName } });
    const elev = await ts.registerDevice({ id: 'elev-x1', family: 'elevator', name: P.elevatorName, district: '330106', location: { lat: 30.24, lng: 120.14 } });
    const scan = await ts.registerDevice({ id: 'scan-x1', family: 'cylinder', name: P.scannerName, district: '330105', location: { lat: 30.28, lng: 120.18 } });
    const disp = await ts.registerDevice({ id: 'disp-x1', family: 'dispenser', name: P.dispenserName, district: '330108', location: { lat: 30.32, lng: 120.22 } });
    // the bulk import: CSV with names and metadata from a spreadsheet
    const csv = [
      'id,family,name,lat,lng,district,maintenanceUnit',
      ['elev-csv1', 'elevator', csvField(P.csvElevatorName), '30.36', '120.26', '330105', csvField(P.maintenanceUnit)].join(','),
      ['cam-csv1', 'kitchen', csvField(P.csvName), '30.40', '120.30', '330102', ''].join(','),
    ].join('\n');
    const imp = await ts.importDevices(csv);
    expect(imp.status, JSON.stringify(imp.error)).toBe('done');
    const created = imp.result!.created as Array<{ id: string; family: string; secret: string }>;
    const csvElev = created.find((d) => d.id === 'elev-csv1')!;

    // a username with markup is either refused by the API or shown as text
    const u = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: auth(), payload: { username: P.username, password: 'hostile-user-password', role: 'operator' } });
    usernameAccepted = u.statusCode === 201;
    if (!usernameAccepted) expect(u.statusCode).toBe(400);

    await publish(scan, 'scan', { cylinderCode: P.cylinderCode, stationId: P.scanStation, point: 'pre_fill' });
    await publish(disp, 'tamper', { dispenserId: P.dispenserId, stationId: P.tamperStation, kind: 'seal_open' });
    await publish(cam, 'violation', { type: 'rat', confidence: 0.95, storeId: P.storeId, area: P.area, snapshotUrl: P.snapshotUrl });
    await publish(elev, 'fault', { code: 2, floor: 3, detail: P.faultDetail });
    await publish(csvElev, 'fault', { code: 11, floor: 9, detail: P.faultDetail });
    for (let i = 0; i < 100; i++) {
      const a = await alerts();
      if (['cam-x1', 'elev-x1', 'scan-x1', 'disp-x1', 'elev-csv1'].every((id) => a.some((x) => x.device.id === id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // an operator's note and assignee on the kitchen alert
    const rat = (await alerts()).find((a) => a.device.id === 'cam-x1')!;
    expect(rat).toBeDefined();
    const note = await ts.service.http.inject({ method: 'POST', url: `/api/alerts/${rat.id}/note`, headers: auth(), payload: { note: P.note } });
    expect(note.statusCode, note.body).toBe(200);
    const assign = await ts.service.http.inject({ method: 'POST', url: `/api/alerts/${rat.id}/assign`, headers: auth(), payload: { assignee: P.assignee } });
    expect(assign.statusCode, assign.body).toBe(200);
    if (usernameAccepted) {
      const tok = await ts.token(P.username, 'hostile-user-password');
      await ts.service.http.inject({ method: 'POST', url: `/api/alerts/${rat.id}/note`, headers: { authorization: `Bearer ${tok}` }, payload: { note: 'by the hostile user' } });
    }

    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const c of clients) await c.endAsync().catch(() => {});
    await ts?.dispose();
  });

  /** A logged-in admin page that records every script run by a payload and every CSP violation. */
  async function adminPage(): Promise<{ page: Page; problems: () => Promise<{ xss: string[]; csp: string[]; errors: string[] }>; cspHeader: string | undefined }> {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await ctx.addInitScript(() => {
      const w = window as unknown as { __xssHits: string[]; __csp: string[] };
      w.__xssHits = [];
      w.__csp = [];
      // every payload assigns window.__xss (or parent.__xss); record each assignment
      Object.defineProperty(window, '__xss', { configurable: true, get: () => w.__xssHits[0], set: (v) => { w.__xssHits.push(String(v)); } });
      document.addEventListener('securitypolicyviolation', (e) => {
        const where = e.target instanceof Element ? ` on ${e.target.outerHTML.slice(0, 160)}` : '';
        w.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}${where}${e.sample ? `: ${e.sample}` : ''}`);
      }, true);
    });
    const page = await ctx.newPage();
    const errors: string[] = [];
    const consoleCsp: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) consoleCsp.push(m.text()); });
    const res = await page.goto(ts.httpUrl);
    await page.fill('#username', 'admin');
    await page.fill('#password', ADMIN_PASSWORD);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('#live.on', { timeout: 15_000 });
    const problems = async (): Promise<{ xss: string[]; csp: string[]; errors: string[] }> => {
      const got = await page.evaluate(() => {
        const w = window as unknown as { __xssHits: string[]; __csp: string[] };
        return { xss: [...w.__xssHits], csp: [...w.__csp] };
      });
      return { xss: got.xss, csp: [...got.csp, ...consoleCsp], errors };
    };
    return { page, problems, cspHeader: res?.headers()['content-security-policy'] };
  }

  it('runs no device or user text as script, shows it as literal text, and reports no CSP violation in any view', async () => {
    const { page, problems } = await adminPage();

    // --- the wall: alert list and map
    await page.waitForSelector('#view-wall #map canvas');
    await page.waitForFunction(() => document.querySelectorAll('tr.alert-row').length >= 5, undefined, { timeout: 15_000 });
    const list = await page.innerText('#view-wall table.alerts');
    for (const p of [P.camName, P.elevatorName, P.scannerName, P.dispenserName, P.csvElevatorName, P.cylinderCode, P.dispenserId]) expect(list).toContain(p);

    // wait until the map has every located device and every open alert
    await page.waitForFunction(() => {
      const chart = (window as unknown as { echarts: { getInstanceByDom(el: Element | null): { getOption(): { series: Array<{ data: unknown[] }> } } | undefined } })
        .echarts.getInstanceByDom(document.getElementById('map'));
      const series = chart?.getOption().series ?? [];
      return (series[0]?.data.length ?? 0) >= 6 && series.slice(1).reduce((s, x) => s + x.data.length, 0) >= 5;
    }, undefined, { timeout: 15_000 });
    const points = await page.evaluate(() => {
      const el = document.getElementById('map')!;
      const chart = (window as unknown as { echarts: { getInstanceByDom(el: Element): {
        getOption(): { series: Array<{ data: Array<{ value: number[] }> }> };
        convertToPixel(finder: { seriesIndex: number }, value: number[]): number[];
      } } }).echarts.getInstanceByDom(el);
      const box = el.getBoundingClientRect();
      return chart.getOption().series.flatMap((s, seriesIndex) => s.data.map((d, dataIndex) => {
        const [x, y] = chart.convertToPixel({ seriesIndex }, d.value);
        return { seriesIndex, dataIndex, x: box.left + x!, y: box.top + y! };
      }));
    });
    const tips: string[] = [];
    const tipText = async (): Promise<string> => page.evaluate(() => {
      // ECharts puts its tooltip element in the chart's container, beside the canvas
      const el = document.getElementById('map')!;
      return [...el.children].slice(1).map((c) => (c as HTMLElement).innerText).join('\n');
    });
    // hover every point with the mouse, as an operator does
    for (const p of points) {
      await page.mouse.move(p.x + 40, p.y + 40);
      await page.mouse.move(p.x, p.y, { steps: 2 });
      await page.waitForTimeout(80);
      tips.push(await tipText());
    }
    // device points under an alert's point are not reachable with the mouse; show theirs too
    for (const p of points) {
      await page.evaluate(({ seriesIndex, dataIndex }) => {
        const chart = (window as unknown as { echarts: { getInstanceByDom(el: Element | null): { dispatchAction(a: unknown): void } } }).echarts.getInstanceByDom(document.getElementById('map'));
        chart.dispatchAction({ type: 'showTip', seriesIndex, dataIndex });
      }, p);
      await page.waitForTimeout(30);
      tips.push(await tipText());
    }
    expect((await problems()).xss, 'scripts run by payloads in map tooltips').toEqual([]);
    const hovered = tips.slice(0, points.length).join('\n');
    // the reported attack: a scanner's cylinder code in the alert tooltip, on hover
    expect(hovered).toContain(P.cylinderCode);
    expect(hovered).toContain(P.dispenserId);
    const allTips = tips.join('\n');
    for (const p of [P.cylinderCode, P.dispenserId, P.camName, P.elevatorName, P.scannerName, P.dispenserName, P.csvName, P.csvElevatorName]) expect(allTips).toContain(p);
    expect(await page.$$('#map img, #map svg, #map iframe, #map script')).toEqual([]);

    // --- the alert detail drawer: summary, evidence, snapshot link, timeline, assignee
    await page.click('tr.alert-row:has-text("cam-x1")');
    await page.waitForSelector('#alert-detail #detail-timeline');
    await page.waitForFunction(() => document.querySelector('#detail-timeline')?.textContent?.includes('window.__xss'), undefined, { timeout: 15_000 });
    const drawer = await page.innerText('#alert-detail');
    for (const p of [P.camName, P.storeId, P.snapshotUrl, P.note, P.assignee]) expect(drawer).toContain(p);
    if (usernameAccepted) expect(drawer).toContain(P.username);
    // the javascript: snapshot URL is text, not a link; every link left is http(s)
    const hrefs = await page.$$eval('#alert-detail a', (as) => as.map((a) => a.getAttribute('href') ?? ''));
    for (const href of hrefs) expect(href).toMatch(/^https?:/);
    await page.click('#alert-detail [data-refused-url]');
    await page.click('#alert-detail button:has-text("关闭")');

    await page.click('tr.alert-row:has-text("scan-x1")');
    await page.waitForSelector('#alert-detail #detail-timeline');
    await page.waitForFunction(() => !document.querySelector('#alert-detail')?.textContent?.includes('…'), undefined, { timeout: 15_000 });
    const scanDrawer = await page.innerText('#alert-detail');
    for (const p of [P.scannerName, P.cylinderCode, P.scanStation]) expect(scanDrawer).toContain(p);
    await page.click('#alert-detail button:has-text("关闭")');

    // --- the language switch re-renders everything through the translations
    await page.click('#lang');
    const listEn = await page.innerText('#view-wall table.alerts');
    for (const p of [P.camName, P.cylinderCode, P.dispenserId]) expect(listEn).toContain(p);
    await page.click('#lang');

    // --- the 96333 dispatch console: the trapped elevator imported from CSV
    await page.click('[data-nav="dispatch"]');
    await page.waitForSelector('.case:has-text("elev-csv1")', { timeout: 15_000 });
    const card = await page.innerText('.case:has-text("elev-csv1")');
    expect(card).toContain(P.csvElevatorName);
    expect(card).toContain(P.maintenanceUnit);

    // --- devices: the list, a device's detail, its readings, and the history chart's tooltip
    await page.click('[data-nav="devices"]');
    await page.fill('#device-search', 'x1');
    await page.waitForSelector('#view-devices tr.alert-row:has-text("scan-x1")');
    const devices = await page.innerText('#view-devices table');
    for (const p of [P.camName, P.elevatorName, P.scannerName, P.dispenserName]) expect(devices).toContain(p);
    await page.click('#view-devices tr.alert-row:has-text("scan-x1")');
    await page.waitForSelector('#history-chart canvas');
    await page.waitForFunction(() => document.querySelector('#device-detail table'), undefined, { timeout: 15_000 });
    const detail = await page.innerText('#device-detail');
    expect(detail).toContain(P.scannerName);
    expect(detail).toContain(P.cylinderCode);
    const chartBox = (await page.$('#history-chart'))!;
    const hb = (await chartBox.boundingBox())!;
    await page.mouse.move(hb.x + hb.width / 2, hb.y + hb.height / 2, { steps: 3 });
    await page.waitForTimeout(100);

    // --- statistics, with the chart's tooltip shown
    await page.click('[data-nav="stats"]');
    await page.waitForSelector('#view-stats table td');
    const sb = (await (await page.$('#stats-chart'))!.boundingBox())!;
    await page.mouse.move(sb.x + sb.width - 80, sb.y + sb.height / 2, { steps: 3 });
    await page.waitForTimeout(150);
    expect(await page.$$eval('#stats-chart .tip', (els) => els.length)).toBeGreaterThan(0);

    // --- users (admin)
    await page.click('[data-nav="users"]');
    await page.waitForSelector('#view-users td:has-text("admin")');
    if (usernameAccepted) expect(await page.innerText('#view-users table')).toContain(P.username);

    const got = await problems();
    expect(got.xss, 'scripts run by payloads').toEqual([]);
    expect(got.csp, 'CSP violations').toEqual([]);
    expect(got.errors, 'page errors').toEqual([]);
    expect(await page.evaluate(() => document.querySelectorAll('img, svg, iframe, script:not([src])').length), 'markup from payloads in the page').toBe(0);
  });

  it('serves the page with a strict Content-Security-Policy', async () => {
    const { cspHeader } = await adminPage();
    expectStrictCsp(cspHeader);
    // the dashboard itself needs no exception at all
    expect(parseCsp(cspHeader).get('style-src')).toEqual(["'self'"]);
  });

  it('keeps text text in the DOM helpers every view uses (toast, tooltips, links, handlers)', async () => {
    const { page, problems } = await adminPage();
    // a string, so the test runner does not rewrite the import(); the module comes from /js
    await page.evaluate('import("/js/dom.js").then((m) => { window.__dom = m; })');
    const out = await page.evaluate((payloads) => {
      const dom = (window as unknown as { __dom: unknown }).__dom as {
        h(tag: string, attrs?: Record<string, unknown>, ...children: unknown[]): HTMLElement;
        toast(text: string): void; safeUrl(v: unknown): string | null;
        tooltipEl(lines: unknown[], color?: string): HTMLElement;
        axisTooltip(f?: (v: unknown) => unknown): (p: unknown) => HTMLElement;
      };
      const r: Record<string, unknown> = {};
      dom.toast(payloads[0]!);
      const toast = [...document.querySelectorAll('.toast')].at(-1)!;
      r.toast = [toast.textContent, toast.children.length];
      const tip = dom.tooltipEl([payloads[1], [payloads[2], 'x']], '#f00');
      r.tip = [tip.textContent, tip.querySelectorAll('img, svg, script').length];
      const axis = dom.axisTooltip()([{ axisValueLabel: payloads[0], seriesName: payloads[1], value: [1, payloads[2]], color: 'red' }]);
      r.axis = [axis.textContent, axis.querySelectorAll('img, svg, script').length];
      r.links = ['javascript:alert(1)', ' JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<script>1</script>', 'vbscript:x', 'https://cam.example/a.jpg', '/api/x']
        .map((u) => dom.h('a', { href: u }).getAttribute('href'));
      try { dom.h('button', { onclick: 'window.__xss=1' }); r.handler = 'accepted'; } catch { r.handler = 'refused'; }
      const styled = dom.h('div', { style: 'color: red' });
      r.style = [styled.style.color, styled.getAttribute('style')];
      return r;
    }, [P.cylinderCode, P.storeId, P.dispenserName]);
    expect(out.toast).toEqual([P.cylinderCode, 0]);
    expect(out.tip).toEqual([`${P.storeId}${P.dispenserName}x`, 0]);
    expect(out.axis).toEqual([`${P.cylinderCode}${P.storeId}: ${P.dispenserName}`, 0]);
    expect(out.links).toEqual([null, null, null, null, null, 'https://cam.example/a.jpg', `${ts.httpUrl}/api/x`]);
    expect(out.handler).toBe('refused');
    // set through the CSSOM, which the CSP allows (the attribute then reflects it)
    expect((out.style as string[])[0]).toBe('red');
    const got = await problems();
    expect(got.xss).toEqual([]);
    expect(got.csp).toEqual([]);
  });

  it('has no HTML sinks, inline handlers, inline scripts or inline styles in the UI sources', () => {
    const files = ['index.html', ...readdirSync(path.join(uiDir, 'js')).map((f) => `js/${f}`)];
    const offenders: string[] = [];
    const check = (f: string, i: number, line: string, bad: RegExp | ((l: string) => boolean), why: string): void => {
      if (typeof bad === 'function' ? bad(line) : bad.test(line)) offenders.push(`${f}:${i + 1}: ${why}: ${line.trim().slice(0, 120)}`);
    };
    for (const f of files) {
      // the code, not the comments (which name the sinks they avoid)
      const lines = readFileSync(path.join(uiDir, f), 'utf8').replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, '')).split('\n')
        .map((l) => (/^\s*\/\//.test(l) ? '' : l));
      lines.forEach((line, i) => {
        check(f, i, line, /\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|createContextualFragment|\beval\(|new Function\(|setAttribute\(\s*['"]on/, 'an HTML or code sink');
        if (f.endsWith('.html')) {
          check(f, i, line, /\son[a-z]+\s*=|<style|\sstyle\s*=|javascript:/i, 'inline handler, style or javascript: URL');
          check(f, i, line, (l) => [...l.matchAll(/<script\b[^>]*>/gi)].some((m) => !/\ssrc=/.test(m[0])), 'inline <script>');
        } else {
          check(f, i, line, /\bstyle:\s*['"`]/, 'an inline style string (keep styles in style.css classes; set computed ones through el.style)');
          // every chart tooltip is built as DOM: ECharts' default and string formatters go to innerHTML
          check(f, i, line, (l) => /\btooltip:\s*\{/.test(l) && !/formatter:\s*(?:axisTooltip\(|\([^)]*\)\s*=>\s*tooltipEl\()/.test(l), 'a chart tooltip without a DOM formatter');
          check(f, i, line, (l) => /\btooltip:\s*\{/.test(l) && !/confine:\s*true/.test(l), 'a chart tooltip not confined (ECharts adds an inline-styled arrow)');
        }
      });
    }
    expect(offenders).toEqual([]);
  });
});
