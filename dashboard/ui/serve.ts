/**
 * Serves the dashboard front end (plain ES modules in this directory, no build step) at `/`,
 * and ECharts from node_modules at `/vendor/echarts.min.js`: nothing is fetched from the
 * internet at run time. Works from the sources (tsx, tests) and from dist/ (npm start).
 *
 * Only the UI's own files are served (an allowlist of extensions; never a dotfile, a directory
 * listing or the server sources beside them). A path that is not canonical — it does not
 * percent-decode, holds a NUL byte, a backslash or an encoded slash, or a `..`, `.` or empty
 * segment — is refused with 400 `bad_path` before any file is looked at; a file that is not
 * there or not served is 404 `not_found`. Neither is logged as an error (docs/security.md,
 * "Response headers"; test/security/headers.test.ts).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyError, FastifyPluginAsync } from 'fastify';
import { CodedError } from '../../core/codes.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The directory holding index.html: this one, or, when compiled into dist/, the source one. */
export function uiRoot(): string {
  const candidates = [here, path.resolve(here, '../../../dashboard/ui')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`dashboard UI not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** What the UI is made of; anything else in the directory (serve.ts, serve.js, maps) is not served. */
const UI_FILE = /(?:^|\/)[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(?:html|js|css|json|png|svg|ico)$/;

/**
 * Why a request path may not reach the file system, or null when it is canonical. Checks the
 * raw path (before the router or @fastify/send decode it) segment by segment.
 */
export function pathRefusal(url: string): { code: 'bad_path' | 'not_found'; message: string } | null {
  const raw = url.split(/[?#]/, 1)[0]!;
  const segments = raw.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return { code: 'bad_path', message: 'the request path is not valid percent-encoded UTF-8' };
    }
    if (decoded.includes('\0')) return { code: 'bad_path', message: 'the request path holds a NUL byte' };
    if (/[/\\]/.test(decoded)) return { code: 'bad_path', message: 'the request path holds an encoded slash or a backslash' };
    if (decoded === '..' || decoded === '.') return { code: 'bad_path', message: 'the request path holds a `..` or `.` segment' };
    // an empty last segment is a directory's trailing slash ("/"); an empty one inside is "//"
    if (decoded === '' && i < segments.length - 1) return { code: 'bad_path', message: 'the request path holds an empty segment (//)' };
    if (decoded.startsWith('.')) return { code: 'not_found', message: `no route GET ${raw}` };
  }
  return null;
}

/** @fastify/static's and @fastify/send's refusals as catalogue codes; real I/O errors stay errors. */
function staticRefusal(err: FastifyError & { status?: number }): CodedError | null {
  if (err instanceof CodedError) return null;
  const status = err.statusCode ?? err.status;
  if (err.code === 'FST_STATIC_FORBIDDEN_PATH' || status === 403 || status === 404) return new CodedError('not_found', 'no such file');
  if (status === 400) return new CodedError('bad_path', 'the request path could not be served');
  return null;
}

export const uiRoutes: FastifyPluginAsync = async (app) => {
  const echartsFile = createRequire(import.meta.url).resolve('echarts/dist/echarts.min');
  // this plugin is encapsulated: the hook and the error handler below apply to its routes only
  app.addHook('onRequest', async (req) => {
    const refused = pathRefusal(req.url);
    if (refused) throw new CodedError(refused.code, refused.message);
  });
  const parentHandler = app.errorHandler;
  app.setErrorHandler((err: FastifyError, req, reply) => parentHandler.call(app, staticRefusal(err) ?? err, req, reply));

  await app.register(fastifyStatic, {
    root: uiRoot(),
    prefix: '/',
    index: ['index.html'],
    dotfiles: 'ignore',
    // the server-side sources next to the UI are not part of it
    allowedPath: (pathName) => pathName === '/' || UI_FILE.test(pathName),
    cacheControl: true,
    maxAge: 0,
  });
  await app.register(fastifyStatic, {
    root: path.dirname(echartsFile),
    prefix: '/vendor/',
    decorateReply: false,
    dotfiles: 'ignore',
    allowedPath: (pathName) => pathName === '/echarts.min.js',
    maxAge: 86_400_000,
  });
};
