/**
 * A fast path for the channel schemas, derived from the zod schemas themselves: they stay the
 * single source of truth, and nothing here restates a field, a bound or an enum.
 *
 * `compileFastParse(schema)` walks the schema's zod definition once and generates one plain
 * function that answers, per message, "does zod accept this value, and with which output?":
 * either the output zod would produce (same values, same keys in the same order) or FAIL, in
 * which case the caller runs zod itself. zod stays the authority on every rejection and on
 * every field-level message; the fast path may only ever say less than zod, never something
 * else. The equivalence is tested on every example payload and by property tests over mutated
 * and arbitrary JSON (test/core/fastParse.test.ts).
 *
 * Covered: object (zod's default strip mode), string, number, boolean, enum, literal,
 * optional, tuple (fixed length, required items), union (first success wins, as in zod), pipe,
 * transform, and every check. Checks that zod implements as plain comparisons (lengths,
 * bounds, safe integers) are inlined from their parameters; every other check (refinements,
 * string formats, superRefine) runs zod's own check function on a payload of its own, and
 * transforms run with the context zod documents (value, issues, addIssue). Anything else
 * (coercion, catchall, defaults, records, discriminated unions...) is not compiled:
 * `compileFastParse` returns null and the caller uses zod for that schema.
 *
 * The generated source contains only schema keys (as JSON string literals), finite numbers
 * from the schema's own bounds and references into a table of zod's functions: nothing
 * taken from a message ever becomes code.
 */
import type { z } from 'zod';

/** Returned when the fast path does not accept a value: ask zod. */
export const FAIL: unique symbol = Symbol('fastParse.fail');
export type Fail = typeof FAIL;

/** zod 4 internals read here: the definition, the traits and, for checks, the check function. */
interface ZodInternals {
  def: Record<string, unknown> & { type: string; checks?: ZodLike[] };
  traits: Set<string>;
  check?: (payload: CheckPayload) => unknown;
  values?: Set<unknown>;
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
}
interface ZodLike { _zod: ZodInternals }
interface CheckPayload { value: unknown; issues: unknown[]; addIssue?: (issue: unknown) => void }

class Unsupported extends Error {}

/** What the object parser reports besides the fields it returns. */
export interface LiftedOut {
  /** values of the lifted keys, in the order given to compileObjectFastParse */
  lifted: unknown[];
  /** how many schema keys the input had (the caller compares with its own key count) */
  present: number;
}

export type FastParse = (value: unknown) => unknown;
export type ObjectFastParse = (raw: Record<string, unknown>, out: LiftedOut) => Record<string, unknown> | Fail;

/** zod's whole output for a value it accepts, or FAIL; null when the schema is not covered. */
export function compileFastParse(schema: z.ZodType): FastParse | null {
  return build(schema, (g) => {
    const v = emit(g, schema as unknown as ZodLike, 'input', 'return FAIL;');
    g.line(`return ${v};`);
  }) as FastParse | null;
}

/**
 * For an object schema: the accepted fields in a fresh object (schema order, as zod orders
 * them), except the `lifted` keys, whose values go to `out.lifted` (ingest keeps msgId and ts
 * apart from the channel's fields). Lifted keys must be required fields.
 */
export function compileObjectFastParse(schema: z.ZodType, lifted: readonly string[]): ObjectFastParse | null {
  const s = schema as unknown as ZodLike;
  if (s._zod.def.type !== 'object') return null;
  return build(schema, (g) => {
    const v = emitObject(g, s, 'input', 'return FAIL;', lifted);
    g.line(`return ${v};`);
  }) as ObjectFastParse | null;
}

class Gen {
  private readonly lines: string[] = [];
  readonly env: unknown[] = [];
  private n = 0;
  line(s: string): void { this.lines.push(s); }
  id(prefix: string): string { return `${prefix}${this.n++}`; }
  ref(value: unknown): string { this.env.push(value); return `env[${this.env.length - 1}]`; }
  source(): string { return this.lines.join('\n'); }
}

function build(schema: z.ZodType, body: (g: Gen) => void): ((...args: never[]) => unknown) | null {
  const g = new Gen();
  try {
    body(g);
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
  const factory = new Function('env', 'FAIL', `"use strict";\nreturn function fastParse(input, out) {\n${g.source()}\n};`) as (env: unknown[], fail: Fail) => (...args: never[]) => unknown;
  void schema;
  return factory(g.env, FAIL);
}

const num = (n: unknown): string => {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Unsupported('non-finite bound');
  return Object.is(n, -0) ? '-0' : String(n);
};
const key = (k: string): string => JSON.stringify(k);

/** Emits code that checks `input` and leaves zod's output in the returned expression; on failure runs `fail`. */
function emit(g: Gen, s: ZodLike, input: string, fail: string): string {
  const def = s._zod.def;
  if (def.coerce) throw new Unsupported('coerce');
  let v = input;
  switch (def.type) {
    case 'string':
      g.line(`if (typeof ${input} !== 'string') ${fail}`);
      break;
    case 'number':
      // zod: a number, not NaN, finite
      g.line(`if (typeof ${input} !== 'number' || !Number.isFinite(${input})) ${fail}`);
      break;
    case 'boolean':
      g.line(`if (typeof ${input} !== 'boolean') ${fail}`);
      break;
    case 'enum':
    case 'literal': {
      const values = s._zod.values;
      if (!values) throw new Unsupported(def.type);
      g.line(`if (!${g.ref(values)}.has(${input})) ${fail}`);
      break;
    }
    case 'optional': {
      const inner = def.innerType as ZodLike;
      // an inner schema that substitutes a value for absence (a default) is not covered
      if (inner._zod.optin === 'defaulted') throw new Unsupported('optional(default)');
      v = g.id('o');
      g.line(`let ${v};`);
      g.line(`if (${input} !== undefined) {`);
      const x = emit(g, inner, input, fail);
      g.line(`${v} = ${x};`);
      g.line('}');
      break;
    }
    case 'pipe': {
      const a = emit(g, def.in as ZodLike, input, fail);
      v = emit(g, def.out as ZodLike, a, fail);
      break;
    }
    case 'transform': {
      // the transform's context as zod documents it (value, issues, addIssue); reused, since
      // parsing is synchronous and a transform that added an issue only ever leads to FAIL
      const ctx: CheckPayload = { value: undefined, issues: [] };
      ctx.addIssue = (issue) => { ctx.issues.push(issue); };
      const c = g.ref(ctx);
      v = g.id('t');
      g.line(`${c}.value = ${input}; ${c}.issues.length = 0;`);
      g.line(`const ${v} = ${g.ref(def.transform)}(${input}, ${c});`);
      g.line(`if (${c}.issues.length !== 0 || ${v} instanceof Promise) ${fail}`);
      break;
    }
    case 'union': {
      if (def.inclusive === false || def.discriminator !== undefined) throw new Unsupported('union variant');
      const options = def.options as ZodLike[];
      v = g.id('u');
      const done = g.id('U');
      g.line(`let ${v};`);
      g.line(`${done}: {`);
      for (const o of options) {
        const label = g.id('O');
        g.line(`${label}: {`);
        const x = emit(g, o, input, `break ${label};`);
        g.line(`${v} = ${x}; break ${done};`);
        g.line('}');
      }
      g.line(fail);
      g.line('}');
      break;
    }
    case 'tuple': {
      if (def.rest) throw new Unsupported('tuple rest');
      const items = def.items as ZodLike[];
      if (items.some((i) => i._zod.optin !== undefined || i._zod.optout !== undefined)) throw new Unsupported('optional tuple item');
      g.line(`if (!Array.isArray(${input}) || ${input}.length !== ${items.length}) ${fail}`);
      const parts = items.map((item, i) => {
        const el = g.id('e');
        g.line(`const ${el} = ${input}[${i}];`);
        return emit(g, item, el, fail);
      });
      v = g.id('a');
      g.line(`const ${v} = [${parts.join(', ')}];`);
      break;
    }
    case 'object':
      g.line(`if (typeof ${input} !== 'object' || ${input} === null || Array.isArray(${input})) ${fail}`);
      v = emitObject(g, s, input, fail, null);
      return v; // emitObject runs the object's own checks
    default:
      throw new Unsupported(def.type);
  }
  return emitChecks(g, s, v, fail);
}

/**
 * zod runs a schema's checks after its type test, in order, on its output; a schema that is
 * itself a check (string formats) runs first. On the success path every check runs (nothing
 * has aborted), so the fast path runs them all and fails on the first that fails.
 */
function emitChecks(g: Gen, s: ZodLike, value: string, fail: string): string {
  const checks = [...(s._zod.def.checks ?? [])];
  if (s._zod.traits.has('$ZodCheck')) checks.unshift(s);
  let v = value;
  for (const ch of checks) v = emitCheck(g, ch, v, fail);
  return v;
}

function emitCheck(g: Gen, ch: ZodLike, v: string, fail: string): string {
  const d = ch._zod.def;
  // zod's length checks carry a `when` that only asks "does the value have a length": true for
  // every string; they are inlined only where the value is known to be a string
  const isLength = d.check === 'min_length' || d.check === 'max_length' || d.check === 'length_equals';
  if (d.when === undefined || isLength) {
    switch (d.check) {
      case 'min_length': g.line(`if (typeof ${v} !== 'string' || ${v}.length < ${num(d.minimum)}) ${fail}`); return v;
      case 'max_length': g.line(`if (typeof ${v} !== 'string' || ${v}.length > ${num(d.maximum)}) ${fail}`); return v;
      case 'length_equals': g.line(`if (typeof ${v} !== 'string' || ${v}.length !== ${num(d.length)}) ${fail}`); return v;
      case 'greater_than':
        if (typeof d.value !== 'number') break;
        g.line(`if (!(${v} ${d.inclusive ? '>=' : '>'} ${num(d.value)})) ${fail}`);
        return v;
      case 'less_than':
        if (typeof d.value !== 'number') break;
        g.line(`if (!(${v} ${d.inclusive ? '<=' : '<'} ${num(d.value)})) ${fail}`);
        return v;
      case 'number_format':
        // zod: Number.isInteger, then the format's range, which for safeint is the safe range
        if (d.format !== 'safeint') break;
        g.line(`if (!Number.isSafeInteger(${v})) ${fail}`);
        return v;
    }
  }
  // Everything else: zod's own check function on a payload of its own, as zod's runChecks
  // calls it (a `when` that says no skips it); any issue, or an answer that is not
  // synchronous, means "ask zod". A check may rewrite the value (overwrite checks).
  const run = ch._zod.check;
  if (typeof run !== 'function') throw new Unsupported(`check ${String(d.check)}`);
  const p = g.ref({ value: undefined, issues: [] } satisfies CheckPayload);
  const out = g.id('c');
  g.line(`${p}.value = ${v}; ${p}.issues.length = 0;`);
  const call = `{ const r = ${g.ref(run)}(${p}); if (r instanceof Promise || ${p}.issues.length !== 0) ${fail} }`;
  if (typeof d.when === 'function') g.line(`if (${g.ref(d.when)}(${p})) ${call}`);
  else g.line(call);
  g.line(`const ${out} = ${p}.value;`);
  return out;
}

/**
 * zod's object parse on the success path (handlePropertyResult): a required key must be
 * present; an optional one (optional in and out) may be absent and is then left out; a
 * present key is always set, in schema order. Unknown keys are not copied (strip).
 */
function emitObject(g: Gen, s: ZodLike, input: string, fail: string, lifted: readonly string[] | null): string {
  const def = s._zod.def;
  if (def.catchall !== undefined) throw new Unsupported('object catchall');
  const shape = def.shape as Record<string, ZodLike>;
  if (Object.getOwnPropertySymbols(shape).length) throw new Unsupported('symbol keys');
  const fields = Object.keys(shape).filter((k) => k !== '__proto__').map((k) => {
    // `k in input` would find such a key on every object; the caller's key count relies on
    // schema keys being found only as the input's own
    if (k in Object.prototype) throw new Unsupported(`key ${k} is on Object.prototype`);
    const f = shape[k]!;
    const optin = f._zod.optin;
    const optout = f._zod.optout;
    let optional: boolean;
    if (optin === undefined) optional = false;
    else if (optin === 'optional' && optout === 'optional') optional = true;
    else throw new Unsupported(`field ${k}: optin ${optin}, optout ${optout}`);
    const liftIndex = lifted ? lifted.indexOf(k) : -1;
    if (liftIndex >= 0 && optional) throw new Unsupported('optional lifted key');
    return { k, schema: f, optional, liftIndex, value: g.id('f'), set: optional ? g.id('s') : 'true' };
  });
  const present = lifted ? g.id('n') : null;
  if (present) g.line(`let ${present} = 0;`);
  for (const f of fields) {
    if (f.optional) g.line(`let ${f.value}, ${f.set} = false;`);
    else g.line(`let ${f.value};`);
    g.line(`if (${key(f.k)} in ${input}) {`);
    if (present) g.line(`${present}++;`);
    const raw = g.id('r');
    g.line(`const ${raw} = ${input}[${key(f.k)}];`);
    const x = emit(g, f.schema, raw, fail);
    g.line(`${f.value} = ${x};`);
    if (f.optional) g.line(`${f.set} = true;`);
    g.line(f.optional ? '}' : `} else ${fail}`);
  }
  const assemble = (name: string, include: (f: (typeof fields)[number]) => boolean): void => {
    const kept = fields.filter(include);
    // a literal for the leading required fields (one object shape), then the rest in order
    let i = 0;
    const literal: string[] = [];
    while (i < kept.length && !kept[i]!.optional) { literal.push(`${key(kept[i]!.k)}: ${kept[i]!.value}`); i++; }
    g.line(`const ${name} = {${literal.join(', ')}};`);
    for (; i < kept.length; i++) {
      const f = kept[i]!;
      g.line(f.optional ? `if (${f.set}) ${name}[${key(f.k)}] = ${f.value};` : `${name}[${key(f.k)}] = ${f.value};`);
    }
  };
  const rest = g.id('obj');
  assemble(rest, (f) => f.liftIndex < 0);
  const checks = [...(def.checks ?? [])];
  if (s._zod.traits.has('$ZodCheck')) checks.unshift(s);
  if (checks.length) {
    // object checks (superRefine) see zod's whole output
    let whole = rest;
    if (fields.some((f) => f.liftIndex >= 0)) {
      whole = g.id('whole');
      assemble(whole, () => true);
    }
    for (const ch of checks) {
      const after = emitCheck(g, ch, whole, fail);
      // a check that replaces the object is not covered at run time
      if (after !== whole) g.line(`if (${after} !== ${whole}) ${fail}`);
    }
  }
  if (lifted) {
    for (const f of fields) if (f.liftIndex >= 0) g.line(`out.lifted[${f.liftIndex}] = ${f.value};`);
    g.line(`out.present = ${present};`);
  }
  return rest;
}
