/**
 * Starts a worker thread on a host module beside the caller: its .js under dist/, its .ts
 * under tsx or vitest, whose loader a worker does not inherit, so the worker registers tsx
 * first. The store's worker (workerStore.ts) and the rules' worker (alerts/ruleThread/) start
 * this way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** `callerUrl`: the caller's import.meta.url; `hostBase`: the host's file name without extension, relative to it. */
export function startWorker(callerUrl: string, hostBase: string, workerData: unknown): Worker {
  if (callerUrl.endsWith('.js')) return new Worker(new URL(`${hostBase}.js`, callerUrl), { workerData });
  const host = new URL(`${hostBase}.ts`, callerUrl).href;
  // tsx's ESM entry, by its package's own export map (require.resolve would give the CommonJS one)
  const pkgFile = createRequire(callerUrl).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(host)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
