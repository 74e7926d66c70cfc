/**
 * The wall's map in a real browser (Debian's chromium driven by playwright-core;
 * dashboard/ui/js/wallMap.js, docs/dashboard.md "The map"): the configured city's districts
 * (MAP_CITY, default 杭州市) registered with ECharts' geo component from the GeoJSON the service
 * ships, named (西湖区 …, Xihu … in English), the devices and open alerts on it with the critical
 * one apart; a click on a district filters the wall's alert list to it and a second click clears
 * it; a click on an alert opens it; the list, the devices and the alert detail name districts
 * instead of showing codes (a street's code as its district and the rest). Screenshots go to
 * test-output/ (wall-map-1920x1080-zh.png is the README's docs/screenshots/wall-map.png). Skipped
 * locally when chromium is missing (Debian package chromium); CI (REQUIRE_EXTERNAL=1) fails instead.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { addUsers, browserProgram, closeAll, launchChromium, signIn } from '../helpers/browser.js';
import { startService, type TestService } from '../helpers/service.js';

const out = path.resolve('test-output');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** cameras (a minor alert each) and one elevator (trapped passengers: critical), in three districts and one street */
const CAMERAS = [
  { id: 'cam-map-xh1', name: '西湖区某小学食堂', district: '330106', location: { lat: 30.262, lng: 120.118 } },
  { id: 'cam-map-xh2', name: '文新某餐馆', district: '330106', location: { lat: 30.29, lng: 120.1 } },
  { id: 'cam-map-st', name: '留下街道某面馆', district: '330106901', location: { lat: 30.25, lng: 120.06 } },
  { id: 'cam-map-bj1', name: '滨江某公司食堂', district: '330108', location: { lat: 30.208, lng: 120.222 } },
  { id: 'cam-map-bj2', name: '长河某快餐店', district: '330108', location: { lat: 30.18, lng: 120.18 } },
  { id: 'cam-map-sc1', name: '上城区某酒楼', district: '330102', location: { lat: 30.255, lng: 120.19 } },
  { id: 'cam-map-sc2', name: '九堡某小吃店', district: '330102', location: { lat: 30.3, lng: 120.265 } },
] as const;
const ELEVATOR = { id: 'elev-map-01', name: '文三路 88 号 2 号梯', district: '330106', location: { lat: 30.277, lng: 120.13 } };

interface MapRead {
  map: string; names: string[]; devices: number; pinned: number; others: number; highlighted: string[];
  label: string; box: { left: number; top: number; width: number; height: number };
}

describe.skipIf(!browserProgram.ok)(`the wall's district map in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const clients: MqttClient[] = [];
  const pageErrors: string[] = [];
  let wall: Page;
  let n = 0;

  async function open(viewport = { width: 1920, height: 1080 }): Promise<Page> {
    const ctx = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, ts.httpUrl, 'op1', 'op1-password');
    await page.waitForSelector('#view-wall #map canvas');
    return page;
  }

  /** What the page's ECharts instance holds: the geo map and its districts, the points, the highlighted region. */
  const readMap = (p: Page): Promise<MapRead> => p.evaluate(() => {
    type Ec = { getInstanceByDom: (el: Element) => { getOption: () => Record<string, unknown> }; getMap: (name: string) => { geoJSON?: { features: Array<{ properties: { name: string } }> }; geoJson?: { features: Array<{ properties: { name: string } }> } } };
    const ec = (window as unknown as { echarts: Ec }).echarts;
    const el = document.getElementById('map')!;
    const o = ec.getInstanceByDom(el).getOption() as {
      geo: Array<{ map: string; regions?: Array<{ name: string; itemStyle?: unknown }>; label: { formatter: (p: { name: string }) => string } }>;
      series: Array<{ type: string; data: unknown[] }>;
    };
    const geo = o.geo[0]!;
    const gj = ec.getMap(geo.map);
    const series = o.series;
    const r = el.getBoundingClientRect();
    return {
      map: geo.map, names: (gj.geoJSON ?? gj.geoJson)!.features.map((f) => f.properties.name),
      devices: series[0]!.data.length, pinned: series[series.length - 1]!.data.length,
      others: series.slice(1, -1).reduce((s, x) => s + x.data.length, 0),
      // ECharts lists every region; the one set apart has a style of its own
      highlighted: (geo.regions ?? []).filter((x) => x.itemStyle).map((x) => x.name), label: geo.label.formatter({ name: '西湖区' }),
      box: { left: r.left, top: r.top, width: r.width, height: r.height },
    };
  });

  /** The page pixel of a longitude/latitude on the map. */
  const pixelOf = (p: Page, lngLat: readonly [number, number]): Promise<[number, number]> => p.evaluate((ll) => {
    type Ec = { getInstanceByDom: (el: Element) => { convertToPixel: (f: object, v: number[]) => number[] } };
    const el = document.getElementById('map')!;
    const [x, y] = (window as unknown as { echarts: Ec }).echarts.getInstanceByDom(el).convertToPixel({ geoIndex: 0 }, [...ll]);
    const r = el.getBoundingClientRect();
    return [r.left + x!, r.top + y!] as [number, number];
  }, lngLat);

  /** The district cells of the rows shown, and the filter's field and name tag. */
  const listDistricts = (p: Page): Promise<{ cells: string[]; field: string; tag: string }> => p.evaluate(() => ({
    cells: [...document.querySelectorAll('#view-wall tr.alert-row')].map((tr) => (tr as HTMLTableRowElement).cells[5]!.textContent ?? ''),
    field: (document.querySelector('#view-wall input.district-filter') as HTMLInputElement).value,
    tag: document.getElementById('alerts-district')?.textContent ?? '',
  }));

  /** wait until the map sets `name` (and only it) apart */
  const highlighted = async (p: Page, name: string): Promise<void> => {
    for (const end = Date.now() + 5000; ; await sleep(50)) {
      const now = (await readMap(p)).highlighted;
      if (now.length === 1 && now[0] === name) return;
      if (Date.now() > end) throw new Error(`highlighted: ${now.join(', ')}, not ${name}`);
    }
  };

  const rowsAre = (p: Page, want: number): Promise<unknown> => p.waitForFunction((k) => document.querySelectorAll('#view-wall tr.alert-row').length === k, want, { timeout: 15_000 });

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    // class 3 raises minor alerts here (by default it only counts in the store score)
    ts = await startService({ ALERT_TICK_MS: 200, ALERT_CHECKPOINT_MS: 300, ALERT_OVERRIDES: JSON.stringify({ rules: { 'kitchen.violation': { maxAlertClass: 3 } } }) });
    await addUsers(ts, [['op1', 'operator']]);
    const publish = (c: MqttClient, id: string, family: string, channel: string, over: Record<string, unknown>): Promise<unknown> =>
      c.publishAsync(`${family}/${id}/${channel}`, JSON.stringify({ ...examplePayload(family as never, channel, `m${++n}`, Date.now()), ...over }), { qos: 1 });
    for (const cam of CAMERAS) {
      const d = await ts.registerDevice({ ...cam, family: 'kitchen', meta: { storeId: `S-${cam.id}` } });
      const c = await ts.connectDevice(d.id, d.secret);
      clients.push(c);
      await publish(c, d.id, 'kitchen', 'violation', { type: 'no_chef_hat', confidence: 0.8, storeId: `S-${cam.id}` });
    }
    const e = await ts.registerDevice({ ...ELEVATOR, family: 'elevator' });
    const ec = await ts.connectDevice(e.id, e.secret);
    clients.push(ec);
    await publish(ec, e.id, 'elevator', 'fault', { code: 11, floor: 7 });
    const auth = { authorization: `Bearer ${ts.adminToken}` };
    for (const end = Date.now() + 20_000; ; await sleep(100)) {
      const items = (await ts.service.http.inject({ url: '/api/alerts?status=open,acknowledged&limit=100', headers: auth })).json().items as Array<{ id: string; rule: string }>;
      if (items.some((a) => a.rule === 'elevator.trapped') && items.length === CAMERAS.length + 1) break;
      if (Date.now() > end) throw new Error(`alerts not raised: ${items.length}`);
    }
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await closeAll(contexts, browser, ts);
  });

  it('(a) draws the city\'s named districts with the devices and open alerts on them, the critical one apart', async () => {
    wall = await open();
    await wall.waitForFunction((k) => {
      const ec = (window as unknown as { echarts: { getInstanceByDom: (el: Element) => { getOption: () => { geo?: unknown[]; series?: Array<{ data: unknown[] }> } } } }).echarts;
      const o = ec.getInstanceByDom(document.getElementById('map')!).getOption();
      return (o.geo?.length ?? 0) > 0 && o.series?.[0]?.data.length === k;
    }, CAMERAS.length + 1, { timeout: 15_000 });
    const m = await readMap(wall);
    expect(m.map).toBe('districts-330100');
    expect(m.names).toEqual(expect.arrayContaining(['西湖区', '上城区', '拱墅区', '滨江区', '萧山区', '余杭区', '临平区', '钱塘区', '富阳区', '临安区', '桐庐县', '淳安县', '建德市']));
    expect(m.names).toHaveLength(13);
    expect(m.label).toBe('西湖区');
    expect(await wall.getAttribute('#view-wall .map-panel', 'data-city')).toBe('330100');
    expect(await wall.textContent('#map-kind')).toBe('行政区示意图');
    // every device a point, the trapped passengers (critical) apart from the minor alerts
    expect(m.devices).toBe(CAMERAS.length + 1);
    expect(m.pinned).toBe(1);
    expect(m.others).toBe(CAMERAS.length);
    // fitted to the devices: each of them inside the map's box
    for (const d of [...CAMERAS, ELEVATOR]) {
      const [x, y] = await pixelOf(wall, [d.location.lng, d.location.lat]);
      expect(x, d.id).toBeGreaterThan(m.box.left);
      expect(x, d.id).toBeLessThan(m.box.left + m.box.width);
      expect(y, d.id).toBeGreaterThan(m.box.top);
      expect(y, d.id).toBeLessThan(m.box.top + m.box.height);
    }
    await wall.screenshot({ path: path.join(out, 'wall-map-1920x1080-zh.png') });
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('(b) names districts in the list instead of codes, a street\'s code as its district and the rest', async () => {
    await rowsAre(wall, CAMERAS.length + 1);
    const { cells } = await listDistricts(wall);
    expect(cells.sort()).toEqual(['上城区', '上城区', '滨江区', '滨江区', '西湖区', '西湖区', '西湖区', '西湖区 901'].sort());
    expect(cells.some((c) => /^\d{6}/.test(c))).toBe(false);
    // the code on hover
    expect(await wall.$eval('#view-wall tr.alert-row[data-severity="critical"]', (tr) => (tr as HTMLTableRowElement).cells[5]!.title)).toBe('330106');
  }, 30_000);

  it('(c) a click on a district filters the list to it, a second click clears it; a click on the critical alert opens it', async () => {
    const binjiang: [number, number] = [120.2, 30.195];
    const [x, y] = await pixelOf(wall, binjiang);
    await wall.mouse.click(x, y);
    await rowsAre(wall, 2);
    expect(await listDistricts(wall)).toEqual({ cells: ['滨江区', '滨江区'], field: '330108', tag: '滨江区' });
    // highlighted on the map
    await highlighted(wall, '滨江区');
    // the district's tooltip: its devices and open alerts (text, never HTML)
    await wall.mouse.move(x + 2, y + 2);
    await wall.waitForFunction(() => document.getElementById('map')?.textContent?.includes('2 台设备，2 条未关闭告警') ?? false, undefined, { timeout: 5000 });
    await wall.screenshot({ path: path.join(out, 'wall-map-binjiang-zh.png') });

    // another district: the filter moves to it
    const [sx, sy] = await pixelOf(wall, [120.205, 30.275]);
    await wall.mouse.click(sx, sy);
    await rowsAre(wall, 2);
    expect(await listDistricts(wall)).toEqual({ cells: ['上城区', '上城区'], field: '330102', tag: '上城区' });

    // the same district again: every alert back, nothing highlighted
    await wall.mouse.click(sx, sy);
    await rowsAre(wall, CAMERAS.length + 1);
    expect(await listDistricts(wall)).toMatchObject({ field: '', tag: '' });
    expect((await readMap(wall)).highlighted).toEqual([]);

    // a district typed into the list's filter is highlighted on the map too
    await wall.fill('#view-wall input.district-filter', '330106');
    await rowsAre(wall, 4);
    await highlighted(wall, '西湖区');
    expect((await listDistricts(wall)).tag).toBe('西湖区');
    await wall.fill('#view-wall input.district-filter', '');
    await rowsAre(wall, CAMERAS.length + 1);

    // the trapped-passenger alert's point opens its detail, which names the district
    const [ex, ey] = await pixelOf(wall, [ELEVATOR.location.lng, ELEVATOR.location.lat]);
    await wall.mouse.click(ex, ey);
    await wall.waitForSelector('#alert-detail #detail-timeline', { timeout: 15_000 });
    const detail = await wall.textContent('#alert-detail');
    expect(detail).toContain('电梯困人');
    expect(detail).toContain(ELEVATOR.name);
    expect(detail).toContain('西湖区');
    await wall.click('#alert-detail button:has-text("关闭")');
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('(d) in English: Xihu, Binjiang; the devices view names districts too; no page scrolling at 1600x900', async () => {
    const p = await open({ width: 1600, height: 900 });
    await rowsAre(p, CAMERAS.length + 1);
    await p.click('#lang');
    await rowsAre(p, CAMERAS.length + 1);
    await p.waitForFunction(() => document.querySelector('#view-wall .map-panel')?.getAttribute('data-city') === '330100', undefined, { timeout: 15_000 });
    await p.waitForFunction(() => {
      const ec = (window as unknown as { echarts: { getInstanceByDom: (el: Element) => { getOption: () => { geo?: Array<{ label: { formatter: (x: { name: string }) => string } }> } } } }).echarts;
      return ec.getInstanceByDom(document.getElementById('map')!).getOption().geo?.[0]?.label.formatter({ name: '西湖区' }) === 'Xihu';
    }, undefined, { timeout: 15_000 });
    expect((await listDistricts(p)).cells).toEqual(expect.arrayContaining(['Xihu', 'Binjiang', 'Shangcheng', 'Xihu 901']));
    const scroll = await p.evaluate(() => ({ h: document.scrollingElement!.scrollHeight, w: document.scrollingElement!.scrollWidth, ih: innerHeight, iw: innerWidth }));
    expect(scroll.h).toBeLessThanOrEqual(scroll.ih);
    expect(scroll.w).toBeLessThanOrEqual(scroll.iw);
    await p.screenshot({ path: path.join(out, 'wall-map-1600x900-en.png') });

    await p.click('a[data-nav="devices"]');
    await p.waitForSelector('#view-devices tbody tr');
    await p.waitForFunction(() => [...document.querySelectorAll('#view-devices tbody tr')].some((tr) => tr.textContent?.includes('Binjiang')), undefined, { timeout: 15_000 });
    const shown = await p.$$eval('#view-devices tbody td', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(shown).toContain('Xihu 901');
    expect(shown.some((c) => /^3301\d{2}$/.test(c))).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
