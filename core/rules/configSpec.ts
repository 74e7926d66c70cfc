/**
 * The vocabulary of configuration specs (core/rules/configSchemas.ts uses it per rule; the
 * deadlines, rescue and store-list sections of core/alerts/policy.ts too): a key's unit, range
 * and zod schema, rules between keys, the check of given values against defaults, and the
 * markdown tables docs/configuration.md shows.
 */
import { z } from 'zod';
import { DAY, HOUR, MINUTE, SECOND } from './common/util.js';

/** One key of a configuration: what it means and what it may be. */
export interface ConfigKey {
  /** one value; every issue's message reads after the value: `… 90 must be …` */
  readonly schema: z.ZodType;
  /** the unit, for the docs: ms, s, min, days, years, kg, L, L/s, %, fen, fraction, count, … */
  readonly unit: string;
  /** the allowed values, for the docs */
  readonly allowed: string;
  /** what the key is, where its name does not say its unit */
  readonly about?: string;
  /** absent from some rules' defaults (offline: silenceMs, or heartbeatIntervalS × missedHeartbeats) */
  readonly optional?: boolean;
  /** a timer on the engine's clock: its value in ms must be at least ALERT_TICK_MS */
  readonly tickMs?: (value: number) => number;
}

/** A rule between keys of one configuration, checked on the merged values (defaults + overrides). */
export interface CrossRule {
  /** the keys it reads; the first is the one a refusal names */
  readonly keys: readonly string[];
  /** the rule, for the docs */
  readonly text: string;
  /**
   * null when the values keep the rule, else what the first key's value must be (read after
   * the value: `20 must be before rescue.arrivalMin (15)`); `ref(key)` names another key with
   * its value, as the refusal should show it.
   */
  check(values: Readonly<Record<string, unknown>>, ref: (key: string) => string): string | null;
}

export interface ConfigSpec {
  readonly keys: Readonly<Record<string, ConfigKey>>;
  readonly cross: readonly CrossRule[];
}

export interface RuleConfigSchema extends ConfigSpec {
  /** the whole configuration: each key's schema, unknown keys refused, then the cross rules */
  readonly schema: z.ZodType;
}

// ---------------------------------------------------------------- value kinds

export const severities = ['critical', 'major', 'minor', 'info'] as const;
export const YEAR = 365 * DAY;

/** 90000 -> "90 s", 3600000 -> "1 h", 604800000 -> "7 days" */
export function duration(ms: number): string {
  if (ms !== 0 && ms % DAY === 0) return `${ms / DAY} ${ms === DAY ? 'day' : 'days'}`;
  if (ms !== 0 && ms % HOUR === 0) return `${ms / HOUR} h`;
  if (ms !== 0 && ms % MINUTE === 0) return `${ms / MINUTE} min`;
  if (ms !== 0 && ms % SECOND === 0) return `${ms / SECOND} s`;
  return `${ms} ms`;
}

const n = (v: number): string => String(v);

interface NumberOptions {
  int?: boolean;
  /** lower bound, inclusive unless `above` */
  min: number;
  above?: boolean;
  /** upper bound, inclusive unless `below` */
  max: number;
  below?: boolean;
}

export function numberSchema(o: NumberOptions, message: string): z.ZodNumber {
  const e = { error: message };
  let s = z.number(e);
  if (o.int) s = s.int(e);
  s = o.above ? s.gt(o.min, e) : s.min(o.min, e);
  return o.below ? s.lt(o.max, e) : s.max(o.max, e);
}

/** A ConfigKey literal, checked as one. */
export function key(k: ConfigKey): ConfigKey {
  return k;
}

/** Whole milliseconds. `tick`: a timer on the engine's clock (also at least ALERT_TICK_MS). */
export function millis(min: number, max: number, opts: { tick?: boolean; about?: string; optional?: boolean } = {}): ConfigKey {
  const range = `${n(min)}${min >= SECOND ? ` (${duration(min)})` : ''} to ${n(max)} (${duration(max)})`;
  return key({
    schema: numberSchema({ int: true, min, max }, `must be whole milliseconds from ${range}`),
    unit: 'ms',
    allowed: `${range}${opts.tick ? ', and at least ALERT_TICK_MS' : ''}`,
    ...(opts.about ? { about: opts.about } : {}),
    ...(opts.optional ? { optional: true } : {}),
    ...(opts.tick ? { tickMs: (v: number) => v } : {}),
  });
}

/** An alert's dedupe window: a repeat within it updates the open alert; 0: every raise its own alert. */
export const alertWindow = (about = 'dedupe window: a repeat within it updates the open alert (0: each raise is its own alert)'): ConfigKey =>
  millis(0, YEAR, { about });

/** A decimal quantity in `unit` (kg, L, L/s, %, fraction), from `min` to `max` (exclusive when `above`, `below`). */
export function quantity(unit: string, o: { min: number; above?: boolean; max: number; below?: boolean }, about?: string): ConfigKey {
  const what = unit === 'fraction' ? 'a fraction' : unit;
  const low = o.above ? `more than ${n(o.min)}` : `at least ${n(o.min)}`;
  const high = o.below ? `less than ${n(o.max)}` : `at most ${n(o.max)}`;
  return key({
    schema: numberSchema(o, `must be ${what} ${o.above || o.below ? `${low} and ${high}` : `from ${n(o.min)} to ${n(o.max)}`}`),
    unit,
    allowed: o.above || o.below ? `${o.above ? '>' : '≥'} ${n(o.min)}, ${o.below ? '<' : '≤'} ${n(o.max)}` : `${n(o.min)} to ${n(o.max)}`,
    ...(about ? { about } : {}),
  });
}

/**
 * Minutes (deadlines, rescue times): more than 0, at most 365 days, fractions allowed (0.5 =
 * 30 s). `tick`: a deadline on the engine's clock (also at least ALERT_TICK_MS).
 */
export function minutes(about: string, opts: { tick?: boolean } = {}): ConfigKey {
  const max = YEAR / MINUTE;
  return key({
    schema: numberSchema({ min: 0, above: true, max }, `must be minutes, more than 0 and at most ${max} (365 days)`),
    unit: 'min',
    allowed: `> 0, ≤ ${max} (365 days)${opts.tick ? ', and at least ALERT_TICK_MS' : ''}`,
    about,
    ...(opts.tick ? { tickMs: (v: number) => v * MINUTE } : {}),
  });
}

/** A whole number of `unit` (count, s, minutes, days, years, fen). */
export function whole(unit: string, min: number, max: number, about?: string, extra: Partial<ConfigKey> = {}): ConfigKey {
  const words: Record<string, string> = { count: 'a whole number', s: 'whole seconds', min: 'whole minutes' };
  const what = words[unit] ?? `whole ${unit}`;
  return key({
    schema: numberSchema({ int: true, min, max }, `must be ${what} from ${n(min)} to ${n(max)}`),
    unit,
    allowed: `${n(min)} to ${n(max)}`,
    ...(about ? { about } : {}),
    ...extra,
  });
}

export const confidence = (about: string): ConfigKey => key({
  schema: numberSchema({ min: 0, max: 1 }, 'must be a confidence from 0 to 1 (a fraction, not a percentage)'),
  unit: 'fraction',
  allowed: '0 to 1',
  about,
});

export const severity = (about = 'the alert\'s severity'): ConfigKey => key({
  schema: z.enum(severities, { error: `must be one of ${severities.join(', ')}` }),
  unit: 'severity',
  allowed: severities.join(', '),
  about,
});

export function oneOf<T extends string | number>(values: readonly T[], unit: string, about: string): ConfigKey {
  const literals = values.map((v) => z.literal(v));
  return key({
    schema: z.union(literals as unknown as [z.ZodLiteral<T>, z.ZodLiteral<T>, ...Array<z.ZodLiteral<T>>], { error: `must be one of ${values.join(', ')}` }),
    unit,
    allowed: values.join(', '),
    about,
  });
}

export const boolean = (about: string): ConfigKey => key({ schema: z.boolean({ error: 'must be true or false' }), unit: 'switch', allowed: 'true, false', about });

/** A list of distinct values out of `values`, at least `min` of them. */
export function listOf(values: readonly string[], min: number, about: string): ConfigKey {
  const message = `must be a list of distinct values out of ${values.join(', ')}${min > 0 ? ` (at least ${min})` : ''}`;
  return key({
    schema: z.array(z.enum(values as [string, ...string[]], { error: `must be one of ${values.join(', ')}` }), { error: message })
      .min(min, { error: message })
      .refine((l) => new Set(l).size === l.length, { error: message }),
    unit: 'list',
    allowed: `${min > 0 ? `at least ${min} of` : 'any of'} ${values.join(', ')}, no repeats`,
    about,
  });
}

/**
 * A map from names (out of `names`, or any matching `namePattern`) to values of `value`. It
 * replaces the default map as a whole (overrides merge key by key at the top level only).
 */
export function mapOf(names: { list?: readonly string[]; pattern?: RegExp; what: string }, value: ConfigKey, about: string): ConfigKey {
  const keyOk = (k: string): boolean => (names.list ? names.list.includes(k) : names.pattern!.test(k));
  const keyMessage = names.list ? `no such ${names.what} (${names.list.join(', ')})` : `must be a ${names.what}`;
  return key({
    schema: z.record(z.string().refine(keyOk, { error: keyMessage }), value.schema, { error: `must be an object of ${names.what} → ${value.unit}` }),
    unit: `map of ${value.unit}`,
    allowed: `${names.list ? names.list.join(', ') : names.what} → ${value.allowed}`,
    about,
  });
}

// ---------------------------------------------------------------- cross rules

export const num = (v: unknown): number => v as number;

/** `a` must be at most (`strict`: less than) `b`. */
export function notAfter(a: string, b: string, opts: { strict: boolean; why: string; word?: string }): CrossRule {
  const word = opts.word ?? (opts.strict ? 'less than' : 'at most');
  return {
    keys: [a, b],
    text: `${a} ${opts.strict ? '<' : '≤'} ${b}: ${opts.why}`,
    check: (v, ref) => (opts.strict ? num(v[a]) < num(v[b]) : num(v[a]) <= num(v[b])) ? null : `must be ${word} ${ref(b)}: ${opts.why}`,
  };
}

/** A rule's specification plus its zod schema. */
export function rule(keys: Record<string, ConfigKey>, cross: CrossRule[] = []): RuleConfigSchema {
  const shape = Object.fromEntries(Object.entries(keys).map(([k, spec]) => [k, spec.optional ? spec.schema.optional() : spec.schema]));
  const schema = z.strictObject(shape).superRefine((value, ctx) => {
    const v = value as Record<string, unknown>;
    for (const c of cross) {
      // only over keys that are valid themselves: a bad value is reported once, by its key
      if (!c.keys.every((k) => v[k] === undefined ? keys[k]?.optional === true : keys[k]!.schema.safeParse(v[k]).success)) continue;
      const problem = c.check(v, (k) => `${k} (${JSON.stringify(v[k])})`);
      if (problem) ctx.addIssue({ code: 'custom', path: [c.keys[0]!], message: problem });
    }
  });
  return { keys, cross, schema };
}

// ---------------------------------------------------------------- checking

/** A value as a refusal shows it. */
export const shown = (v: unknown): string => (v === undefined ? 'undefined' : JSON.stringify(v));

/** The problems of one value against its key, each `<path>: <value> must be …` (one per path); none when it is fine. */
export function keyProblems(spec: ConfigKey, path: string, value: unknown): { problems: string[]; value: unknown } {
  const r = spec.schema.safeParse(value);
  if (r.success) return { problems: [], value: r.data };
  const byPath = new Map<string, string>();
  for (const issue of r.error.issues) {
    const sub = issue.path.map(String);
    const at = [path, ...sub].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) if (!byPath.has(`${at}.${k}`)) byPath.set(`${at}.${k}`, `${at}.${k}: no such key`);
      continue;
    }
    if (byPath.has(at)) continue;
    if (issue.code === 'invalid_key') {
      byPath.set(at, `${at}: ${issue.issues[0]?.message ?? issue.message}`);
      continue;
    }
    let inner: unknown = value;
    for (const k of sub) inner = inner !== null && typeof inner === 'object' ? (inner as Record<string, unknown>)[k] : undefined;
    byPath.set(at, `${at}: ${shown(inner)} ${issue.message}`);
  }
  return { problems: [...byPath.values()], value };
}

export interface CheckOptions {
  /** ALERT_TICK_MS: timers (`tickMs`) below it are refused; absent: not checked */
  tickMs?: number;
  /**
   * values this configuration takes from another one's overrides (`configFrom`), already
   * checked there: they count for the cross rules, refusals name where they came from
   */
  inherited?: { values: Readonly<Record<string, unknown>>; from: string };
}

export interface SpecCheck {
  problems: string[];
  /** the given values, parsed */
  values: Record<string, unknown>;
  /** timers left at their default that are shorter than the tick: `<path>` and their ms */
  shortDefaults: Array<{ path: string; ms: number }>;
}

/**
 * Check values given for a configuration (`given`, keys already known) against its spec:
 * each value, then the cross rules and the tick over the merged values (defaults, inherited,
 * given). `prefix` names the configuration in refusals (`rules.elevator.trapped.`). A cross
 * rule is reported only when one of its keys was given and every one of its keys is valid.
 */
export function checkSpec(spec: ConfigSpec, prefix: string, given: Readonly<Record<string, unknown>>, defaults: Readonly<Record<string, unknown>>, opts: CheckOptions = {}): SpecCheck {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  const bad = new Set<string>();
  for (const [k, v] of Object.entries(given)) {
    const keySpec = spec.keys[k];
    if (!keySpec) {
      problems.push(`${prefix}${k}: no schema for this key (core/rules/configSchemas.ts)`);
      bad.add(k);
      continue;
    }
    const r = keyProblems(keySpec, `${prefix}${k}`, v);
    if (r.problems.length) {
      problems.push(...r.problems);
      bad.add(k);
    } else values[k] = r.value;
  }
  const inherited = opts.inherited?.values ?? {};
  const merged: Record<string, unknown> = { ...defaults, ...inherited, ...values };
  const isGiven = (k: string): boolean => Object.hasOwn(given, k);

  const shortDefaults: SpecCheck['shortDefaults'] = [];
  if (opts.tickMs !== undefined) {
    for (const [k, keySpec] of Object.entries(spec.keys)) {
      const v = merged[k];
      // an inherited timer is refused where it was given
      if (!keySpec.tickMs || typeof v !== 'number' || bad.has(k) || (!isGiven(k) && Object.hasOwn(inherited, k))) continue;
      const ms = keySpec.tickMs(v);
      if (ms >= opts.tickMs) continue;
      if (!isGiven(k)) {
        shortDefaults.push({ path: `${prefix}${k}`, ms });
        continue;
      }
      const max = (keySpec.schema as z.ZodNumber).maxValue;
      const seconds = keySpec.unit === 'ms' && max !== null && v * SECOND <= max ? ` (a value in seconds? ${v} s is ${v * SECOND})` : '';
      problems.push(`${prefix}${k}: ${shown(v)} must be at least ALERT_TICK_MS (${opts.tickMs} ms): the timer is checked once per tick, so a shorter one fires late${seconds}`);
      bad.add(k);
    }
  }

  const origin = (k: string): string => (isGiven(k) ? '' : Object.hasOwn(inherited, k) ? `from ${opts.inherited!.from}` : 'the default');
  const ref = (k: string): string => `${prefix}${k} (${[shown(merged[k]), origin(k)].filter(Boolean).join(', ')})`;
  for (const c of spec.cross) {
    if (!c.keys.some(isGiven) || c.keys.some((k) => bad.has(k))) continue;
    const problem = c.check(merged, ref);
    const k0 = c.keys[0]!;
    if (problem) problems.push(`${prefix}${k0}: ${shown(merged[k0])}${isGiven(k0) ? '' : ` (${origin(k0)})`} ${problem}`);
  }
  return { problems, values, shortDefaults };
}

// ---------------------------------------------------------------- docs

/** A default as the docs show it. */
function shownDefault(spec: ConfigKey | undefined, v: unknown): string {
  if (v === undefined) return '—';
  const text = JSON.stringify(v).replace(/\|/g, '\\|');
  const human = spec?.unit === 'ms' && typeof v === 'number' && v >= SECOND ? ` (${duration(v)})` : '';
  return `\`${text}\`${human}`;
}

/** Markdown tables of a configuration's keys (only `keys` of it, in their order) and its cross rules. */
export function specTable(spec: ConfigSpec, keys: readonly string[], defaults: Readonly<Record<string, unknown>>): string {
  const lines = ['| key | unit | default | allowed | meaning |', '|---|---|---|---|---|'];
  for (const k of keys) {
    const s = spec.keys[k];
    const cell = (t: string | undefined): string => (t ?? '').replace(/\|/g, '\\|');
    lines.push(`| ${k} | ${cell(s?.unit ?? '?')} | ${shownDefault(s, defaults[k])} | ${cell(s?.allowed ?? 'NO SCHEMA')} | ${cell(s?.about)} |`);
  }
  const cross = spec.cross.filter((c) => c.keys.some((k) => keys.includes(k)));
  if (cross.length) lines.push('', ...cross.map((c) => `- ${c.text}`));
  return lines.join('\n');
}
