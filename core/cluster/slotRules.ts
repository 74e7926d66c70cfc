/**
 * The rules as one slot's owner runs them in cluster mode (docs/cluster.md, Rule state by
 * slot): each rule sees only the inputs whose routing key (ruleRouting.ts) falls in the slot,
 * so the slot's state holds only its own keys and every key is decided by exactly one node.
 * Ticks pass through: a slot's state has only its keys, so its timers are its own.
 *
 * Pure: a wrapper over each rule's entry points; the registry lookup is the rule context's
 * own (`ctx.device`), the one the rule itself reads, so routing and rule agree on a device's
 * store or station at the moment of the input.
 */
import type { RuleContext, RuleReading, RuleResult } from '../alerts/types.js';
import type { AnyRule } from '../ruleRunner.js';
import { routeOf, type DeviceLookup } from './ruleRouting.js';
import { SLOTS, slotOf } from './slots.js';

const unchanged = <S>(state: S): RuleResult<S> => ({ state, effects: [] });
const lookupOf = (ctx: RuleContext<unknown>): DeviceLookup => ({ device: (id) => ctx.device(id) });

/** Each rule, keeping to the inputs of one slot. */
export function rulesForSlot(rules: readonly AnyRule[], slot: number, slots = SLOTS): AnyRule[] {
  return rules.map((rule): AnyRule => {
    const route = routeOf(rule.id);
    const mine = (key: string | null): boolean => key !== null && slotOf(key, slots) === slot;
    const { onReading, onConnection, onAlertClosed } = rule;
    return {
      ...rule,
      ...(onReading ? {
        onReading: (s: unknown, r: RuleReading, ctx: RuleContext<unknown>, now: number) => (mine(route.reading(r, lookupOf(ctx))) ? onReading(s, r, ctx, now) : unchanged(s)),
      } : {}),
      ...(onConnection ? {
        onConnection: (s: unknown, e: { deviceId: string; connected: boolean }, ctx: RuleContext<unknown>, now: number) =>
          (mine(route.connection ? route.connection(e.deviceId, lookupOf(ctx)) : null) ? onConnection(s, e, ctx, now) : unchanged(s)),
      } : {}),
      ...(onAlertClosed ? {
        onAlertClosed: (s: unknown, e: Parameters<NonNullable<AnyRule['onAlertClosed']>>[1], ctx: RuleContext<unknown>) =>
          (mine(route.alertClosed ? route.alertClosed(e) : null) ? onAlertClosed(s, e, ctx) : unchanged(s)),
      } : {}),
    };
  });
}

/**
 * The slots a reading goes to: one per distinct routing key among the rules that read its
 * family and channel (the feed appends it to each). None when no rule reads it.
 */
export function slotsOfReading(rules: readonly AnyRule[], r: RuleReading, lookup: DeviceLookup, slots = SLOTS): number[] {
  const out: number[] = [];
  for (const rule of rules) {
    if (rule.family !== r.family || !rule.onReading || !rule.channels.includes(r.channel)) continue;
    const slot = slotOf(routeOf(rule.id).reading(r, lookup), slots);
    if (!out.includes(slot)) out.push(slot);
  }
  return out;
}

/** The slots a device's connection event goes to: one per routing key among the rules of its family that take connection events. */
export function slotsOfConnection(rules: readonly AnyRule[], deviceId: string, family: string, lookup: DeviceLookup, slots = SLOTS): number[] {
  const out: number[] = [];
  for (const rule of rules) {
    const route = routeOf(rule.id);
    if (rule.family !== family || !rule.onConnection || !route.connection) continue;
    const slot = slotOf(route.connection(deviceId, lookup), slots);
    if (!out.includes(slot)) out.push(slot);
  }
  return out;
}
