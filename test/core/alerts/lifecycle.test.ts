/**
 * Alert life cycle and handling deadlines as tables: (state, input, now) -> expected.
 */
import { describe, expect, it } from 'vitest';
import {
  acknowledge, addNote, assign, autoResolve, markFalsePositive, MAX_NOTES, openAlert, refused, repeatAlert, repeats, resolve,
  type ActionResult, type Alert, type AlertStep, type TimelineEntry,
} from '../../../core/alerts/alert.js';
import { deadlinesFor, defaultDeadlinePolicy as policy, evaluateDeadlines, onTime, type DeadlineEvent } from '../../../core/alerts/deadlines.js';
import type { RaiseAlert, Severity } from '../../../core/alerts/types.js';
import { systemNote } from '../../../core/alerts/systemNotes.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);

const raise = (over: Partial<RaiseAlert> = {}): RaiseAlert => ({
  type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: 'cam-1', condition: 'rat', severity: 'critical',
  windowMs: 600_000, summary: 'rat', params: { type: 'rat' }, evidence: { seqs: [1] }, at: T0, ...over,
});
const device = { id: 'cam-1', name: 'cam', district: '330106', location: null, meta: { storeId: 'S-1' } };
/** An alert with the timeline its steps appended so far (the store keeps it as rows). */
type Tracked = Alert & { timeline: TimelineEntry[] };
const track = (s: AlertStep, before: TimelineEntry[] = []): Tracked => ({ ...s.alert, timeline: [...before, ...s.entries] });
const then = (a: Tracked, r: ActionResult | AlertStep): Tracked => {
  if (refused(r)) throw new Error(r.message);
  return track(r, a.timeline);
};
const open = (over: Partial<RaiseAlert> = {}): Tracked => track(openAlert('a1', raise(over), device, policy));

describe('deadlines per severity (docs/domain.md §5)', () => {
  it.each<[Severity, number | null, number | null]>([
    ['critical', 5 * MIN, 120 * MIN],
    ['major', 30 * MIN, 24 * 60 * MIN],
    ['minor', 4 * 60 * MIN, 7 * 24 * 60 * MIN],
    ['info', null, null],
  ])('%s: acknowledge within %s ms, resolve within %s ms', (severity, ack, res) => {
    const d = deadlinesFor(severity, T0, policy);
    expect(d.ackBy === null ? null : d.ackBy - T0).toBe(ack);
    expect(d.resolveBy === null ? null : d.resolveBy - T0).toBe(res);
  });

  // critical: ack by T0+5min, warning at 80% = 4 min; resolve by 2 h, warning at 96 min
  const rows: Array<[string, number, DeadlineEvent[]]> = [
    ['just before the ack warning', 4 * MIN - 1, []],
    ['at the ack warning', 4 * MIN, ['ack_warning']],
    ['just before the ack deadline', 5 * MIN - 1, ['ack_warning']],
    // an acknowledgement at the deadline is on time, so the breach comes only after it
    ['at the ack deadline: still the warning, not yet a breach', 5 * MIN, ['ack_warning']],
    ['1 ms after the ack deadline', 5 * MIN + 1, ['ack_breached']],
    ['long after the ack deadline: the breach, not a burst of reminders', 10 * MIN, ['ack_breached']],
    ['at the resolve warning', 96 * MIN, ['ack_breached', 'resolve_warning']],
    ['at the resolve deadline', 120 * MIN, ['ack_breached', 'resolve_warning']],
    ['after the resolve deadline: the breach without a stale warning', 120 * MIN + 1, ['ack_breached', 'resolve_breached']],
  ];
  it.each(rows)('one evaluation %s', (_name, offset, expected) => {
    // a single late evaluation (e.g. after a restart) fires each due event once, no burst
    const { events } = evaluateDeadlines(deadlinesFor('critical', T0, policy), T0 + offset, policy);
    expect(events).toEqual(expected);
  });

  it('evaluated every minute: warnings before, escalation on breach, reminders until acknowledged', () => {
    let d = deadlinesFor('critical', T0, policy);
    const log: Array<[number, DeadlineEvent]> = [];
    for (let m = 0; m <= 20; m++) {
      if (m === 17) d = { ...d, acknowledgedAt: T0 + m * MIN };
      const r = evaluateDeadlines(d, T0 + m * MIN, policy);
      d = r.state;
      for (const e of r.events) log.push([m, e]);
    }
    // evaluated at whole minutes: the breach is seen at the first evaluation after 5:00
    expect(log).toEqual([[4, 'ack_warning'], [6, 'ack_breached'], [10, 'ack_reminder'], [15, 'ack_reminder']]);
    expect(d.escalation).toBe(1);
    expect(d.reminders).toBe(2);
  });

  it('nothing fires for a resolved alert, and info alerts have no deadlines', () => {
    const resolved = { ...deadlinesFor('major', T0, policy), acknowledgedAt: T0, resolvedAt: T0 + MIN };
    expect(evaluateDeadlines(resolved, T0 + 100 * 24 * 60 * MIN, policy).events).toEqual([]);
    expect(evaluateDeadlines(deadlinesFor('info', T0, policy), T0 + 100 * 24 * 60 * MIN, policy).events).toEqual([]);
  });

  it.each<[string, Partial<ReturnType<typeof deadlinesFor>>, number, boolean | null]>([
    ['acked at the deadline is on time', { acknowledgedAt: T0 + 5 * MIN }, T0 + 6 * MIN, true],
    ['acked 1 ms late is late', { acknowledgedAt: T0 + 5 * MIN + 1 }, T0 + 6 * MIN, false],
    ['pending before the deadline is undecided', {}, T0 + 4 * MIN, null],
    ['pending after the deadline is late', {}, T0 + 5 * MIN + 1, false],
  ])('%s', (_n, patch, now, expected) => {
    expect(onTime({ ...deadlinesFor('critical', T0, policy), ...patch }, 'ack', now)).toBe(expected);
  });
});

describe('alert life cycle', () => {
  it.each<[string, number, string, boolean]>([
    ['same condition 599 s later', 599_000, 'rat', true],
    ['same condition 600 s later', 600_000, 'rat', true],
    ['same condition 601 s later', 601_000, 'rat', false],
    ['another condition', 10_000, 'smoking', false],
  ])('dedupe: %s repeats = %s', (_n, dt, condition, expected) => {
    expect(repeats(open(), raise({ at: T0 + dt, condition }))).toBe(expected);
  });

  it('a repeat counts, keeps evidence, raises severity and keeps the first deadlines', () => {
    const o = open({ severity: 'major' });
    const a = then(o, repeatAlert(o, raise({ at: T0 + 1000, severity: 'critical', evidence: { seqs: [2] } })));
    expect(a).toMatchObject({ count: 2, lastSeen: T0 + 1000, firstSeen: T0, severity: 'critical' });
    expect(a.evidence.map((e) => e.seqs[0])).toEqual([1, 2]);
    expect(a.deadlines.ackBy).toBe(T0 + 30 * MIN);
  });

  it('a closed alert is not repeated', () => {
    const o = open();
    const closed = then(o, resolve(o, 'op1', T0 + 1000));
    expect(repeats(closed, raise({ at: T0 + 2000 }))).toBe(false);
  });

  it('acknowledge, assign, note, resolve: each step on the timeline with who and when', () => {
    let a = open();
    a = then(a, acknowledge(a, 'op1', T0 + MIN, 'seen'));
    a = then(a, assign(a, 'inspector-7', 'op1', T0 + 2 * MIN));
    a = then(a, addNote(a, 'called the store', 'op1', T0 + 3 * MIN));
    a = then(a, resolve(a, 'op2', T0 + 4 * MIN, 'rectified'));
    expect(a.status).toBe('resolved');
    expect(a.assignee).toBe('inspector-7');
    expect(a.timeline.map((t) => [t.action, t.by, t.at - T0])).toEqual([
      ['opened', 'system', 0], ['acknowledged', 'op1', MIN], ['assigned', 'op1', 2 * MIN], ['noted', 'op1', 3 * MIN], ['resolved', 'op2', 4 * MIN],
    ]);
    expect(onTime(a.deadlines, 'ack', T0 + 10 * MIN)).toBe(true);
    // entries are numbered along the timeline; the record counts them, and the written ones
    expect(a.timeline.map((t) => t.n)).toEqual([0, 1, 2, 3, 4]);
    expect(a).toMatchObject({ events: 5, notes: 4 });
  });

  it('refusals carry codes', () => {
    const o = open();
    const acked = then(o, acknowledge(o, 'op1', T0));
    const twice = acknowledge(acked, 'op1', T0);
    expect(refused(twice) && twice.refused).toBe('already_acknowledged');
    const done = then(acked, resolve(acked, 'op1', T0));
    const r = acknowledge(done, 'op1', T0);
    expect(refused(r) && r.refused).toBe('alert_closed');
    const fp = markFalsePositive(open({ family: 'elevator', rule: 'elevator.fault' }), 'op1', T0);
    expect(refused(fp) && fp.refused).toBe('not_kitchen');
  });

  it('resolving an open alert acknowledges it on the way; false positive closes a kitchen alert', () => {
    const o = open();
    const r = then(o, resolve(o, 'op1', T0 + MIN));
    expect(r.timeline.map((t) => t.action)).toEqual(['opened', 'acknowledged', 'resolved']);
    expect(r.deadlines.acknowledgedAt).toBe(T0 + MIN);
    const fp = then(o, markFalsePositive(o, 'op1', T0 + MIN, 'a cat'));
    expect(fp.status).toBe('false_positive');
    expect(fp.timeline.at(-1)).toEqual({ n: 1, at: T0 + MIN, by: 'op1', action: 'false_positive', note: 'a cat' });
  });

  it('auto-resolve by the engine, and no change once closed', () => {
    const o = open();
    const a = then(o, autoResolve(o, systemNote('fault.back_to_normal', { event: 40, seq: 7 }), T0 + MIN));
    expect(a.status).toBe('resolved');
    // the reason by code and parameters, with its English
    expect(a.timeline.at(-1)).toEqual({
      n: 1, at: T0 + MIN, by: 'system', action: 'auto_resolved', code: 'fault.back_to_normal', params: { event: 40, seq: 7 }, note: 'event 40 back to normal (seq 7)',
    });
    // a system note is not a person's: it does not count against the cap
    expect(a.notes).toBe(0);
    const again = autoResolve(a, systemNote('offline.reconnected'), T0 + 2 * MIN);
    expect(again.alert).toBe(a);
    expect(again.entries).toEqual([]);
  });

  it.each<[string, (a: Alert) => ActionResult, boolean]>([
    ['a note', (a) => addNote(a, 'one more', 'op1', T0 + MIN), true],
    ['an assignment', (a) => assign(a, 'inspector-7', 'op1', T0 + MIN), true],
    ['acknowledging with a note', (a) => acknowledge(a, 'op1', T0 + MIN, 'seen'), false],
    ['resolving with a note', (a) => resolve(a, 'op1', T0 + MIN, 'done'), false],
    ['a false positive with a note', (a) => markFalsePositive(a, 'op1', T0 + MIN, 'a cat'), false],
  ])('at the cap of %s notes per alert: %s is refused = %s (closing never is)', (_n, act, refusedAtCap) => {
    const below = { ...open(), notes: MAX_NOTES - 1 };
    expect(refused(act(below))).toBe(false);
    const r = act({ ...below, notes: MAX_NOTES });
    expect(refused(r) ? r.refused : 'accepted').toBe(refusedAtCap ? 'note_limit' : 'accepted');
  });

  it('the notes count follows written entries one by one up to the cap, then refuses with nothing appended', () => {
    let a = open();
    for (let i = 0; i < MAX_NOTES; i++) a = then(a, addNote(a, `note ${i}`, 'op1', T0 + i));
    expect(a).toMatchObject({ notes: MAX_NOTES, events: MAX_NOTES + 1 });
    const r = addNote(a, 'too many', 'op1', T0 + MIN);
    expect(refused(r) && r.refused).toBe('note_limit');
    expect(a.timeline.at(-1)).toMatchObject({ n: MAX_NOTES, note: `note ${MAX_NOTES - 1}` });
  });
});
