/**
 * The on-time rates (core/alerts/onTime.ts) as tables: how each alert and case counts, with
 * an injected `now`, including everything that must not be counted; the sums per family,
 * district and CST day; and the drill-down naming exactly the alerts behind each figure.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../core/alerts/alert.js';
import { deadlinesFor, defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { classifyAlert, classifyCase, cstDay, drillDown, onTimeRates, type AlertOutcome, type Outcome } from '../../../core/alerts/onTime.js';
import { defaultRescuePolicy as policy, openRescueCase, recordStep, type RescueCase, type RescueStatus } from '../../../core/alerts/rescueCase.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const day0 = Date.parse('2026-11-10T00:00:00+08:00');

function alert(id: string, over: Partial<Alert> & { firstSeen: number }): Alert {
  const severity = over.severity ?? 'critical';
  return {
    id, family: 'kitchen', rule: 'kitchen.violation', condition: 'rat', severity, status: 'open', summary: '', params: {},
    device: { id: 'd', name: null, district: '330106', location: null, meta: {} }, evidence: [], assignee: null, count: 1, closedBy: null,
    lastSeen: over.firstSeen, windowMs: 600_000, deadlines: deadlinesFor(severity, over.firstSeen, defaultDeadlinePolicy), events: 1, notes: 0, updatedAt: over.firstSeen,
    ...over,
  };
}

/** A critical alert (ack 5 min, resolve 2 h) first seen at T, acknowledged / closed after the given minutes. */
const T = day0 + HOUR;
function handled(ackMin: number | null, closeMin: number | null, closedBy: string | null = closeMin === null ? null : 'op1', status?: Alert['status']): Alert {
  const a = alert('x', { firstSeen: T });
  return {
    ...a, status: status ?? (closeMin !== null ? 'resolved' : ackMin !== null ? 'acknowledged' : 'open'), closedBy,
    deadlines: { ...a.deadlines, acknowledgedAt: ackMin === null ? null : T + ackMin * MIN, resolvedAt: closeMin === null ? null : T + closeMin * MIN },
  };
}

describe('how one alert counts', () => {
  it.each<[string, Alert, number, ReturnType<typeof classifyAlert>]>([
    ['acknowledged at 2 min, resolved by a person at 1 h', handled(2, 60), T + DAY, { cls: 'counted', ack: 'onTime', resolve: 'onTime' }],
    ['acknowledged exactly at the deadline: on time', handled(5, 60), T + DAY, { cls: 'counted', ack: 'onTime', resolve: 'onTime' }],
    ['acknowledged 1 ms after the deadline: late', { ...handled(5, 60), deadlines: { ...handled(5, 60).deadlines, acknowledgedAt: T + 5 * MIN + 1 } }, T + DAY, { cls: 'counted', ack: 'late', resolve: 'onTime' }],
    ['open at the deadline: pending', handled(null, null), T + 5 * MIN, { cls: 'counted', ack: 'pending', resolve: 'pending' }],
    ['open 1 ms after the deadline: late', handled(null, null), T + 5 * MIN + 1, { cls: 'counted', ack: 'late', resolve: 'pending' }],
    ['closed by the system at 2 min before anyone acknowledged: out of both', handled(null, 2, 'system'), T + DAY, { cls: 'systemClosed', ack: null, resolve: null }],
    ['closed by the system at 10 min, never acknowledged (past the ack deadline): still out', handled(null, 10, 'system'), T + DAY, { cls: 'systemClosed', ack: null, resolve: null }],
    ['acknowledged by a person, then closed by the system: ack counts, resolve is the system\'s', handled(3, 30, 'system'), T + DAY, { cls: 'counted', ack: 'onTime', resolve: 'system' }],
    ['resolved by a person at 3 h: resolve late', handled(4, 180), T + DAY, { cls: 'counted', ack: 'onTime', resolve: 'late' }],
    ['a false positive: out of both', handled(1, 2, 'op1', 'false_positive'), T + DAY, { cls: 'falsePositive', ack: null, resolve: null }],
    ['an info alert has no deadlines', alert('i', { firstSeen: T, severity: 'info' }), T + DAY, { cls: 'counted', ack: 'none', resolve: 'none' }],
  ])('%s', (_n, a, now, expected) => {
    expect(classifyAlert(a, now)).toEqual(expected);
  });
});

function rescue(id: string, alarmAt: number, steps: Array<[RescueStatus, number, string?]>, district = '330106'): RescueCase {
  let c = openRescueCase(id, 'elev-1', `a-${id}`, alarmAt, { maintenanceUnit: null, arrivalWithinMs: 30 * MIN, district, source: 'device', by: 'system' });
  for (const [step, m, note] of steps) {
    const r = recordStep(c, step, 'disp1', alarmAt + m * MIN, alarmAt + m * MIN, note ?? (step === 'false_alarm' ? 'caller mistaken' : undefined));
    if ('refused' in r) throw new Error(r.message);
    c = r;
  }
  return c;
}

describe('how one rescue case counts', () => {
  it.each<[string, RescueCase, number, { falseAlarm: boolean; dispatch: Outcome | null; arrival: Outcome | null }]>([
    ['dispatched at 2 min, arrived at 25', rescue('c', T, [['dispatched', 2], ['arrived', 25]]), T + DAY, { falseAlarm: false, dispatch: 'onTime', arrival: 'onTime' }],
    ['dispatched exactly at 5 min: on time', rescue('c', T, [['dispatched', 5]]), T + 6 * MIN, { falseAlarm: false, dispatch: 'onTime', arrival: 'pending' }],
    ['dispatched at 6 min (with its reason): late', rescue('c', T, [['dispatched', 6, 'line busy']]), T + 7 * MIN, { falseAlarm: false, dispatch: 'late', arrival: 'pending' }],
    ['not dispatched at 5 min: pending', rescue('c', T, []), T + 5 * MIN, { falseAlarm: false, dispatch: 'pending', arrival: 'pending' }],
    ['not dispatched after 5 min: late', rescue('c', T, []), T + 5 * MIN + 1, { falseAlarm: false, dispatch: 'late', arrival: 'pending' }],
    ['arrived at 31 min (with its reason): late', rescue('c', T, [['dispatched', 2], ['arrived', 31, 'traffic']]), T + DAY, { falseAlarm: false, dispatch: 'onTime', arrival: 'late' }],
    ['not arrived after 30 min: late', rescue('c', T, [['dispatched', 2]]), T + 31 * MIN, { falseAlarm: false, dispatch: 'onTime', arrival: 'late' }],
    ['a false alarm: out of both', rescue('c', T, [['false_alarm', 1]]), T + DAY, { falseAlarm: true, dispatch: null, arrival: null }],
  ])('%s', (_n, c, now, expected) => {
    expect(classifyCase(c, policy, now)).toEqual(expected);
  });
});

describe('the rates per family, district and CST day', () => {
  const now = day0 + 2 * DAY + 10 * MIN;
  const alerts: AlertOutcome[] = [
    { ...handled(2, 60), id: 'a1' }, // on time, on time
    { ...alert('a2', { firstSeen: day0 + 2 * HOUR }), status: 'acknowledged', deadlines: { ...alert('a2', { firstSeen: day0 + 2 * HOUR }).deadlines, acknowledgedAt: day0 + 2 * HOUR + 10 * MIN } }, // ack late; resolve late by now
    alert('a3', { firstSeen: day0 + DAY + 5 * HOUR, family: 'elevator', rule: 'elevator.fault', device: { id: 'e', name: null, district: '330108', location: null, meta: {} } }), // both late by now
    alert('a4', { firstSeen: now - MIN, severity: 'major' }), // pending
    alert('a5', { firstSeen: day0 + HOUR, severity: 'info' }), // no deadlines
    alert('a6', { firstSeen: day0 - HOUR }), // before the period: not counted at all
    { ...handled(null, 2, 'system'), id: 'a7', family: 'elevator', rule: 'elevator.offline' }, // system closed: apart
    { ...handled(3, 30, 'system'), id: 'a8', family: 'elevator', rule: 'elevator.offline' }, // ack on time; resolve the system's
    { ...handled(1, 2, 'op1', 'false_positive'), id: 'a9' }, // false positive: apart
  ];
  const cases = [
    rescue('c1', day0 + 3 * HOUR, [['dispatched', 2], ['arrived', 20], ['released', 25], ['closed', 40]]),
    rescue('c2', day0 + DAY + 3 * HOUR, [['dispatched', 7, 'line busy']], '330108'),
    rescue('c3', day0 + 4 * HOUR, [['false_alarm', 1]]),
    rescue('c4', day0 - HOUR, [['dispatched', 1]]), // before the period
  ];
  const s = onTimeRates(alerts, cases, policy, day0, day0 + 3 * DAY, now);

  it('counts each alert once in the total, with what is out shown apart', () => {
    expect(s.total.alerts).toBe(8);
    expect(s.total.systemClosed).toBe(1);
    expect(s.total.falsePositives).toBe(1);
    expect(s.total.ack).toEqual({ onTime: 2, late: 2, pending: 1, none: 1, system: 0, rate: 0.5 });
    expect(s.total.resolve).toEqual({ onTime: 1, late: 2, pending: 1, none: 1, system: 1, rate: 1 / 3 });
  });

  it('counts the rescue cases: dispatch within 5 min, arrival within the deadline, false alarms apart', () => {
    expect(s.total.rescue).toEqual({
      cases: 3, falseAlarms: 1,
      dispatch: { onTime: 1, late: 1, pending: 0, none: 0, system: 0, rate: 0.5 },
      arrival: { onTime: 1, late: 1, pending: 0, none: 0, system: 0, rate: 0.5 },
    });
  });

  it('splits by family, district and CST day, every day of the period present', () => {
    expect(s.byFamily.map((f) => [f.family, f.alerts, f.rescue.cases])).toEqual([['kitchen', 5], ['elevator', 3], ['cylinder', 0], ['dispenser', 0]].map(([f, n]) => [f, n, f === 'elevator' ? 3 : 0]));
    expect(s.byFamily[2]!.ack.rate).toBeNull();
    expect(s.byDistrict.map((d) => [d.district, d.alerts, d.rescue.cases])).toEqual([['330106', 7, 2], ['330108', 1, 1]]);
    expect(s.byDay.map((d) => [d.day, d.alerts, d.rescue.cases])).toEqual([['2026-11-10', 6, 2], ['2026-11-11', 1, 1], ['2026-11-12', 1, 0]]);
    expect(cstDay(day0)).toBe('2026-11-10');
    expect(cstDay(day0 - 1)).toBe('2026-11-09');
  });

  it('every figure drills down to exactly the alerts or cases it counts', () => {
    const drill = (q: Parameters<typeof drillDown>[6]) => drillDown(alerts, cases, policy, day0, day0 + 3 * DAY, now, q);
    expect(drill({ measure: 'alerts' }).ids).toHaveLength(s.total.alerts);
    expect(drill({ measure: 'systemClosed' })).toEqual({ kind: 'alert', ids: ['a7'] });
    expect(drill({ measure: 'falsePositives' }).ids).toEqual(['a9']);
    expect(drill({ measure: 'ack', outcome: 'late' }).ids).toEqual(['a2', 'a3']);
    expect(drill({ measure: 'resolve', outcome: 'system' }).ids).toEqual(['a8']);
    expect(drill({ measure: 'ack', outcome: 'onTime', family: 'elevator' }).ids).toEqual(['a8']);
    expect(drill({ measure: 'alerts', district: '330108' }).ids).toEqual(['a3']);
    expect(drill({ measure: 'alerts', day: '2026-11-12' }).ids).toEqual(['a4']);
    expect(drill({ measure: 'dispatch', outcome: 'late' })).toEqual({ kind: 'rescueCase', ids: ['c2'] });
    expect(drill({ measure: 'falseAlarms' }).ids).toEqual(['c3']);
    expect(drill({ measure: 'cases', district: '330106' }).ids).toEqual(['c1', 'c3']);
    // the sums of the drill-downs are the figures
    for (const measure of ['ack', 'resolve'] as const) {
      for (const outcome of ['onTime', 'late', 'pending', 'none', 'system'] as const) expect(drill({ measure, outcome }).ids.length).toBe(s.total[measure][outcome]);
    }
  });
});
