/**
 * Where the alert engine's rules run: in this thread (InThreadRules, here) or in a worker of
 * their own (alerts/ruleThread/workerRules.ts). Both take the same inputs in the same order and
 * hand back the same effects in that order, so the engine (alerts/engine.ts) is written once:
 * it feeds inputs, applies the effect groups it is given, and asks for the changed rule states
 * at each checkpoint.
 *
 * Order is the contract: the effects of an input are handed over before those of any later
 * input, and a snapshot's `take` runs after the effects of every input fed before it and
 * before any fed after it, so that a checkpoint's rule states, alerts and seq agree
 * (alerts/checkpointer.ts).
 */
import type { AlertClosed, CylinderRecord, DeviceInfo, Effect, RuleReading } from '../core/alerts/types.js';
import type { Reading } from '../store/types.js';
import { RuleRunner, type AnyRule, type RuleError } from '../core/ruleRunner.js';
import { withTransientMaps } from '../core/rules/common/shardedMap.js';
import { STORE_SCORE_RULE_ID, scorePeriod, storeScoreDefaults, storeScores, type StoreScore, type StoreScoreConfig, type StoreScoreState } from '../core/rules/kitchen/storeScore.js';

/**
 * The effects of one input. `seq`: the reading that made them (0 for a tick, a connection or an
 * operator's close); `now`: the clock they were made at; `at`: when that reading was received
 * (`now` otherwise).
 */
export interface EffectGroup {
  seq: number;
  now: number;
  at: number;
  effects: readonly Effect[];
}

export interface StoreScoreAnswer {
  from: number;
  to: number;
  items: StoreScore[];
}

export interface RulesCoreDeps {
  device(id: string): DeviceInfo | undefined;
  cylinder(code: string): CylinderRecord | undefined;
  /** every input's effects, in input order (synchronously in this thread; per message from a worker) */
  onEffects(groups: readonly EffectGroup[]): void;
  /** a rule threw: its state is kept, the others went on */
  onRuleError(e: RuleError): void;
}

export interface RulesCore {
  /** Saved states by rule id (a rule without one starts fresh); the seq the states reflect; the registry's devices. */
  start(saved: Record<string, unknown>, lastSeq: number, devices: Iterable<DeviceInfo>): Promise<void>;
  stop(): Promise<void>;
  /** Committed readings, in seq order, each newer than any before. `now` null: a replay (each reading's receive time is its clock). */
  readings(readings: readonly Reading[], frame: Uint8Array | null, now: number | null): void;
  tick(now: number): void;
  connection(deviceId: string, connected: boolean, family: string, now: number): void;
  /** The service was not listening until now (Rule.onResume). */
  resume(now: number): void;
  /** An operator closed an alert (Rule.onAlertClosed). */
  alertClosed(e: AlertClosed): void;
  /** Devices added or changed in the registry (what rules may know of them). */
  devicesChanged(devices: readonly DeviceInfo[]): void;
  /** The effects rules would produce for a reading, keeping no state (the early scan reply). */
  peek(r: RuleReading, now: number): Effect[];
  /**
   * The rule states changed since the last snapshot, as JSON, handed to `take` at the point of
   * the input order where it was asked: `take` runs synchronously there (the engine cuts its
   * alerts in the same turn).
   */
  snapshot<T>(take: (changed: Record<string, string>) => T): Promise<T>;
  /** Each store's score now (kitchen.store_score), `storeIds` adding stores without a counted detection. */
  storeScores(storeIds: readonly string[], now: number): Promise<StoreScoreAnswer>;
  /** Resolves once every input fed so far has had its effects handed over. */
  settled(): Promise<void>;
}

/** Runs each reading through the runner, in one batch (shardedMap.ts: state made in it is updated in place). */
export function runReadings(runner: RuleRunner, readings: readonly RuleReading[], now: number | null, onGroup: (g: EffectGroup) => void): void {
  withTransientMaps(() => {
    for (const r of readings) {
      const at = now ?? r.receivedAt;
      const effects = runner.reading(r, at);
      if (effects.length) onGroup({ seq: r.seq, now: at, at: r.receivedAt, effects });
    }
  });
}

/** The states that changed since `taken` last saw them, as JSON (states are immutable outside a batch: identity tells). */
export function changedStates(runner: RuleRunner, taken: Map<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, state] of Object.entries(runner.states)) {
    if (taken.has(id) && taken.get(id) === state) continue;
    out[id] = JSON.stringify(state);
    taken.set(id, state);
  }
  return out;
}

export function resumeRules(runner: RuleRunner, now: number): void {
  for (const rule of runner.rules) {
    if (rule.onResume) runner.update(rule.id, (s) => ({ state: rule.onResume!(s, now), effects: [] }));
  }
}

export function alertClosedEffects(runner: RuleRunner, e: AlertClosed): Effect[] {
  const effects: Effect[] = [];
  for (const rule of runner.rules) {
    if (rule.onAlertClosed) for (const x of runner.update(rule.id, (s, ctx) => rule.onAlertClosed!(s, e, ctx))) effects.push(x);
  }
  return effects;
}

export function scoresOf(runner: RuleRunner, storeIds: readonly string[], now: number): StoreScoreAnswer {
  const cfg = (runner.config(STORE_SCORE_RULE_ID) ?? storeScoreDefaults) as StoreScoreConfig;
  return { ...scorePeriod(cfg, now), items: storeScores(runner.states[STORE_SCORE_RULE_ID] as StoreScoreState | undefined, cfg, now, storeIds) };
}

/** A group for an input that is not a reading. */
export const groupAt = (now: number, effects: readonly Effect[]): EffectGroup[] => (effects.length ? [{ seq: 0, now, at: now, effects }] : []);

/** The rules in this thread: every input is evaluated at the call, its effects handed over before it returns. */
export class InThreadRules implements RulesCore {
  readonly runner: RuleRunner;
  private readonly taken = new Map<string, unknown>();

  constructor(rules: readonly AnyRule[], overrides: Record<string, Record<string, unknown>>, private readonly deps: RulesCoreDeps) {
    this.runner = new RuleRunner(rules, overrides, { device: deps.device, cylinder: deps.cylinder }, deps.onRuleError);
  }

  start(saved: Record<string, unknown>): Promise<void> {
    this.runner.load(saved);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  readings(readings: readonly Reading[], _frame: Uint8Array | null, now: number | null): void {
    runReadings(this.runner, readings, now, (g) => this.deps.onEffects([g]));
  }

  tick(now: number): void {
    this.hand(now, this.runner.tick(now));
  }

  connection(deviceId: string, connected: boolean, family: string, now: number): void {
    this.hand(now, this.runner.connection({ deviceId, connected }, family, now));
  }

  resume(now: number): void {
    resumeRules(this.runner, now);
  }

  alertClosed(e: AlertClosed): void {
    this.hand(e.at, alertClosedEffects(this.runner, e));
  }

  devicesChanged(): void {
    // the runner looks devices up in the registry itself
  }

  peek(r: RuleReading, now: number): Effect[] {
    return this.runner.peek(r, now);
  }

  snapshot<T>(take: (changed: Record<string, string>) => T): Promise<T> {
    try {
      return Promise.resolve(take(changedStates(this.runner, this.taken)));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  storeScores(storeIds: readonly string[], now: number): Promise<StoreScoreAnswer> {
    return Promise.resolve(scoresOf(this.runner, storeIds, now));
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  private hand(now: number, effects: readonly Effect[]): void {
    const groups = groupAt(now, effects);
    if (groups.length) this.deps.onEffects(groups);
  }
}
