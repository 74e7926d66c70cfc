/**
 * The cylinder repository's contract (store/types.ts CylinderRepository), for every store: the
 * registry (every field back as written, hostile text too, load in code order, the last of a
 * code given twice), the versions of its records (a new or changed record is one from `at`, the
 * same record again none), and the scans of one code read from the readings the same store
 * took (every device and station, other codes left out, [from, to] inclusive, the newest
 * `limit` oldest first with `more`, equal device times by seq), all across a reopen.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import type { CylinderRepository, Reading, ReadingRepository } from '../../../store/types.js';
import { T0, readingFrom } from '../duckdb/fixtures.js';
import type { Open, Opened } from './harness.js';

/** What the suite opens: the cylinders of a store and the readings it writes scans through. */
export interface CylinderStore {
  cylinders: CylinderRepository;
  readings: Pick<ReadingRepository, 'appendBatch'>;
}

export const rec = (code: string, over: Partial<CylinderRecord> = {}): CylinderRecord => ({
  code, model: 'YSP15', mfgDate: Date.UTC(2022, 2, 1), designLifeYears: 8, lastInspection: null, nextInspection: Date.UTC(2028, 0, 10),
  ownerStationId: 'ST-1', entrustedStationIds: [], status: 'in_service', maxFillKg: 14.5, ...over,
});

/** A `cylinder/scan` reading as ingest decodes it (post_fill carries netKg, as it must). */
export const scanAt = (device: string, code: string, station: string, point: string, ts: number, msgId: string, over: Partial<Reading> = {}): Reading =>
  readingFrom('cylinder', 'scan', device, {
    msgId, ts, cylinderCode: code, stationId: station, point, operatorId: `OP-${station}`, ...(point === 'post_fill' ? { netKg: 14.2 } : {}),
  }, over);

const DAY = 86_400_000;
/** Hostile text: quotes, backslash, separators, a NUL-looking escape, emoji, CJK. */
const HOSTILE = `q"u'o\\te; -- \\N {a,b} 😀 液化气`;

const byCode = (a: CylinderRecord, b: CylinderRecord): number => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);

export function cylindersContract(store: string, open: Open<CylinderStore>): void {
  describe(`cylinder registry (${store})`, () => {
    it('gives every field back as written (nulls, arrays, dates, hostile text), in code order, across a reopen', async () => {
      const full = rec('LPG-330106-000002', {
        model: 'YSP35.5', mfgDate: Date.UTC(2019, 11, 31, 23, 59, 59, 999), designLifeYears: 15, lastInspection: Date.UTC(2024, 5, 1),
        nextInspection: Date.UTC(2028, 5, 1), ownerStationId: 'ST-9', entrustedStationIds: ['ST-2', 'ST-3', 'ST-10'], status: 'scrapped', maxFillKg: 49.75,
      });
      const nulls = rec('LPG-330106-000001', { lastInspection: null, nextInspection: null, entrustedStationIds: [], status: 'lost', maxFillKg: 0.1 });
      const hostile = rec(`C-${HOSTILE}`, { model: `${HOSTILE}\n\t\u0000`, ownerStationId: `ST-${HOSTILE}`, entrustedStationIds: ['', HOSTILE, 'a,b', '{x}'] });
      const mixedCase = [rec('b-1'), rec('B-2'), rec('_x'), rec('Z')];
      const s = await open();
      await s.repo.cylinders.upsert([full, hostile, nulls, ...mixedCase], T0);
      const expected = [full, hostile, nulls, ...mixedCase].sort(byCode);
      expect(await s.repo.cylinders.load()).toEqual(expected);
      // byte order, upper case before lower, as DuckDB sorts
      expect((await s.repo.cylinders.load()).map((r) => r.code).filter((c) => c.length <= 3)).toEqual(['B-2', 'Z', '_x', 'b-1']);
      expect(await s.repo.cylinders.versions(hostile.code)).toEqual([{ from: T0, record: hostile }]);
      await s.close();
      const again = await s.reopen();
      expect(await again.repo.cylinders.load()).toEqual(expected);
      expect(await again.repo.cylinders.versions(full.code)).toEqual([{ from: T0, record: full }]);
      await again.close();
    });

    it('a code holding U+0000 is stored, versioned and found as given', async () => {
      const s = (await open()).repo.cylinders;
      const nul = rec('LPG-\u0000-1', { ownerStationId: 'ST-\u0000', entrustedStationIds: ['\u0000'] });
      await s.upsert([nul], T0);
      await s.upsert([{ ...nul, status: 'lost' }], T0 + 1);
      expect(await s.load()).toEqual([{ ...nul, status: 'lost' }]);
      expect((await s.versions(nul.code)).map((v) => [v.from, v.record])).toEqual([[T0, nul], [T0 + 1, { ...nul, status: 'lost' }]]);
      expect(await s.versions('LPG-')).toEqual([]);
    });

    it('an empty store loads nothing; an empty upsert writes nothing', async () => {
      const s = (await open()).repo.cylinders;
      await s.upsert([], T0);
      expect(await s.load()).toEqual([]);
      expect(await s.versions('LPG-1')).toEqual([]);
    });

    it('a code given twice in one upsert keeps the last, and only the last is a version', async () => {
      const s = (await open()).repo.cylinders;
      await s.upsert([rec('A', { status: 'lost' }), rec('B'), rec('A', { status: 'scrapped' })], T0);
      expect(await s.load()).toEqual([rec('A', { status: 'scrapped' }), rec('B')]);
      expect(await s.versions('A')).toEqual([{ from: T0, record: rec('A', { status: 'scrapped' }) }]);
      // the same again, the first of the two now matching the stored record: still the last wins
      await s.upsert([rec('A', { status: 'scrapped' }), rec('A', { status: 'in_service' })], T0 + 1);
      expect((await s.versions('A')).map((v) => [v.from, v.record.status])).toEqual([[T0, 'scrapped'], [T0 + 1, 'in_service']]);
      // given twice the stored record: no version
      await s.upsert([rec('B', { status: 'lost' }), rec('B')], T0 + 2);
      expect(await s.versions('B')).toEqual([{ from: T0, record: rec('B') }]);
    });

    it('a new or changed record is a version from `at`; the same record again is none', async () => {
      const s = (await open()).repo.cylinders;
      await s.upsert([rec('A'), rec('B')], T0);
      await s.upsert([rec('A'), rec('B', { status: 'lost' })], T0 + 1000);
      await s.upsert([rec('B', { status: 'in_service', ownerStationId: 'ST-2' }), rec('C', { entrustedStationIds: ['ST-1'] })], T0 + 2000);
      // a change in an array or a date alone is a change
      await s.upsert([rec('C', { entrustedStationIds: ['ST-1', 'ST-4'] }), rec('A', { lastInspection: Date.UTC(2025, 0, 1) })], T0 + 3000);
      await s.upsert([rec('C', { entrustedStationIds: ['ST-1', 'ST-4'] })], T0 + 4000);
      expect((await s.versions('A')).map((v) => [v.from, v.record.lastInspection])).toEqual([[T0, null], [T0 + 3000, Date.UTC(2025, 0, 1)]]);
      expect((await s.versions('B')).map((v) => [v.from, v.record.status, v.record.ownerStationId])).toEqual([
        [T0, 'in_service', 'ST-1'], [T0 + 1000, 'lost', 'ST-1'], [T0 + 2000, 'in_service', 'ST-2'],
      ]);
      expect((await s.versions('C')).map((v) => [v.from, v.record.entrustedStationIds])).toEqual([[T0 + 2000, ['ST-1']], [T0 + 3000, ['ST-1', 'ST-4']]]);
      expect(await s.versions('NONE')).toEqual([]);
      expect(await s.load()).toEqual([rec('A', { lastInspection: Date.UTC(2025, 0, 1) }), rec('B', { ownerStationId: 'ST-2' }), rec('C', { entrustedStationIds: ['ST-1', 'ST-4'] })]);
    });

    it('versions are in time order, whatever order they were written in; `at` defaults to now', async () => {
      const s = (await open()).repo.cylinders;
      await s.upsert([rec('A', { status: 'lost' })], T0 + 5000);
      // an import dated earlier (a node's clock behind): before the later one in the list
      await s.upsert([rec('A', { status: 'scrapped' })], T0);
      expect((await s.versions('A')).map((v) => [v.from, v.record.status])).toEqual([[T0, 'scrapped'], [T0 + 5000, 'lost']]);
      const before = Date.now();
      await s.upsert([rec('A')]);
      const after = Date.now();
      const newest = (await s.versions('A')).at(-1)!;
      expect(newest.record).toEqual(rec('A'));
      expect(newest.from).toBeGreaterThanOrEqual(before - 1);
      expect(newest.from).toBeLessThanOrEqual(after);
      // two versions at the same time stay in the order written
      await s.upsert([rec('D', { status: 'lost' })], T0);
      await s.upsert([rec('D', { status: 'scrapped' })], T0);
      expect((await s.versions('D')).map((v) => v.record.status)).toEqual(['lost', 'scrapped']);
    });
  });

  describe(`the scans of one code (${store})`, () => {
    let s: Opened<CylinderStore>;
    let mine: Reading[];
    beforeAll(async () => {
      s = await open();
      // over two months (T0 is 23 November): a store partitioned by month reads both
      mine = [
        scanAt('scan-a', 'LPG-7', 'ST-1', 'pre_fill', T0, 'a1'), scanAt('scan-a', 'LPG-7', 'ST-1', 'fill', T0 + 1000, 'a2'),
        scanAt('scan-a', 'LPG-7', 'ST-1', 'post_fill', T0 + 2000, 'a3'), scanAt('hand-1', 'LPG-7', 'ST-1', 'delivery', T0 + 3_600_000, 'h1'),
        scanAt('scan-b', 'LPG-7', 'ST-2', 'recovery', T0 + 20 * DAY, 'b1'), scanAt('scan-b', 'LPG-7', 'ST-2', 'pre_fill', T0 + 20 * DAY + 60_000, 'b2'),
      ];
      const others = [
        scanAt('scan-a', 'LPG-8', 'ST-1', 'pre_fill', T0 + 500, 'o1'), scanAt('scan-b', 'LPG-70', 'ST-2', 'pre_fill', T0 + 600, 'o2'),
        scanAt('scan-b', 'lpg-7', 'ST-2', 'pre_fill', T0 + 700, 'o3'), scanAt('scan-b', 'LPG-', 'ST-2', 'pre_fill', T0 + 800, 'o4'),
      ];
      // in two batches, the other codes between: a read by code, not by position
      await s.repo.readings.appendBatch([...mine.slice(0, 2), ...others], []);
      await s.repo.readings.appendBatch(mine.slice(2), []);
    });
    const ids = (r: { scans: Array<{ msgId: string }> }): string[] => r.scans.map((x) => x.msgId);

    it('by every device at every station, oldest first, every field; other codes left out', async () => {
      const all = await s.repo.cylinders.scans({ code: 'LPG-7', limit: 100 });
      expect(all.more).toBe(false);
      expect(all.scans.map((x) => [x.msgId, x.deviceId, x.stationId, x.point])).toEqual([
        ['a1', 'scan-a', 'ST-1', 'pre_fill'], ['a2', 'scan-a', 'ST-1', 'fill'], ['a3', 'scan-a', 'ST-1', 'post_fill'], ['h1', 'hand-1', 'ST-1', 'delivery'],
        ['b1', 'scan-b', 'ST-2', 'recovery'], ['b2', 'scan-b', 'ST-2', 'pre_fill'],
      ]);
      expect(all.scans[2]).toEqual({
        seq: mine[2]!.seq, deviceId: 'scan-a', msgId: 'a3', ts: T0 + 2000, receivedAt: T0 + 2005, stationId: 'ST-1', point: 'post_fill', operatorId: 'OP-ST-1', netKg: 14.2,
      });
      expect(all.scans[0]!.netKg).toBeNull();
      expect(all.scans.map((x) => x.seq)).toEqual(mine.map((r) => r.seq));
      expect(await s.repo.cylinders.scans({ code: 'LPG-9', limit: 10 })).toEqual({ scans: [], more: false });
      expect(ids(await s.repo.cylinders.scans({ code: 'lpg-7', limit: 10 }))).toEqual(['o3']);
    });

    it.each([
      ['from and to, both inclusive', { from: T0 + 1000, to: T0 + 3_600_000 }, ['a2', 'a3', 'h1']],
      ['from only', { from: T0 + 3_600_000 }, ['h1', 'b1', 'b2']],
      ['to only', { to: T0 + 1000 }, ['a1', 'a2']],
      ['one instant', { from: T0 + 20 * DAY, to: T0 + 20 * DAY }, ['b1']],
      ['a later month only', { from: T0 + 10 * DAY }, ['b1', 'b2']],
      ['nothing between', { from: T0 + 2001, to: T0 + 3_599_999 }, []],
    ] as const)('device time within bounds: %s', async (_name, bounds, expected) => {
      const r = await s.repo.cylinders.scans({ code: 'LPG-7', ...bounds, limit: 100 });
      expect(ids(r)).toEqual(expected);
      expect(r.more).toBe(false);
    });

    it('the newest `limit`, oldest first; `more` when older ones were left out', async () => {
      expect(await s.repo.cylinders.scans({ code: 'LPG-7', limit: 2 })).toMatchObject({ more: true, scans: [{ msgId: 'b1' }, { msgId: 'b2' }] });
      const six = await s.repo.cylinders.scans({ code: 'LPG-7', limit: 6 });
      expect([ids(six).length, six.more]).toEqual([6, false]);
      const five = await s.repo.cylinders.scans({ code: 'LPG-7', limit: 5 });
      expect([ids(five), five.more]).toEqual([['a2', 'a3', 'h1', 'b1', 'b2'], true]);
      const bounded = await s.repo.cylinders.scans({ code: 'LPG-7', to: T0 + 3_600_000, limit: 3 });
      expect([ids(bounded), bounded.more]).toEqual([['a2', 'a3', 'h1'], true]);
    });

    it('scans at the same device time are in seq order, the newest seqs kept by a limit', async () => {
      const t = T0 + 30 * DAY;
      // msgIds against seq order: the order must come from seq
      const tied = [scanAt('tie-1', 'LPG-T', 'ST-1', 'pre_fill', t, 'z'), scanAt('tie-2', 'LPG-T', 'ST-2', 'fill', t, 'y'), scanAt('tie-1', 'LPG-T', 'ST-1', 'outbound', t, 'x')];
      await s.repo.readings.appendBatch([scanAt('tie-0', 'LPG-T', 'ST-1', 'recovery', t - 1, 'w'), ...tied], []);
      expect(ids(await s.repo.cylinders.scans({ code: 'LPG-T', limit: 10 }))).toEqual(['w', 'z', 'y', 'x']);
      expect(await s.repo.cylinders.scans({ code: 'LPG-T', limit: 2 })).toMatchObject({ more: true, scans: [{ msgId: 'y' }, { msgId: 'x' }] });
    });

    it('hostile text in a scan comes back as sent (U+0000 too)', async () => {
      const code = `LPG-"'\\😀\u0000`;
      const station = `ST-"'\\ \\N 液化气\u0000`;
      const odd = scanAt(`dev-"'\\😀\u0000`, code, station, 'fill', T0 + 40 * DAY, `m-"'\\😀\u0000`);
      await s.repo.readings.appendBatch([odd], []);
      const r = await s.repo.cylinders.scans({ code, limit: 10 });
      expect(r.scans).toEqual([{
        seq: odd.seq, deviceId: `dev-"'\\😀\u0000`, msgId: `m-"'\\😀\u0000`, ts: T0 + 40 * DAY, receivedAt: T0 + 40 * DAY + 5,
        stationId: station, point: 'fill', operatorId: `OP-${station}`, netKg: null,
      }]);
      expect(await s.repo.cylinders.scans({ code: `LPG-"'\\😀`, limit: 10 })).toEqual({ scans: [], more: false });
    });

    it('the same scans after a reopen', async () => {
      const before = await s.repo.cylinders.scans({ code: 'LPG-7', limit: 100 });
      await s.close();
      s = await s.reopen();
      expect(await s.repo.cylinders.scans({ code: 'LPG-7', limit: 100 })).toEqual(before);
      expect(before.scans).toHaveLength(6);
    });
  });
}
