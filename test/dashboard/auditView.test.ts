/**
 * The audit log and user management in the dashboard, in headless Chromium (Debian package
 * chromium, driven by playwright-core): an admin disables a user and generates a new password
 * for another (shown once in a dialog; it works, the old one does not), then opens #/audit and
 * finds both entries with actor and address, filters them by action and exports the filtered
 * list as CSV; an operator has no audit view. Screenshots in test-output/. Skipped without
 * chromium, with the reason.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { addUsers, browserProgram, closeAll, launchChromium, openSignedIn } from '../helpers/browser.js';

const out = path.resolve('test-output');

describe.skipIf(!browserProgram.ok)(`the audit log in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  async function open(user: string, password: string, view: string): Promise<Page> {
    return openSignedIn(browser, { contexts, pageErrors }, `${ts.httpUrl}/#/${view}`, user, password, { width: 1440, height: 900, acceptDownloads: true });
  }

  const loginStatus = async (username: string, password: string): Promise<number> =>
    (await ts.service.http.inject({ method: 'POST', url: '/api/login', payload: { username, password } })).statusCode;

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService();
    await addUsers(ts, [['zoe', 'operator'], ['yan', 'dispatcher'], ['xia', 'operator']]);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('an admin disables a user and generates a password in the users view, then finds both in #/audit, filters and exports them', async () => {
    const page = await open('admin', ADMIN_PASSWORD, 'users');
    await page.waitForSelector('#view-users tr[data-user="zoe"][data-disabled="false"]');

    await page.click('tr[data-user="zoe"] [data-act="disable"]');
    expect(await page.textContent('#confirm')).toContain('禁用用户 zoe？');
    await page.click('#confirm [data-confirm="ok"]');
    await page.waitForSelector('#view-users tr[data-user="zoe"][data-disabled="true"]');

    // a generated password: asked first, then shown once, and it is the one that works
    expect(await page.$('tr[data-user="admin"] [data-act="reset"]')).toBeNull();
    await page.click('tr[data-user="yan"] [data-act="reset"]');
    expect(await page.textContent('#confirm')).toContain('为 yan 生成新密码？');
    await page.click('#confirm [data-confirm="ok"]');
    const password = (await page.textContent('#generated-password #generated-password-value'))!.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await page.textContent('#generated-password')).toContain('只显示这一次');
    await page.screenshot({ path: path.join(out, 'users-generated-password-zh.png') });
    await page.click('#generated-password [data-confirm="ok"]');
    await page.waitForSelector('#generated-password', { state: 'detached' });
    expect(await page.textContent('#users-msg')).toContain('已为 yan 设置新密码');
    expect(await loginStatus('yan', 'yan-password')).toBe(401);
    expect(await loginStatus('yan', password)).toBe(200);

    // the audit view: both entries, by admin, from the browser's address
    await page.click('[data-nav="audit"]');
    const disabled = await page.waitForSelector('#audit-table tr[data-action="user.disabled"][data-target="zoe"]');
    expect(await disabled.textContent()).toMatch(/禁用用户.*用户 zoe.*127\.0\.0\.1/);
    expect(await disabled.getAttribute('data-actor')).toBe('admin');
    const reset = await page.waitForSelector('#audit-table tr[data-action="user.password_reset"][data-target="yan"]');
    expect(await reset.textContent()).toContain('generated=true');
    expect(await reset.textContent()).not.toContain(password);
    // the refused sign-in with the old password, by nobody, and yan's sign-in with the new one
    expect(await page.textContent('#audit-table tr[data-action="auth.login_refused"][data-target="yan"]')).toContain('（未登录）');
    expect(await page.$('#audit-table tr[data-action="auth.login"][data-actor="yan"]')).not.toBeNull();
    expect(await page.textContent('#audit-range')).toMatch(/^第 1–\d+ 条，共 \d+ 条$/);
    expect(await page.textContent('#audit-table')).not.toContain(password);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(out, 'audit-zh.png') });

    // filtered by action: that action only; the export follows the filter
    await page.selectOption('#audit-action', 'user.disabled');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll<HTMLElement>('#audit-table tbody tr')];
      return rows.length === 1 && rows[0]!.dataset.action === 'user.disabled';
    });
    expect(await page.textContent('#audit-range')).toBe('第 1–1 条，共 1 条');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export-csv')]);
    expect(download.suggestedFilename()).toBe('audit-log.csv');
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv).toContain('"user.disabled","user","zoe"');
    expect(csv).not.toContain('user.password_reset');

    // by target: the entries about yan, whatever the action
    await page.click('#audit-clear');
    await page.fill('#audit-target', 'yan');
    await page.click('#audit-search');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll<HTMLElement>('#audit-table tbody tr')];
      return rows.length > 0 && rows.every((r) => r.dataset.target === 'yan');
    });
    expect(await page.$('#audit-table tr[data-action="user.created"][data-target="yan"]')).not.toBeNull();

    await page.click('#lang');
    await page.waitForSelector('#view-audit h2:has-text("Audit log")');
    expect(await page.textContent('#audit-table thead')).toContain('Actor');
    await page.click('#lang');
    expect(pageErrors).toEqual([]);
  });

  it('an operator has no audit view: the route says so, and the API refuses', async () => {
    const page = await open('xia', 'xia-password', 'audit');
    await page.waitForSelector('#view-unknown [data-reason="forbidden"]');
    expect(await page.$('[data-nav="audit"]')).toBeNull();
    const token = await page.evaluate(() => (JSON.parse(sessionStorage.getItem('session') ?? 'null') as { token: string }).token);
    expect((await ts.service.http.inject({ url: '/api/audit', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(403);
    expect(pageErrors).toEqual([]);
  });
});
