/**
 * How an input reaches a rule, as one pure function: the engine, the tests and any replay
 * tool feed rules the same way. Also a RuleContext over plain snapshots (the adapter builds
 * its own from the registry; tests build this one).
 */
import type { CylinderRecord, DeviceInfo, Rule, RuleContext, RuleReading, RuleResult } from '../../alerts/types.js';

export type RuleInput =
  | { kind: 'reading'; reading: RuleReading; now: number }
  | { kind: 'tick'; now: number }
  | { kind: 'connection'; deviceId: string; connected: boolean; now: number };

/**
 * Apply one input: readings go to `onReading` only when the rule listens to that family and
 * channel; ticks to `onTick`; connection events to `onConnection`. A rule without the handler
 * keeps its state and has no effects.
 */
export function applyInput<S, C>(rule: Rule<S, C>, state: S, input: RuleInput, ctx: RuleContext<C>): RuleResult<S> {
  switch (input.kind) {
    case 'reading':
      if (!rule.onReading || input.reading.family !== rule.family || !rule.channels.includes(input.reading.channel)) return { state, effects: [] };
      return rule.onReading(state, input.reading, ctx, input.now);
    case 'tick':
      return rule.onTick ? rule.onTick(state, ctx, input.now) : { state, effects: [] };
    case 'connection':
      return rule.onConnection ? rule.onConnection(state, { deviceId: input.deviceId, connected: input.connected }, ctx, input.now) : { state, effects: [] };
  }
}

/** The rule's config: its documented defaults, overridden key by key. */
export function configFor<C extends object>(rule: Rule<unknown, C>, overrides: Partial<C> = {}): C {
  return { ...rule.defaults, ...overrides };
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
 * Run inputs in order from `state` (default: the rule's init), collecting each input's
 * effects. `between` sees the state after every input; tests pass a JSON round trip there
 * to prove a persisted-and-reloaded state behaves the same.
 */
export function runInputs<S, C>(
  rule: Rule<S, C>,
  ctx: RuleContext<C>,
  inputs: readonly RuleInput[],
  state: S = rule.init(),
  between: (s: S) => S = (s) => s,
): { state: S; effects: RuleResult<S>['effects'][] } {
  let s = state;
  const effects: RuleResult<S>['effects'][] = [];
  for (const input of inputs) {
    const r = applyInput(rule, s, input, ctx);
    s = between(r.state);
    effects.push(r.effects);
  }
  return { state: s, effects };
}
