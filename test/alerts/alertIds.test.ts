/**
 * Alert and case ids opened by a rule are derived from what opened them (alerts/effects.ts
 * raisedAlertId): the same readings evaluated again, after a restart or by the node that took a
 * slot over (docs/cluster.md, Effects raised once), open the same alert under the same id.
 */
import { describe, expect, it } from 'vitest';
import { AlertBook } from '../../alerts/alertBook.js';
import { EffectExecutor, derivedId, raisedAlertId } from '../../alerts/effects.js';
import { StoreFlags } from '../../alerts/storeFlags.js';
import { defaultDeadlinePolicy } from '../../core/alerts/deadlines.js';
import { defaultRescuePolicy } from '../../core/alerts/rescueCase.js';
import type { RaiseAlert } from '../../core/alerts/types.js';

const raise = (over: Partial<RaiseAlert> = {}): RaiseAlert => ({
  type: 'raise', rule: 'elevator.trapped', family: 'elevator', deviceId: 'elev-1', condition: '', severity: 'critical', windowMs: 0,
  summary: 'trapped', params: {}, evidence: { seqs: [1], values: {} }, at: 1_765_000_000_000, ...over,
});

function executor(): { book: AlertBook; effects: EffectExecutor } {
  const book = new AlertBook(() => undefined);
  const effects = new EffectExecutor(
    { deadlinePolicy: defaultDeadlinePolicy, rescuePolicy: defaultRescuePolicy, rescueRule: 'elevator.trapped', replyMaxAgeMs: 60_000 },
    book, new StoreFlags(), { device: () => undefined, publish: () => undefined, emit: () => undefined, now: () => 1_765_000_000_000 },
  );
  return { book, effects };
}

describe('ids of what rules open', () => {
  it('are UUID-shaped (version 8) and the same for the same parts', () => {
    expect(derivedId('a', 'b')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedId('a', 'b')).toBe(derivedId('a', 'b'));
  });

  it.each([
    ['another rule', { rule: 'elevator.fault' }],
    ['another device', { deviceId: 'elev-2' }],
    ['another condition', { condition: 'E21' }],
    ['another time', { at: 1_765_000_000_001 }],
  ] as const)('differ for %s', (_name, over) => {
    expect(raisedAlertId(raise(over))).not.toBe(raisedAlertId(raise()));
  });

  it('parts are not run together: ("ab", "c") is not ("a", "bc")', () => {
    expect(derivedId('ab', 'c')).not.toBe(derivedId('a', 'bc'));
  });

  it('the same trapped alarm evaluated twice opens the same alert and rescue case', () => {
    const runs = [executor(), executor()].map(({ book, effects }) => {
      effects.apply([raise()], 1_765_000_000_000, 1_765_000_000_000);
      return { alert: book.activeAlerts()[0]!, rescueCase: book.activeCases()[0]! };
    });
    expect(runs[0]!.alert.id).toBe(raisedAlertId(raise()));
    expect(runs[1]!.alert.id).toBe(runs[0]!.alert.id);
    expect(runs[1]!.rescueCase.id).toBe(runs[0]!.rescueCase.id);
    expect(runs[0]!.alert.rescueCaseId).toBe(runs[0]!.rescueCase.id);
  });

  it('a trapping reported by phone is not derived: two calls at one time are two incidents unless merged', () => {
    const { effects } = executor();
    const a = effects.reportTrapping(raise({ deviceId: 'elev-9' }), { source: 'phone', by: 'disp1' });
    expect(a.rescueCase.alertId).not.toBe(raisedAlertId(raise({ deviceId: 'elev-9' })));
  });
});
