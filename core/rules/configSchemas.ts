/**
 * What every rule threshold means, in one place: per rule id, each key of the rule's
 * `defaults` with its unit, its allowed range and a zod schema refusing anything else, and the
 * rules between keys of one rule (a warning before its limit). `ALERT_OVERRIDES` is checked
 * against these (core/alerts/policy.ts) before the service starts; docs/configuration.md lists
 * them (`ruleConfigReference` writes that section; a test keeps it in sync).
 *
 * Units are in the key names (`…Ms`, `…S`, `…Minutes`, `…Days`, `…Years`, `…Kg`, `…L`,
 * `…LitresPerSecond`, `…Pct`, `…Fen`); a key without one is a count, a fraction, a class, a
 * severity, a list or a switch, which its `about` says. Timers that run on the engine's clock
 * (`tick`) must also be at least ALERT_TICK_MS: a shorter one is only checked at the next tick,
 * so it fires late (and `atFloorMs: 90` was meant as seconds).
 *
 * A new key in a rule's defaults without an entry here fails test/core/configSchemas.test.ts,
 * so no threshold goes unvalidated.
 */
import { z } from 'zod';
import { serviceModes } from '../schemas/elevator.js';
import { scanPoints } from '../schemas/cylinder.js';
import { violationTypes } from '../schemas/kitchen.js';
import { DAY, HOUR, MINUTE, SECOND } from './common/util.js';
import { elevatorCodes } from './elevator/codes.js';

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
const YEAR = 365 * DAY;

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

function numberSchema(o: NumberOptions, message: string): z.ZodNumber {
  const e = { error: message };
  let s = z.number(e);
  if (o.int) s = s.int(e);
  s = o.above ? s.gt(o.min, e) : s.min(o.min, e);
  return o.below ? s.lt(o.max, e) : s.max(o.max, e);
}

/** A ConfigKey literal, checked as one. */
function key(k: ConfigKey): ConfigKey {
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
const alertWindow = (about = 'dedupe window: a repeat within it updates the open alert (0: each raise is its own alert)'): ConfigKey =>
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
function whole(unit: string, min: number, max: number, about?: string, extra: Partial<ConfigKey> = {}): ConfigKey {
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

const confidence = (about: string): ConfigKey => key({
  schema: numberSchema({ min: 0, max: 1 }, 'must be a confidence from 0 to 1 (a fraction, not a percentage)'),
  unit: 'fraction',
  allowed: '0 to 1',
  about,
});

const severity = (about = 'the alert\'s severity'): ConfigKey => key({
  schema: z.enum(severities, { error: `must be one of ${severities.join(', ')}` }),
  unit: 'severity',
  allowed: severities.join(', '),
  about,
});

function oneOf<T extends string | number>(values: readonly T[], unit: string, about: string): ConfigKey {
  const literals = values.map((v) => z.literal(v));
  return key({
    schema: z.union(literals as unknown as [z.ZodLiteral<T>, z.ZodLiteral<T>, ...Array<z.ZodLiteral<T>>], { error: `must be one of ${values.join(', ')}` }),
    unit,
    allowed: values.join(', '),
    about,
  });
}

const boolean = (about: string): ConfigKey => key({ schema: z.boolean({ error: 'must be true or false' }), unit: 'switch', allowed: 'true, false', about });

/** A list of distinct values out of `values`, at least `min` of them. */
function listOf(values: readonly string[], min: number, about: string): ConfigKey {
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
function mapOf(names: { list?: readonly string[]; pattern?: RegExp; what: string }, value: ConfigKey, about: string): ConfigKey {
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

const num = (v: unknown): number => v as number;

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
function rule(keys: Record<string, ConfigKey>, cross: CrossRule[] = []): RuleConfigSchema {
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

// ---------------------------------------------------------------- shared keys

const trapTimer = (where: string): ConfigKey => millis(1, HOUR, { tick: true, about: `trapped-passenger timer ${where}` });
const trappedDetector = {
  atFloorMs: trapTimer('when stopped at a floor (in the door zone) with a passenger and the door closed'),
  outsideDoorZoneMs: trapTimer('when stopped outside a door zone (between floors) with a passenger'),
  ignoreModes: listOf(serviceModes.filter((m) => m !== 'normal'), 0,
    'service modes in which the status timer does not run (normal cannot be ignored: the timer would never run)'),
};
const trappedCross = [notAfter('outsideDoorZoneMs', 'atFloorMs', {
  strict: false, why: 'stopped between floors nobody can get out, so that is never waited for longer than a stop at a floor',
})];

const riskClassList = [1, 2, 3] as const;
const riskClass = oneOf(riskClassList, 'class', 'risk class (1 warns at once, 2 needs rectification, 3 is scored)');
const riskClasses = mapOf({ list: violationTypes, what: 'violation type' }, riskClass,
  'risk class per detection type; a type left out keeps the regulation\'s class');

const offline = rule({
  silenceMs: millis(1, 30 * DAY, { tick: true, optional: true, about: 'no message on any channel for this long raises' }),
  heartbeatIntervalS: whole('s', 1, DAY / SECOND, 'the devices\' heartbeat period (the silence is heartbeatIntervalS × missedHeartbeats)', {
    optional: true, tickMs: (v) => v * SECOND,
  }),
  missedHeartbeats: whole('count', 1, 100, 'heartbeats missed in a row before raising', { optional: true }),
  graceMs: millis(1, DAY, { tick: true, about: 'a closed connection not reopened within this raises' }),
  severity: severity(),
}, [{
  keys: ['silenceMs', 'heartbeatIntervalS', 'missedHeartbeats'],
  text: 'the silence threshold is silenceMs, or heartbeatIntervalS × missedHeartbeats: one of them is in the rule\'s defaults',
  check: (v) => (typeof v.silenceMs === 'number' || (typeof v.heartbeatIntervalS === 'number' && typeof v.missedHeartbeats === 'number')
    ? null : 'must be set, or heartbeatIntervalS and missedHeartbeats both'),
}]);

const fenPerYuan = 100;
const codeList = Object.values(elevatorCodes).filter((c) => c.severity !== null).map((c) => String(c.code));

// ---------------------------------------------------------------- per rule

/** The configuration of every rule, by rule id (core/rules/index.ts `allRules`). */
export const ruleConfigSchemas: Readonly<Record<string, RuleConfigSchema>> = {
  'kitchen.violation': rule({
    minConfidence: confidence('detections below this confidence raise nothing'),
    cooldownMs: alertWindow('a repeat of the same camera and type within this updates the open alert'),
    riskClasses,
    severityByClass: mapOf({ list: riskClassList.map(String), what: 'risk class' }, severity(),
      'alert severity per risk class; a class left out keeps its default'),
  }),

  'kitchen.repeat_offender': rule({
    threshold: whole('count', 1, 1000, 'counted alerts within windowMs that flag the store'),
    windowMs: millis(1, YEAR, { about: 'the counting window' }),
    maxCountedClass: oneOf(riskClassList, 'class', 'classes up to this one count (2: classes 1 and 2)'),
    minConfidence: confidence('must equal kitchen.violation\'s (set both): detections below it raised no alert and do not count'),
    cooldownMs: alertWindow('must equal kitchen.violation\'s (set both): a repeat within it is the same alert, counted once'),
    riskClasses: { ...riskClasses, about: 'must equal kitchen.violation\'s (set both); a type left out keeps the regulation\'s class' },
    severity: severity(),
  }),

  'kitchen.camera_dark': offline,
  'elevator.offline': offline,
  'cylinder.offline': offline,
  'dispenser.offline': offline,

  'elevator.fault': rule({
    severityByCode: mapOf({ list: codeList, what: 'fault or event code' }, severity(),
      'alert severity per code; replaces the whole default map, and a code left out raises nothing (11 is elevator.trapped\'s, 40 resolves)'),
    repeatWindowMs: alertWindow('a repeat of the same code within this updates the open alert'),
  }),

  'elevator.trapped': rule({
    ...trappedDetector,
    severity: severity(),
    alertWindowMs: alertWindow('dedupe window of the raise (0: every incident its own alert and rescue case)'),
  }, trappedCross),

  'elevator.repeated_trapping': rule({
    ...trappedDetector,
    incidents: whole('count', 2, 100, 'trapped incidents on one elevator within windowMs that make it a hazard (one incident is elevator.trapped\'s own alert)'),
    windowMs: millis(1, YEAR, { about: 'the counting window' }),
    severity: severity(),
  }, trappedCross),

  'cylinder.scan_check': rule({
    utcOffsetMinutes: whole('min', -12 * 60, 14 * 60, 'offset of the local calendar from UTC (China: 480)'),
    maxServiceYears: whole('years', 1, 50, 'years in use at most, whatever the design life (GB 5842-2006: 12)'),
    lifeExtensionByInspection: boolean('true: an inspection on or after the design-life end lifts expired_life (up to maxServiceYears)'),
    inspectionIntervalYears: whole('years', 1, 20, 'only for a record without nextInspection: its last inspection (or manufacture) + this'),
    dueSoonDays: whole('days', 0, 365, 'an inspection due within this many days is inspection_due_soon (0: due today)'),
    overfillToleranceKg: quantity('kg', { min: 0, max: 5 }, 'netKg above the record\'s maxFillKg + this is overfilled'),
    gatePoints: listOf(scanPoints, 1, 'scan points where a problem refuses the scan'),
    refusedSeverity: severity('severity of cylinder.refused, and of cylinder.flagged (a problem cylinder let through at delivery or recovery)'),
    overfilledSeverity: severity('severity of cylinder.refused when overfilled'),
    refusedWindowMs: alertWindow('a repeat refusal (or flag) of the same cylinder for the same reasons within this updates the open alert'),
    inspectionDueSeverity: severity('severity of cylinder.inspection_due'),
    inspectionDueWindowMs: alertWindow(),
  }),

  'cylinder.no_pre_fill': rule({
    windowMs: millis(1, YEAR, { about: 'the pre-fill check must be at most this long before the fill (device time)' }),
    lateArrivalMs: millis(0, 30 * DAY, { about: 'pre-fill checks are remembered this much longer, for late uploads' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
    maxTracked: whole('count', 1, 10_000_000, 'remembered (cylinder, station) checks at most'),
  }),

  'cylinder.cloned_code': rule({
    windowMs: millis(1, YEAR, { about: 'the same code at two stations within this (device time) raises' }),
    lateArrivalMs: millis(0, 30 * DAY, { about: 'scans are remembered this much longer, for late uploads' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
    maxScansPerCode: whole('count', 1, 1000, 'scans remembered per code'),
    maxTrackedCodes: whole('count', 1, 10_000_000, 'codes remembered at most'),
  }),

  'dispenser.amount_mismatch': rule({
    toleranceFen: whole('fen', 0, 100 * fenPerYuan, '|amount − volume × price| above this many fen (0.01 yuan) raises'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.totalizer': rule({
    toleranceL: quantity('L', { min: 0, max: 100 }, 'allowed |totaliser − (previous + volume)|'),
    gapSeverity: severity('severity of a gap (fuel moved without a reported transaction)'),
    rollbackSeverity: severity('severity of a totaliser that went backwards'),
    alertWindowMs: alertWindow(),
    forgetAfterMs: millis(1, YEAR, { about: 'a nozzle silent this long is forgotten (its next transaction only records)' }),
  }),

  'dispenser.flow': rule({
    maxLitresPerSecond: quantity('L/s', { min: 0, above: true, max: 10 }, 'average flow above this raises'),
    maxLitresPerSecondByGrade: mapOf({ pattern: /^.{1,16}$/u, what: 'fuel grade (1-16 characters)' },
      quantity('L/s', { min: 0, above: true, max: 10 }), 'per grade limits, e.g. {"0#diesel": 2.2}'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.pulses': rule({
    maxDeviationPct: quantity('%', { min: 0, above: true, max: 10 }, 'largest |encoder volume − displayed volume|, in percent of the displayed volume'),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.tamper': rule({
    severity: severity(),
    alertWindowMs: alertWindow(),
  }),

  'dispenser.tank_reconciliation': rule({
    utcOffsetMinutes: whole('min', -12 * 60, 14 * 60, 'offset of the local calendar from UTC (China: 480)'),
    periodMs: key({
      schema: numberSchema({ int: true, min: SECOND, max: DAY }, `must be whole milliseconds from 1000 to ${DAY} (a day) that divide a day`)
        .refine((p) => DAY % p === 0, {
          error: `must be whole milliseconds from 1000 to ${DAY} (a day) that divide a day, so the periods start at local midnight (e.g. 28800000 for 8 h shifts)`,
        }),
      unit: 'ms',
      allowed: `1000 (1 s) to ${DAY} (1 day), dividing a day`,
      about: 'the reconciliation period',
    }),
    maxDifferencePct: quantity('%', { min: 0, above: true, max: 100 }, '|tank drop − metered| above this percentage of the metered volume raises'),
    minDifferenceL: quantity('L', { min: 0, max: 10_000 }, 'and the difference must be above this many litres (the gauge\'s resolution)'),
    deliveryMinRiseL: quantity('L', { min: 0, above: true, max: 100_000 }, 'a run of rising tank readings of at least this is a delivery'),
    closeGraceMs: millis(0, HOUR, { about: 'a quiet tank\'s period is closed this long after it ends, for messages in flight' }),
    severity: severity(),
    alertWindowMs: alertWindow(),
  }, [{
    keys: ['deliveryMinRiseL', 'minDifferenceL'],
    text: 'deliveryMinRiseL > minDifferenceL: a rise the gauge cannot tell from jitter is not a delivery',
    check: (v, ref) => (num(v.deliveryMinRiseL) > num(v.minDifferenceL) ? null
      : `must be more than ${ref('minDifferenceL')}: a rise the gauge cannot tell from jitter is not a delivery`),
  }]),
};

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

/**
 * The docs/configuration.md section of every rule's thresholds: `rules` are the registered
 * rules ({id, defaults}); each gets a table of the keys of its defaults.
 */
export function ruleConfigReference(rules: ReadonlyArray<{ id: string; defaults: unknown }>): string {
  const parts: string[] = [];
  for (const r of [...rules].sort((a, b) => a.id.localeCompare(b.id))) {
    const defaults = r.defaults as Record<string, unknown>;
    const spec = ruleConfigSchemas[r.id];
    parts.push(`#### \`rules.${r.id}\``, '', spec ? specTable(spec, Object.keys(defaults), defaults) : 'NO SCHEMA (core/rules/configSchemas.ts)', '');
  }
  return parts.join('\n').trimEnd();
}
