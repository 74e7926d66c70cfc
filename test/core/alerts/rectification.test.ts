/**
 * Rectification of class-2 kitchen detections (core/alerts/rectification.ts) as tables:
 * (alert, step, now) -> status, round, deadlines, or the refusal; the request the store's
 * contact gateway receives; which changes ask the store.
 */
import { describe, expect, it } from 'vitest';
import { acknowledge, markFalsePositive, openAlert, refused, resolve, type ActionResult, type Alert } from '../../../core/alerts/alert.js';
import { defaultDeadlinePolicy as policy, evaluateDeadlines } from '../../../core/alerts/deadlines.js';
import { asksTheStore, recordRecheck, recordStoreAnswer, rectificationRequest } from '../../../core/alerts/rectification.js';
import type { RaiseAlert } from '../../../core/alerts/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);

const raise = (over: Partial<RaiseAlert> = {}): RaiseAlert => ({
  type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: 'cam-1', condition: 'smoking', severity: 'major',
  windowMs: 600_000, summary: 'smoking', params: { type: 'smoking', riskClass: 2, storeId: 'S-1' },
  evidence: { seqs: [1], snapshotUrl: 'https://cam.example/1.jpg' }, at: T0, handling: 'rectification', ...over,
});
const device = { id: 'cam-1', name: '后厨 1 号', district: '330106', location: null, meta: { storeId: 'S-1', storeName: '好味道', storeContact: '13800000000' } };
const opened = (over: Partial<RaiseAlert> = {}): Alert => openAlert('a1', raise(over), device, policy).alert;
const ok = (r: ActionResult): Alert => {
  if (refused(r)) throw new Error(r.message);
  return r.alert;
};
const answer = (a: Alert, at: number) => recordStoreAnswer(a, 'op1', at, '已整改：员工停止吸烟，已培训');
const recheck = (a: Alert, at: number, passed: boolean) => recordRecheck(a, 'op2', at, passed, passed ? '复查合格' : '复查仍有吸烟', policy);

describe('a class-2 detection opens for rectification', () => {
  it('the answer is due in 2 h and the re-check in 72 h; other alerts keep their severity\'s deadlines', () => {
    const a = opened();
    expect(a.rectification).toEqual({ round: 1, answeredAt: null });
    expect([a.deadlines.ackBy! - T0, a.deadlines.resolveBy! - T0]).toEqual([2 * HOUR, 72 * HOUR]);
    const plain = opened({ handling: undefined, condition: 'rat', severity: 'critical' });
    expect(plain.rectification).toBeUndefined();
    expect([plain.deadlines.ackBy! - T0, plain.deadlines.resolveBy! - T0]).toEqual([5 * MIN, 2 * HOUR]);
  });
  it.each([
    ['2 h exactly: not yet breached', 2 * HOUR, []],
    ['2 h and 1 ms without an answer: breached, escalated', 2 * HOUR + 1, ['ack_breached']],
  ] as const)('%s', (_name, dt, events) => {
    const a = opened();
    const r = evaluateDeadlines({ ...a.deadlines, ackWarned: true }, T0 + dt, policy);
    expect(r.events).toEqual(events);
  });
});

describe('the steps', () => {
  const T1 = T0 + 30 * MIN;
  const answered = () => ok(answer(opened(), T1));
  it.each<[string, () => ActionResult, string | null, Partial<Alert> | null]>([
    ['an operator cannot acknowledge it without the store\'s answer', () => acknowledge(opened(), 'op1', T1), 'rectification', null],
    ['the store\'s answer acknowledges it', () => answer(opened(), T1), null, { status: 'acknowledged', rectification: { round: 1, answeredAt: T1 } }],
    ['a second answer in the same round is refused', () => answer(answered(), T1 + MIN), 'already_acknowledged', null],
    ['a re-check before the answer is refused', () => recheck(opened(), T1, true), 'not_answered', null],
    ['a passed re-check resolves it, closed by the inspector', () => recheck(answered(), T0 + 72 * HOUR, true), null, { status: 'resolved', closedBy: 'op2' }],
    ['a failed re-check opens round 2', () => recheck(answered(), T0 + 72 * HOUR, false), null, { status: 'open', rectification: { round: 2, answeredAt: null } }],
    ['an alert of another rule is not rectified', () => answer(opened({ handling: undefined }), T1), 'not_rectification', null],
    ['nothing after it is closed', () => answer(ok(markFalsePositive(opened(), 'op1', T1, '是猫')), T1 + MIN), 'alert_closed', null],
    ['an operator may still close it (the store shut down)', () => resolve(opened(), 'op1', T1, '门店已关闭'), null, { status: 'resolved', closedBy: 'op1' }],
  ])('%s', (_name, act, refusal, expected) => {
    const r = act();
    if (refusal) {
      expect(refused(r) ? r.refused : null).toBe(refusal);
    } else {
      expect(refused(r)).toBe(false);
      expect(ok(r)).toMatchObject(expected!);
    }
  });
  it('a failed re-check starts the deadlines anew from that moment; the timeline says who and what', () => {
    const at = T0 + 73 * HOUR;
    const r = recheck(answered(), at, false);
    const a = ok(r);
    expect([a.deadlines.ackBy! - at, a.deadlines.resolveBy! - at, a.deadlines.acknowledgedAt]).toEqual([2 * HOUR, 72 * HOUR, null]);
    expect(refused(r) ? [] : r.entries.map((e) => [e.action, e.by, e.note])).toEqual([['recheck_failed', 'op2', '复查仍有吸烟']]);
    // and the next round runs the same way
    expect(ok(recheck(ok(answer(a, at + HOUR)), at + 72 * HOUR, true)).status).toBe('resolved');
  });
  it('the answer is a written entry: it counts as a note of a person', () => {
    const a = ok(answer(opened(), T1));
    expect(a.notes).toBe(1);
  });
});

describe('the request to the store', () => {
  it('names the store, its contact, the violation, the evidence and both deadlines', () => {
    expect(rectificationRequest(opened())).toEqual({
      type: 'rectificationRequest', alertId: 'a1', round: 1,
      store: { id: 'S-1', name: '好味道', contact: '13800000000' }, camera: { id: 'cam-1', name: '后厨 1 号' }, district: '330106',
      violation: { type: 'smoking', riskClass: 2 }, snapshotUrl: 'https://cam.example/1.jpg',
      detectedAt: T0, answerBy: T0 + 2 * HOUR, recheckBy: T0 + 72 * HOUR,
    });
    expect(rectificationRequest(opened({ handling: undefined }))).toBeNull();
  });
  it.each([
    ['opened', 'opened', [], true],
    ['a repeat', 'updated', [{ action: 'repeated' }], false],
    ['the answer', 'updated', [{ action: 'store_answered' }], false],
    ['a failed re-check', 'updated', [{ action: 'recheck_failed' }], true],
    ['closed', 'closed', [{ action: 'rechecked' }], false],
  ] as const)('%s: asks the store %s', (_name, change, entries, asks) => {
    expect(asksTheStore(opened(), change, entries)).toBe(asks);
    expect(asksTheStore(opened({ handling: undefined }), change, entries)).toBe(false);
  });
});
