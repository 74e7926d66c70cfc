/**
 * The dependency rule of docs/architecture.md, read from the import lines: the composition root
 * (service/) is imported only for the configuration's types (and by the demo, which runs the
 * service); bench/ is imported by nothing but itself (it drives load through simulators/load/).
 * core/'s own rule is its compiler settings (test/core/purity.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const sources = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], { cwd: root, encoding: 'utf8' })
  .split('\n').filter((f) => f && !f.startsWith('test/') && !f.startsWith('node_modules/'));

/** Each source file's imports, as paths from the repository root. */
function importsOf(file: string): Array<{ line: string; target: string }> {
  const out: Array<{ line: string; target: string }> = [];
  let text: string;
  try { text = readFileSync(path.join(root, file), 'utf8'); } catch { return out; }
  for (const m of text.matchAll(/^(?:import|export)[^'\n]*?from '(\.[^']+)';/gm)) {
    out.push({ line: m[0], target: path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!)) });
  }
  return out;
}

describe('the dependency rule', () => {
  it('reads the import lines of the sources (the check below is not empty)', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(importsOf('service/service.ts').length).toBeGreaterThan(10);
  });

  it('service/ is imported only for the configuration types, and by the demo that runs it', () => {
    const offending: string[] = [];
    for (const file of sources) {
      if (file.startsWith('service/') || file.startsWith('bench/') || file === 'simulators/demo.ts') continue;
      for (const { line, target } of importsOf(file)) {
        if (!target.startsWith('service/')) continue;
        if (target === 'service/config.js' && /^import type \{[^}]*\}/.test(line)) continue;
        offending.push(`${file}: ${line}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('nothing outside bench/ imports bench/', () => {
    const offending = sources.filter((f) => !f.startsWith('bench/'))
      .flatMap((file) => importsOf(file).filter((i) => i.target.startsWith('bench/')).map((i) => `${file}: ${i.line}`));
    expect(offending).toEqual([]);
  });
});
