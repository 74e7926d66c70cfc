/**
 * Response headers and static-file refusals (docs/security.md, "Response headers"): every
 * answer carries the strict CSP and the other security headers; /docs (Swagger UI) still
 * renders under its policy in Chromium; a request path that tries to leave the UI directory
 * or is not canonical gets 400 `bad_path`, a dotfile, directory or non-UI file 404
 * `not_found`, both in the error envelope and neither logged as an error. The paths go over
 * a real socket byte for byte (node:http does not normalise them, unlike inject).
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../service/config.js';
import { codes, type CodeSpec } from '../../core/codes.js';
import { Service } from '../../service/service.js';
import { ADMIN_PASSWORD } from '../helpers/service.js';
import { styleHash, swaggerLogoStyle } from '../../dashboard/headers.js';
import { expectStrictCsp, parseCsp } from './csp.js';
import { browserProgram, launchChromium } from '../helpers/browser.js';

let service: Service;
let port: number;
let dir: string;
const logLines: Array<{ level: number; msg?: string; err?: unknown }> = [];

/** GET a path exactly as written (no URL normalisation), with optional headers. */
function rawGet(p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'supervision-headers-'));
  const config = loadConfig({}, {
    DATA_DIR: dir, MQTT_PORT: 0, HTTP_PORT: 0, MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD,
  });
  // the service's own log, kept: refusals must not be logged as errors
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as { level: number });
      done();
    },
  });
  service = new Service(config, pino({ level: 'debug' }, sink));
  port = (await service.start()).httpPort;
}, 30_000);

afterAll(async () => {
  await service?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('security headers', () => {
  const paths = ['/', '/index.html', '/js/main.js', '/style.css', '/vendor/echarts.min.js', '/api/alerts', '/api/login', '/healthz', '/no-such-page', '/docs', '/docs/json'];

  it.each(paths)('%s carries the strict CSP and the other security headers', async (p) => {
    const res = await rawGet(p);
    expect(res.status).toBeLessThan(500);
    const csp = res.headers['content-security-policy'] as string;
    expectStrictCsp(csp);
    // only the Swagger UI pages carry the one hashed <style> (its logo); the dashboard none
    expect(parseCsp(csp).get('style-src')).toEqual(p.startsWith('/docs') ? ["'self'", styleHash(swaggerLogoStyle)] : ["'self'"]);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['x-permitted-cross-domain-policies']).toBe('none');
    expect(res.headers['x-dns-prefetch-control']).toBe('off');
    expect(res.headers['x-xss-protection']).toBe('0');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('lets the page reach its own /ws and /mqtt, and repeats only a well-formed Host', async () => {
    const own = parseCsp((await rawGet('/', { host: `localhost:${port}` })).headers['content-security-policy'] as string);
    expect(own.get('connect-src')).toEqual(["'self'", `ws://localhost:${port}`, `wss://localhost:${port}`]);
    const v6 = parseCsp((await rawGet('/', { host: `[::1]:${port}` })).headers['content-security-policy'] as string);
    expect(v6.get('connect-src')).toEqual(["'self'", `ws://[::1]:${port}`, `wss://[::1]:${port}`]);
    // a Host that would add sources or directives is not repeated
    for (const host of ['evil.example *', "x; script-src 'unsafe-inline'", 'a.example,b.example']) {
      const header = (await rawGet('/', { host })).headers['content-security-policy'] as string;
      expectStrictCsp(header);
      expect(parseCsp(header).get('connect-src')).toEqual(["'self'", "'self'"]);
    }
  });

  it('sends no CSP that swagger-ui or the dashboard would have to weaken: no inline script anywhere', async () => {
    const docs = await rawGet('/docs');
    expect(docs.status).toBe(200);
    expect(docs.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    const index = await rawGet('/');
    expect(index.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+=|<style|\sstyle=/i);
  });
});

describe('static-file refusals', () => {
  const cases: Array<[string, number, string | null]> = [
    ['/', 200, null],
    ['/index.html', 200, null],
    ['/js/main.js', 200, null],
    ['/i18n.json', 200, null],
    ['/vendor/echarts.min.js', 200, null],
    // leaving the UI directory, or a path that is not canonical: 400 bad_path
    ['/../package.json', 400, 'bad_path'],
    ['/js/../serve.ts', 400, 'bad_path'],
    ['/js/../../package.json', 400, 'bad_path'],
    ['/..%2fpackage.json', 400, 'bad_path'],
    ['/..%2f..%2fetc%2fpasswd', 400, 'bad_path'],
    ['/%2e%2e/package.json', 400, 'bad_path'],
    ['/js/%2e%2e/serve.ts', 400, 'bad_path'],
    ['/vendor/%2e%2e/package.json', 400, 'bad_path'],
    ['/vendor/..%2f..%2fpackage.json', 400, 'bad_path'],
    ['/js%2fmain.js', 400, 'bad_path'],
    ['/js%5cmain.js', 400, 'bad_path'],
    ['/js\\..\\serve.ts', 400, 'bad_path'],
    ['//index.html', 400, 'bad_path'],
    ['/js//main.js', 400, 'bad_path'],
    ['/./index.html', 400, 'bad_path'],
    ['/%00', 400, 'bad_path'],
    ['/index.html%00', 400, 'bad_path'],
    ['/js/main.js%00.png', 400, 'bad_path'],
    ['/vendor/%00', 400, 'bad_path'],
    ['/%E0%A4%A', 400, 'bad_path'],
    ['/%c0%ae%c0%ae/package.json', 400, 'bad_path'],
    ['/%ff', 400, 'bad_path'],
    ['/api/devices/%E0%A4%A', 400, 'bad_path'],
    // dotfiles, directories and files that are not part of the UI: 404 not_found
    ['/.env', 404, 'not_found'],
    ['/.git/config', 404, 'not_found'],
    ['/js/.eslintrc.js', 404, 'not_found'],
    ['/%2eenv', 404, 'not_found'],
    ['/js', 404, 'not_found'],
    ['/js/', 404, 'not_found'],
    ['/vendor/', 404, 'not_found'],
    ['/serve.ts', 404, 'not_found'],
    ['/serve.js', 404, 'not_found'],
    ['/index.html/', 404, 'not_found'],
    ['/vendor/echarts.js', 404, 'not_found'],
    ['/vendor/package.json', 404, 'not_found'],
    ['/no-such-file.js', 404, 'not_found'],
  ];

  it.each(cases)('GET %s -> %i %s', async (p, status, code) => {
    const before = logLines.length;
    const res = await rawGet(p);
    expect(res.status, res.body.slice(0, 200)).toBe(status);
    if (code) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(res.body) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect((codes[code as keyof typeof codes] as CodeSpec).http).toBe(status);
      expect(body.error.message.length).toBeGreaterThan(0);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    }
    await new Promise((r) => setTimeout(r, 10));
    const errors = logLines.slice(before).filter((l) => l.level >= 50);
    expect(errors, 'no error logged').toEqual([]);
  });

  it('logged no error for any refusal', () => {
    expect(logLines.filter((l) => l.level >= 50)).toEqual([]);
  });
});


describe.skipIf(!browserProgram.ok)(`/docs in chromium${browserProgram.ok ? '' : ` (skipped: ${browserProgram.reason})`}`, () => {
  it('renders the OpenAPI document under the CSP without a single violation', async () => {
    const browser = await launchChromium();
    try {
      const ctx = await browser.newContext();
      await ctx.addInitScript(() => {
        const w = window as unknown as { __csp: string[] };
        w.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          const where = e.target instanceof Element ? ` on ${e.target.outerHTML.slice(0, 160)}` : '';
          w.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}${where}`);
        }, true);
      });
      const page = await ctx.newPage();
      const consoleCsp: string[] = [];
      const errors: string[] = [];
      page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) consoleCsp.push(m.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      const res = await page.goto(`http://127.0.0.1:${port}/docs`);
      expectStrictCsp(res?.headers()['content-security-policy']);
      await page.waitForSelector('.swagger-ui .info .title', { timeout: 10_000 });
      expect(await page.textContent('.swagger-ui .info .title')).toContain('Smart supervision platform API');
      await page.waitForSelector('.opblock-summary-path');
      expect((await page.$$('.opblock')).length).toBeGreaterThan(10);
      // expand one operation, as a reader does
      await page.click('.opblock-summary >> nth=0');
      await page.waitForSelector('.opblock-body');
      await page.waitForTimeout(200);
      const csp = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
      expect([...csp, ...consoleCsp], 'CSP violations on /docs').toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 30_000);
});
