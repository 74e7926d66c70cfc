/**
 * Serves the dashboard front end (plain ES modules in this directory, no build step) at `/`,
 * and ECharts from node_modules at `/vendor/echarts.min.js`: nothing is fetched from the
 * internet at run time. Works from the sources (tsx, tests) and from dist/ (npm start).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The directory holding index.html: this one, or, when compiled into dist/, the source one. */
export function uiRoot(): string {
  const candidates = [here, path.resolve(here, '../../../dashboard/ui')];
  const found = candidates.find((d) => existsSync(path.join(d, 'index.html')));
  if (!found) throw new Error(`dashboard UI not found (looked in ${candidates.join(', ')})`);
  return found;
}

export const uiRoutes: FastifyPluginAsync = async (app) => {
  const echartsFile = createRequire(import.meta.url).resolve('echarts/dist/echarts.min');
  await app.register(fastifyStatic, {
    root: uiRoot(),
    prefix: '/',
    index: ['index.html'],
    // the server-side sources next to the UI are not part of it
    allowedPath: (pathName) => !/\.(ts|map)$/.test(pathName),
    cacheControl: true,
    maxAge: 0,
  });
  await app.register(fastifyStatic, {
    root: path.dirname(echartsFile),
    prefix: '/vendor/',
    decorateReply: false,
    allowedPath: (pathName) => pathName === '/echarts.min.js',
    maxAge: 86_400_000,
  });
};
