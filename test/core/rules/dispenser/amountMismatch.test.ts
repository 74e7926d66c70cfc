/**
 * dispenser.amount_mismatch (core/rules/dispenser/amountMismatch.ts, docs/rules/dispenser.md)
 * as a table: the expected amount in fen (half up, no float traps) and the 0.01 yuan tolerance
 * at every edge.
 */
import { describe, expect, it } from 'vitest';
import { brief, raises } from '../helpers.js';
import { amountFen, amountMismatch, expectedFen } from '../../../../core/rules/dispenser/index.js';
import { DAY, T, one, txn } from './fixtures.js';

describe('dispenser.amount_mismatch (|amount - volume x price| > 0.01 yuan, in fen)', () => {
  it.each<[string, number, number, number, number]>([
    // name, volumeL, unitPrice, expected fen (half up)
    ['20 L x 7.50', 20, 7.5, 15000, 0],
    ['1.5 L x 7.89 = 11.835 -> 11.84 (half up)', 1.5, 7.89, 1184, 0],
    ['35.27 L x 7.89 = 278.2803', 35.27, 7.89, 27828, 0],
    ['10.05 L x 6.95 = 69.8475 (float 69.84749...)', 10.05, 6.95, 6985, 0],
    ['33.333 L x 8.125 = 270.830625', 33.333, 8.125, 27083, 0],
    ['0 L', 0, 7.5, 0, 0],
  ])('expected amount: %s', (_n, volumeL, unitPrice, fen) => {
    expect(expectedFen(volumeL, unitPrice)).toBe(fen);
  });

  it.each<[number, number]>([[150, 15000], [150.01, 15001], [11.835, 1184], [0.1 + 0.2, 30]])('amount %d yuan is %i fen', (yuan, fen) => {
    expect(amountFen(yuan)).toBe(fen);
  });

  it.each<[string, number, number, number, boolean]>([
    ['exact', 20, 7.5, 150.0, false],
    ['1 fen over (at the tolerance)', 20, 7.5, 150.01, false],
    ['1 fen under (at the tolerance)', 20, 7.5, 149.99, false],
    ['2 fen over', 20, 7.5, 150.02, true],
    ['2 fen under', 20, 7.5, 149.98, true],
    ['half-up rounding: 11.835 charged 11.84', 1.5, 7.89, 11.84, false],
    ['truncating board: 11.835 charged 11.83 (1 fen)', 1.5, 7.89, 11.83, false],
    ['11.835 charged 11.82 (2 fen)', 1.5, 7.89, 11.82, true],
    ['float trap 69.8475 charged 69.85', 10.05, 6.95, 69.85, false],
    ['float trap 69.8475 charged 69.83', 10.05, 6.95, 69.83, true],
    ['fuel for free', 20, 7.5, 0, true],
  ])('%s -> raised %s', (_n, volumeL, unitPrice, amountYuan, raised) => {
    const effects = one(amountMismatch, txn({ volumeL, unitPrice, amountYuan, dispenserId: 'D3', nozzle: 2 }));
    expect(brief(effects)).toEqual(raised ? [['dispenser.amount_mismatch', 'D3/2', 'major']] : []);
  });

  it('the alert says what was charged and expected', () => {
    const r = txn({ volumeL: 20, unitPrice: 7.5, amountYuan: 151 });
    expect(raises(one(amountMismatch, r))[0]).toMatchObject({
      deviceId: 'col-1', family: 'dispenser', windowMs: DAY, at: T, evidence: { seqs: [r.seq] },
      params: { expectedYuan: 150, amountYuan: 151, differenceYuan: 1, toleranceFen: 1, stationId: 'ST-1', dispenserId: 'D1', nozzle: 1 },
    });
  });

  it('toleranceFen 0: any fen raises', () => {
    expect(raises(one(amountMismatch, txn({ volumeL: 20, unitPrice: 7.5, amountYuan: 150.01 }), { toleranceFen: 0 }))).toHaveLength(1);
  });
});
