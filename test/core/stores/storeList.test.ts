/**
 * The black list's life cycle and the red list (core/stores/storeList.ts) as tables, with an
 * injected clock: each transition, each refusal, the lapse at the clean period's edge.
 */
import { describe, expect, it } from 'vitest';
import {
  advanceStore, defaultStoreListPolicy as policy, flagStore, lapseIfClean, redList, unflagStore, type BlackListEntry, type PersonStage,
} from '../../../core/stores/storeList.js';
import { checkAlertOverrides, storeListPolicy } from '../../../core/alerts/policy.js';
import { allRules } from '../../../core/rules/index.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-11-10T09:00:00+08:00');

function walk(stages: PersonStage[]): BlackListEntry {
  let e = flagStore(undefined, 'S-1', 3, T0);
  for (const [i, stage] of stages.entries()) {
    const r = advanceStore(e, stage, 'op1', `step ${stage}`, T0 + (i + 1) * DAY);
    if ('refused' in r) throw new Error(r.message);
    e = r;
  }
  return e;
}

describe('the black list, step by step', () => {
  it('flagged -> notified -> rectified -> rechecked -> lifted, each by a person with a note', () => {
    const e = walk(['notified', 'rectified', 'rechecked', 'lifted']);
    expect(e.stage).toBe('lifted');
    expect(e.steps.map((s) => [s.stage, s.by, s.note ?? null])).toEqual([
      ['flagged', 'system', null], ['notified', 'op1', 'step notified'], ['rectified', 'op1', 'step rectified'],
      ['rechecked', 'op1', 'step rechecked'], ['lifted', 'op1', 'step lifted'],
    ]);
  });

  it.each<[string, PersonStage[], PersonStage, string, string]>([
    ['a skipped step (rectified before notified)', [], 'rectified', 'x', 'stage_out_of_order'],
    ['lifting straight from flagged', [], 'lifted', 'x', 'stage_out_of_order'],
    ['the same step twice', ['notified'], 'notified', 'x', 'stage_out_of_order'],
    ['a step without a note', [], 'notified', '   ', 'note_required'],
    ['a step after the store left the list', ['notified', 'rectified', 'rechecked', 'lifted'], 'notified', 'x', 'not_listed'],
  ])('refuses %s', (_n, before, stage, note, code) => {
    const r = advanceStore(walk(before), stage, 'op1', note, T0 + 10 * DAY);
    expect('refused' in r && r.refused).toBe(code);
  });

  it('a new flag while listed updates the entry; after it left the list, a new entry starts', () => {
    const listed = flagStore(walk(['notified']), 'S-1', 4, T0 + 3 * DAY);
    expect(listed).toMatchObject({ stage: 'notified', count: 4, lastAlertAt: T0 + 3 * DAY, flaggedAt: T0 });
    const again = flagStore(walk(['notified', 'rectified', 'rechecked', 'lifted']), 'S-1', 3, T0 + 20 * DAY);
    expect(again).toMatchObject({ stage: 'flagged', flaggedAt: T0 + 20 * DAY, steps: [{ stage: 'flagged', by: 'system' }] });
  });

  it('lapses after the clean period since the last counted alert, not a moment before', () => {
    const e = walk(['notified']);
    expect(lapseIfClean(e, T0 + policy.cleanPeriodMs, policy)).toBeNull();
    const lapsed = lapseIfClean(e, T0 + policy.cleanPeriodMs + 1, policy)!;
    expect(lapsed.stage).toBe('lapsed');
    expect(lapsed.steps.at(-1)).toEqual({ stage: 'lapsed', at: T0 + policy.cleanPeriodMs + 1, by: 'system', code: 'store_list.lapsed', params: { days: 30 }, note: 'no counted alert for 30 days' });
    // a later counted alert moves the clean period
    expect(lapseIfClean(flagStore(e, 'S-1', 3, T0 + 20 * DAY), T0 + policy.cleanPeriodMs + 1, policy)).toBeNull();
    // off the list: nothing to lapse
    expect(lapseIfClean(lapsed, T0 + 99 * DAY, policy)).toBeNull();
  });

  it('a flag that lost its ground (false positives) is lifted by the system', () => {
    const e = unflagStore(walk(['notified']), 2, T0 + 2 * DAY);
    expect(e).toMatchObject({ stage: 'lifted', count: 2 });
    expect(e.steps.at(-1)).toEqual({
      stage: 'lifted', at: T0 + 2 * DAY, by: 'system', code: 'store_list.lifted', params: { count: 2 }, note: 'no longer enough counted alerts (2): false positives marked',
    });
  });
});

describe('the red list', () => {
  const stores = [
    { storeId: 'A', storeName: '甲', district: '330106' },
    { storeId: 'B', storeName: '乙', district: '330106' },
    { storeId: 'C', storeName: '丙', district: '330108' },
    { storeId: 'D', storeName: '丁', district: null },
  ];
  it('keeps the stores without a counted alert in the period that are not on the black list', () => {
    const black = [walk(['notified']), { ...walk(['notified', 'rectified', 'rechecked', 'lifted']), storeId: 'D' }];
    expect(redList(stores, new Set(['B']), [{ ...black[0]!, storeId: 'C' }, black[1]!]).map((s) => s.storeId)).toEqual(['A', 'D']);
  });
});

describe('the clean period as a setting (ALERT_OVERRIDES storeList.cleanPeriodDays)', () => {
  it.each<[unknown, number | string]>([
    [undefined, 30 * DAY],
    [{ cleanPeriodDays: 14 }, 14 * DAY],
    [{ cleanPeriodDays: 0 }, 'storeList.cleanPeriodDays'],
    [{ cleanPeriodDays: 400 }, 'storeList.cleanPeriodDays'],
    [{ cleanPeriodDays: '30' }, 'storeList.cleanPeriodDays'],
    [{ cleanPeriodMs: 1000 }, 'storeList.cleanPeriodMs'],
  ])('%j', (storeList, expected) => {
    const input = storeList === undefined ? {} : { storeList };
    const { problems, overrides } = checkAlertOverrides(input, allRules);
    if (typeof expected === 'number') {
      expect(problems).toEqual([]);
      expect(storeListPolicy(overrides).cleanPeriodMs).toBe(expected);
    } else {
      expect(problems).toEqual([expect.stringContaining(`ALERT_OVERRIDES ${expected}`)]);
    }
  });
});
