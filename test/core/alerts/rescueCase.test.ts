/**
 * The 96333 rescue case as tables: steps in order, refusals, and deadline events at their edges.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_CASE_REPORTS, acknowledgeEscalation, addReport, caseToMerge, rescueDeadlines, defaultRescuePolicy as policy, escalationChain, elapsed, evaluateRescue, openRescueCase, recordStep, type RescueCase, type RescueEvent, type RescueStatus,
} from '../../../core/alerts/rescueCase.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 1, 0, 0);
const fresh = (arrivalMin = 30): RescueCase => openRescueCase('rc-1', 'elev-1', 'a-1', T0, {
  maintenanceUnit: '某维保公司', arrivalWithinMs: arrivalMin * MIN, district: '330106', source: 'device', by: 'system',
});

/** Steps in order, each recorded when it happens; a false alarm with its reason. */
function walk(steps: Array<[RescueStatus, number]>, c = fresh()): RescueCase {
  for (const [step, m] of steps) {
    const r = recordStep(c, step, 'disp1', T0 + m * MIN, T0 + m * MIN, step === 'false_alarm' ? 'caller hung up; unit found the car empty' : undefined);
    if ('refused' in r) throw new Error(r.message);
    c = r;
  }
  return c;
}

describe('rescue case steps', () => {
  it('walks alarm -> dispatched -> acknowledged -> arrived -> released -> followed up -> closed, each stamped', () => {
    const c = walk([['dispatched', 2], ['acknowledged', 3], ['arrived', 18], ['released', 25], ['followed_up', 60], ['closed', 61]]);
    expect(c.status).toBe('closed');
    expect(c.steps.map((s) => [s.step, s.by, (s.at - T0) / MIN])).toEqual([
      ['alarmed', 'system', 0], ['dispatched', 'disp1', 2], ['acknowledged', 'disp1', 3], ['arrived', 'disp1', 18],
      ['released', 'disp1', 25], ['followed_up', 'disp1', 60], ['closed', 'disp1', 61],
    ]);
    expect(elapsed(c, T0 + 999 * MIN)).toEqual({ sinceAlarm: 61 * MIN, toDispatch: 2 * MIN, toArrival: 18 * MIN, toRelease: 25 * MIN });
  });

  it.each<[string, Array<[RescueStatus, number]>, RescueStatus, number, number | undefined, string]>([
    ['backwards', [['dispatched', 1], ['arrived', 5]], 'dispatched', 6, undefined, 'step_out_of_order'],
    ['the same step twice', [['dispatched', 1]], 'dispatched', 2, undefined, 'step_out_of_order'],
    ['arrival before the dispatch (the dispatch cannot be skipped)', [], 'arrived', 6, undefined, 'step_skipped'],
    ['release before the arrival', [['dispatched', 1]], 'released', 6, undefined, 'step_skipped'],
    ['closing before release', [['dispatched', 1], ['arrived', 5]], 'closed', 6, undefined, 'step_skipped'],
    ['after closing', [['dispatched', 1], ['arrived', 4], ['released', 5], ['closed', 6]], 'followed_up', 7, undefined, 'case_closed'],
    ['after a false alarm', [['false_alarm', 2]], 'dispatched', 3, undefined, 'case_closed'],
    ['a time in the future', [], 'dispatched', 3, 4, 'time_in_future'],
    ['a time before the previous step', [['dispatched', 3]], 'arrived', 4, 2, 'time_before_previous'],
  ])('refuses %s', (_n, before, step, nowMin, atMin, code) => {
    const r = recordStep(walk(before), step, 'disp1', T0 + nowMin * MIN, atMin === undefined ? undefined : T0 + atMin * MIN);
    expect('refused' in r && r.refused).toBe(code);
  });

  it.each<[string, Array<[RescueStatus, number]>, RescueStatus, number, string | undefined, string | null]>([
    ['a false alarm without a reason', [['dispatched', 1]], 'false_alarm', 3, undefined, 'reason_required'],
    ['a false alarm with only spaces for a reason', [], 'false_alarm', 3, '   ', 'reason_required'],
    ['a false alarm with its reason', [], 'false_alarm', 3, '住户误按', null],
    ['a dispatch at 5:00 needs no reason (on time)', [], 'dispatched', 5, undefined, null],
    ['a dispatch after 5 min without a reason', [], 'dispatched', 6, undefined, 'reason_required'],
    ['a dispatch after 5 min with its reason', [], 'dispatched', 6, 'line busy', null],
    ['a unit acknowledgement past its minute without a reason', [['dispatched', 2]], 'acknowledged', 4, undefined, 'reason_required'],
    ['an arrival past 30 min without a reason', [['dispatched', 2]], 'arrived', 31, undefined, 'reason_required'],
    ['an arrival past 30 min with its reason', [['dispatched', 2]], 'arrived', 31, '交通拥堵', null],
    ['the unit acknowledgement skipped', [['dispatched', 2]], 'arrived', 20, undefined, null],
    ['the follow-up call skipped', [['dispatched', 2], ['arrived', 10], ['released', 12]], 'closed', 30, undefined, null],
  ])('%s', (_n, before, step, atMin, note, code) => {
    const r = recordStep(walk(before), step, 'disp1', T0 + atMin * MIN, T0 + atMin * MIN, note);
    expect('refused' in r ? r.refused : null).toBe(code);
    if (!('refused' in r)) expect(r.steps.at(-1)!.note).toBe(note?.trim() || undefined);
  });

  it('keeps the details a dispatcher records with a step', () => {
    const r = recordStep(walk([['dispatched', 2]]), 'released', 'disp1', T0 + 20 * MIN) as RescueCase;
    expect('refused' in r && r.refused).toBe('step_skipped');
    const arrived = recordStep(walk([['dispatched', 2]]), 'arrived', 'disp1', T0 + 15 * MIN, T0 + 15 * MIN, undefined, { technician: '王师傅', phone: '13800000000' });
    expect((arrived as RescueCase).steps.at(-1)!.details).toEqual({ technician: '王师傅', phone: '13800000000' });
    const released = recordStep(arrived as RescueCase, 'released', 'disp1', T0 + 20 * MIN, T0 + 20 * MIN, undefined, { passengersReleased: 3, injuries: '无' });
    expect((released as RescueCase).steps.at(-1)!.details).toEqual({ passengersReleased: 3, injuries: '无' });
  });

  it('accepts a step skipped forward and a time given for an earlier moment', () => {
    const r = recordStep(walk([['dispatched', 2]]), 'arrived', 'disp1', T0 + 20 * MIN, T0 + 17 * MIN, 'unit called on arrival');
    expect('refused' in r).toBe(false);
    expect((r as RescueCase).steps.at(-1)).toEqual({ step: 'arrived', at: T0 + 17 * MIN, by: 'disp1', recordedAt: T0 + 20 * MIN, note: 'unit called on arrival' });
  });
});

describe('rescue deadlines (TSG T5002: dispatch 5 min, unit ack 1 min, arrival 30 min, warning at 20 min)', () => {
  it.each<[string, Array<[RescueStatus, number]>, number, RescueEvent[]]>([
    ['undispatched just before 5 min', [], 5 * MIN - 1, []],
    ['undispatched at 5 min: a dispatch now is still on time', [], 5 * MIN, []],
    ['undispatched after 5 min', [], 5 * MIN + 1, ['dispatch_breached']],
    ['dispatched at 4:59', [['dispatched', 4.99]], 5 * MIN, []],
    ['unit silent 1 min after dispatch', [['dispatched', 2]], 3 * MIN, []],
    ['unit silent past 1 min after dispatch', [['dispatched', 2]], 3 * MIN + 1, ['unit_ack_breached']],
    ['unit acked within the minute', [['dispatched', 2], ['acknowledged', 2.5]], 3 * MIN, []],
    ['not arrived just before 20 min', [['dispatched', 2], ['acknowledged', 2.5]], 20 * MIN - 1, []],
    ['not arrived at 20 min', [['dispatched', 2], ['acknowledged', 2.5]], 20 * MIN, ['arrival_warning']],
    ['not arrived at 30 min', [['dispatched', 2], ['acknowledged', 2.5]], 30 * MIN, ['arrival_warning']],
    ['not arrived past 30 min', [['dispatched', 2], ['acknowledged', 2.5]], 30 * MIN + 1, ['arrival_breached']],
    ['arrived at 29 min', [['dispatched', 2], ['acknowledged', 2.5], ['arrived', 29]], 30 * MIN, []],
    ['false alarm stops the clock', [['false_alarm', 1]], 60 * MIN, []],
  ])('%s', (_n, steps, now, expected) => {
    expect(evaluateRescue(walk(steps), T0 + now, policy).events).toEqual(expected);
  });

  it('each event fires once; a 60-minute rural elevator warns at 50 and breaches at 60', () => {
    let c = walk([['dispatched', 1], ['acknowledged', 1.5]], fresh(60));
    const log: Array<[number, RescueEvent]> = [];
    for (let m = 0; m <= 70; m++) {
      const r = evaluateRescue(c, T0 + m * MIN, policy);
      c = r.state;
      for (const e of r.events) log.push([m, e]);
    }
    expect(log).toEqual([[50, 'arrival_warning'], [61, 'arrival_breached']]);
    // the state round-trips through JSON (it is persisted)
    expect(evaluateRescue(JSON.parse(JSON.stringify(c)), T0 + 80 * MIN, policy).events).toEqual([]);
  });
});

describe('one incident, one case (caseToMerge)', () => {
  const at = (m: number) => T0 + m * MIN;
  it.each<[string, Array<[RescueStatus, number]>, number, boolean]>([
    ['a running case alarmed 10 min ago, not yet dispatched', [], 10, true],
    ['dispatched and on site, passengers not yet out', [['dispatched', 2], ['arrived', 9]], 10, true],
    ['at the end of the 30-minute window', [['dispatched', 2]], 30, true],
    ['past the window', [['dispatched', 2]], 31, false],
    ['passengers released: a new trapping is a new incident', [['dispatched', 2], ['arrived', 9], ['released', 10]], 12, false],
    ['a false alarm is finished', [['false_alarm', 1]], 5, false],
  ])('%s: merges %s', (_n, steps, nowMin, merges) => {
    const c = walk(steps);
    expect(caseToMerge([c], 'elev-1', at(nowMin), policy.mergeWindowMs)?.id ?? null).toBe(merges ? c.id : null);
    // never another elevator's case
    expect(caseToMerge([c], 'elev-2', at(nowMin), policy.mergeWindowMs)).toBeNull();
  });
});


describe('escalation up the district chain', () => {
  const chainPolicy = { ...policy, escalation: { '*': [{ name: 'any' }], '3301': [{ name: '市值班' }], '330106': [{ name: '西湖区值班领导', phone: '0571-1' }, { name: '市局' }] } };
  it.each<[string | null, string[]]>([
    ['330106', ['西湖区值班领导', '市局']],
    ['330108', ['市值班']],
    ['110101', ['any']],
    [null, ['any']],
  ])('district %s escalates to %j', (district, names) => {
    expect(escalationChain(chainPolicy, district).map((c) => c.name)).toEqual(names);
  });

  const withChain = (): RescueCase => openRescueCase('rc-e', 'elev-1', 'a-1', T0, {
    maintenanceUnit: null, arrivalWithinMs: 30 * MIN, district: '330106', source: 'device', by: 'system', escalationChain: escalationChain(chainPolicy, '330106'),
  });

  it('each breach one level up, notified every 5 min until acknowledged, nothing once the case ends', () => {
    let c = withChain();
    const log: Array<[number, RescueEvent]> = [];
    const run = (from: number, to: number) => {
      for (let m = from; m <= to; m++) {
        const r = evaluateRescue(c, T0 + m * MIN, chainPolicy);
        c = r.state;
        for (const e of r.events) log.push([m, e]);
      }
    };
    run(0, 12);
    expect(log).toEqual([[6, 'dispatch_breached'], [6, 'escalated'], [11, 'escalation_renotified']]);
    expect(c.escalations).toMatchObject([{ level: 0, to: { name: '西湖区值班领导', phone: '0571-1' }, reason: 'dispatch_breached', at: T0 + 6 * MIN, notifications: 2, acknowledgedAt: null }]);
    const acked = acknowledgeEscalation(c, 0, 'leader1', T0 + 12 * MIN) as RescueCase;
    expect(acked.escalations![0]).toMatchObject({ acknowledgedAt: T0 + 12 * MIN, acknowledgedBy: 'leader1' });
    expect(acknowledgeEscalation(acked, 0, 'x', T0 + 13 * MIN)).toMatchObject({ refused: 'already_acknowledged' });
    expect(acknowledgeEscalation(acked, 5, 'x', T0 + 13 * MIN)).toMatchObject({ refused: 'no_escalation' });
    c = acked;
    log.length = 0;
    run(13, 36);
    // the arrival breach goes one level up; the acknowledged level stays quiet
    expect(log).toEqual([[20, 'arrival_warning'], [31, 'arrival_breached'], [31, 'escalated'], [36, 'escalation_renotified']]);
    expect(c.escalations!.map((e) => [e.level, e.to.name, e.reason])).toEqual([[0, '西湖区值班领导', 'dispatch_breached'], [1, '市局', 'arrival_breached']]);
    const closed = recordStep(recordStep(c, 'false_alarm', 'disp1', T0 + 37 * MIN, T0 + 37 * MIN, 'found nobody') as RescueCase, 'closed', 'disp1', T0 + 38 * MIN);
    expect('refused' in closed).toBe(true);
    const ended = recordStep(c, 'false_alarm', 'disp1', T0 + 37 * MIN, T0 + 37 * MIN, 'found nobody') as RescueCase;
    expect(evaluateRescue(ended, T0 + 90 * MIN, chainPolicy).events).toEqual([]);
  });
});

describe('the arrival warning of a per-elevator deadline', () => {
  it.each<[number, number]>([[30, 20], [60, 50], [45, 35], [5, 10 / 3], [15, 10]])('an elevator with %s min warns at %s min', (deadlineMin, warnMin) => {
    expect(rescueDeadlines(fresh(deadlineMin), policy).arrivalWarnAt - T0).toBe(Math.round(warnMin * MIN));
  });
});

describe('phone reports merged into a case', () => {
  it('keeps the first call and the newest, counts them all: a flood of calls does not grow the case', () => {
    let c = openRescueCase('rc-p', 'elev-1', 'a-1', T0, { maintenanceUnit: null, arrivalWithinMs: 30 * MIN, district: null, source: 'phone', by: 'disp1', report: { floor: '12', callerPhone: '1' } });
    for (let i = 2; i <= 500; i++) c = addReport(c, { callerPhone: String(i), note: 'x'.repeat(2000) }, T0 + i);
    expect(c.reportCount).toBe(500);
    expect(c.reports).toHaveLength(MAX_CASE_REPORTS);
    expect(c.reports![0]).toEqual({ floor: '12', callerPhone: '1' });
    expect(c.reports!.slice(1).map((r) => r.callerPhone)).toEqual(Array.from({ length: MAX_CASE_REPORTS - 1 }, (_, i) => String(482 + i)));
    expect(JSON.stringify(c).length).toBeLessThan(50_000);
  });
});

