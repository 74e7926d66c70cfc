/**
 * Builds the engine's policies and per-rule overrides from ALERT_OVERRIDES (config), checking
 * every override against the rules' documented defaults: an unknown rule, an unknown
 * threshold, a value of the wrong type or one the rule's checkConfig refuses stops start-up
 * with a message naming it.
 */
import { ConfigError } from '../configError.js';
import { defaultDeadlinePolicy, type DeadlinePolicy } from './deadlines.js';
import { defaultRescuePolicy, type RescuePolicy } from './rescueCase.js';
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
}

const MIN = 60_000;

export function ruleOverrides(rules: readonly AnyRule[], o: AlertOverrides): Record<string, Record<string, unknown>> {
  const problems: string[] = [];
  const out: Record<string, Record<string, unknown>> = {};
  for (const [ruleId, values] of Object.entries(o.rules ?? {})) {
    const rule = rules.find((r) => r.id === ruleId);
    if (!rule) {
      problems.push(`ALERT_OVERRIDES rules.${ruleId}: no such rule (rules: ${rules.map((r) => r.id).join(', ')})`);
      continue;
    }
    const defaults = rule.defaults as Record<string, unknown>;
    const before = problems.length;
    for (const [key, value] of Object.entries(values)) {
      if (!Object.hasOwn(defaults, key)) {
        problems.push(`ALERT_OVERRIDES rules.${ruleId}.${key}: no such threshold (${Object.keys(defaults).join(', ')})`);
      } else if (typeof value !== typeof defaults[key] || Array.isArray(value) !== Array.isArray(defaults[key])) {
        problems.push(`ALERT_OVERRIDES rules.${ruleId}.${key}: expected a ${Array.isArray(defaults[key]) ? 'list' : typeof defaults[key]} like ${JSON.stringify(defaults[key])}`);
      }
    }
    // the rule's own checks (ranges, combinations), on well-typed values only
    if (problems.length === before && rule.checkConfig) {
      for (const p of rule.checkConfig({ ...defaults, ...values })) problems.push(`ALERT_OVERRIDES rules.${ruleId}.${p}`);
    }
    out[ruleId] = { ...values };
  }
  if (problems.length) throw new ConfigError(problems);
  for (const rule of rules) {
    if (rule.configFrom && out[rule.configFrom]) out[rule.id] = { ...out[rule.configFrom], ...out[rule.id] };
  }
  return out;
}

export function deadlinePolicy(o: AlertOverrides): DeadlinePolicy {
  const d = o.deadlines ?? {};
  const bySeverity = { ...defaultDeadlinePolicy.bySeverity };
  for (const severity of ['critical', 'major', 'minor', 'info'] as Severity[]) {
    const over = (d as Record<string, { ackMin?: number; resolveMin?: number } | null | undefined>)[severity];
    if (over === null) bySeverity[severity] = null;
    else if (over) {
      const base = bySeverity[severity] ?? { ackMs: 4 * 60 * MIN, resolveMs: 7 * 24 * 60 * MIN };
      bySeverity[severity] = {
        ackMs: over.ackMin !== undefined ? over.ackMin * MIN : base.ackMs,
        resolveMs: over.resolveMin !== undefined ? over.resolveMin * MIN : base.resolveMs,
      };
    }
  }
  return {
    bySeverity,
    warnAtFraction: d.warnAtFraction ?? defaultDeadlinePolicy.warnAtFraction,
    reminderEveryMs: d.reminderEveryMin !== undefined ? d.reminderEveryMin * MIN : defaultDeadlinePolicy.reminderEveryMs,
  };
}

export function rescuePolicy(o: AlertOverrides): RescuePolicy {
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
