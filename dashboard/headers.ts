/**
 * The security headers of every HTTP answer (@fastify/helmet), above all a strict
 * Content-Security-Policy for the dashboard: scripts, styles, images and connections only
 * from this origin, no inline script or style, no plugins, no framing, no <base> or form
 * target elsewhere. The UI (dashboard/ui) is written for it: no inline handlers or <script>,
 * no style attributes in HTML, chart tooltips built as DOM. docs/security.md
 * ("Response headers") explains each header; test/security/headers.test.ts checks them.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** A Host header we are willing to repeat in the policy: a name or address and a port, nothing else. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The page's own WebSocket origins (/ws live push, /mqtt). CSP Level 3 lets 'self' match
 * ws: and wss: on the page's host, and current browsers do; naming them keeps older ones
 * (which match 'self' to the page's scheme only) working behind a TLS proxy too.
 */
function ownWebSockets(req: IncomingMessage): string {
  const host = req.headers.host;
  return host && HOST.test(host) ? `ws://${host} wss://${host}` : "'self'";
}

export const cspDirectives = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  // ECharts and the UI style elements through the CSSOM (element.style), which the CSP does
  // not restrict; style attributes and <style> elements in HTML stay blocked
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'", (req: IncomingMessage) => ownWebSockets(req)],
  'object-src': ["'none'"],
  'frame-src': ["'none'"],
  'worker-src': ["'self'"],
  'manifest-src': ["'self'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
};

/** A CSP source allowing exactly one inline <style> element's text. */
export const styleHash = (css: string): string => `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;

/**
 * Swagger UI at /docs runs under the same policy (its scripts are files, its element styles
 * are set through the CSSOM) with one exception: the logo in its top bar is an inline SVG
 * with a <style> element. That one style text, and nothing else, is allowed there by hash
 * (@fastify/swagger-ui `transformStaticCSP`); a swagger-ui upgrade that changes it shows as a
 * CSP violation in test/security/headers.test.ts.
 */
export const swaggerLogoStyle = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';
export function docsCsp(header: string): string {
  return header.replace(/(^|;)\s*style-src 'self'/, `$1style-src 'self' ${styleHash(swaggerLogoStyle)}`);
}

/**
 * Errors the router answers before any hook runs (a path that does not percent-decode) get
 * no helmet headers; these keep such a JSON answer from being sniffed, framed or used as a page.
 */
export const routerErrorHeaders = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      // no upgrade-insecure-requests: bureaus run the dashboard on plain HTTP inside their
      // network, where upgrading /style.css to https would break the page
      directives: cspDirectives,
    },
    // the dashboard opens no other window and is embedded nowhere
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    // honoured by browsers only over HTTPS (behind a TLS proxy); harmless on plain HTTP
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: false },
    xContentTypeOptions: true,
    xDnsPrefetchControl: { allow: false },
    xDownloadOptions: true,
    xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
    xXssProtection: true,
    originAgentCluster: true,
    hidePoweredBy: true,
  });
}
