/**
 * Elevator rules (docs/domain.md §2): elevator.fault (severity of every code, 11 left to
 * trapped, 40 resolves), elevator.trapped (code 11 and the 90 s / 15 s status timers at
 * every edge, reset, one raise per incident, rescue case), elevator.repeated_trapping
 * (3 in 30 days, edges, incidents counted once), and state through JSON.
 */
import { describe, expect, it } from 'vitest';
import { deepFreeze, raises, roundTrip, tick } from './helpers.js';
import { eventCodes, faultCodes } from '../../../core/schemas/elevator.js';
import { openAlert, repeats } from '../../../core/alerts/alert.js';
import { ruleOverrides } from '../../../core/alerts/policy.js';
import { allRules } from '../../../core/rules/index.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import type { DeviceInfo, Effect, ResolveAlert, RuleReading } from '../../../core/alerts/types.js';
import { configFor, mapGet, runInputs, staticContext, type RuleInput } from '../../../core/rules/common/index.js';
import {
  elevatorCodes, elevatorRules, faultDefaults, faultRule, opensRescueCase, recordTrappedIncident, repeatedTrappingDefaults,
  repeatedTrappingRule, trappedDefaults, trappedRule, type FaultConfig, type FaultState, type RepeatedTrappingState, type TrappedConfig, type TrappedState,
} from '../../../core/rules/elevator/index.js';

const T0 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const S = 1_000;
const DAY = 24 * 60 * 60 * S;

const devices: DeviceInfo[] = [
  { id: 'elev-1', family: 'elevator', name: null, district: null, meta: {} },
  { id: 'elev-2', family: 'elevator', name: null, district: null, meta: {} },
];

let seq = 5000;
function fault(code: number, at: number, opts: { deviceId?: string; floor?: number; detail?: string } = {}): RuleReading {
  const s = ++seq;
  const data: Record<string, unknown> = { code };
  if (opts.floor !== undefined) data['floor'] = opts.floor;
  if (opts.detail !== undefined) data['detail'] = opts.detail;
  return { seq: s, family: 'elevator', channel: 'fault', deviceId: opts.deviceId ?? 'elev-1', msgId: `f-${s}`, ts: at, receivedAt: at, data };
}

interface StatusOpts { deviceId?: string; floor?: number; doorZone?: boolean; doorClosed?: boolean; moving?: boolean; passengerPresent?: boolean; serviceMode?: string; ts?: number }
/** Default: the trapped-like condition at floor 7 in the door zone. */
function status(at: number, o: StatusOpts = {}): RuleReading {
  const s = ++seq;
  const moving = o.moving ?? false;
  return {
    seq: s, family: 'elevator', channel: 'status', deviceId: o.deviceId ?? 'elev-1', msgId: `s-${s}`, ts: o.ts ?? at, receivedAt: at,
    data: {
      floor: o.floor ?? 7, doorZone: o.doorZone ?? true, doorClosed: o.doorClosed ?? true, moving, direction: moving ? 'up' : 'stop',
      speedMps: moving ? 1 : 0, passengerPresent: o.passengerPresent ?? true, serviceMode: o.serviceMode ?? 'normal', powerOk: true,
    },
  };
}
const rd = (r: RuleReading): RuleInput => ({ kind: 'reading', reading: r, now: r.receivedAt });

const faults = (inputs: RuleInput[], state?: FaultState) => runInputs(faultRule, staticContext(faultDefaults, devices), inputs, deepFreeze(state ?? faultRule.init()), deepFreeze);
const trapped = (inputs: RuleInput[], overrides: Partial<TrappedConfig> = {}, state?: TrappedState) =>
  runInputs(trappedRule, staticContext(configFor(trappedRule, overrides), devices), inputs, deepFreeze(state ?? trappedRule.init()), deepFreeze);
const repeated = (inputs: RuleInput[], state?: RepeatedTrappingState) =>
  runInputs(repeatedTrappingRule, staticContext(repeatedTrappingDefaults, devices), inputs, deepFreeze(state ?? repeatedTrappingRule.init()), deepFreeze);

describe('elevator rules index', () => {
  it('registers fault, trapped, repeated_trapping and offline', () => {
    expect(elevatorRules.map((r) => r.id)).toEqual(['elevator.fault', 'elevator.trapped', 'elevator.repeated_trapping', 'elevator.offline']);
  });
});

describe('code table', () => {
  it('has every protocol code, with Chinese and English names', () => {
    expect(Object.keys(elevatorCodes).map(Number).sort((a, b) => a - b)).toEqual([...faultCodes, ...eventCodes]);
    for (const c of Object.values(elevatorCodes)) {
      expect(c.zh.length).toBeGreaterThan(0);
      expect(c.en.length).toBeGreaterThan(0);
      expect(c.kind).toBe(c.code <= 15 ? 'fault' : 'event');
    }
    expect([elevatorCodes[9]!.zh, elevatorCodes[10]!.zh, elevatorCodes[11]!.zh]).toEqual(['冲顶', '蹲底', '困人']);
    expect(Object.values(elevatorCodes).filter((c) => c.dangerous).map((c) => c.code)).toEqual([5, 9, 10, 12]);
  });
});

describe('elevator.fault: severity of every code', () => {
  const expected: Array<[number, string | null]> = [
    [1, 'major'], [2, 'major'], [3, 'major'], [4, 'major'], [5, 'critical'], [6, 'major'], [7, 'major'], [8, 'major'],
    [9, 'critical'], [10, 'critical'], [11, null], [12, 'critical'], [13, 'major'], [14, 'major'], [15, 'major'],
    [40, null], [41, 'major'], [42, 'info'], [43, 'info'], [44, 'info'], [45, 'info'], [46, 'info'], [47, 'info'],
  ];
  it('covers every code', () => expect(expected.map(([c]) => c)).toEqual([...faultCodes, ...eventCodes]));
  it.each(expected)('code %i -> %s', (code, severity) => {
    const r = raises(faults([rd(fault(code, T0, { floor: 3 }))]).effects[0]!);
    if (severity === null) {
      expect(r).toEqual([]);
    } else {
      expect(r).toHaveLength(1);
      expect(r[0]).toMatchObject({
        rule: 'elevator.fault', family: 'elevator', deviceId: 'elev-1', condition: String(code), severity, at: T0,
        windowMs: 24 * 60 * 60 * S,
        params: { code, floor: 3, nameEn: elevatorCodes[code]!.en, nameZh: elevatorCodes[code]!.zh, dangerous: elevatorCodes[code]!.dangerous },
      });
    }
  });
  it('keeps the evidence and the detail', () => {
    const reading = fault(2, T0, { detail: 'door failed to close 3 times' });
    const [r] = raises(faults([rd(reading)]).effects[0]!);
    expect(r!.evidence).toEqual({ seqs: [reading.seq], values: { code: 2, floor: null } });
    expect(r!.params['detail']).toBe('door failed to close 3 times');
    expect(r!.summary).toBe("Elevator elev-1: fault 2 door won't close");
  });
  it('takes severities from config', () => {
    const ctx = staticContext<FaultConfig>({ ...faultDefaults, severityByCode: { ...faultDefaults.severityByCode, 43: 'minor' } }, devices);
    const r = runInputs(faultRule, ctx, [rd(fault(43, T0))], deepFreeze(faultRule.init()), deepFreeze);
    expect(raises(r.effects[0]!)[0]!.severity).toBe('minor');
  });
});

describe('elevator.fault: 40 back to normal', () => {
  it('resolves every open elevator.fault of that elevator, once', () => {
    const r = faults([
      rd(fault(2, T0)), rd(fault(5, T0 + S)), rd(fault(2, T0 + 2 * S)), rd(fault(41, T0 + 3 * S)), rd(fault(43, T0 + 4 * S)),
      rd(fault(11, T0 + 5 * S)), rd(fault(3, T0 + 6 * S, { deviceId: 'elev-2' })), rd(fault(40, T0 + 10 * S)), rd(fault(40, T0 + 11 * S)),
    ]);
    const resolves = r.effects[7]! as ResolveAlert[];
    expect(resolves.map((e) => [e.type, e.rule, e.deviceId, e.condition, e.at])).toEqual([
      ['resolve', 'elevator.fault', 'elev-1', '2', T0 + 10 * S],
      ['resolve', 'elevator.fault', 'elev-1', '5', T0 + 10 * S],
      ['resolve', 'elevator.fault', 'elev-1', '41', T0 + 10 * S],
      ['resolve', 'elevator.fault', 'elev-1', '43', T0 + 10 * S],
    ]);
    // the reason by code (core/alerts/systemNotes.ts), its English rendered from it
    expect(resolves[0]).toMatchObject({ code: 'fault.back_to_normal', params: { event: 40, seq: expect.any(Number) as number } });
    expect(resolves[0]!.reason).toBe(`event 40 back to normal (seq ${resolves[0]!.params!.seq})`);
    expect(r.effects[8]).toEqual([]);
    expect(mapGet(r.state.open, 'elev-1')).toBeUndefined();
    expect(mapGet(r.state.open, 'elev-2')).toEqual(['3']);
  });
  it('40 with nothing open does nothing', () => {
    expect(faults([rd(fault(40, T0))]).effects).toEqual([[]]);
  });
  it('state round-trips through JSON', () => {
    const inputs = [rd(fault(2, T0)), rd(fault(12, T0 + S)), rd(fault(40, T0 + 2 * S)), rd(fault(9, T0 + 3 * S)), rd(fault(40, T0 + 4 * S))];
    const plain = faults(inputs);
    const persisted = runInputs(faultRule, staticContext(faultDefaults, devices), inputs, roundTrip(faultRule.init()), roundTrip);
    expect(persisted.effects).toEqual(plain.effects);
  });
});

describe('elevator.trapped: status timers', () => {
  // [name, status options, threshold]
  const cases: Array<[string, StatusOpts, number]> = [
    ['at a floor (door zone)', { doorZone: true }, 90 * S],
    ['outside a door zone', { doorZone: false, floor: 4 }, 15 * S],
  ];
  for (const [name, opts, threshold] of cases) {
    it.each([
      [-S, 0], [0, 1], [S, 1],
    ])(`${name}: a status %i ms from the threshold raises %i`, (delta, n) => {
      const r = trapped([rd(status(T0, opts)), rd(status(T0 + threshold + delta, opts))]);
      expect(r.effects[0]).toEqual([]);
      const found = raises(r.effects[1]!);
      expect(found).toHaveLength(n);
      if (n) {
        expect(found[0]).toMatchObject({
          rule: 'elevator.trapped', family: 'elevator', deviceId: 'elev-1', condition: '', severity: 'critical', windowMs: 0,
          at: T0 + threshold + delta,
          params: { detectedBy: 'status_timer', floor: opts.floor ?? 7, doorZone: opts.doorZone, stoppedForMs: threshold + delta, thresholdMs: threshold, code: null },
        });
      }
    });
    it.each([
      [-S, 0], [-1, 0], [0, 1], [S, 1],
    ])(`${name}: a tick %i ms from the threshold raises %i`, (delta, n) => {
      const r = trapped([rd(status(T0, opts)), tick(T0 + threshold + delta)]);
      expect(raises(r.effects[1]!)).toHaveLength(n);
    });
  }

  it('starts the timer at the first status showing the condition, on receive time (not device time)', () => {
    const r = trapped([
      rd(status(T0, { moving: true })), rd(status(T0 + 10 * S)), rd(status(T0 + 20 * S, { ts: T0 - 3600 * S })), tick(T0 + 99 * S), tick(T0 + 100 * S),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 0, 1]);
    expect(raises(r.effects[4]!)[0]!.evidence.seqs).toHaveLength(2);
  });

  it.each<[string, StatusOpts]>([
    ['door opens', { doorClosed: false }],
    ['car moves', { moving: true }],
    ['no passenger', { passengerPresent: false }],
    ['inspection mode', { serviceMode: 'inspection' }],
    ['fire mode', { serviceMode: 'fire' }],
  ])('a status where the %s resets the timer', (_name, breaking) => {
    const r = trapped([rd(status(T0)), rd(status(T0 + 50 * S, breaking)), rd(status(T0 + 60 * S)), tick(T0 + 60 * S + 89 * S), tick(T0 + 60 * S + 90 * S)]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 0, 1]);
  });

  it.each(['out_of_service', 'emergency_power'])('%s still counts', (serviceMode) => {
    const r = trapped([rd(status(T0, { serviceMode })), tick(T0 + 90 * S)]);
    expect(raises(r.effects[1]!)).toHaveLength(1);
  });

  it('ignoreModes [] follows the firmware rule to the letter', () => {
    const r = trapped([rd(status(T0, { serviceMode: 'inspection' })), tick(T0 + 90 * S)], { ignoreModes: [] });
    expect(raises(r.effects[1]!)).toHaveLength(1);
  });

  it('uses the threshold of the latest door zone', () => {
    const r = trapped([rd(status(T0, { doorZone: true })), rd(status(T0 + 10 * S, { doorZone: false })), tick(T0 + 15 * S)]);
    expect(raises(r.effects[2]!)).toHaveLength(1);
  });

  it('elevators are separate', () => {
    const r = trapped([rd(status(T0)), rd(status(T0 + 30 * S, { deviceId: 'elev-2' })), tick(T0 + 90 * S), tick(T0 + 120 * S)]);
    expect(r.effects.map((e) => raises(e).map((x) => x.deviceId))).toEqual([[], [], ['elev-1'], ['elev-2']]);
  });
});

describe('elevator.trapped: one raise per incident', () => {
  it('after a timer raise: more statuses, ticks and code 11 raise nothing until the condition clears', () => {
    const r = trapped([
      rd(status(T0)), tick(T0 + 90 * S), rd(status(T0 + 95 * S)), tick(T0 + 200 * S), rd(fault(11, T0 + 210 * S)), tick(T0 + 400 * S),
      rd(status(T0 + 500 * S, { doorClosed: false })), rd(status(T0 + 600 * S)), tick(T0 + 689 * S), tick(T0 + 690 * S),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('code 11 raises at once (floor from the code, else the last status); the timer then stays quiet', () => {
    const r = trapped([rd(status(T0, { floor: 12 })), rd(fault(11, T0 + 5 * S, { detail: 'terminal timer' })), tick(T0 + 90 * S), tick(T0 + 300 * S)]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 1, 0, 0]);
    expect(raises(r.effects[1]!)[0]).toMatchObject({
      severity: 'critical', at: T0 + 5 * S, params: { detectedBy: 'code11', floor: 12, code: 11, detail: 'terminal timer', stoppedForMs: null },
    });
    const withFloor = trapped([rd(fault(11, T0, { floor: 3 }))]);
    expect(raises(withFloor.effects[0]!)[0]!.params['floor']).toBe(3);
    const noFloor = trapped([rd(fault(11, T0, { deviceId: 'elev-2' }))]);
    expect(raises(noFloor.effects[0]!)[0]!.params['floor']).toBeNull();
  });

  it('repeated code 11 is one incident until 40 back to normal (or a clearing status)', () => {
    const r = trapped([
      rd(fault(11, T0)), rd(fault(11, T0 + 60 * S)), rd(fault(40, T0 + 600 * S)), rd(fault(11, T0 + 700 * S)),
      rd(status(T0 + 800 * S, { passengerPresent: false })), rd(fault(11, T0 + 900 * S)),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([1, 0, 0, 1, 0, 1]);
  });

  it('other fault codes do not touch the timer', () => {
    const r = trapped([rd(status(T0)), rd(fault(2, T0 + 10 * S)), tick(T0 + 90 * S)]);
    expect(raises(r.effects[2]!)).toHaveLength(1);
  });

  it('each incident is its own alert and rescue case in the engine', () => {
    const r = trapped([rd(fault(11, T0)), rd(fault(40, T0 + 60 * S)), rd(fault(11, T0 + 60 * S))]);
    const [first] = raises(r.effects[0]!);
    const [second] = raises(r.effects[2]!);
    const alert = openAlert('a-1', first!, { id: 'elev-1', name: null, district: null, location: null, meta: {} }, defaultDeadlinePolicy).alert;
    expect(repeats(alert, second!)).toBe(false);
    expect(opensRescueCase(first!)).toBe(true);
    expect(opensRescueCase(second!)).toBe(true);
  });

  it('opensRescueCase is true for trapped raises only', () => {
    const fr = raises(faults([rd(fault(5, T0))]).effects[0]!)[0]!;
    expect(opensRescueCase(fr)).toBe(false);
    expect(opensRescueCase({ type: 'resolve', rule: 'elevator.trapped', deviceId: 'elev-1', condition: '', code: 'offline.reconnected', reason: '', at: T0 })).toBe(false);
  });

  it('state round-trips through JSON mid-timer and mid-incident', () => {
    const inputs: RuleInput[] = [
      rd(status(T0)), tick(T0 + 45 * S), rd(status(T0 + 60 * S)), tick(T0 + 89 * S), tick(T0 + 90 * S), rd(fault(11, T0 + 100 * S)),
      rd(status(T0 + 120 * S, { moving: true })), rd(status(T0 + 130 * S, { doorZone: false })), tick(T0 + 144 * S), tick(T0 + 145 * S),
    ];
    const plain = trapped(inputs);
    const persisted = runInputs(trappedRule, staticContext(trappedDefaults, devices), inputs, roundTrip(trappedRule.init()), roundTrip);
    expect(persisted.effects).toEqual(plain.effects);
    expect(plain.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  });
});

describe('elevator.repeated_trapping', () => {
  /** a code-11 incident at `at`, then back to normal */
  const incident = (at: number, deviceId = 'elev-1'): RuleInput[] => [rd(fault(11, at, { deviceId })), rd(fault(40, at + 60 * S, { deviceId }))];

  it.each([
    [2, 0], [3, 1], [4, 1],
  ])('%i incidents within 30 days -> %i hazard raise on the last', (n, expected) => {
    const inputs = Array.from({ length: n }, (_, i) => incident(T0 + i * DAY)).flat();
    const r = repeated(inputs);
    const last = raises(r.effects[inputs.length - 2]!);
    expect(last).toHaveLength(expected);
    if (expected) {
      expect(last[0]).toMatchObject({
        rule: 'elevator.repeated_trapping', family: 'elevator', deviceId: 'elev-1', condition: '', severity: 'major', windowMs: 30 * DAY,
        at: T0 + (n - 1) * DAY, params: { count: n, threshold: 3, windowDays: 30, firstIncidentAt: T0 },
      });
      expect(last[0]!.evidence.seqs).toHaveLength(n);
    }
    // only hazard raises: the trapped alerts themselves are elevator.trapped's
    expect(r.effects.flat().every((e) => e.type === 'raise' && e.rule === 'elevator.repeated_trapping')).toBe(true);
  });

  it.each([
    [30 * DAY - 1, 1], [30 * DAY, 1], [30 * DAY + 1, 0],
  ])('first and third incident %i ms apart -> %i raise (inclusive 30-day edge)', (span, n) => {
    const r = repeated([...incident(T0), ...incident(T0 + 10 * DAY), rd(fault(11, T0 + span))]);
    expect(raises(r.effects[4]!)).toHaveLength(n);
  });

  it('counts status-timer incidents (fired on a reading or a tick), and code 11 during one does not count again', () => {
    const r = repeated([
      rd(status(T0)), tick(T0 + 90 * S), rd(fault(11, T0 + 120 * S)), rd(status(T0 + 200 * S, { doorClosed: false })),
      rd(status(T0 + DAY, { doorZone: false })), rd(status(T0 + DAY + 15 * S, { doorZone: false })), rd(status(T0 + DAY + 60 * S, { moving: true })),
      ...incident(T0 + 2 * DAY),
    ]);
    expect(r.effects.map((e) => raises(e).length)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(mapGet(r.state.incidents, 'elev-1')!.map((i) => i.at)).toEqual([T0 + 90 * S, T0 + DAY + 15 * S, T0 + 2 * DAY]);
  });

  it('follows the trapped thresholds in its own config', () => {
    const ctx = staticContext({ ...repeatedTrappingDefaults, atFloorMs: 30 * S, incidents: 1 }, devices);
    const r = runInputs(repeatedTrappingRule, ctx, [rd(status(T0)), tick(T0 + 30 * S)], deepFreeze(repeatedTrappingRule.init()), deepFreeze);
    expect(raises(r.effects[1]!)).toHaveLength(1);
  });

  it('recordTrappedIncident counts an incident from another source', () => {
    let s = repeatedTrappingRule.init();
    const out: Effect[][] = [];
    for (const at of [T0, T0 + DAY, T0 + 2 * DAY]) {
      const r = recordTrappedIncident(s, 'elev-2', at, repeatedTrappingDefaults);
      s = r.state;
      out.push(r.effects);
    }
    expect(out.map((e) => e.length)).toEqual([0, 0, 1]);
    expect(out[2]![0]).toMatchObject({ deviceId: 'elev-2', params: { count: 3 } });
  });

  it('prunes incidents older than the window on ticks', () => {
    const r = repeated([...incident(T0), tick(T0 + 30 * DAY), tick(T0 + 30 * DAY + 11 * 60 * S)]);
    expect(mapGet(r.state.incidents, 'elev-1')).toBeUndefined();
    const kept = repeated([...incident(T0), tick(T0 + 29 * DAY)]);
    expect(mapGet(kept.state.incidents, 'elev-1')).toHaveLength(1);
  });

  it('state round-trips through JSON', () => {
    const inputs: RuleInput[] = [
      ...incident(T0), rd(status(T0 + DAY)), tick(T0 + DAY + 90 * S), rd(status(T0 + DAY + 100 * S, { passengerPresent: false })),
      tick(T0 + 5 * DAY), ...incident(T0 + 6 * DAY), ...incident(T0 + 7 * DAY),
    ];
    const plain = repeated(inputs);
    const persisted = runInputs(repeatedTrappingRule, staticContext(repeatedTrappingDefaults, devices), inputs, roundTrip(repeatedTrappingRule.init()), roundTrip);
    expect(persisted.effects).toEqual(plain.effects);
    expect(plain.effects.flat().filter((e) => e.type === 'raise')).toHaveLength(2);
  });
});

describe('rules that share thresholds', () => {
  it('an override of elevator.trapped applies to elevator.repeated_trapping (it runs the same detector); its own override wins', () => {
    const o = ruleOverrides(allRules, { rules: { 'elevator.trapped': { atFloorMs: 120_000 }, 'elevator.repeated_trapping': { incidents: 4 } } });
    expect(o['elevator.repeated_trapping']).toEqual({ atFloorMs: 120_000, incidents: 4 });
    expect(ruleOverrides(allRules, {})['elevator.repeated_trapping']).toBeUndefined();
  });
});
