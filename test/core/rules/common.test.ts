/**
 * Shared rule pieces: the window edge every rule shares with the engine's dedupe, the
 * sharded per-key state, and the offline rules of all four families (silence threshold,
 * missed heartbeats, disconnect grace: just under / at / just over), resolve on a message
 * or reconnect, and state that survives a JSON round trip unchanged in behaviour.
 */
import { describe, expect, it } from 'vitest';
import { deepFreeze, raises, roundTrip, tick } from './helpers.js';
import type { Family } from '../../../core/schemas/index.js';
import { openAlert, repeats } from '../../../core/alerts/alert.js';
import { allRules } from '../../../core/rules/index.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import type { DeviceInfo, RaiseAlert, Rule, RuleReading } from '../../../core/alerts/types.js';
import {
  cameraDarkRule, configFor, cylinderOfflineRule, dispenserOfflineRule, elevatorOfflineRule, emptyMap, familyOfflineRules,
  mapDelete, mapEntries, mapGet, mapSet, mapSize, mapUpdate, offlineRule, reached, resumeAfterOutage, runInputs, shardOf, silenceMsOf, staticContext,
  withinWindow, withTransientMaps, type OfflineConfig, type OfflineState, type RuleInput, type ShardedMap,
} from '../../../core/rules/common/index.js';
import { kitchenRules } from '../../../core/rules/kitchen/index.js';
import { elevatorRules } from '../../../core/rules/elevator/index.js';

const T0 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const S = 1_000;
const MIN = 60 * S;

const devices: DeviceInfo[] = [
  { id: 'cam-1', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-1' } },
  { id: 'elev-1', family: 'elevator', name: null, district: null, meta: {} },
  { id: 'scan-1', family: 'cylinder', name: null, district: null, meta: {} },
  { id: 'coll-1', family: 'dispenser', name: null, district: null, meta: {} },
];
const deviceOf: Record<Family, string> = { kitchen: 'cam-1', elevator: 'elev-1', cylinder: 'scan-1', dispenser: 'coll-1' };

let seq = 0;
function heartbeat(family: Family, deviceId: string, at: number, channel = 'heartbeat'): RuleReading {
  seq++;
  return { seq, family, channel, deviceId, msgId: `m-${seq}`, ts: at, receivedAt: at, data: { fw: '1.0' } };
}
const rd = (r: RuleReading, now = r.receivedAt): RuleInput => ({ kind: 'reading', reading: r, now });
/** A connection event as the engine routes it: to the rules of the device's family in the registry. */
function conn(deviceId: string, connected: boolean, now: number, family: string | undefined = devices.find((d) => d.id === deviceId)?.family): RuleInput {
  if (family === undefined) throw new Error(`${deviceId} is not registered: the engine sends no event for it (pass a family to send one anyway)`);
  return { kind: 'connection', deviceId, connected, family, now };
}

function run(rule: Rule<OfflineState, OfflineConfig>, inputs: RuleInput[], overrides: Partial<OfflineConfig> = {}, state?: OfflineState) {
  return runInputs(rule, staticContext(configFor(rule, overrides), devices), inputs, deepFreeze(state ?? rule.init()), deepFreeze);
}


describe('window edges shared with the engine', () => {
  it.each([
    [599 * S, true], [600 * S, true], [600 * S + 1, false], [601 * S, false],
  ])('withinWindow(gap %i ms of 600 s) = %s, and the engine dedupes the same way', (gap, inside) => {
    expect(withinWindow(T0 + gap, T0, 600 * S)).toBe(inside);
    const raise = (at: number): RaiseAlert => ({
      type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: 'cam-1', condition: 'rat', severity: 'critical',
      windowMs: 600 * S, summary: '', params: {}, evidence: { seqs: [] }, at,
    });
    const alert = openAlert('a-1', raise(T0), { id: 'cam-1', name: null, district: null, location: null, meta: {} }, defaultDeadlinePolicy).alert;
    expect(repeats(alert, raise(T0 + gap))).toBe(inside);
  });

  it.each([[89_999, false], [90_000, true], [90_001, true]])('reached(%i ms of 90 s) = %s', (elapsed, fired) => {
    expect(reached(T0 + elapsed, T0, 90 * S)).toBe(fired);
  });
});

describe('sharded map', () => {
  it('gets, sets and deletes without touching the input', () => {
    const m0 = emptyMap<number>(8);
    const m1 = mapSet(m0, 'a', 1);
    const m2 = mapSet(m1, 'b', 2);
    expect(mapGet(m0, 'a')).toBeUndefined();
    expect(mapGet(m2, 'a')).toBe(1);
    expect(mapSize(m2)).toBe(2);
    const m3 = mapDelete(m2, 'a');
    expect(mapGet(m3, 'a')).toBeUndefined();
    expect(mapGet(m2, 'a')).toBe(1);
    expect(mapDelete(m3, 'zzz')).toBe(m3);
    expect(mapEntries(m3)).toEqual([['b', 2]]);
  });

  it('treats __proto__ and constructor as ordinary keys and survives JSON', () => {
    let m = emptyMap<string>(4);
    expect(mapGet(m, 'constructor')).toBeUndefined();
    m = mapSet(mapSet(m, '__proto__', 'p'), 'constructor', 'c');
    const back = roundTrip(m);
    expect(mapGet(back, '__proto__')).toBe('p');
    expect(mapGet(back, 'constructor')).toBe('c');
    expect(mapSize(back)).toBe(2);
  });

  it('reads a map saved in the first, flat layout, and its first update regroups it with every key kept', () => {
    // what an older checkpoint holds: { shards: [...1024 leaves] }, key in leaf shardOf(key, 1024)
    const flat: { shards: Array<Record<string, number>> } = { shards: Array.from({ length: 1024 }, () => ({})) };
    const keys = Array.from({ length: 3000 }, (_, i) => `elev-${i}`);
    keys.forEach((k, i) => { flat.shards[shardOf(k, 1024)]![k] = i; });
    const old = deepFreeze(roundTrip(flat)) as ShardedMap<number>;
    expect(mapGet(old, 'elev-17')).toBe(17);
    expect(mapSize(old)).toBe(3000);
    const next = mapSet(old, 'elev-new', -1);
    expect('groups' in next).toBe(true);
    expect(mapSize(next)).toBe(3001);
    for (const [i, k] of keys.entries()) expect(mapGet(next, k)).toBe(i);
    expect(mapGet(old, 'elev-new')).toBeUndefined();
    expect(new Map(mapEntries(mapDelete(next, 'elev-new')))).toEqual(new Map(mapEntries(old)));
  });

  it('behaves as a Map under random sets and deletes, never touching its input, through JSON round trips', () => {
    let seed = 7;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    for (const leaves of [1, 5, 8, 1024]) {
      let m = emptyMap<number>(leaves);
      const ref = new Map<string, number>();
      for (let step = 0; step < 2000; step++) {
        const before = JSON.stringify(m);
        const frozen = deepFreeze(m);
        const batch = Array.from({ length: 1 + rand(3) }, () => [`k${rand(300)}`, rand(4) === 0 ? undefined : rand(1000)] as [string, number | undefined]);
        m = mapUpdate(frozen, batch);
        for (const [k, v] of batch) { if (v === undefined) ref.delete(k); else ref.set(k, v); }
        expect(JSON.stringify(frozen)).toBe(before);
        if (step % 250 === 0) m = roundTrip(m);
      }
      expect(new Map(mapEntries(m))).toEqual(ref);
      expect(mapSize(m)).toBe(ref.size);
      for (const [k, v] of ref) expect(mapGet(m, k)).toBe(v);
    }
  });

  it('in a batch (withTransientMaps) takes later updates in place, never touching maps from before the batch', () => {
    let seed = 11;
    const rand = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    for (const leaves of [1, 8, 1024]) {
      let m = emptyMap<number>(leaves);
      const ref = new Map<string, number>();
      const earlier: Array<[ShardedMap<number>, string]> = [];
      for (let batch = 0; batch < 60; batch++) {
        const before = m;
        earlier.push([before, JSON.stringify(before)]);
        m = withTransientMaps(() => {
          let cur = before;
          for (let step = 0; step < 1 + rand(40); step++) {
            const k = `k${rand(200)}`;
            const v = rand(5) === 0 ? undefined : rand(1000);
            if (v === undefined) ref.delete(k); else ref.set(k, v);
            if (rand(2) === 0) {
              cur = v === undefined ? mapDelete(cur, k) : mapSet(cur, k, v);
            } else {
              const also = `k${rand(200)}`;
              cur = mapUpdate(cur, [[k, v], [also, undefined]]);
              ref.delete(also);
            }
          }
          return cur;
        });
        for (const [old, json] of earlier) expect(JSON.stringify(old)).toBe(json);
      }
      expect(new Map(mapEntries(m))).toEqual(ref);
    }
  });

  it('in a batch, a map made there is updated in place; outside a batch every update is a copy', () => {
    const m0 = emptyMap<number>(8);
    withTransientMaps(() => {
      const m1 = mapSet(m0, 'a', 1);
      expect(m1).not.toBe(m0);
      expect(mapSet(m1, 'b', 2)).toBe(m1);
      expect(mapDelete(m1, 'a')).toBe(m1);
      expect(mapGet(m1, 'a')).toBeUndefined();
      const m2 = mapUpdate(m1, [['c', 3], ['d', 4]]); // several keys: copied, and then the batch's too
      expect(m2).not.toBe(m1);
      expect(mapSet(m2, 'e', 5)).toBe(m2);
      expect(mapGet(m1, 'c')).toBeUndefined();
      expect(mapGet(m0, 'a')).toBeUndefined();
    });
    const m1 = mapSet(m0, 'a', 1);
    expect(mapSet(m1, 'b', 2)).not.toBe(m1);
    expect(mapGet(m1, 'b')).toBeUndefined();
  });

  it('hashes a key to the same shard every time (FNV-1a)', () => {
    expect(shardOf('elev-0001', 1024)).toBe(shardOf('elev-0001', 1024));
    expect(shardOf('', 1024)).toBe(0x811c9dc5 % 1024);
  });
});

describe('offline rules: registration', () => {
  it('has one rule per family with the documented ids and defaults', () => {
    expect([cameraDarkRule, elevatorOfflineRule, cylinderOfflineRule, dispenserOfflineRule].map((r) => [r.id, r.family, silenceMsOf(r.defaults), r.defaults.graceMs, r.defaults.severity])).toEqual([
      ['kitchen.camera_dark', 'kitchen', 30 * MIN, 120 * S, 'major'],
      ['elevator.offline', 'elevator', 180 * S, 120 * S, 'major'],
      ['cylinder.offline', 'cylinder', 10 * MIN, 120 * S, 'major'],
      ['dispenser.offline', 'dispenser', 10 * MIN, 120 * S, 'major'],
    ]);
    expect(elevatorOfflineRule.defaults).toMatchObject({ heartbeatIntervalS: 60, missedHeartbeats: 3 });
    // each is registered exactly once across the family indexes
    const ids = [...kitchenRules, ...elevatorRules, ...familyOfflineRules].map((r) => r.id);
    for (const id of ['kitchen.camera_dark', 'elevator.offline', 'cylinder.offline', 'dispenser.offline']) expect(ids.filter((x) => x === id)).toHaveLength(1);
  });

  it('listens to every channel of its family', () => {
    expect([...cameraDarkRule.channels].sort()).toEqual(['heartbeat', 'violation']);
    expect([...elevatorOfflineRule.channels].sort()).toEqual(['fault', 'heartbeat', 'status']);
  });

  it('needs a silence threshold', () => {
    expect(() => silenceMsOf({ graceMs: 1, severity: 'major' })).toThrow(/silenceMs/);
  });

  it('lets config replace the heartbeat product with silenceMs', () => {
    expect(silenceMsOf({ ...elevatorOfflineRule.defaults, silenceMs: 5 * MIN })).toBe(5 * MIN);
    expect(silenceMsOf({ ...elevatorOfflineRule.defaults, heartbeatIntervalS: 30 })).toBe(90 * S);
  });
});

describe('offline rules: silence threshold edges', () => {
  const rows: Array<[string, Rule<OfflineState, OfflineConfig>, number]> = [
    ['kitchen camera dark 30 min', cameraDarkRule, 30 * MIN],
    ['elevator 3 missed heartbeats of 60 s', elevatorOfflineRule, 180 * S],
    ['cylinder 10 min', cylinderOfflineRule, 10 * MIN],
    ['dispenser 10 min', dispenserOfflineRule, 10 * MIN],
  ];
  for (const [name, rule, threshold] of rows) {
    const family = rule.family;
    const id = deviceOf[family];
    it.each([
      [-1, false], [0, true], [1, true],
    ])(`${name}: tick at threshold %+i ms raises = %s`, (delta, fires) => {
      const { effects } = run(rule, [rd(heartbeat(family, id, T0)), tick(T0 + threshold + delta)]);
      const r = raises(effects[1]!);
      expect(r).toHaveLength(fires ? 1 : 0);
      if (fires) {
        expect(r[0]).toMatchObject({
          rule: rule.id, family, deviceId: id, condition: '', severity: 'major', at: T0 + threshold + delta,
          params: { reason: 'silent', lastSeenAt: T0, silentForMs: threshold + delta, thresholdMs: threshold },
        });
      }
    });
  }

  it('elevator: heartbeat at 59 s, 119 s keep it online; 3 missed after the last one raise', () => {
    const r = run(elevatorOfflineRule, [
      rd(heartbeat('elevator', 'elev-1', T0)), rd(heartbeat('elevator', 'elev-1', T0 + 59 * S)), tick(T0 + 180 * S),
      rd(heartbeat('elevator', 'elev-1', T0 + 119 * S)), tick(T0 + 119 * S + 179_999), tick(T0 + 119 * S + 180 * S),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 0, 0, 1]);
  });

  it('any channel is a sign of life, not only heartbeats', () => {
    const r = run(cameraDarkRule, [
      rd(heartbeat('kitchen', 'cam-1', T0)), rd(heartbeat('kitchen', 'cam-1', T0 + 20 * MIN, 'violation')), tick(T0 + 30 * MIN), tick(T0 + 50 * MIN),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 1]);
  });

  it('raises once per outage, and the next message resolves it', () => {
    const late = T0 + 45 * MIN;
    const r = run(cameraDarkRule, [
      rd(heartbeat('kitchen', 'cam-1', T0)), tick(T0 + 30 * MIN), tick(T0 + 31 * MIN), tick(T0 + 40 * MIN), rd(heartbeat('kitchen', 'cam-1', late)),
      tick(late + 29 * MIN), tick(late + 30 * MIN),
    ]);
    expect(r.effects.map((e) => e.map((x) => x.type))).toEqual([[], ['raise'], [], [], ['resolve'], [], ['raise']]);
    expect(r.effects[4]![0]).toEqual({ type: 'resolve', rule: 'kitchen.camera_dark', deviceId: 'cam-1', condition: '', code: 'offline.message_received', reason: 'message received', at: late });
    expect(raises(r.effects[1]!)[0]!.windowMs).toBe(0);
  });

  it('never reports a device it has not seen', () => {
    const r = run(cameraDarkRule, [tick(T0), tick(T0 + 365 * 24 * 60 * MIN)]);
    expect(r.effects.flat()).toEqual([]);
    expect(mapSize(r.state.devices)).toBe(0);
  });

  it('judges by receive time, not device time', () => {
    const r0 = heartbeat('kitchen', 'cam-1', T0);
    const skewed = { ...r0, ts: T0 - 2 * 60 * MIN };
    const r = run(cameraDarkRule, [rd(skewed), tick(T0 + 30 * MIN - 1)]);
    expect(r.effects.flat()).toEqual([]);
  });

  it('config override: a shorter camera threshold', () => {
    const r = run(cameraDarkRule, [rd(heartbeat('kitchen', 'cam-1', T0)), tick(T0 + 5 * MIN)], { silenceMs: 5 * MIN });
    expect(raises(r.effects[1]!)).toHaveLength(1);
  });
});

describe('offline rules: disconnect grace', () => {
  const seen = rd(heartbeat('elevator', 'elev-1', T0));
  it.each([
    [119_999, false], [120_000, true], [120_001, true],
  ])('closed at T0+10s, not back: tick %i ms later raises = %s', (after, fires) => {
    const closeAt = T0 + 10 * S;
    const r = run(elevatorOfflineRule, [seen, conn('elev-1', false, closeAt), tick(closeAt + after)]);
    const found = raises(r.effects[2]!);
    expect(found).toHaveLength(fires ? 1 : 0);
    if (fires) expect(found[0]!.params).toMatchObject({ reason: 'disconnected', disconnectedAt: closeAt, thresholdMs: 120 * S });
  });

  it('back within the grace: nothing; back after it: resolve', () => {
    const closeAt = T0 + 10 * S;
    const within = run(elevatorOfflineRule, [seen, conn('elev-1', false, closeAt), conn('elev-1', true, closeAt + 119 * S), tick(closeAt + 120 * S)]);
    expect(within.effects.flat()).toEqual([]);
    const after = run(elevatorOfflineRule, [seen, conn('elev-1', false, closeAt), tick(closeAt + 120 * S), conn('elev-1', true, closeAt + 200 * S), tick(closeAt + 200 * S + 179 * S)]);
    expect(after.effects.map((e) => e.map((x) => x.type))).toEqual([[], [], ['raise'], ['resolve'], []]);
    expect(after.effects[3]![0]).toMatchObject({ type: 'resolve', code: 'offline.reconnected', reason: 'reconnected', at: closeAt + 200 * S });
  });

  it('a reconnect restarts the silence timer', () => {
    const r = run(cameraDarkRule, [rd(heartbeat('kitchen', 'cam-1', T0)), conn('cam-1', true, T0 + 20 * MIN), tick(T0 + 30 * MIN), tick(T0 + 50 * MIN)]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 1]);
  });

  it('a second close keeps the first close time', () => {
    const r = run(elevatorOfflineRule, [seen, conn('elev-1', false, T0 + 10 * S), conn('elev-1', false, T0 + 100 * S), tick(T0 + 130 * S)]);
    expect(raises(r.effects[3]!)).toHaveLength(1);
  });

  it('a reading received before a known close is not a return', () => {
    const early = heartbeat('elevator', 'elev-1', T0 + 5 * S);
    const r = run(elevatorOfflineRule, [seen, conn('elev-1', false, T0 + 10 * S), rd(early, T0 + 11 * S), tick(T0 + 130 * S)]);
    expect(r.effects.map((e) => e.map((x) => x.type))).toEqual([[], [], [], ['raise']]);
  });

  it('a device connecting (never sent a reading) counts as seen', () => {
    const r = run(cylinderOfflineRule, [conn('scan-1', true, T0), tick(T0 + 10 * MIN)]);
    expect(raises(r.effects[1]!)).toHaveLength(1);
  });

  it('ignores connection events of devices of other families or not registered', () => {
    // as the runner routes them (elev-1 to the elevator rules), and addressed to the kitchen
    // rules anyway: the rule itself checks the registry too
    const r = run(cameraDarkRule, [conn('elev-1', false, T0), conn('elev-1', false, T0, 'kitchen'), conn('ghost', false, T0, 'kitchen'), tick(T0 + 365 * 24 * 60 * MIN)]);
    expect(r.effects.flat()).toEqual([]);
    expect(mapSize(r.state.devices)).toBe(0);
  });

  it('the runner passes readings of the rule\'s family only', () => {
    const ctx = staticContext(cameraDarkRule.defaults, devices);
    const r = runInputs(cameraDarkRule, ctx, [rd(heartbeat('elevator', 'elev-1', T0))]);
    expect(mapSize(r.state.devices)).toBe(0);
  });
});

describe('offline rules: after a platform outage', () => {
  it('timers restart at resumeAfterOutage', () => {
    const before = run(cameraDarkRule, [rd(heartbeat('kitchen', 'cam-1', T0))]);
    const resumed = resumeAfterOutage(before.state, T0 + 2 * 60 * MIN);
    const r = run(cameraDarkRule, [tick(T0 + 2 * 60 * MIN), tick(T0 + 2 * 60 * MIN + 30 * MIN - 1), tick(T0 + 2 * 60 * MIN + 30 * MIN)], {}, resumed);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 1]);
    // without it, the first tick raises
    const plain = run(cameraDarkRule, [tick(T0 + 2 * 60 * MIN)], {}, before.state);
    expect(raises(plain.effects[0]!)).toHaveLength(1);
  });
});

describe('offline rules: state round-trips through JSON', () => {
  it('gives the same effects with the state persisted and reloaded between every input', () => {
    const inputs: RuleInput[] = [
      rd(heartbeat('elevator', 'elev-1', T0)), tick(T0 + 60 * S), conn('elev-1', false, T0 + 30 * S), tick(T0 + 149 * S), tick(T0 + 150 * S),
      tick(T0 + 181 * S), rd(heartbeat('elevator', 'elev-1', T0 + 300 * S)), tick(T0 + 479 * S), tick(T0 + 480 * S),
    ];
    const ctx = staticContext(elevatorOfflineRule.defaults, devices);
    const plain = runInputs(elevatorOfflineRule, ctx, inputs, deepFreeze(elevatorOfflineRule.init()), deepFreeze);
    const persisted = runInputs(elevatorOfflineRule, ctx, inputs, roundTrip(elevatorOfflineRule.init()), roundTrip);
    expect(persisted.effects).toEqual(plain.effects);
    expect(roundTrip(persisted.state)).toEqual(roundTrip(plain.state));
    expect(plain.effects.map((e) => e.map((x) => x.type))).toEqual([[], [], [], [], ['raise'], [], ['resolve'], [], ['raise']]);
    expect(plain.effects[4]![0]).toMatchObject({ params: { reason: 'disconnected' } });
    expect(plain.effects[8]![0]).toMatchObject({ params: { reason: 'silent' } });
  });

  it('keeps one record per seen device', () => {
    const rule = offlineRule('kitchen', 'kitchen.test_offline', { silenceMs: MIN, graceMs: MIN, severity: 'minor' });
    const many = Array.from({ length: 50 }, (_, i) => rd({ ...heartbeat('kitchen', `cam-${i % 10}`, T0 + i) }));
    const r = runInputs(rule, staticContext(rule.defaults, devices), many, deepFreeze(rule.init()), deepFreeze);
    expect(mapSize(r.state.devices)).toBe(10);
    expect(mapGet(r.state.devices, 'cam-3')?.lastSeen).toBe(T0 + 43);
  });
});

describe('the rules the engine resumes after an outage', () => {
  it('are exactly the silence timers (offline and camera dark), and resuming restarts their clocks', () => {
    expect(allRules.filter((r) => r.onResume).map((r) => r.id).sort()).toEqual(['cylinder.offline', 'dispenser.offline', 'elevator.offline', 'kitchen.camera_dark']);
    const rule = allRules.find((r) => r.id === 'elevator.offline')!;
    expect((rule.onResume!(rule.init(), T0) as { listeningSince: number }).listeningSince).toBe(T0);
  });
});
