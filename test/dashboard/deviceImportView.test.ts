/**
 * Device import in the devices view (dashboard/ui/js/deviceImport.js) in a real browser (Debian's
 * chromium driven by playwright-core): an admin pastes CSV with a bad row and sees every bad row
 * and nothing imported; fixed, the job runs to its end and the new devices' secrets are shown
 * once and saved as a CSV file, and a secret signs its device in over MQTT; an operator has no
 * import. Skipped locally when chromium is missing (Debian package chromium); CI
 * (REQUIRE_EXTERNAL=1) fails instead.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, signIn } from '../helpers/browser.js';

const HEADER = 'id,family,name,lat,lng,district,storeId';
const GOOD = ['imp-cam-1,kitchen,"=1+1 后厨",30.27,120.15,330106,S-IMP-1', 'imp-cam-2,kitchen,二号后厨,30.28,120.16,330106,S-IMP-2'];
const BAD = 'imp-cam-3,kettle,坏的一行,30.28,120.16,330106,S-IMP-3';

describe.skipIf(!browserProgram.ok)(`device import in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function open(user: string, password: string): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await signIn(page, `${ts.httpUrl}/#/devices`, user, password);
    await page.waitForSelector('#device-list');
    return page;
  }

  beforeAll(async () => {
    ts = await startService({});
    await addUsers(ts, [['op1', 'operator']]);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => closeAll(contexts, browser, ts));

  it('a bad row refuses the whole import with the row shown; fixed, the secrets show once and sign the devices in', async () => {
    const p = await open('admin', ADMIN_PASSWORD);
    await p.fill('#dev-import-text', [HEADER, ...GOOD, BAD].join('\n'));
    await p.click('#dev-import-go');
    await p.waitForSelector('#dev-import-rows tr[data-row="3"]', { timeout: 20_000 });
    expect(await p.textContent('#dev-import-msg')).toContain('未导入任何设备');
    expect(await p.textContent('#dev-import-rows')).toContain('family');
    expect((await ts.service.http.inject({ method: 'GET', url: '/api/devices/imp-cam-1', headers: { authorization: `Bearer ${ts.adminToken}` } })).statusCode).toBe(404);

    await p.fill('#dev-import-text', [HEADER, ...GOOD].join('\n'));
    await p.click('#dev-import-go');
    await p.waitForSelector('#dev-import-msg[data-code="done"]', { timeout: 20_000 });
    expect(await p.textContent('#dev-import-msg')).toContain('新增 2 台');
    const rows = await p.$$eval('#dev-import-created tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent ?? '')));
    expect(rows.map((r) => r[0])).toEqual(['imp-cam-1', 'imp-cam-2']);
    // the list shows them, the name as text
    await p.waitForFunction(() => document.querySelector('#device-list')?.textContent?.includes('=1+1 后厨'), undefined, { timeout: 10_000 });

    // saved as CSV: every secret, formula-looking cells kept text
    const [download] = await Promise.all([p.waitForEvent('download'), p.click('#dev-import-save')]);
    const saved = readFileSync((await download.path())!, 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(saved[0]).toBe('id,family,secret');
    expect(saved).toHaveLength(3);
    // a secret shown signs its device in
    const secret = rows[0]![2]!;
    expect(saved[1]).toContain(secret);
    const c = await ts.connectDevice('imp-cam-1', secret);
    await c.endAsync();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('an operator sees the devices but no import', async () => {
    const p = await open('op1', 'op1-password');
    expect(await p.$('#dev-import')).toBeNull();
  }, 60_000);
});
