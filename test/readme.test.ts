/**
 * The README and the docs agree with the code: the configuration table (docs/configuration.md) lists exactly
 * the settings of service/config.ts; every rule of core/rules/index.ts is named in
 * docs/rules.md and on its family's page docs/rules/<family>.md; every `npm run <name>` in
 * a README code block is a script of package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { allRules } from '../core/rules/index.js';
import { settings } from '../service/config.js';

const root = new URL('../', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, root), 'utf8');
const readme = read('README.md');
const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts?: Record<string, string> }).scripts ?? {});

/** The body of a `## ` section of a markdown document, up to the next `## `. */
function section(markdown: string, heading: string): string {
  const start = markdown.split('\n').findIndex((l) => l.trim() === `## ${heading}`);
  if (start < 0) return '';
  const rest = markdown.split('\n').slice(start + 1);
  const end = rest.findIndex((l) => l.startsWith('## '));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/** Fenced code blocks (``` ... ```) of a markdown document. */
function codeBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  let current: string[] | null = null;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) {
      if (current) { blocks.push(current.join('\n')); current = null; } else current = [];
    } else current?.push(line);
  }
  return blocks;
}

/** `id` as a whole name (not part of a longer one such as `dispenser.tank_reconciliation`). */
function mentions(text: string, id: string): boolean {
  return new RegExp(`(?<![\\w.])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w])`).test(text);
}

/** docs/configuration.md: the whole document is the configuration section (the README links to it). */
const configurationDoc = read('docs/configuration.md');

describe('the configuration table (docs/configuration.md)', () => {
  const configuration = configurationDoc.startsWith('# Configuration') ? configurationDoc : '';
  const named = configuration.split('\n').map((l) => /^\|\s*`([^`]+)`\s*\|/.exec(l)?.[1]).filter((n): n is string => n !== undefined);

  it('is a document with a table of settings, linked from the README\'s "## Configuration"', () => {
    expect(configuration, 'docs/configuration.md: no "# Configuration" document').not.toBe('');
    expect(named.length, 'docs/configuration.md: no table rows of the form | `NAME` | ... |').toBeGreaterThan(0);
    // and the README points to it
    expect(section(readme, 'Configuration')).toContain('docs/configuration.md');
  });

  it.each(Object.keys(settings))('lists %s once', (name) => {
    const rows = named.filter((n) => n === name);
    expect(rows, `docs/configuration.md: ${rows.length ? 'more than one row' : 'no row'} | \`${name}\` | (service/config.ts has it)`).toHaveLength(1);
  });

  it('lists no setting that service/config.ts does not have', () => {
    const unknown = named.filter((n) => !Object.hasOwn(settings, n));
    expect(unknown, 'docs/configuration.md: rows naming no setting of service/config.ts').toEqual([]);
  });
});

describe('rule docs', () => {
  const index = read('docs/rules.md');
  const ids = allRules.map((r) => r.id);

  it('allRules is not empty', () => {
    expect(ids.length).toBeGreaterThan(0);
  });

  it.each(ids)('%s is named in docs/rules.md', (id) => {
    expect(mentions(index, id), `docs/rules.md does not name ${id}`).toBe(true);
  });

  it.each(ids)('%s is named on its family page', (id) => {
    const family = id.slice(0, id.indexOf('.'));
    expect(family, `rule id ${id} has no family part before a dot`).not.toBe('');
    const page = `docs/rules/${family}.md`;
    if (!existsSync(new URL(page, root))) {
      const waiting = ids.filter((other) => other.startsWith(`${family}.`)).join(', ');
      expect.fail(`${page} does not exist: the family page of ${waiting}`);
    }
    expect(mentions(read(page), id), `${page} does not name ${id}`).toBe(true);
  });
});

describe('README npm scripts', () => {
  const named = new Set<string>();
  for (const block of codeBlocks(readme)) {
    // `npm run -s build`: flags before the name are skipped
    for (const m of block.matchAll(/\bnpm run(?:\s+-{1,2}[\w-]+)*\s+([\w:.-]+)/g)) named.add(m[1]!);
    for (const m of block.matchAll(/\bnpm (start|test)\b/g)) named.add(m[1]!);
  }

  it('the README code blocks run scripts', () => {
    expect(named.size).toBeGreaterThan(0);
  });

  it.each([...named])('npm run %s is a script of package.json', (name) => {
    expect(scripts, `README.md runs "npm run ${name}"; package.json "scripts" has no ${name}`).toContain(name);
  });
});
