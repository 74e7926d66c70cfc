/**
 * Runs the pure rules: routes each reading, clock tick and connection event to the rules that
 * want it, threads each rule's state, and collects the effects. No I/O: the engine executes
 * the effects. A rule that throws is isolated (its state is kept, the error reported), so one
 * bad rule cannot stop the others.
 *
 * This is the only dispatcher: the engine drives it, and so do the rule tests and replay tools
 * (`runInputs` in core/rules/common/dispatch.ts builds one over a single rule and feeds it
 * `RuleInput`s through `apply`), so what a test proves is what production routes.
 */
import type { DeviceInfo, CylinderRecord, Effect, Rule, RuleContext, RuleReading } from './alerts/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRule = Rule<any, any>;

export interface Lookups {
  device(id: string): DeviceInfo | undefined;
  cylinder(code: string): CylinderRecord | undefined;
}

export interface RuleError {
  rule: string;
  error: Error;
}

/** One input, as the engine hands it to the runner (`apply` calls the entry point it would). */
export type RuleInput =
  | { kind: 'reading'; reading: RuleReading; now: number }
  | { kind: 'tick'; now: number }
  /** `family`: the device's family in the registry, as the engine looks it up (unregistered devices send none) */
  | { kind: 'connection'; deviceId: string; connected: boolean; family: string; now: number };

/** A rule's config: its documented defaults, overridden key by key (`ALERT_OVERRIDES`). */
export function ruleConfig<C extends object>(rule: Rule<unknown, C>, overrides: Partial<C> | undefined): C {
  return { ...rule.defaults, ...overrides };
}

interface Bound {
  rule: AnyRule;
  ctx: RuleContext<unknown>;
}

const NO_EFFECTS: readonly Effect[] = Object.freeze([]);

export class RuleRunner {
  /** family -> channel -> the rules that read it, with their contexts (no key built per reading) */
  private readonly byChannel = new Map<string, Map<string, Bound[]>>();
  private readonly contexts = new Map<string, RuleContext<unknown>>();
  states: Record<string, unknown> = {};

  constructor(
    readonly rules: readonly AnyRule[],
    overrides: Record<string, Record<string, unknown>>,
    lookups: Lookups,
    private readonly onError: (e: RuleError) => void,
  ) {
    const ids = new Set<string>();
    for (const rule of rules) {
      if (ids.has(rule.id)) throw new Error(`two rules share the id ${rule.id}`);
      ids.add(rule.id);
      const ctx: RuleContext<unknown> = {
        config: ruleConfig(rule, overrides[rule.id]),
        device: (id) => lookups.device(id),
        cylinder: (code) => lookups.cylinder(code),
      };
      this.contexts.set(rule.id, ctx);
      const channels = this.byChannel.get(rule.family) ?? new Map<string, Bound[]>();
      this.byChannel.set(rule.family, channels);
      // a channel listed twice still reaches the rule once per reading
      for (const channel of new Set(rule.channels)) {
        const list = channels.get(channel) ?? [];
        list.push({ rule, ctx });
        channels.set(channel, list);
      }
    }
  }

  /** Start from saved states; rules without one (new rules, first start) begin fresh. */
  load(saved: Record<string, unknown>): void {
    this.states = {};
    for (const rule of this.rules) this.states[rule.id] = Object.hasOwn(saved, rule.id) ? saved[rule.id] : rule.init();
  }

  config(ruleId: string): unknown {
    return this.contexts.get(ruleId)?.config;
  }

  /**
   * Feed one input to the entry point the engine calls for it: a reading to `reading`, a tick
   * to `tick`, a connection event to `connection`. For replays and the rule tests; the engine
   * calls those entry points directly.
   */
  apply(input: RuleInput): readonly Effect[] {
    switch (input.kind) {
      case 'reading': return this.reading(input.reading, input.now);
      case 'tick': return this.tick(input.now);
      case 'connection': return this.connection({ deviceId: input.deviceId, connected: input.connected }, input.family, input.now);
    }
  }

  /** Runs for every stored reading: no closure, key or array made unless a rule has effects. */
  reading(r: RuleReading, now: number): readonly Effect[] {
    const bound = this.byChannel.get(r.family)?.get(r.channel);
    if (!bound) return NO_EFFECTS;
    let effects: Effect[] | null = null;
    for (const { rule, ctx } of bound) {
      if (!rule.onReading) continue;
      try {
        const result = rule.onReading(this.states[rule.id], r, ctx, now);
        this.states[rule.id] = result.state;
        if (result.effects.length) {
          effects ??= [];
          for (const e of result.effects) effects.push(e);
        }
      } catch (err) {
        this.fail(rule, err);
      }
    }
    return effects ?? NO_EFFECTS;
  }

  /**
   * The effects rules would produce for a reading, without keeping their new state: for
   * answers that cannot wait for the commit (the cylinder scan reply). Rules are pure, so this
   * changes nothing; the reading is evaluated for real once it is stored.
   */
  peek(r: RuleReading, now: number): Effect[] {
    const bound = this.byChannel.get(r.family)?.get(r.channel);
    if (!bound) return [];
    const effects: Effect[] = [];
    for (const { rule, ctx } of bound) {
      if (!rule.onReading) continue;
      try {
        for (const e of rule.onReading(this.states[rule.id], r, ctx, now).effects) effects.push(e);
      } catch (err) {
        this.fail(rule, err);
      }
    }
    return effects;
  }

  tick(now: number): Effect[] {
    const effects: Effect[] = [];
    for (const rule of this.rules) {
      if (rule.onTick) this.run(rule, effects, (s, ctx) => rule.onTick!(s, ctx, now));
    }
    return effects;
  }

  connection(event: { deviceId: string; connected: boolean }, family: string, now: number): Effect[] {
    const effects: Effect[] = [];
    for (const rule of this.rules) {
      if (rule.onConnection && rule.family === family) this.run(rule, effects, (s, ctx) => rule.onConnection!(s, event, ctx, now));
    }
    return effects;
  }

  /** Apply a pure state update to one rule outside the normal inputs (e.g. a false-positive marking). */
  update(ruleId: string, fn: (state: unknown, ctx: RuleContext<unknown>) => { state: unknown; effects: Effect[] }): Effect[] {
    const rule = this.rules.find((r) => r.id === ruleId);
    if (!rule) return [];
    const effects: Effect[] = [];
    this.run(rule, effects, (s, ctx) => fn(s, ctx) as { state: unknown; effects: Effect[] });
    return effects;
  }

  private run(rule: AnyRule, effects: Effect[], step: (state: unknown, ctx: RuleContext<unknown>) => { state: unknown; effects: Effect[] }): void {
    try {
      const result = step(this.states[rule.id], this.contexts.get(rule.id)!);
      this.states[rule.id] = result.state;
      for (const e of result.effects) effects.push(e);
    } catch (err) {
      this.fail(rule, err);
    }
  }

  /** The rule keeps the state it had; the error is reported and the other rules go on. */
  private fail(rule: AnyRule, err: unknown): void {
    this.onError({ rule: rule.id, error: err instanceof Error ? err : new Error(String(err)) });
  }
}
