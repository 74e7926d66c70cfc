/**
 * The compiled fast path (core/schemas/fastParse.ts) against zod, its source of truth: on
 * every example and on generated JSON (mutated examples with edge values, arbitrary JSON)
 * the fast path accepts exactly what zod accepts, with the same output, keys in the same
 * order, and the decoder gives the same answer with and without it.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeObject } from '../../ingest/decode.js';
import { compileFastParse, compileObjectFastParse, FAIL, type LiftedOut } from '../../core/schemas/fastParse.js';
import { channelList, schemaFor, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';

const TS = 1_795_392_000_000;
const RUNS = Number(process.env.FASTPARSE_RUNS ?? 1500);

/** Same values and the same key order, all the way down. */
function sameOutput(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b) && JSON.stringify(a) === JSON.stringify(b);
}

function compiled(family: Family, channel: string) {
  const schema = schemaFor(family, channel)!;
  const whole = compileFastParse(schema);
  const lifted = compileObjectFastParse(schema, ['msgId', 'ts']);
  if (!whole || !lifted) throw new Error(`${family}/${channel} is not covered by the fast path`);
  return { schema, whole, lifted };
}

/** Checks one input; returns a description of the disagreement, or null. */
function disagreement(family: Family, channel: string, input: unknown): string | null {
  const { schema, whole, lifted } = compiled(family, channel);
  const z = schema.safeParse(input);
  const fast = whole(input);
  if ((fast !== FAIL) !== z.success) return `fast ${fast === FAIL ? 'refused' : 'accepted'}, zod ${z.success ? 'accepted' : 'refused'}`;
  if (fast !== FAIL && !sameOutput(fast, z.data)) return `outputs differ: ${JSON.stringify(fast)} vs ${JSON.stringify(z.data)}`;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const raw = input as Record<string, unknown>;
    const out: LiftedOut = { lifted: [], present: -1 };
    const data = lifted(raw, out);
    if ((data !== FAIL) !== z.success) return 'lifted parser disagrees on acceptance';
    if (data !== FAIL) {
      const { msgId, ts, ...rest } = z.data as Record<string, unknown>;
      if (!sameOutput(data, rest)) return `lifted fields differ: ${JSON.stringify(data)} vs ${JSON.stringify(rest)}`;
      if (out.lifted[0] !== msgId || out.lifted[1] !== ts) return 'lifted values differ';
      const shapeKeys = Object.keys((schema as unknown as { shape: object }).shape ?? (schema as unknown as { _zod: { def: { shape: object } } })._zod.def.shape);
      const present = shapeKeys.filter((k) => k in raw).length;
      if (out.present !== present) return `present ${out.present}, expected ${present}`;
    }
    const viaFast = decodeObject(family, channel, raw, true);
    const viaZod = decodeObject(family, channel, raw, false);
    if (!isDeepStrictEqual(viaFast, viaZod)) return `decodeObject differs: ${JSON.stringify(viaFast)} vs ${JSON.stringify(viaZod)}`;
  }
  return null;
}

// ---- generated JSON, written as text and parsed, as messages arrive ----------------------

/** A JSON fragment as text: lets us write 1e400 (Infinity after parsing) and duplicate keys. */
type Frag = { text: string };
const frag = (text: string): Frag => ({ text });
const json = (v: unknown): Frag => frag(JSON.stringify(v));

const edgeNumbers = [
  0, -0, 1, -1, 0.5, 0.87, 1.0000001, 2, 7, 11, 15, 16, 39, 40, 47, 48, -20, -21, 300, 301, 30, 30.0001, 99, 100, 100.5,
  1000, 1000.5, 1_000_000, 1_000_001, 10_000, 100_000, 10_000_000, 10_000_001, -60, -61, -200, -201, 0.1, 0.2, 0.3, 0.6,
  2 ** 31, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), Date.UTC(2000, 0, 1), Date.UTC(2000, 0, 1) - 1, Date.UTC(2100, 0, 1),
  Date.UTC(2100, 0, 1) - 1, TS, TS + 0.5, TS / 1000, 946_684_800, 4_102_444_799,
];
const edgeStrings = [
  '', 'x', 'x'.repeat(16), 'x'.repeat(17), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(128), 'x'.repeat(129),
  'x'.repeat(512), 'x'.repeat(513), '电梯', 'up', 'down', 'stop', 'normal', 'fire', 'inspection', 'rat', 'no_chef_hat',
  'post_fill', 'pre_fill', 'seal_open', 'self_lock', '92', '0#diesel', 'allow', 'Stop', 'stop ', '__proto__', 'constructor',
  '2026-11-23T08:00:00+08:00', '2026-11-23T08:00:00Z', '2026-11-23T08:00:00.123456Z', '2026-11-23T08:00:00', '2026-11-23 08:00:00Z',
  '2024-02-29T00:00:00Z', '2026-02-29T00:00:00Z', '1999-12-31T23:59:59Z', '2099-12-31T23:59:59.999Z', '2100-01-01T00:00:00Z',
  '1795392000000', 'NaN',
];
const numberFrag = fc.oneof(
  fc.constantFrom(...edgeNumbers).map(json),
  fc.constantFrom('1e400', '-1e400', '1E2', '-0.0', '1.0', '5e-324', '9007199254740993').map(frag),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(json),
  fc.integer().map(json),
);
const stringFrag = fc.oneof(fc.constantFrom(...edgeStrings).map(json), fc.string({ maxLength: 70 }).map(json));
const leafFrag: fc.Arbitrary<Frag> = fc.oneof(
  numberFrag, stringFrag, fc.boolean().map(json), fc.constant(frag('null')),
  fc.constantFrom([0.1, 0.2, 0.3, 0.6], [0.3, 0.2, 0.1, 0.6], [0, 0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.6, 0.7], ['a', 1, 1, 1], [], [0.5, 0.5, 0.5, 1.5]).map(json),
);
const anyFrag: fc.Arbitrary<Frag> = fc.oneof(
  { weight: 6, arbitrary: leafFrag },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map(json) },
  { weight: 1, arbitrary: fc.array(leafFrag, { maxLength: 5 }).map((a) => frag(`[${a.map((f) => f.text).join(',')}]`)) },
);

/** Extra keys, including ones with special meaning to JavaScript objects. */
const extraKeys = ['extra', 'note', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'msgid', 'TS', ''];

function mutatedExample(family: Family, channel: string): fc.Arbitrary<string> {
  const example = examplePayload(family, channel, 'm-1', TS);
  const schema = schemaFor(family, channel)! as unknown as { shape: Record<string, unknown> };
  const keys = [...new Set([...Object.keys(example), ...Object.keys(schema.shape)])];
  // up to three changes (drop a key, or give it another value), maybe extra keys, maybe reversed
  const change = fc.tuple(fc.nat(keys.length - 1), fc.oneof({ weight: 1, arbitrary: fc.constant<'drop'>('drop') }, { weight: 3, arbitrary: anyFrag }));
  const extras = fc.array(fc.tuple(fc.constantFrom(...extraKeys), anyFrag), { maxLength: 2 });
  return fc.tuple(fc.array(change, { maxLength: 3 }), fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: extras }), fc.boolean()).map(([changes, extra, reverse]) => {
    const values = new Map<string, string>(Object.entries(example).map(([k, v]) => [k, JSON.stringify(v)]));
    for (const [i, c] of changes) {
      if (c === 'drop') values.delete(keys[i]!); else values.set(keys[i]!, c.text);
    }
    const entries = [...values, ...extra.map(([k, f]) => [k, f.text] as [string, string])];
    if (reverse) entries.reverse();
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
  });
}

describe('every channel is covered', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s compiles', (_k, family, channel) => {
    expect(() => compiled(family, channel)).not.toThrow();
  });
});

describe('examples', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s: epoch ms and RFC 3339 give zod\'s output', (_k, family, channel) => {
    for (const ts of [TS, '2026-11-23T08:00:00+08:00', '2026-11-23T00:00:00.5Z']) {
      const input = JSON.parse(JSON.stringify(examplePayload(family, channel, 'm-1', ts))) as unknown;
      expect(disagreement(family, channel, input)).toBeNull();
      expect(compiled(family, channel).whole(input)).not.toBe(FAIL);
    }
  });
});

describe('agrees with zod on generated JSON (property)', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s: mutated examples with edge values', (_k, family, channel) => {
    let accepted = 0;
    fc.assert(fc.property(mutatedExample(family, channel), (text) => {
      const input = JSON.parse(text) as unknown;
      const d = disagreement(family, channel, input);
      if (d) throw new Error(`${d}\ninput: ${text}`);
      if (schemaFor(family, channel)!.safeParse(input).success) accepted++;
    }), { numRuns: RUNS });
    // the generator reaches both sides of the line
    expect(accepted).toBeGreaterThan(RUNS / 50);
    expect(accepted).toBeLessThan(RUNS);
  });

  it('arbitrary JSON values on every channel', () => {
    fc.assert(fc.property(fc.constantFrom(...channelList), fc.jsonValue({ maxDepth: 3 }), (c, v) => {
      const d = disagreement(c.family, c.channel, JSON.parse(JSON.stringify(v)));
      if (d) throw new Error(`${c.key}: ${d}\ninput: ${JSON.stringify(v)}`);
    }), { numRuns: RUNS });
  });
});

describe('the compiler itself', () => {
  it('a union takes the first option that accepts, as zod does', () => {
    const s = z.union([z.number().int().transform((n) => `int ${n}`), z.number().transform((n) => `num ${n}`)]);
    const f = compileFastParse(s)!;
    expect(f(3)).toBe('int 3');
    expect(f(3.5)).toBe('num 3.5');
    expect(f('3')).toBe(FAIL);
  });

  it('a refinement and a superRefine run as zod runs them', () => {
    const s = z.object({ a: z.number().refine((n) => n % 2 === 0), b: z.string().optional() })
      .superRefine((v, ctx) => { if (v.b === 'bad') ctx.addIssue({ code: 'custom', message: 'bad' }); });
    const f = compileFastParse(s)!;
    expect(f({ a: 2 })).toEqual({ a: 2 });
    expect(f({ a: 3 })).toBe(FAIL);
    expect(f({ a: 2, b: 'bad' })).toBe(FAIL);
    expect(f({ a: 2, b: 'ok', c: 1 })).toEqual({ a: 2, b: 'ok' });
  });

  it('a transform that adds an issue refuses', () => {
    const s = z.number().transform((n, ctx) => { if (n > 1) { ctx.addIssue({ code: 'custom', message: 'big' }); return z.NEVER; } return n * 10; });
    const f = compileFastParse(s)!;
    expect(f(1)).toBe(10);
    expect(f(2)).toBe(FAIL);
  });

  it.each([
    ['a default', z.object({ a: z.string().default('x') })],
    ['a strict object', z.strictObject({ a: z.string() })],
    ['a loose object', z.looseObject({ a: z.string() })],
    ['coercion', z.object({ a: z.coerce.number() })],
    ['a record', z.record(z.string(), z.number())],
    ['a nullable', z.object({ a: z.string().nullable() })],
    ['a key that every object has', z.object({ toString: z.string() })],
  ])('%s is not covered: null, so the caller uses zod', (_d, schema) => {
    expect(compileFastParse(schema as z.ZodType)).toBeNull();
  });

  it('input text never becomes code: keys and values with quotes and backslashes are data', () => {
    const s = z.object({ 'a"b\\c': z.literal('x"); throw 1; //') });
    const f = compileFastParse(s)!;
    expect(f({ 'a"b\\c': 'x"); throw 1; //' })).toEqual({ 'a"b\\c': 'x"); throw 1; //' });
    expect(f({ 'a"b\\c': 'y' })).toBe(FAIL);
  });
});
