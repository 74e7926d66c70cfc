/**
 * ALERT_OVERRIDES, checked by meaning, and the engine's policies and per-rule overrides built
 * from it. `checkAlertOverrides` is what the configuration runs at start (service/config.ts):
 * every problem, each naming its key path and the rule it breaks, so a bad override stops
 * start-up (exit code 2) instead of running with thresholds nobody meant:
 * - `rules.<id>.<key>`: a rule id and a key of its defaults, a value in its range
 *   (core/rules/configSchemas.ts), the rules between its keys, then the rule's own checkConfig;
 * - `deadlines`: minutes per severity, merged with the defaults the acknowledge deadline
 *   before the resolve one; `rectification` the answer before the re-check; `warnAtFraction`
 *   strictly between 0 and 1;
 * - `rescue`: minutes, merged with the defaults the arrival warning and the dispatch before the
 *   arrival deadline; the escalation chains;
 * - with ALERT_TICK_MS known, every timer on the engine's clock at least one tick.
 * `ruleOverrides`, `deadlinePolicy` and `rescuePolicy` run the same checks (without the tick)
 * and throw a ConfigError rather than build a policy that breaks them.
 */
import { z } from 'zod';
import { ConfigError } from '../configError.js';
import { checkSpec, minutes, quantity, ruleConfigSchemas, shown, type CheckOptions, type ConfigKey, type ConfigSpec, type CrossRule, type SpecCheck } from '../rules/configSchemas.js';
import { defaultDeadlinePolicy, defaultRectification, type DeadlinePolicy, type SeverityDeadline } from './deadlines.js';
import { defaultRescuePolicy, type RescuePolicy } from './rescueCase.js';
import { defaultStoreListPolicy, type StoreListPolicy } from '../stores/storeList.js';
import type { Severity } from './types.js';
import type { AnyRule } from '../ruleRunner.js';

/** ALERT_OVERRIDES, as the configuration validated it: thresholds per rule, deadlines and rescue times in minutes. */
export interface AlertOverrides {
  readonly rules?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly deadlines?: Readonly<Record<string, { readonly ackMin?: number; readonly resolveMin?: number } | null>> & { readonly warnAtFraction?: number; readonly reminderEveryMin?: number };
  readonly rescue?: {
    readonly dispatchMin?: number; readonly unitAckMin?: number; readonly arrivalMin?: number; readonly arrivalWarningMin?: number; readonly mergeWindowMin?: number;
    readonly renotifyMin?: number;
    /** district prefix (or `*`) -> the chain a breach escalates up */
    readonly escalation?: Readonly<Record<string, ReadonlyArray<{ readonly name: string; readonly phone?: string }>>>;
  };
  /** the black list (红黑榜): how long a listed store must stay clean to lapse off it */
  readonly storeList?: { readonly cleanPeriodDays?: number };
}

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const PREFIX = 'ALERT_OVERRIDES ';
export const severities: readonly Severity[] = ['critical', 'major', 'minor', 'info'];

/** The deadlines a severity without defaults (info) gets when an override gives it an object. */
export const FALLBACK_DEADLINE: SeverityDeadline = { ackMs: 4 * 60 * MIN, resolveMs: 7 * 24 * 60 * MIN };

/** `a` strictly before `b`. */
const before = (a: string, b: string, why: string): CrossRule => ({
  keys: [a, b],
  text: `${a} < ${b}: ${why}`,
  check: (v, ref) => ((v[a] as number) < (v[b] as number) ? null : `must be before ${ref(b)}: ${why}`),
});

/** `deadlines.<severity>`: the two deadlines of one severity. */
export const severityDeadlineSpec: ConfigSpec = {
  keys: {
    ackMin: minutes('acknowledge within this after the alert opens', { tick: true }),
    resolveMin: minutes('resolve within this after the alert opens', { tick: true }),
  },
  cross: [before('ackMin', 'resolveMin', 'an alert is acknowledged before it is resolved')],
};

/** `deadlines.rectification`: a class-2 kitchen detection's answer and re-check (core/alerts/rectification.ts). */
export const rectificationSpec: ConfigSpec = {
  keys: {
    answerMin: minutes('the store answers within this after the warning (the alert\'s acknowledge deadline)', { tick: true }),
    recheckMin: minutes('the bureau re-checks this long after the warning (the alert\'s resolve deadline)', { tick: true }),
  },
  cross: [before('answerMin', 'recheckMin', 'the store answers before the bureau re-checks')],
};

/** `deadlines.warnAtFraction`, `deadlines.reminderEveryMin`. */
export const deadlineOptionsSpec: ConfigSpec = {
  keys: {
    warnAtFraction: quantity('fraction', { min: 0, above: true, max: 1, below: true }, 'a warning goes out when this fraction of a deadline has passed'),
    reminderEveryMin: minutes('after an acknowledge breach, a reminder this often until acknowledged', { tick: true }),
  },
  cross: [],
};

const contactMessage = 'must be a list of 1 to 10 contacts, each {"name": "…", "phone": "…"} (phone optional)';
const escalation: ConfigKey = {
  schema: z.record(
    z.string().regex(/^(\*|\d{1,12})$/, { error: 'must be a district code prefix (1 to 12 digits) or *' }),
    z.array(z.strictObject({
      name: z.string({ error: 'must be a name of 1 to 64 characters' }).trim().min(1, { error: 'must be a name of 1 to 64 characters' }).max(64, { error: 'must be a name of 1 to 64 characters' }),
      phone: z.string({ error: 'must be a phone number: 3 to 32 digits, spaces, +, -, ( or )' }).trim()
        .regex(/^[0-9+\-() ]{3,32}$/, { error: 'must be a phone number: 3 to 32 digits, spaces, +, -, ( or )' }).optional(),
    }, { error: 'must be a contact {"name": "…", "phone": "…"}' }), { error: contactMessage }).min(1, { error: contactMessage }).max(10, { error: contactMessage }),
    { error: 'must be an object of district code prefix (or *) → contacts' },
  ),
  unit: 'map of contacts',
  allowed: 'district code prefix (1 to 12 digits) or * → 1 to 10 contacts {name, phone?}',
  about: 'who a breach escalates to: the chain of the longest matching district prefix, else *',
};

/** `rescue`: the 96333 rescue-case deadlines and escalation. */
export const rescueSpec: ConfigSpec = {
  keys: {
    dispatchMin: minutes('dispatch within this after the alarm', { tick: true }),
    unitAckMin: minutes('the unit acknowledges within this after the dispatch', { tick: true }),
    arrivalMin: minutes('arrival within this after the alarm (an elevator\'s meta.arrivalDeadlineMin wins)', { tick: true }),
    arrivalWarningMin: minutes('the arrival warning this long after the alarm', { tick: true }),
    mergeWindowMin: minutes('a trapping reported again within this of a case\'s alarm, before the release, joins that case'),
    renotifyMin: minutes('an escalation not yet acknowledged is notified again this often', { tick: true }),
    escalation,
  },
  cross: [
    before('arrivalWarningMin', 'arrivalMin', 'the warning comes before the deadline'),
    before('dispatchMin', 'arrivalMin', 'a unit is dispatched before it can arrive'),
  ],
};

/** The defaults of `rescue`, in its keys' units. */
export const rescueDefaults: Readonly<Record<string, unknown>> = {
  dispatchMin: defaultRescuePolicy.dispatchWithinMs / MIN,
  unitAckMin: defaultRescuePolicy.unitAckWithinMs / MIN,
  arrivalMin: defaultRescuePolicy.arrivalWithinMs / MIN,
  arrivalWarningMin: defaultRescuePolicy.arrivalWarningAtMs / MIN,
  mergeWindowMin: defaultRescuePolicy.mergeWindowMs / MIN,
  renotifyMin: defaultRescuePolicy.renotifyEveryMs / MIN,
  escalation: defaultRescuePolicy.escalation,
};

/** `storeList`: the black list's clean period (core/stores/storeList.ts). */
export const storeListSpec: ConfigSpec = {
  keys: { cleanPeriodDays: quantity('days', { min: 1, max: 366 }, 'a store on the black list with no counted alert for this long lapses off it (by the system)') },
  cross: [],
};

export const storeListDefaults: Readonly<Record<string, unknown>> = { cleanPeriodDays: defaultStoreListPolicy.cleanPeriodMs / DAY };

/** The defaults of `deadlines.<severity>` (null: none) and of the deadline options, in minutes. */
export function deadlineDefaults(): {
  bySeverity: Record<Severity, { ackMin: number; resolveMin: number } | null>; options: Record<string, unknown>; rectification: { answerMin: number; recheckMin: number };
} {
  const p = defaultDeadlinePolicy;
  const of = (d: SeverityDeadline | null) => (d ? { ackMin: d.ackMs / MIN, resolveMin: d.resolveMs / MIN } : null);
  return {
    bySeverity: { critical: of(p.bySeverity.critical), major: of(p.bySeverity.major), minor: of(p.bySeverity.minor), info: of(p.bySeverity.info) },
    options: { warnAtFraction: p.warnAtFraction, reminderEveryMin: p.reminderEveryMs / MIN },
    rectification: { answerMin: defaultRectification.ackMs / MIN, recheckMin: defaultRectification.resolveMs / MIN },
  };
}

// ---------------------------------------------------------------- checking

interface Part<T> {
  value: T;
  problems: string[];
  shortDefaults: SpecCheck['shortDefaults'];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The object at `path`, or a problem; unknown keys are problems too (and left out). */
function objectAt(v: unknown, path: string, known: readonly string[] | null, what: string, problems: string[], unknownWord = 'key'): Record<string, unknown> {
  if (!isObject(v)) {
    problems.push(`${path}: ${shown(v)} must be ${what}`);
    return {};
  }
  if (!known) return v;
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v)) {
    if (known.includes(k)) out[k] = value;
    else problems.push(`${path}.${k}: no such ${unknownWord} (${known.join(', ')})`);
  }
  return out;
}

/** `rules`: every rule's overrides, checked; the values are the parsed ones, by rule id. */
function checkRules(rules: readonly AnyRule[], given: unknown, opts: CheckOptions): Part<Record<string, Record<string, unknown>>> {
  const problems: string[] = [];
  const shortDefaults: SpecCheck['shortDefaults'] = [];
  const own: Record<string, Record<string, unknown>> = {};
  const byRule = given === undefined ? {} : objectAt(given, 'rules', null, 'an object of rule id → thresholds, e.g. {"elevator.trapped": {"atFloorMs": 60000}}', problems);
  for (const [ruleId, values] of Object.entries(byRule)) {
    const rule = rules.find((r) => r.id === ruleId);
    if (!rule) {
      problems.push(`rules.${ruleId}: no such rule (rules: ${rules.map((r) => r.id).join(', ')})`);
      continue;
    }
    const defaults = Object.keys(rule.defaults as object);
    own[ruleId] = objectAt(values, `rules.${ruleId}`, defaults, `an object of thresholds (${defaults.join(', ')})`, problems, 'threshold');
  }

  const out: Record<string, Record<string, unknown>> = {};
  const clean = new Set<string>();
  // a rule that takes another's overrides (configFrom) is checked after it, with them
  const ordered = [...rules].sort((a, b) => Number(Boolean(a.configFrom)) - Number(Boolean(b.configFrom)));
  for (const rule of ordered) {
    const defaults = rule.defaults as Record<string, unknown>;
    const mine = own[rule.id];
    const spec = ruleConfigSchemas[rule.id];
    if (!spec) {
      if (mine && Object.keys(mine).length) problems.push(`rules.${rule.id}: the rule has no config schema (core/rules/configSchemas.ts), so it cannot be overridden`);
      continue;
    }
    const from = rule.configFrom && clean.has(rule.configFrom) ? out[rule.configFrom] : undefined;
    const inherited = from ? Object.fromEntries(Object.entries(from).filter(([k]) => Object.hasOwn(defaults, k) && !(mine && Object.hasOwn(mine, k)))) : {};
    const hasInherited = Object.keys(inherited).length > 0;
    const c = checkSpec(spec, `rules.${rule.id}.`, mine ?? {}, defaults, {
      ...opts,
      ...(hasInherited ? { inherited: { values: inherited, from: `rules.${rule.configFrom}` } } : {}),
    });
    problems.push(...c.problems);
    shortDefaults.push(...c.shortDefaults);
    if (c.problems.length === 0) {
      clean.add(rule.id);
      // the rule's own checks (beyond its schema), on valid values only
      if ((mine || hasInherited) && rule.checkConfig) {
        for (const p of rule.checkConfig({ ...defaults, ...inherited, ...c.values })) problems.push(`rules.${rule.id}.${p}`);
      }
    }
    if (mine) out[rule.id] = c.values;
  }
  // in the order they were given
  const value = Object.fromEntries(Object.keys(own).filter((id) => out[id]).map((id) => [id, out[id]!]));
  return { value, problems, shortDefaults };
}

type DeadlineOverrides = NonNullable<AlertOverrides['deadlines']>;

/** `deadlines`: each severity's minutes, merged with its defaults; the warning fraction and reminders. */
function checkDeadlines(given: unknown, opts: CheckOptions): Part<DeadlineOverrides | undefined> {
  const problems: string[] = [];
  const shortDefaults: SpecCheck['shortDefaults'] = [];
  const defaults = deadlineDefaults();
  const d = given === undefined ? {} : objectAt(given, 'deadlines', [...severities, ...Object.keys(deadlineOptionsSpec.keys), 'rectification'], 'an object, e.g. {"critical": {"ackMin": 5, "resolveMin": 120}}', problems);
  const value: Record<string, unknown> = {};
  for (const severity of severities) {
    const v = d[severity];
    if (v === null) {
      value[severity] = null;
      continue;
    }
    const base = defaults.bySeverity[severity] ?? { ackMin: FALLBACK_DEADLINE.ackMs / MIN, resolveMin: FALLBACK_DEADLINE.resolveMs / MIN };
    // a severity left alone keeps its defaults (none for info): only the tick is checked
    if (v === undefined && !defaults.bySeverity[severity]) continue;
    const path = `deadlines.${severity}`;
    const obj = v === undefined ? {} : objectAt(v, path, Object.keys(severityDeadlineSpec.keys), 'null (no deadlines) or {"ackMin": …, "resolveMin": …}', problems);
    const c = checkSpec(severityDeadlineSpec, `${path}.`, obj, base, opts);
    problems.push(...c.problems);
    shortDefaults.push(...c.shortDefaults);
    if (v !== undefined && isObject(v)) value[severity] = c.values;
  }
  if (d.rectification !== undefined) {
    const obj = objectAt(d.rectification, 'deadlines.rectification', Object.keys(rectificationSpec.keys), '{"answerMin": …, "recheckMin": …}', problems);
    const r = checkSpec(rectificationSpec, 'deadlines.rectification.', obj, defaults.rectification, opts);
    problems.push(...r.problems);
    shortDefaults.push(...r.shortDefaults);
    if (isObject(d.rectification)) value['rectification'] = r.values;
  }
  const options = Object.fromEntries(Object.keys(deadlineOptionsSpec.keys).filter((k) => Object.hasOwn(d, k)).map((k) => [k, d[k]]));
  const c = checkSpec(deadlineOptionsSpec, 'deadlines.', options, defaults.options, opts);
  problems.push(...c.problems);
  shortDefaults.push(...c.shortDefaults);
  Object.assign(value, c.values);
  return { value: given === undefined ? undefined : value as DeadlineOverrides, problems, shortDefaults };
}

type RescueOverrides = NonNullable<AlertOverrides['rescue']>;

/** `rescue`: the case deadlines merged with their defaults, and the escalation chains. */
function checkRescue(given: unknown, opts: CheckOptions): Part<RescueOverrides | undefined> {
  const problems: string[] = [];
  const r = given === undefined ? {} : objectAt(given, 'rescue', Object.keys(rescueSpec.keys), 'an object, e.g. {"dispatchMin": 5, "arrivalMin": 30}', problems);
  const c = checkSpec(rescueSpec, 'rescue.', r, rescueDefaults, opts);
  problems.push(...c.problems);
  return { value: given === undefined ? undefined : c.values as RescueOverrides, problems, shortDefaults: c.shortDefaults };
}

type StoreListOverrides = NonNullable<AlertOverrides['storeList']>;

function checkStoreList(given: unknown, opts: CheckOptions): Part<StoreListOverrides | undefined> {
  const problems: string[] = [];
  const r = given === undefined ? {} : objectAt(given, 'storeList', Object.keys(storeListSpec.keys), 'an object, e.g. {"cleanPeriodDays": 30}', problems);
  const c = checkSpec(storeListSpec, 'storeList.', r, storeListDefaults, opts);
  problems.push(...c.problems);
  return { value: given === undefined ? undefined : c.values as StoreListOverrides, problems, shortDefaults: c.shortDefaults };
}

/**
 * Check ALERT_OVERRIDES (parsed JSON) against the rules and the policies: every problem, each
 * `ALERT_OVERRIDES <key path>: <value> <the rule it breaks>`; with `tickMs` (ALERT_TICK_MS) also
 * the timers against the tick (a default timer shorter than the tick is an ALERT_TICK_MS problem).
 * `overrides` holds the parsed values; use it only when there are no problems.
 */
export function checkAlertOverrides(input: unknown, rules: readonly AnyRule[], opts: { tickMs?: number } = {}): { overrides: AlertOverrides; problems: string[] } {
  const problems: string[] = [];
  if (!isObject(input)) {
    return { overrides: {}, problems: [`ALERT_OVERRIDES: ${shown(input)} must be a JSON object {"rules": {…}, "deadlines": {…}, "rescue": {…}, "storeList": {…}}`] };
  }
  const root = objectAt(input, 'ALERT_OVERRIDES', ['rules', 'deadlines', 'rescue', 'storeList'], 'an object', problems);
  const check: CheckOptions = opts.tickMs === undefined ? {} : { tickMs: opts.tickMs };
  const rulePart = checkRules(rules, root.rules, check);
  const deadlinePart = checkDeadlines(root.deadlines, check);
  const rescuePart = checkRescue(root.rescue, check);
  const storeListPart = checkStoreList(root.storeList, check);
  // the root's own problems already start with ALERT_OVERRIDES
  const all = [
    ...problems.map((p) => p.replace(/^ALERT_OVERRIDES\./, PREFIX)),
    ...[...rulePart.problems, ...deadlinePart.problems, ...rescuePart.problems, ...storeListPart.problems].map((p) => PREFIX + p),
  ];
  const short = [...rulePart.shortDefaults, ...deadlinePart.shortDefaults, ...rescuePart.shortDefaults].sort((a, b) => a.ms - b.ms)[0];
  if (short && opts.tickMs !== undefined) {
    all.push(`ALERT_TICK_MS=${opts.tickMs}: must be at most the shortest timer, ${short.path} (${short.ms} ms, the default): timers and deadlines are checked once per tick, so a longer tick fires them late`);
  }
  const overrides: AlertOverrides = {
    ...(root.rules !== undefined ? { rules: rulePart.value } : {}),
    ...(deadlinePart.value !== undefined ? { deadlines: deadlinePart.value } : {}),
    ...(rescuePart.value !== undefined ? { rescue: rescuePart.value } : {}),
    ...(storeListPart.value !== undefined ? { storeList: storeListPart.value } : {}),
  };
  return { overrides, problems: [...new Set(all)] };
}

function refuse(problems: string[]): void {
  if (problems.length) throw new ConfigError(problems.map((p) => PREFIX + p));
}

export function ruleOverrides(rules: readonly AnyRule[], o: AlertOverrides): Record<string, Record<string, unknown>> {
  const checked = checkRules(rules, o.rules, {});
  refuse(checked.problems);
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ruleId, values] of Object.entries(checked.value)) out[ruleId] = { ...values };
  // a rule that runs another's detection takes that one's overrides of the keys it shares
  for (const rule of rules) {
    const from = rule.configFrom ? out[rule.configFrom] : undefined;
    if (!from) continue;
    const shared = Object.fromEntries(Object.entries(from).filter(([k]) => Object.hasOwn(rule.defaults as object, k)));
    out[rule.id] = { ...shared, ...out[rule.id] };
  }
  return out;
}

export function deadlinePolicy(o: AlertOverrides): DeadlinePolicy {
  refuse(checkDeadlines(o.deadlines, {}).problems);
  const d = o.deadlines ?? {};
  const bySeverity = { ...defaultDeadlinePolicy.bySeverity };
  for (const severity of severities) {
    const over = (d as Record<string, { ackMin?: number; resolveMin?: number } | null | undefined>)[severity];
    if (over === null) bySeverity[severity] = null;
    else if (over) {
      const base = bySeverity[severity] ?? FALLBACK_DEADLINE;
      bySeverity[severity] = {
        ackMs: over.ackMin !== undefined ? over.ackMin * MIN : base.ackMs,
        resolveMs: over.resolveMin !== undefined ? over.resolveMin * MIN : base.resolveMs,
      };
    }
  }
  const rect = (d as { rectification?: { answerMin?: number; recheckMin?: number } }).rectification;
  return {
    bySeverity,
    ...(rect ? {
      rectification: {
        ackMs: rect.answerMin !== undefined ? rect.answerMin * MIN : defaultRectification.ackMs,
        resolveMs: rect.recheckMin !== undefined ? rect.recheckMin * MIN : defaultRectification.resolveMs,
      },
    } : {}),
    warnAtFraction: d.warnAtFraction ?? defaultDeadlinePolicy.warnAtFraction,
    reminderEveryMs: d.reminderEveryMin !== undefined ? d.reminderEveryMin * MIN : defaultDeadlinePolicy.reminderEveryMs,
  };
}

export function storeListPolicy(o: AlertOverrides): StoreListPolicy {
  refuse(checkStoreList(o.storeList, {}).problems);
  return { cleanPeriodMs: (o.storeList?.cleanPeriodDays ?? storeListDefaults.cleanPeriodDays as number) * DAY };
}

export function rescuePolicy(o: AlertOverrides): RescuePolicy {
  refuse(checkRescue(o.rescue, {}).problems);
  const r = o.rescue ?? {};
  return {
    dispatchWithinMs: r.dispatchMin !== undefined ? r.dispatchMin * MIN : defaultRescuePolicy.dispatchWithinMs,
    unitAckWithinMs: r.unitAckMin !== undefined ? r.unitAckMin * MIN : defaultRescuePolicy.unitAckWithinMs,
    arrivalWithinMs: r.arrivalMin !== undefined ? r.arrivalMin * MIN : defaultRescuePolicy.arrivalWithinMs,
    arrivalWarningAtMs: r.arrivalWarningMin !== undefined ? r.arrivalWarningMin * MIN : defaultRescuePolicy.arrivalWarningAtMs,
    mergeWindowMs: r.mergeWindowMin !== undefined ? r.mergeWindowMin * MIN : defaultRescuePolicy.mergeWindowMs,
    renotifyEveryMs: r.renotifyMin !== undefined ? r.renotifyMin * MIN : defaultRescuePolicy.renotifyEveryMs,
    escalation: r.escalation ?? defaultRescuePolicy.escalation,
  };
}
