/**
 * What every rule table test needs: inputs, effect filters, and deep-frozen states (rules must
 * not mutate the state they are given; a mutation of a frozen object throws in strict mode).
 */
import type { CylinderRecord, Effect, RaiseAlert, Rule, RuleReading } from '../../../core/alerts/types.js';
import { configFor, runInputs, staticContext, type RuleInput } from '../../../core/rules/common/dispatch.js';

export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** A state as the engine hands it back after a checkpoint: through JSON, then frozen. */
export const roundTrip = <T>(s: T): T => deepFreeze(JSON.parse(JSON.stringify(s)) as T);

export const reading = (r: RuleReading, now?: number): RuleInput => ({ kind: 'reading', reading: r, now: now ?? r.receivedAt });
export const tick = (now: number): RuleInput => ({ kind: 'tick', now });
export const raises = (effects: Effect[]): RaiseAlert[] => effects.filter((e): e is RaiseAlert => e.type === 'raise');
/** (rule, condition, severity) of each raise, for compact table rows */
export const brief = (effects: Effect[]): Array<[string, string, string]> => raises(effects).map((r) => [r.rule, r.condition, r.severity]);

/**
 * Feed inputs to a rule from its init state (or `state`) through the engine's RuleRunner
 * (`runInputs`); returns the effects per input and the final state. Every state handed to the
 * rule is deep-frozen, and with `roundTrip` it is first passed through JSON, as the engine
 * persists it.
 */
export function runRule<S, C extends object>(
  rule: Rule<S, C>, inputs: RuleInput[], opts: { registry?: CylinderRecord[]; config?: Partial<C>; roundTrip?: boolean; state?: S } = {},
): { effects: Effect[][]; state: S } {
  const ctx = staticContext<C>(configFor(rule, opts.config), [], opts.registry ?? []);
  const handOver = (s: S): S => deepFreeze(opts.roundTrip ? JSON.parse(JSON.stringify(s)) as S : s);
  return runInputs(rule, ctx, inputs, handOver(opts.state ?? rule.init()), handOver);
}
