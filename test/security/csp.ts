/**
 * Reading a Content-Security-Policy header, and the one definition of "strict" the security
 * tests hold the dashboard's policy to (docs/security.md, "Response headers").
 */
import { expect } from 'vitest';

/** directive name -> its source list, lower-cased names; the last wins on a repeat */
export function parseCsp(header: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) out.set(name.toLowerCase(), sources);
  }
  return out;
}

/** The dashboard's policy: nothing inline, nothing from elsewhere, no plugins, no framing. */
export function expectStrictCsp(header: string | undefined): void {
  expect(header, 'a Content-Security-Policy header').toBeTruthy();
  const csp = parseCsp(header);
  expect(csp.get('default-src')).toEqual(["'self'"]);
  expect(csp.get('script-src')).toEqual(["'self'"]);
  expect(csp.get('script-src-attr')).toEqual(["'none'"]);
  expect(csp.get('object-src')).toEqual(["'none'"]);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  expect(csp.get('base-uri')).toEqual(["'self'"]);
  expect(csp.get('form-action')).toEqual(["'self'"]);
  // 'self', and at most exact hashes of single <style> texts (/docs: the Swagger logo's)
  const [first, ...hashes] = csp.get('style-src') ?? [];
  expect(first).toBe("'self'");
  for (const h of hashes) expect(h).toMatch(/^'sha256-[A-Za-z0-9+/]+={0,2}'$/);
  for (const [name, sources] of csp) {
    expect(sources, `${name} allows nothing inline or evaluated`).not.toContain("'unsafe-inline'");
    expect(sources, `${name} allows nothing inline or evaluated`).not.toContain("'unsafe-eval'");
    expect(sources, `${name} allows no wildcard`).not.toContain('*');
    if (name !== 'img-src' && name !== 'font-src') expect(sources, `${name} allows no data: URLs`).not.toContain('data:');
  }
  // the live push (/ws) and MQTT over WebSocket (/mqtt) are the page's own origin
  expect(csp.get('connect-src')).toContain("'self'");
  expect(csp.has('upgrade-insecure-requests'), 'no upgrade-insecure-requests: plain-HTTP intranet deployments').toBe(false);
}
