/**
 * The user docs agree with the code they describe: docs/error-codes.md has every catalog
 * code with its own sentence and status, and nothing else; docs/protocol.md has a table for
 * every (family, channel) and reply that lists exactly the schema's fields, with the right
 * "required", every enum value and every bound.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { channelList, cylinderScanReply, deviceError, schemaFor } from '../core/schemas/index.js';
import { codes, type CodeSpec } from '../core/codes.js';
import { stepRefusalReasons } from '../core/alerts/rescueCase.js';

const read = (name: string): string => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');
const errorDoc = read('error-codes.md');
const protocolDoc = read('protocol.md');

/** Table rows whose first cell is one backticked name, as cells. */
function namedRows(markdown: string): Array<{ name: string; cells: string[]; line: string }> {
  const rows = [];
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const m = /^`([A-Za-z][A-Za-z0-9_]*)`$/.exec(cells[0] ?? '');
    if (m) rows.push({ name: m[1]!, cells, line });
  }
  return rows;
}

describe('docs/error-codes.md', () => {
  const rows = namedRows(errorDoc);

  it.each(Object.keys(codes))('documents %s once, with its summary and HTTP status', (code) => {
    const spec: CodeSpec = codes[code as keyof typeof codes];
    const mine = rows.filter((r) => r.name === code);
    expect(mine).toHaveLength(1);
    const [, where, http, meaning, todo] = mine[0]!.cells;
    expect(meaning).toBe(spec.summary);
    expect(http).toBe(spec.http === undefined ? '-' : String(spec.http));
    expect(where).toMatch(spec.scope === 'http' ? /HTTP/ : /dead letter|PUBACK/);
    expect(todo!.length).toBeGreaterThan(10);
  });

  it.each(stepRefusalReasons)('explains the rescue step refusal reason %s', (reason) => {
    expect(errorDoc).toMatch(new RegExp(`^- \`${reason}\`: .{20,}`, 'm'));
  });

  it('lists no code the catalog does not have', () => {
    const unknown = rows.map((r) => r.name).filter((name) => !Object.hasOwn(codes, name));
    expect(unknown).toEqual([]);
  });
});

/** `### ` sections of protocol.md: heading and body. */
const sections = protocolDoc.split('\n### ').slice(1).map((s) => {
  const nl = s.indexOf('\n');
  const heading = s.slice(0, nl);
  return { heading, body: s.slice(nl).split('\n## ')[0]! };
});

function sectionFor(topicInHeading: string): string {
  const found = sections.filter((s) => s.heading.includes(`\`${topicInHeading}\``));
  expect(found, `one ### section naming \`${topicInHeading}\``).toHaveLength(1);
  return found[0]!.body;
}

/** What the doc table must say about a field, read from its zod schema. */
function facts(field: z.ZodType): { optional: boolean; options: string[]; bounds: number[] } {
  const optional = field.safeParse(undefined).success;
  let inner: z.ZodType = field;
  if (inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodArray) inner = inner.element as z.ZodType;
  const options = inner instanceof z.ZodEnum ? (inner.options as Array<string | number>).map(String) : [];
  const bounds: number[] = [];
  if (inner instanceof z.ZodNumber) bounds.push(...[inner.minValue, inner.maxValue].filter((v): v is number => v !== null));
  if (inner instanceof z.ZodString && inner.maxLength !== null) bounds.push(inner.maxLength);
  // int() alone sets the safe-integer bounds; finite() alone sets none worth documenting
  return { optional, options, bounds: bounds.filter((b) => Number.isFinite(b) && Math.abs(b) < Number.MAX_SAFE_INTEGER) };
}

function expectTableMatches(section: string, shape: Record<string, z.ZodType>): void {
  const rows = namedRows(section);
  expect(rows.map((r) => r.name).sort(), 'the table lists exactly the schema fields').toEqual(Object.keys(shape).sort());
  for (const [name, field] of Object.entries(shape)) {
    const row = rows.find((r) => r.name === name)!;
    const [, type, required, values] = row.cells;
    const f = facts(field);
    expect(type, `${name}: type`).not.toBe('');
    expect(required!.startsWith('yes'), `${name}: required is "${required}"`).toBe(!f.optional);
    for (const option of f.options) expect(values, `${name}: enum value ${option}`).toContain(`\`${option}\``);
    for (const bound of f.bounds) expect(row.line, `${name}: bound ${bound}`).toContain(String(bound));
  }
}

const shapeOf = (schema: z.ZodType): Record<string, z.ZodType> => (schema as z.ZodObject).shape as Record<string, z.ZodType>;

describe('docs/protocol.md', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s: a section whose table matches the schema', (key, family, channel) => {
    expectTableMatches(sectionFor(key), shapeOf(schemaFor(family, channel)!));
  });

  it('the error reply table matches its schema', () => {
    expectTableMatches(sectionFor('{family}/{deviceId}/error'), shapeOf(deviceError));
  });

  it('the cylinder scan reply table matches its schema', () => {
    expectTableMatches(sectionFor('cylinder/{deviceId}/scan/reply'), shapeOf(cylinderScanReply));
  });

  it('names every device code an error reply can carry', () => {
    const deviceCodes = Object.entries(codes).filter(([, spec]) => spec.scope !== 'http').map(([code]) => code);
    for (const code of deviceCodes) expect(protocolDoc).toContain(`\`${code}\``);
  });
});
