/**
 * dispenser.totalizer (core/rules/dispenser/totalizer.ts, docs/rules/dispenser.md) as a table:
 * previous totaliser + volume within 0.01 L (compared in mL), a gap or a rollback otherwise,
 * per nozzle, dispenser and station.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises, reading, runRule as run, tick } from '../helpers.js';
import { mapEntries } from '../../../../core/rules/common/shardedMap.js';
import { totalizer } from '../../../../core/rules/dispenser/index.js';
import { DAY, MIN, T, txn } from './fixtures.js';

describe('dispenser.totalizer (previous + volume, 0.01 L; backwards is a rollback)', () => {
  type Row = [name: string, expected: Array<[string, string]>, volumeL: number, totalizerL: number];
  // previous totaliser 1000.00 L
  const rows: Row[] = [
    ['exact', [], 20, 1020],
    ['+0.009 L', [], 20, 1020.009],
    ['+0.01 L (at the tolerance)', [], 20, 1020.01],
    ['+0.011 L', [['D1/1/gap', 'major']], 20, 1020.011],
    ['-0.01 L (at the tolerance)', [], 20, 1019.99],
    ['-0.011 L', [['D1/1/gap', 'major']], 20, 1019.989],
    ['advanced less than the volume, not backwards', [['D1/1/gap', 'major']], 20, 1005],
    ['a jump: fuel without a transaction', [['D1/1/gap', 'major']], 20, 1500],
    ['volume 0, unchanged', [], 0, 1000],
    ['volume 0, 0.01 L back (at the tolerance)', [], 0, 999.99],
    ['volume 0, 0.011 L back: rollback', [['D1/1/rollback', 'critical']], 0, 999.989],
    ['reset to zero', [['D1/1/rollback', 'critical']], 20, 0],
  ];
  it.each(rows)('%s', (_n, expected, volumeL, totalizerL) => {
    const first = txn({ volumeL: 10, totalizerL: 1000 });
    const next = txn({ volumeL, totalizerL, at: T + MIN });
    const state = run(totalizer, [reading(first)]).state;
    const effects = run(totalizer, [reading(next)], { state }).effects[0]!;
    expect(raises(effects).map((r) => [r.condition, r.severity])).toEqual(expected);
  });

  it('compares in mL: 1000.1 + 0.2 is 1000.3 (not 1000.3000000000001)', () => {
    const { effects } = run(totalizer, [reading(txn({ totalizerL: 1000.1 })), reading(txn({ volumeL: 0.2, totalizerL: 1000.3 })), reading(txn({ volumeL: 0.1, totalizerL: 1000.41 }))]);
    expect(effects.map(brief)).toEqual([[], [], []]);
  });

  it('the first transaction of a nozzle only records', () => {
    expect(run(totalizer, [reading(txn({ totalizerL: 5 }))]).effects[0]).toEqual([]);
  });

  it('evidence: previous and current transaction, expected and actual totaliser', () => {
    const a = txn({ totalizerL: 1000 });
    const b = txn({ volumeL: 20, totalizerL: 1030, at: T + MIN });
    const effects = run(totalizer, [reading(a), reading(b)]).effects[1]!;
    expect(raises(effects)[0]).toMatchObject({
      rule: 'dispenser.totalizer', evidence: { seqs: [a.seq, b.seq] },
      params: { kind: 'gap', previousTotalizerL: 1000, expectedTotalizerL: 1020, totalizerL: 1030, differenceL: 10, volumeL: 20 },
    });
  });

  it('after an alert the new value is the reference: one jump, one alert', () => {
    const { effects } = run(totalizer, [
      reading(txn({ totalizerL: 1000 })), reading(txn({ volumeL: 20, totalizerL: 900 })), reading(txn({ volumeL: 20, totalizerL: 920 })),
    ]);
    expect(effects.map(brief)).toEqual([[], [['dispenser.totalizer', 'D1/1/rollback', 'critical']], []]);
  });

  it('nozzles, dispensers and stations are tracked separately (same dispenser id at two stations)', () => {
    const { effects } = run(totalizer, [
      reading(txn({ totalizerL: 1000 })),
      reading(txn({ nozzle: 2, totalizerL: 50 })),
      reading(txn({ stationId: 'ST-2', totalizerL: 7 })),
      reading(txn({ volumeL: 20, totalizerL: 1020 })),
      reading(txn({ nozzle: 2, volumeL: 1, totalizerL: 51 })),
      reading(txn({ stationId: 'ST-2', volumeL: 3, totalizerL: 10 })),
    ]);
    expect(effects.flat()).toEqual([]);
  });

  it('a nozzle silent for forgetAfterMs starts over; a tick forgets it', () => {
    const a = txn({ totalizerL: 1000, at: T });
    const b = txn({ volumeL: 20, totalizerL: 5000, at: T + 91 * DAY });
    expect(run(totalizer, [reading(a), reading(b)]).effects[1]).toEqual([]);
    const { state } = run(totalizer, [reading(a), tick(T + 91 * DAY)]);
    expect(mapEntries(state.nozzles)).toEqual([]);
  });

  it('toleranceL is configurable', () => {
    const { effects } = run(totalizer, [reading(txn({ totalizerL: 1000 })), reading(txn({ volumeL: 20, totalizerL: 1020.05 }))], { config: { toleranceL: 0.1 } });
    expect(effects[1]).toEqual([]);
  });
});
