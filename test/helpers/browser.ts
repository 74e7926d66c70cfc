/**
 * Headless Chromium for the browser tests (Debian package `chromium`, found through
 * external.ts): a fresh temporary profile of its own, removed on close, and nothing that
 * reaches past loopback (no background networking, updates or sync).
 */
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Role } from '../../core/roles.js';
import { programs } from './external.js';
import type { TestService } from './service.js';

export const browserProgram = programs(['chromium'], 'chromium');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: browserProgram.ok ? browserProgram.paths.chromium : '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** What a view test collects from the pages it opens (each test file keeps its own). */
export interface PageWatch {
  /** every context opened, for closeAll */
  contexts: BrowserContext[];
  /** uncaught errors in the page, `user: message` */
  pageErrors: string[];
  /** alert(), confirm(), prompt() messages, dismissed: a hostile payload that ran would open one */
  jsDialogs?: string[];
}

/**
 * A new Chinese-locale page in China time, watched (errors, dialogs), signed in at `url` (the
 * dashboard's address, with a `#/view` to open one).
 */
export async function openSignedIn(browser: Browser, watch: PageWatch, url: string, user: string, password: string,
  opts: { width?: number; height?: number; acceptDownloads?: boolean } = {}): Promise<Page> {
  const ctx = await browser.newContext({
    viewport: { width: opts.width ?? 1600, height: opts.height ?? 1000 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
    ...(opts.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  watch.contexts.push(ctx);
  const page = await ctx.newPage();
  page.on('pageerror', (e) => watch.pageErrors.push(`${user}: ${e.message}`));
  const dialogs = watch.jsDialogs;
  if (dialogs) page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  await signIn(page, url, user, password);
  return page;
}

/** Click `button` and read the file the page saved: its suggested name and bytes. */
export async function downloadBy(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 15_000 }), page.click(button)]);
  return { name: dl.suggestedFilename(), bytes: readFileSync((await dl.path())!) };
}

/** Sign in on the dashboard's login screen and wait for the live push to be on. */
export async function signIn(page: Page, url: string, user: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#live.on', { timeout: 15_000 });
}

/** Users for a browser test, each with the password `<name>-password`. */
export async function addUsers(ts: TestService, users: ReadonlyArray<readonly [string, Role]>): Promise<void> {
  for (const [username, role] of users) {
    const res = await ts.service.http.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${ts.adminToken}` }, payload: { username, password: `${username}-password`, role } });
    if (res.statusCode !== 201) throw new Error(`creating ${username} failed: ${res.statusCode} ${res.body}`);
  }
}

/** Close a browser test's contexts, the browser and the service. */
export async function closeAll(contexts: readonly BrowserContext[], browser: Browser | undefined, ts: TestService | undefined): Promise<void> {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await ts?.dispose();
}
