/**
 * Citations stay inside the repository: no source or doc file cites the project's external
 * brief files (the domain, protocol and notes briefs kept outside the repo) — the repo's own
 * docs/domain.md and docs/protocol.md replace them — and every `docs/domain.md §N` (or
 * `section N`, or `[domain.md §N](...)` inside docs/) names a section docs/domain.md has.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Not walked: dependencies, build output, git, and the generated (git-ignored) data and reports. */
const skippedDirs = new Set(['node_modules', 'dist', '.git', 'data', 'data-demo', 'test-output', 'coverage']);
/** Source and doc files; everything else (pictures, databases) is skipped. */
const textExtensions = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json', '.md', '.yaml', '.yml', '.html', '.css', '.sh', '.txt']);

/** Repo-relative paths (with `/`) of every source and doc file. */
function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skippedDirs.has(entry.name)) walk(path.join(dir, entry.name), out);
    } else if (entry.isFile() && textExtensions.has(path.extname(entry.name))) {
      out.push(path.relative(root, path.join(dir, entry.name)).split(path.sep).join('/'));
    }
  }
  return out;
}

const files = walk(root).sort();
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');
const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** The external brief names, built so that this file does not cite them itself. */
const external = new RegExp(`\\b(?:${['DOMAIN', 'PROTOCOL', 'NOTES'].join('|')})\\.md\\b`, 'g');

/**
 * `docs/domain.md §5`, `docs/domain.md section 5`, `[domain.md §2](../domain.md)`, a list or
 * range (`§1-§4`, `§1 and §2`), possibly continued on the next comment line.
 */
const citation = /(?<![\w/.-])(?:docs\/)?domain\.md(?:\]\([^)\s]*\))?,?(?:[\s*]|\/\/)+(?:§\s*|section\s+)(\d+)((?:\s*(?:-|–|,|and|or|to)\s*(?:§\s*)?\d+)*)/g;

const domainDoc = read('docs/domain.md');
const headings = [...domainDoc.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1]));

describe('citations', () => {
  it('finds the repository files', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/domain.md');
    expect(files.filter((f) => f.endsWith('.ts')).length).toBeGreaterThan(50);
  });

  it('no source or doc file cites the external brief files (cite docs/domain.md or docs/protocol.md)', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = read(file);
      for (const m of text.matchAll(external)) found.push(`${file}:${lineOf(text, m.index)}: ${m[0]}`);
    }
    expect(found, 'cite docs/domain.md §N (domain, measured facts) or docs/protocol.md instead').toEqual([]);
  });

  it('docs/domain.md has numbered sections "## N. Title", each number once', () => {
    expect(headings.length).toBeGreaterThan(0);
    expect(new Set(headings).size, `section numbers: ${headings.join(', ')}`).toBe(headings.length);
  });

  it('every docs/domain.md §N citation names a section of docs/domain.md', () => {
    const cited: string[] = [];
    const missing: string[] = [];
    for (const file of files) {
      const text = read(file);
      const matches = [...text.matchAll(citation)];
      // inside docs/domain.md a bare §N points at its own sections
      if (file === 'docs/domain.md') matches.push(...text.matchAll(/§(\d+)()/g));
      for (const m of matches) {
        const where = `${file}:${lineOf(text, m.index)}`;
        for (const n of [m[1]!, ...(m[2] ?? '').match(/\d+/g) ?? []].map(Number)) {
          cited.push(where);
          if (!headings.includes(n)) missing.push(`${where}: §${n} (${m[0].replace(/\s+/g, ' ')})`);
        }
      }
    }
    expect(cited.length, 'no docs/domain.md §N citation found: is the pattern still right?').toBeGreaterThan(0);
    expect(missing, `docs/domain.md has sections ${headings.join(', ')}`).toEqual([]);
  });
});
