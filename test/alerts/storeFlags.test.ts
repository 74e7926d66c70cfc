/** alerts/storeFlags.ts: what a checkpoint saved, read back, including flags saved before the black list had a life cycle. */
import { describe, expect, it } from 'vitest';
import { StoreFlags } from '../../alerts/storeFlags.js';
import { defaultStoreListPolicy } from '../../core/stores/storeList.js';

const T0 = Date.parse('2026-11-10T09:00:00+08:00');

describe('StoreFlags', () => {
  it('reads flags of the old shape as entries at flagged; drops old unflagged ones', () => {
    const f = new StoreFlags();
    f.load({ 'S-1': { storeId: 'S-1', flagged: true, count: 4, at: T0 }, 'S-2': { storeId: 'S-2', flagged: false, count: 1, at: T0 } });
    expect(f.all()).toEqual([expect.objectContaining({ storeId: 'S-1', stage: 'flagged', count: 4, flaggedAt: T0, lastAlertAt: T0 })]);
    expect(f.list()).toEqual([{ storeId: 'S-1', flagged: true, count: 4, at: T0, stage: 'flagged' }]);
  });

  it('saves what changed and reads it back the same; a step and a lapse are changes', () => {
    const f = new StoreFlags();
    f.load(undefined);
    expect(f.flag('S-1', true, 3, T0)).toMatchObject({ stage: 'flagged' });
    expect(f.flag('S-9', false, 1, T0)).toBeNull();
    f.advance('S-1', 'notified', 'op1', '已通知', T0 + 1000);
    const saved = f.cut()!;
    expect(f.cut()).toBeNull();
    const back = new StoreFlags();
    back.load(JSON.parse(saved));
    expect(back.all()).toEqual(f.all());
    expect(back.lapse(T0 + defaultStoreListPolicy.cleanPeriodMs + 1, defaultStoreListPolicy).map((e) => e.stage)).toEqual(['lapsed']);
    expect(back.cut()).not.toBeNull();
    expect(back.advance('S-404', 'notified', 'op1', 'x', T0)).toMatchObject({ refused: 'not_listed' });
  });
});
