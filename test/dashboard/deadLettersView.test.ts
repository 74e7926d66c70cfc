/**
 * The dead-letter view (#/dead-letters, dashboard/ui/js/deadLetters.js) in headless Chromium
 * (Debian package chromium, driven by playwright-core), on a service in open mode: a payload with
 * `<script>` is shown as text (no element made of it, no dialog), a payload that is not UTF-8 as
 * hex with its size, reasons by their Chinese names and the reason filter; an admin ticks the
 * dead letter of a device registered since and replays it (重放所选): the row says 已存储 and the
 * readings API has it; an operator reads the view without checkboxes or the replay button.
 * Screenshot test-output/dead-letters.png (the one in docs/screenshots/ is a copy). Skipped
 * without chromium; REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../core/schemas/examples.js';
import { ADMIN_PASSWORD, connectMqtt, startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, openSignedIn } from '../helpers/browser.js';

const out = path.resolve('test-output');
const SCRIPT = '<script>alert("dl")</script><img src=x onerror=alert(2)>';

describe.skipIf(!browserProgram.ok)(`dead-letter view in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  /** alert(), confirm(), prompt() the page opened: a payload that ran would open one */
  const jsDialogs: string[] = [];
  /** dead-letter ids by name */
  const ids: Record<string, number> = {};

  async function open(user: string, password: string): Promise<Page> {
    const page = await openSignedIn(browser, { contexts, pageErrors, jsDialogs }, `${ts.httpUrl}/#/dead-letters`, user, password, { height: 900 });
    await page.waitForSelector('#view-dead-letters #dl-table tbody tr[data-id]');
    return page;
  }

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ MQTT_ALLOW_ANONYMOUS: true });
    await addUsers(ts, [['op1', 'operator']]);
    const cam = await ts.registerDevice({ id: 'dlv-cam', family: 'kitchen', district: '330106' });
    const c = await ts.connectDevice(cam.id, cam.secret);
    const anon = await connectMqtt(ts.mqttUrl, { clientId: 'anon:dlv' });
    try {
      // a lift not registered yet (registered below, then replayed), markup, bytes that are not UTF-8
      await anon.publishAsync('elevator/dlv-lift/status', JSON.stringify(examplePayload('elevator', 'status', 'dlv-1', Date.now())), { qos: 1 });
      await c.publishAsync('kitchen/dlv-cam/violation', SCRIPT, { qos: 1 });
      await c.publishAsync('kitchen/dlv-cam/violation', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { qos: 1 });
    } finally {
      await anon.endAsync();
      await c.endAsync();
    }
    await ts.registerDevice({ id: 'dlv-lift', family: 'elevator', district: '330106' });
    const res = await ts.service.http.inject({ url: '/api/dead-letters', headers: { authorization: `Bearer ${ts.adminToken}` } });
    const [binary, script, lift] = (res.json() as { items: Array<{ id: number }> }).items;
    Object.assign(ids, { binary: binary!.id, script: script!.id, lift: lift!.id });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('shows payloads as text or hex, reasons by name; an admin replays a dead letter and sees it stored', async () => {
    const p = await open('admin', ADMIN_PASSWORD);
    expect(await p.textContent('header nav a[data-nav="dead-letters"]')).toBe('死信消息');
    const row = (name: string): string => `#dl-table tr[data-id="${ids[name]}"]`;
    expect(await p.$$eval('#dl-table tbody tr[data-id]', (trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.id))))
      .toEqual([ids.binary, ids.script, ids.lift]);
    expect(await p.textContent(row('lift'))).toContain('设备未注册');
    expect(await p.textContent(row('script'))).toContain('不是 UTF-8 JSON 对象');

    // markup from a device: the very characters, as text; nothing of it became an element
    await p.click(`${row('script')} td:nth-child(3)`);
    await p.waitForSelector('#dl-payload[data-mode="text"]');
    expect(await p.textContent('#dl-payload')).toBe(SCRIPT);
    expect(await p.$$('#dl-detail script, #dl-detail img, #dl-table script, #dl-table img')).toHaveLength(0);
    expect(await p.textContent('#dl-payload-size')).toBe(`${Buffer.byteLength(SCRIPT)} 字节`);

    // not UTF-8: a hex dump, and no switch to text
    await p.click(`${row('binary')} td:nth-child(3)`);
    await p.waitForSelector('#dl-payload[data-mode="hex"]');
    expect(await p.textContent('#dl-payload')).toContain('7b ff fe 7d');
    expect(await p.textContent('#dl-payload-mode')).toContain('不是有效的 UTF-8');
    expect(await p.isDisabled('#dl-payload-toggle')).toBe(true);

    // replay the lift's dead letter, registered since
    expect(await p.isDisabled('#dl-replay')).toBe(true);
    await p.check(`${row('lift')} input[type=checkbox]`);
    expect(await p.textContent('#dl-selected')).toBe('已选 1 条');
    await p.click(`${row('lift')} td:nth-child(3)`);
    await p.click('#dl-replay');
    await p.waitForSelector(`${row('lift')} [data-outcome="stored"]`);
    expect(await p.textContent(`${row('lift')} .dl-outcome`)).toBe('已存储');
    expect(await p.textContent('#dl-replay-result')).toContain('已存储 1');
    expect(await p.textContent('#dl-detail')).toContain('重放结果');
    const readings = await ts.service.http.inject({ url: '/api/devices/dlv-lift/readings?channel=status', headers: { authorization: `Bearer ${ts.adminToken}` } });
    expect((readings.json() as { items: Array<{ msgId: string }> }).items.map((r) => r.msgId)).toEqual(['dlv-1']);

    // again, with the still-invalid one: a duplicate, and refused by its reason's name
    await p.check(`${row('lift')} input[type=checkbox]`);
    await p.check(`${row('script')} input[type=checkbox]`);
    await p.click('#dl-replay');
    await p.waitForSelector(`${row('lift')} [data-outcome="duplicate"]`);
    expect(await p.textContent(`${row('script')} .dl-outcome`)).toBe('仍被拒收: 不是 UTF-8 JSON 对象');
    expect(await p.$$('#dl-table tbody tr[data-id]')).toHaveLength(3);
    await p.click(`${row('script')} td:nth-child(3)`);
    await p.waitForSelector('#dl-payload[data-mode="text"]');
    await p.screenshot({ path: path.join(out, 'dead-letters.png') });

    // the reason filter
    await p.selectOption('#dl-reason', 'unknown_device');
    await p.waitForFunction(() => document.querySelectorAll('#dl-table tbody tr[data-id]').length === 1);
    expect(await p.getAttribute('#dl-table tbody tr[data-id]', 'data-id')).toBe(String(ids.lift));
    expect(jsDialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('an operator reads dead letters, without checkboxes or replay; English after the switch', async () => {
    const p = await open('op1', 'op1-password');
    expect(await p.$('#dl-replay')).toBeNull();
    expect(await p.$$('#dl-table input[type=checkbox]')).toHaveLength(0);
    await p.click('#lang');
    await p.waitForSelector('#view-dead-letters #dl-table tbody tr[data-id]');
    expect(await p.textContent(`#dl-table tr[data-id="${ids.lift}"]`)).toContain('Device not registered');
    expect(pageErrors).toEqual([]);
  });
});
