/**
 * core/ is pure by the compiler, not only by lint: under core/tsconfig.json (no Node types, no
 * DOM, ES2023 only) an I/O import, a timer, process or fetch does not compile. `npm run
 * typecheck` runs that config; here a temporary file under the same settings proves it fails,
 * and the same file without them proves the failure is the purity, not a typo.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const dir = mkdtempSync(path.join(tmpdir(), 'core-purity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compile(config: string, source: string): { ok: boolean; out: string } {
  writeFileSync(path.join(dir, 'probe.ts'), source);
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(root, config), compilerOptions: { noEmit: true, rootDir: dir, typeRoots: [path.join(root, 'node_modules', '@types')] }, include: [], files: [path.join(dir, 'probe.ts')] }));
  try {
    return { ok: true, out: execFileSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' }) };
  } catch (e) {
    return { ok: false, out: String((e as { stdout?: string }).stdout ?? e) };
  }
}

describe('the pure core, held by the compiler', () => {
  it.each([
    ['a Node I/O import', `import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n`, "Cannot find module 'node:fs'"],
    ['a socket import', `import net from 'node:net';\nexport const s = net;\n`, "Cannot find module 'node:net'"],
    ['a timer', `export const t = (f: () => void) => setImmediate(f);\n`, "Cannot find name 'setImmediate'"],
    ['process', `export const env = process.env;\n`, "Cannot find name 'process'"],
    ['fetch', `export const get = (u: string) => fetch(u);\n`, "Cannot find name 'fetch'"],
  ])('%s does not compile under core/tsconfig.json, and does under the adapters\' settings', (_name, source, message) => {
    const core = compile('core/tsconfig.json', source);
    expect(core.ok, core.out).toBe(false);
    expect(core.out).toContain(message);
    const adapters = compile('tsconfig.json', source);
    expect(adapters.ok, adapters.out).toBe(true);
  }, 60_000);

  it('core/ itself compiles under its own settings', () => {
    const r = (() => {
      try { return { ok: true, out: execFileSync(process.execPath, [tsc, '-p', path.join(root, 'core', 'tsconfig.json')], { encoding: 'utf8' }) }; } catch (e) { return { ok: false, out: String((e as { stdout?: string }).stdout ?? e) }; }
    })();
    expect(r.ok, r.out).toBe(true);
  }, 120_000);
});
