/**
 * The one dispatcher (core/ruleRunner.ts): the engine drives it, and the rule tests drive it
 * too (runInputs builds one over a single rule). Which handler each input reaches, the family
 * and channel filter, the state threading, the config merge and the isolation of a rule that
 * throws are proved here once, for both.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceInfo, Effect, Rule, RuleReading } from '../../core/alerts/types.js';
import { RuleRunner, ruleConfig, type AnyRule, type RuleError, type RuleInput } from '../../core/ruleRunner.js';
import { configFor, runInputs, staticContext } from '../../core/rules/common/dispatch.js';
import { elevatorOfflineRule } from '../../core/rules/common/offline.js';
import { allRules } from '../../core/rules/index.js';
import { deepFreeze } from './rules/helpers.js';

const T0 = 1_795_392_000_000;
const S = 1000;

const devices: DeviceInfo[] = [
  { id: 'cam-1', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'elev-1', family: 'elevator', name: null, district: null, meta: {} },
];

let seq = 0;
const rd = (family: string, channel: string, deviceId: string, at: number): RuleReading => {
  seq++;
  return { seq, family: family as RuleReading['family'], channel, deviceId, msgId: `m-${seq}`, ts: at, receivedAt: at, data: {} };
};

/** Each call appends `id:input` to the rule's state, and a raise per call. */
type Log = string[];
interface Cfg { tag: string; n: number }
function probe(id: string, family: DeviceInfo['family'], channels: string[], handlers: Array<'reading' | 'tick' | 'connection'> = ['reading', 'tick', 'connection']): Rule<Log, Cfg> {
  const raise = (what: string, at: number): Effect => ({
    type: 'raise', rule: id, family, deviceId: 'x', condition: what, severity: 'minor', windowMs: 0, summary: '', params: {}, evidence: { seqs: [] }, at,
  });
  return {
    id, family, channels, defaults: { tag: 'default', n: 1 },
    init: () => [],
    ...(handlers.includes('reading') ? { onReading: (s: Log, r: RuleReading, ctx: { config: Cfg }, now: number) => ({ state: [...s, `reading:${r.channel}:${ctx.config.tag}`], effects: [raise(r.channel, now)] }) } : {}),
    ...(handlers.includes('tick') ? { onTick: (s: Log, _ctx: unknown, now: number) => ({ state: [...s, 'tick'], effects: [raise('tick', now)] }) } : {}),
    ...(handlers.includes('connection') ? { onConnection: (s: Log, e: { deviceId: string; connected: boolean }, _ctx: unknown, now: number) => ({ state: [...s, `connection:${e.deviceId}:${e.connected}`], effects: [raise('connection', now)] }) } : {}),
  };
}

function thrower(id: string, family: DeviceInfo['family'], channels: string[], what: unknown = new Error(`${id} broke`)): Rule<Log, Cfg> {
  const fail = (): never => { throw what; };
  return { id, family, channels, defaults: { tag: 'default', n: 1 }, init: () => ['init'], onReading: fail, onTick: fail, onConnection: fail };
}

function make(rules: AnyRule[], overrides: Record<string, Record<string, unknown>> = {}): { runner: RuleRunner; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const ctx = staticContext({}, devices);
  const runner = new RuleRunner(rules, overrides, ctx, (e) => errors.push(e));
  runner.load({});
  return { runner, errors };
}

const conditions = (effects: readonly Effect[]): string[] => effects.map((e) => (e.type === 'raise' ? `${e.rule}/${e.condition}` : e.type));

describe('the rule runner: which handler an input reaches', () => {
  const rules = [probe('k.violation', 'kitchen', ['violation']), probe('k.both', 'kitchen', ['violation', 'heartbeat']), probe('e.fault', 'elevator', ['fault']), probe('k.clock', 'kitchen', [])];

  it('a reading reaches the rules of its family that list its channel, in registration order', () => {
    const { runner } = make(rules);
    expect(conditions(runner.reading(rd('kitchen', 'violation', 'cam-1', T0), T0))).toEqual(['k.violation/violation', 'k.both/violation']);
    expect(conditions(runner.reading(rd('kitchen', 'heartbeat', 'cam-1', T0), T0))).toEqual(['k.both/heartbeat']);
    // the same channel name in another family is another channel
    expect(conditions(runner.reading(rd('elevator', 'violation', 'elev-1', T0), T0))).toEqual([]);
    expect(conditions(runner.reading(rd('elevator', 'fault', 'elev-1', T0), T0))).toEqual(['e.fault/fault']);
    expect(runner.states['k.clock']).toEqual([]);
  });

  it('a reading nobody listens to, or one no rule has effects for, allocates no effects array', () => {
    const { runner } = make([probe('k.quiet', 'kitchen', ['violation'], ['tick'])]);
    const a = runner.reading(rd('kitchen', 'violation', 'cam-1', T0), T0);
    const b = runner.reading(rd('dispenser', 'txn', 'coll-1', T0), T0);
    expect(a).toEqual([]);
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('a tick reaches every rule with a clock handler, of every family', () => {
    const { runner } = make([...rules, probe('k.readonly', 'kitchen', ['violation'], ['reading'])]);
    expect(conditions(runner.tick(T0))).toEqual(['k.violation/tick', 'k.both/tick', 'e.fault/tick', 'k.clock/tick']);
    expect(runner.states['k.readonly']).toEqual([]);
  });

  it('a connection event reaches the rules of the device\'s family only', () => {
    const { runner } = make(rules);
    expect(conditions(runner.connection({ deviceId: 'cam-1', connected: false }, 'kitchen', T0))).toEqual(['k.violation/connection', 'k.both/connection', 'k.clock/connection']);
    expect(conditions(runner.connection({ deviceId: 'elev-1', connected: true }, 'elevator', T0))).toEqual(['e.fault/connection']);
    expect(runner.states['e.fault']).toEqual(['connection:elev-1:true']);
  });

  it('apply calls the entry point the engine calls for each kind of input', () => {
    const reading = rd('kitchen', 'violation', 'cam-1', T0);
    const { runner: applied } = make(rules);
    const { runner: direct } = make(rules);
    const a = [
      applied.apply({ kind: 'reading', reading, now: T0 + 1 }),
      applied.apply({ kind: 'tick', now: T0 + 2 }),
      applied.apply({ kind: 'connection', deviceId: 'elev-1', connected: false, family: 'elevator', now: T0 + 3 }),
    ];
    const d = [direct.reading(reading, T0 + 1), direct.tick(T0 + 2), direct.connection({ deviceId: 'elev-1', connected: false }, 'elevator', T0 + 3)];
    expect(a).toEqual(d);
    expect(a.map(conditions)).toEqual([['k.violation/violation', 'k.both/violation'], ['k.violation/tick', 'k.both/tick', 'e.fault/tick', 'k.clock/tick'], ['e.fault/connection']]);
    expect(applied.states).toEqual(direct.states);
  });

  it('a rule listing a channel twice gets each reading once', () => {
    const { runner } = make([probe('k.twice', 'kitchen', ['violation', 'violation'])]);
    expect(conditions(runner.reading(rd('kitchen', 'violation', 'cam-1', T0), T0))).toEqual(['k.twice/violation']);
    expect(runner.states['k.twice']).toEqual(['reading:violation:default']);
  });

  it('refuses two rules with one id', () => {
    expect(() => make([probe('dup', 'kitchen', []), probe('dup', 'elevator', [])])).toThrow(/two rules share the id dup/);
  });
});

describe('the rule runner: state and config', () => {
  it('threads each rule\'s state from input to input, starting from the saved one or init', () => {
    const runner = new RuleRunner([probe('a', 'kitchen', ['violation']), probe('b', 'kitchen', ['violation'])], {}, staticContext({}, devices), () => undefined);
    runner.load({ a: ['saved'], other: ['dropped'] });
    runner.reading(rd('kitchen', 'violation', 'cam-1', T0), T0);
    runner.tick(T0);
    expect(runner.states).toEqual({ a: ['saved', 'reading:violation:default', 'tick'], b: ['reading:violation:default', 'tick'] });
  });

  it('peek gives the effects of a reading without keeping the new states', () => {
    const { runner } = make([probe('k', 'kitchen', ['violation'])]);
    expect(conditions(runner.peek(rd('kitchen', 'violation', 'cam-1', T0), T0))).toEqual(['k/violation']);
    expect(runner.states['k']).toEqual([]);
  });

  it('update applies a pure step to one rule; an unknown id changes nothing', () => {
    const { runner } = make([probe('k', 'kitchen', [])]);
    expect(runner.update('k', (s, ctx) => ({ state: [...(s as Log), (ctx.config as Cfg).tag], effects: [] }))).toEqual([]);
    expect(runner.update('nope', () => { throw new Error('not called'); })).toEqual([]);
    expect(runner.states['k']).toEqual(['default']);
  });

  it('config is the documented defaults, overridden key by key; configFor is the same merge', () => {
    const rule = probe('k', 'kitchen', ['violation']);
    const { runner } = make([rule], { k: { tag: 'override' } });
    expect(runner.config('k')).toEqual({ tag: 'override', n: 1 });
    expect(ruleConfig(rule, { tag: 'override' })).toEqual({ tag: 'override', n: 1 });
    expect(configFor(rule, { tag: 'override' })).toEqual(runner.config('k'));
    runner.reading(rd('kitchen', 'violation', 'cam-1', T0), T0);
    expect(runner.states['k']).toEqual(['reading:violation:override']);
  });
});

describe('the rule runner: a rule that throws', () => {
  const rules = (what?: unknown) => [probe('k.before', 'kitchen', ['violation']), thrower('k.bad', 'kitchen', ['violation'], what), probe('k.after', 'kitchen', ['violation'])];

  it.each([
    ['a reading', (r: RuleRunner) => r.reading(rd('kitchen', 'violation', 'cam-1', T0), T0), ['k.before/violation', 'k.after/violation']],
    ['a peek', (r: RuleRunner) => r.peek(rd('kitchen', 'violation', 'cam-1', T0), T0), ['k.before/violation', 'k.after/violation']],
    ['a tick', (r: RuleRunner) => r.tick(T0), ['k.before/tick', 'k.after/tick']],
    ['a connection', (r: RuleRunner) => r.connection({ deviceId: 'cam-1', connected: true }, 'kitchen', T0), ['k.before/connection', 'k.after/connection']],
    ['an update', (r: RuleRunner) => r.update('k.bad', () => { throw new Error('k.bad broke'); }), []],
  ] as const)('on %s keeps its state, is reported, and the other rules go on', (_name, step, expected) => {
    const { runner, errors } = make(rules());
    expect(conditions(step(runner))).toEqual(expected);
    expect(runner.states['k.bad']).toEqual(['init']);
    expect(errors.map((e) => [e.rule, e.error.message])).toEqual([['k.bad', 'k.bad broke']]);
  });

  it('reports a thrown non-Error as an Error', () => {
    const { runner, errors } = make(rules('plain string'));
    runner.tick(T0);
    expect(errors[0]!.error).toBeInstanceOf(Error);
    expect(errors[0]!.error.message).toBe('plain string');
  });

  it('fails runInputs (the tests want to see it), with the rule\'s own error', () => {
    const bad = thrower('k.bad', 'kitchen', ['violation']);
    expect(() => runInputs(bad, staticContext(bad.defaults, devices), [{ kind: 'tick', now: T0 }])).toThrow('k.bad broke');
    // a rule that mutates the (frozen) state it is given fails the same way
    const mutating: Rule<{ n: number }, Cfg> = { id: 'k.mut', family: 'kitchen', channels: [], defaults: { tag: '', n: 0 }, init: () => ({ n: 0 }), onTick: (s) => { s.n++; return { state: s, effects: [] }; } };
    expect(() => runInputs(mutating, staticContext(mutating.defaults), [{ kind: 'tick', now: T0 }], deepFreeze(mutating.init()))).toThrow(TypeError);
  });
});

describe('runInputs drives the runner the engine uses', () => {
  it('one rule alone gives the effects and state it gives among all the rules', () => {
    const inputs: RuleInput[] = [
      { kind: 'reading', reading: rd('elevator', 'heartbeat', 'elev-1', T0), now: T0 },
      { kind: 'reading', reading: rd('kitchen', 'heartbeat', 'cam-1', T0), now: T0 },
      { kind: 'connection', deviceId: 'elev-1', connected: false, family: 'elevator', now: T0 + 30 * S },
      { kind: 'tick', now: T0 + 150 * S },
      { kind: 'connection', deviceId: 'elev-1', connected: true, family: 'elevator', now: T0 + 200 * S },
      { kind: 'tick', now: T0 + 380 * S },
    ];
    const alone = runInputs(elevatorOfflineRule, staticContext(configFor(elevatorOfflineRule), devices), inputs);
    const all = new RuleRunner(allRules, {}, staticContext({}, devices), (e) => { throw e.error; });
    all.load({});
    const mine = inputs.map((i) => all.apply(i).filter((e) => e.type === 'raise' || e.type === 'resolve' ? e.rule === elevatorOfflineRule.id : false));
    expect(alone.effects).toEqual(mine);
    expect(alone.effects.map((e) => e.map((x) => x.type))).toEqual([[], [], [], ['raise'], ['resolve'], ['raise']]);
    expect(alone.state).toEqual(all.states[elevatorOfflineRule.id]);
  });

  it('hands `between` each state and gives the rule what it returned', () => {
    const rule = probe('k', 'kitchen', ['violation']);
    const seen: Log[] = [];
    const r = runInputs(rule, staticContext(rule.defaults), [{ kind: 'tick', now: T0 }, { kind: 'tick', now: T0 }], ['start'], (s) => {
      seen.push(s);
      return [...s, 'between'];
    });
    expect(seen).toEqual([['start', 'tick'], ['start', 'tick', 'between', 'tick']]);
    expect(r.state).toEqual(['start', 'tick', 'between', 'tick', 'between']);
  });
});
