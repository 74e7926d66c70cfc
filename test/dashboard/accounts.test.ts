/**
 * Accounts in the dashboard, in headless Chromium (Debian package chromium, driven by
 * playwright-core): an admin creates a user and disables them behind a confirmation that
 * names them; the disabled user's open screens go back to the login screen with "your session
 * ended" (one through its next API request, one through the live push's 4401); the last
 * admin's refusal is shown; an operator changes their own password and keeps working with the
 * new token while the old token and password are refused; the password form's errors
 * (mismatch, wrong current password, rate limited with the seconds); logout ends the token at
 * the service; a district given to a user (checked in the page first) and named in their header.
 * Screenshot of the users page in test-output/. Skipped without chromium;
 * REQUIRE_EXTERNAL=1 turns the skip into a failure.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';
import { browserProgram, launchChromium, signIn, addUsers, closeAll } from '../helpers/browser.js';

const out = path.resolve('test-output');
const ENDED = '您的会话已结束，请重新登录';

describe.skipIf(!browserProgram.ok)(`dashboard accounts in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  let ts: TestService;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  /** A screen of its own (a browser context each: a page in the background would be throttled). */
  async function newPage(): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    contexts.push(ctx);
    const page = await ctx.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return page;
  }

  /** Sign in through the form; `view` is where the page lands (the view in the URL's hash is kept). */
  async function login(page: Page, user: string, password: string, view = ''): Promise<void> {
    await signIn(page, `${ts.httpUrl}/${view ? `#/${view}` : ''}`, user, password);
  }

  async function open(user: string, password: string, view = ''): Promise<Page> {
    const page = await newPage();
    await login(page, user, password, view);
    return page;
  }

  const tokenOf = (page: Page): Promise<string> => page.evaluate(() => (JSON.parse(sessionStorage.getItem('session') ?? 'null') as { token: string }).token);

  /** The status of GET /api/me with a token (200 while the session lives, 401 after). */
  async function me(token: string): Promise<number> {
    return (await ts.service.http.inject({ url: '/api/me', headers: { authorization: `Bearer ${token}` } })).statusCode;
  }

  async function loginStatus(username: string, password: string): Promise<number> {
    return (await ts.service.http.inject({ method: 'POST', url: '/api/login', payload: { username, password } })).statusCode;
  }

  beforeAll(async () => {
    mkdirSync(out, { recursive: true });
    ts = await startService({ LOGIN_MAX_ATTEMPTS: 3 });
    await addUsers(ts, [['bob', 'operator'], ['carol', 'operator'], ['dora', 'dispatcher']]);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await closeAll(contexts, browser, ts);
  });

  it('admin creates a user and disables them after a confirmation naming them; their open screens return to the login screen', async () => {
    const admin = await open('admin', ADMIN_PASSWORD, 'users');
    await admin.waitForSelector('#view-users tr[data-user="bob"]');
    await admin.fill('#new-username', 'alice');
    await admin.fill('#new-password', 'short');
    await admin.click('#create-user button[type=submit]');
    expect(await admin.textContent('#create-msg')).toContain('至少需要 8 个字符');
    await admin.fill('#new-password', 'alice-password');
    await admin.selectOption('#create-user select', 'operator');
    await admin.click('#create-user button[type=submit]');
    await admin.waitForSelector('#view-users tr[data-user="alice"][data-disabled="false"]');
    expect(await admin.textContent('#create-msg')).toContain('已创建用户 alice');
    expect(await admin.textContent('tr[data-user="alice"]')).toContain('已启用');

    // alice on two screens: one whose live push is held open by a proxy (the service's 4401
    // close does not reach the page), so its next API request is what finds the session gone;
    // the other gets the live push's 4401 itself
    const viaApi = await newPage();
    await viaApi.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      server.onClose(() => {}); // swallowed: the page's socket stays open
    });
    await login(viaApi, 'alice', 'alice-password', 'account');
    const viaWs = await open('alice', 'alice-password', 'account');
    const aliceToken = await tokenOf(viaApi);
    expect(await me(aliceToken)).toBe(200);

    // the confirmation names alice; cancelling changes nothing
    await admin.click('tr[data-user="alice"] [data-act="disable"]');
    await admin.waitForSelector('#confirm');
    expect(await admin.textContent('#confirm')).toContain('禁用用户 alice？');
    await admin.click('#confirm [data-confirm="cancel"]');
    expect(await admin.$('#confirm')).toBeNull();
    expect(await me(aliceToken)).toBe(200);
    await admin.click('tr[data-user="alice"] [data-act="disable"]');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#view-users tr[data-user="alice"][data-disabled="true"]');
    expect(await admin.textContent('tr[data-user="alice"]')).toContain('已禁用');
    expect(await admin.textContent('#users-msg')).toContain('已禁用 alice');
    expect(await me(aliceToken)).toBe(401);

    // the live push's 4401: straight to the login screen with the message
    await viaWs.waitForSelector('#login-notice', { timeout: 15_000 });
    expect(await viaWs.textContent('#login-notice')).toBe(ENDED);
    expect(viaWs.url()).toContain('#/login');
    expect(await viaWs.evaluate(() => sessionStorage.getItem('session'))).toBeNull();

    // the held-open screen stays as it was until its next request: a 401 sends it back too
    expect(await viaApi.$('#view-account')).not.toBeNull();
    await viaApi.click('[data-nav="devices"]');
    await viaApi.waitForSelector('#login-notice', { timeout: 15_000 });
    expect(await viaApi.textContent('#login-notice')).toBe(ENDED);
    expect(await viaApi.evaluate(() => sessionStorage.getItem('session'))).toBeNull();
    // and a disabled user cannot sign in again
    await viaApi.fill('#username', 'alice');
    await viaApi.fill('#password', 'alice-password');
    await viaApi.click('#login button[type=submit]');
    await viaApi.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    expect(await viaApi.$('#live')).toBeNull();

    // the only admin cannot disable themselves: the confirmation says it is their own
    // account and wants their name typed; the service's last_admin refusal is shown
    await admin.click('tr[data-user="admin"] [data-act="disable"]');
    expect(await admin.textContent('#confirm')).toContain('这是您自己的账户');
    expect(await admin.isDisabled('#confirm [data-confirm="ok"]')).toBe(true);
    await admin.fill('#confirm-typed', 'admin');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#users-msg[data-code="last_admin"]');
    expect(await admin.textContent('#users-msg')).toContain('admin 是最后一个启用的管理员');
    // deleting yourself asks the same
    await admin.click('tr[data-user="admin"] [data-act="delete"]');
    expect(await admin.textContent('#confirm')).toContain('删除用户 admin？');
    expect(await admin.textContent('#confirm')).toContain('这是您自己的账户');
    expect(await admin.isDisabled('#confirm [data-confirm="ok"]')).toBe(true);
    await admin.screenshot({ path: path.join(out, 'users-confirm-zh.png') });
    await admin.keyboard.press('Escape');
    expect(await admin.$('#confirm')).toBeNull();
    expect(await me(await tokenOf(admin))).toBe(200);

    // a new password for dora, behind a confirmation with the password twice
    await admin.click('tr[data-user="dora"] [data-act="password"]');
    expect(await admin.textContent('#confirm')).toContain('为 dora 设置新密码');
    await admin.fill('#confirm-password', 'dora-new-password');
    await admin.fill('#confirm-repeat', 'dora-other-password');
    await admin.click('#confirm [data-confirm="ok"]');
    expect(await admin.textContent('#confirm-error')).toContain('两次输入的新密码不一致');
    await admin.fill('#confirm-repeat', 'dora-new-password');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#users-msg.ok');
    expect(await loginStatus('dora', 'dora-new-password')).toBe(200);
    // a role change ends carol's sessions: asked first, naming her
    await admin.selectOption('tr[data-user="carol"] [data-act="role"]', 'dispatcher');
    expect(await admin.textContent('#confirm')).toContain('更改 carol 的角色？');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#users-msg.ok >> text=carol');
    await admin.selectOption('tr[data-user="carol"] [data-act="role"]', 'operator');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#users-msg.ok >> text=值班员');

    await admin.mouse.move(0, 0);
    await admin.screenshot({ path: path.join(out, 'users-zh.png') });
    await admin.click('#lang');
    await admin.waitForSelector('#view-users tr[data-user="alice"] .tag.off:has-text("Disabled")');
    await admin.screenshot({ path: path.join(out, 'users-en.png') });
    await admin.click('#lang');
    expect(pageErrors).toEqual([]);
  });

  it('an operator changes their own password and keeps working with the new token; the old token and password are refused', async () => {
    const page = await open('bob', 'bob-password', 'devices');
    const oldToken = await tokenOf(page);
    // reached from the header
    await page.click('#account');
    await page.waitForSelector('#change-password');
    expect(await page.textContent('#change-password')).toContain('bob');

    await page.fill('#pw-current', 'bob-password');
    await page.fill('#pw-new', 'bob-new-password');
    await page.fill('#pw-repeat', 'bob-new-passw0rd');
    await page.click('#change-password button[type=submit]');
    expect(await page.textContent('#password-msg')).toBe('两次输入的新密码不一致');
    await page.fill('#pw-repeat', 'short');
    await page.fill('#pw-new', 'short');
    await page.click('#change-password button[type=submit]');
    expect(await page.textContent('#password-msg')).toBe('新密码至少需要 8 个字符');

    await page.fill('#pw-current', 'not-bobs-password');
    await page.fill('#pw-new', 'bob-new-password');
    await page.fill('#pw-repeat', 'bob-new-password');
    await page.click('#change-password button[type=submit]');
    await page.waitForSelector('#password-msg[data-code="bad_credentials"]');
    expect(await page.textContent('#password-msg')).toBe('当前密码错误');
    expect(await me(oldToken)).toBe(200);

    await page.fill('#pw-current', 'bob-password');
    await page.click('#change-password button[type=submit]');
    await page.waitForSelector('#password-msg.ok');
    expect(await page.textContent('#password-msg')).toContain('密码已修改');
    await page.screenshot({ path: path.join(out, 'account-zh.png') });
    const newToken = await tokenOf(page);
    expect(newToken).not.toBe(oldToken);
    expect(await me(oldToken)).toBe(401);
    expect(await me(newToken)).toBe(200);
    // still signed in: the live push is back with the new token, and the API answers
    await page.waitForSelector('#live.on', { timeout: 15_000 });
    await page.click('[data-nav="stats"]');
    await page.waitForSelector('#view-stats table td');
    await page.waitForTimeout(300);
    expect(await page.$('#login')).toBeNull();
    expect(await page.$('#login-notice')).toBeNull();
    expect(await loginStatus('bob', 'bob-password')).toBe(401);
    expect(await loginStatus('bob', 'bob-new-password')).toBe(200);
    // the page's own session (the new token) outlived the login just made
    expect(await me(newToken)).toBe(200);
    expect(pageErrors).toEqual([]);
  });

  it('says how long to wait when password attempts are rate limited; logout ends the token at the service before dropping it', async () => {
    const page = await open('carol', 'carol-password', 'account');
    await page.fill('#pw-new', 'carol-new-password');
    await page.fill('#pw-repeat', 'carol-new-password');
    // LOGIN_MAX_ATTEMPTS is 3 in this service
    for (let i = 0; i < 3; i++) {
      await page.fill('#pw-current', `wrong-${i}`);
      await page.click('#change-password button[type=submit]');
      await page.waitForSelector('#password-msg[data-code="bad_credentials"]');
      await page.evaluate(() => { document.getElementById('password-msg')!.dataset.code = ''; });
    }
    await page.fill('#pw-current', 'carol-password');
    await page.click('#change-password button[type=submit]');
    await page.waitForSelector('#password-msg[data-code="rate_limited"]');
    expect(await page.textContent('#password-msg')).toMatch(/^尝试次数过多，请 \d+ 秒后再试$/);
    // still signed in
    expect(await page.$('#login')).toBeNull();
    const token = await tokenOf(page);
    expect(await me(token)).toBe(200);
    const [req] = await Promise.all([page.waitForRequest((r) => r.url().endsWith('/api/logout') && r.method() === 'POST'), page.click('#logout')]);
    expect(req.headers().authorization).toBe(`Bearer ${token}`);
    await page.waitForSelector('#login');
    // a sign-out of your own is not "your session ended"
    expect(await page.$('#login-notice')).toBeNull();
    expect(await page.evaluate(() => sessionStorage.getItem('session'))).toBeNull();
    expect(await me(token)).toBe(401);
    expect(pageErrors).toEqual([]);
  });

  it('admin gives a user a district (docs/api.md, District scope): listed, checked in the page, named in the user\'s header', async () => {
    await addUsers(ts, [['erin', 'operator']]);
    const admin = await open('admin', ADMIN_PASSWORD, 'users');
    await admin.waitForSelector('#view-users tr[data-user="erin"][data-district=""]');
    expect(await admin.textContent('tr[data-user="erin"]')).toContain('全市');
    expect(await admin.$('tr[data-user="admin"] [data-act="district"]')).toBeNull();
    // an admin takes none, and a district is digits: both said before anything is sent
    await admin.fill('#new-username', 'ward-boss');
    await admin.fill('#new-password', 'ward-boss-password');
    await admin.selectOption('#create-user select', 'admin');
    await admin.fill('#new-district', '330106');
    await admin.click('#create-user button[type=submit]');
    expect(await admin.textContent('#create-msg')).toContain('管理员查看全市');
    await admin.selectOption('#create-user select', 'operator');
    await admin.fill('#new-district', '33a');
    await admin.click('#create-user button[type=submit]');
    expect(await admin.textContent('#create-msg')).toContain('2–12 位数字');
    await admin.fill('#new-district', '330108');
    await admin.click('#create-user button[type=submit]');
    await admin.waitForSelector('#view-users tr[data-user="ward-boss"][data-district="330108"]');
    // a district for erin through the dialog, which says her sessions end
    const erin = await open('erin', 'erin-password');
    expect(await erin.$('#scope')).toBeNull();
    await admin.click('tr[data-user="erin"] [data-act="district"]');
    expect(await admin.textContent('#confirm')).toContain('设置 erin 的辖区');
    await admin.fill('#confirm input[name="district"]', '330106');
    await admin.click('#confirm [data-confirm="ok"]');
    await admin.waitForSelector('#view-users tr[data-user="erin"][data-district="330106"]');
    expect(await admin.textContent('#users-msg')).toContain('erin 的辖区已设为 330106');
    await erin.waitForSelector('#login-notice', { timeout: 15_000 });
    await login(erin, 'erin', 'erin-password');
    // the district by its name (dashboard/ui/js/districts.js), its code on hover
    expect(await erin.textContent('#scope')).toBe('辖区 西湖区');
    expect(await erin.getAttribute('#scope', 'title')).toBe('330106');
    expect(pageErrors).toEqual([]);
  });
});
