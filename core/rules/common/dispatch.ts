/**
 * Feeding one rule by hand (the rule tests, replay tools), through the engine's own dispatcher:
 * `runInputs` builds a RuleRunner (core/ruleRunner.ts) over that rule and feeds it each input
 * with `RuleRunner.apply`, so which handler an input reaches, the family and channel filter,
 * the state threading and the config are the runner's, not a copy of them. Also a RuleContext
 * over plain snapshots (the engine's lookups read the registry; tests use these).
 */
import type { CylinderRecord, DeviceInfo, Effect, Rule, RuleContext } from '../../alerts/types.js';
import { RuleRunner, ruleConfig, type RuleInput } from '../../ruleRunner.js';

export type { RuleInput } from '../../ruleRunner.js';

/** The rule's config: its documented defaults, overridden key by key (the runner's merge). */
export function configFor<C extends object>(rule: Rule<unknown, C>, overrides: Partial<C> = {}): C {
  return ruleConfig(rule, overrides);
}

/** A RuleContext over fixed snapshots of the registry and the cylinder records. */
export function staticContext<C>(config: C, devices: readonly DeviceInfo[] = [], cylinders: readonly CylinderRecord[] = []): RuleContext<C> {
  const byId: Record<string, DeviceInfo> = Object.fromEntries(devices.map((d) => [d.id, d]));
  const byCode: Record<string, CylinderRecord> = Object.fromEntries(cylinders.map((c) => [c.code, c]));
  return {
    config,
    device: (id) => (Object.hasOwn(byId, id) ? byId[id] : undefined),
    cylinder: (code) => (Object.hasOwn(byCode, code) ? byCode[code] : undefined),
  };
}

/**
 * Run inputs in order from `state` (default: the rule's init) through a RuleRunner over the
 * one rule, configured with `ctx.config` and looking devices and cylinders up in `ctx`;
 * collects each input's effects. `between` sees the state after every input and its result is
 * what the next input gets; tests pass a JSON round trip there to prove a persisted-and-reloaded
 * state behaves the same. A rule that throws fails the run (the engine would report it and keep
 * the state; a test wants to see it).
 */
export function runInputs<S, C>(
  rule: Rule<S, C>,
  ctx: RuleContext<C>,
  inputs: readonly RuleInput[],
  state: S = rule.init(),
  between: (s: S) => S = (s) => s,
): { state: S; effects: Effect[][] } {
  const runner = new RuleRunner([rule], { [rule.id]: ctx.config as Record<string, unknown> }, ctx, ({ error }) => {
    throw error;
  });
  runner.load({ [rule.id]: state });
  const effects: Effect[][] = [];
  for (const input of inputs) {
    effects.push([...runner.apply(input)]);
    runner.states[rule.id] = between(runner.states[rule.id] as S);
  }
  return { state: runner.states[rule.id] as S, effects };
}
