/**
 * The cylinder repository in PostgreSQL (store/postgres/cylinders.ts): the contract every store
 * keeps (test/store/contract/cylinders.ts), scans written as node-a's readings, and what cluster
 * mode adds: a whole registry of 20,000 records in one upsert, several nodes writing the
 * registry at once (each change exactly one version, the last version the stored record), and
 * the scans of one code read from every node's readings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import { PgCylinders } from '../../../store/postgres/cylinders.js';
import type { PostgresDatabase } from '../../../store/postgres/database.js';
import { PgReadings } from '../../../store/postgres/readings.js';
import { cylindersContract, rec, scanAt, type CylinderStore } from '../contract/cylinders.js';
import type { Open, Opened } from '../contract/harness.js';
import { onPostgres } from '../contract/stores.js';
import { T0 } from '../duckdb/fixtures.js';

interface PgCylinderStore extends CylinderStore {
  db: PostgresDatabase;
}

const codes = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `LPG-${String(from + i).padStart(6, '0')}`);

onPostgres((db): PgCylinderStore => ({ cylinders: new PgCylinders(db), readings: new PgReadings(db, 'node-a'), db }), (store, open) => {
  cylindersContract(store, open);
  clusterCases(open);
});

function clusterCases(open: Open<PgCylinderStore>): void {
  describe('a whole registry in one upsert', () => {
    it('20,000 records in one call, then again with a few changed and a code given twice', async () => {
      const s = (await open()).repo;
      const all = codes(20_000).map((code, i) => rec(code, { entrustedStationIds: i % 2 ? ['ST-2'] : [], model: `YSP15 "${i}" \\ 😀` }));
      const started = Date.now();
      await s.cylinders.upsert(all, T0);
      // one statement over arrays: a statement per row took minutes at this size
      expect(Date.now() - started).toBeLessThan(20_000);
      const changed = [rec('LPG-000000', { status: 'lost' }), all[1]!, rec('LPG-000000', { status: 'scrapped' }), rec('LPG-019999', { maxFillKg: 15 })];
      await s.cylinders.upsert([...all.slice(2, 19_999), ...changed], T0 + 1000);
      const loaded = await s.cylinders.load();
      expect(loaded).toHaveLength(20_000);
      expect(loaded[0]).toEqual(rec('LPG-000000', { status: 'scrapped' }));
      expect(loaded[1]).toEqual(all[1]);
      expect(loaded[19_999]).toEqual(rec('LPG-019999', { maxFillKg: 15 }));
      expect((await s.cylinders.versions('LPG-000000')).map((v) => [v.from, v.record.status])).toEqual([[T0, 'in_service'], [T0 + 1000, 'scrapped']]);
      expect(await s.cylinders.versions('LPG-000001')).toEqual([{ from: T0, record: all[1] }]);
      expect(await s.cylinders.versions('LPG-012345')).toHaveLength(1);
      const total = await s.db.rows<{ n: string }>('SELECT count(*) AS n FROM cylinder_versions');
      expect(Number(total[0]!.n)).toBe(20_002);
    });
  });

  describe('several nodes writing the registry at once', () => {
    let a: Opened<PgCylinderStore>;
    let b: Opened<PgCylinderStore>;
    beforeAll(async () => {
      a = await open();
      // a second pool on the same database: another node
      b = await a.reopen();
    });

    /** Version counts by code (one query: thousands of codes). */
    const versionCounts = async (): Promise<Map<string, number>> => new Map((await a.repo.db.rows<{ code: string; n: string }>(
      'SELECT code, count(*) AS n FROM cylinder_versions GROUP BY code')).map((r) => [r.code, Number(r.n)]));

    it('the same change from two nodes at once is one version; codes given in opposite orders do not deadlock', async () => {
      const base = codes(6000, 100_000);
      await a.repo.cylinders.upsert(base.map((c) => rec(c)), T0);
      for (let round = 1; round <= 3; round++) {
        const status = (['lost', 'scrapped', 'in_service'] as const)[round - 1]!;
        // node a changes the first 4000, node b the last 4000 (the middle 2000 by both), in reverse order
        const onA = base.slice(0, 4000).map((c) => rec(c, { status, designLifeYears: 8 + round }));
        const onB = base.slice(2000).map((c) => rec(c, { status, designLifeYears: 8 + round })).reverse();
        await Promise.all([a.repo.cylinders.upsert(onA, T0 + round * 1000), b.repo.cylinders.upsert(onB, T0 + round * 1000 + 1)]);
        const counts = await versionCounts();
        const wrong = base.filter((c) => counts.get(c) !== round + 1);
        expect(wrong).toEqual([]);
      }
      const v = await b.repo.cylinders.versions(base[3000]!);
      expect(v.map((x) => x.record.status)).toEqual(['in_service', 'lost', 'scrapped', 'in_service']);
    });

    it('different changes of the same codes at once: each is a version, the last version is the stored record', async () => {
      const base = codes(3000, 200_000);
      await a.repo.cylinders.upsert(base.map((c) => rec(c)), T0);
      const at = T0 + 10_000;
      await Promise.all([
        a.repo.cylinders.upsert(base.map((c) => rec(c, { ownerStationId: 'ST-A' })), at),
        b.repo.cylinders.upsert([...base].reverse().map((c) => rec(c, { ownerStationId: 'ST-B' })), at),
      ]);
      const stored = new Map((await a.repo.cylinders.load()).map((r) => [r.code, r] as [string, CylinderRecord]));
      const counts = await versionCounts();
      for (const code of base.filter((_, i) => i % 97 === 0)) {
        const versions = await a.repo.cylinders.versions(code);
        expect(versions.map((x) => x.record.ownerStationId).sort()).toEqual(['ST-1', 'ST-A', 'ST-B']);
        expect(versions.at(-1)!.record).toEqual(stored.get(code));
      }
      expect(base.filter((c) => counts.get(c) !== 3)).toEqual([]);
      // the same record written by two nodes after that: no version at all
      const now = base.map((c) => stored.get(c)!);
      await Promise.all([a.repo.cylinders.upsert(now, at + 1), b.repo.cylinders.upsert(now, at + 2)]);
      expect(await versionCounts()).toEqual(counts);
    });
  });

  describe('the scans of one code across nodes', () => {
    it("every node's readings, the same seqs on two nodes kept apart, one order and limit over all", async () => {
      const s = (await open()).repo;
      const nodeB = new PgReadings(s.db, 'node-b');
      const t = T0 + 5 * 86_400_000;
      const onA = [scanAt('scan-a', 'LPG-X', 'ST-1', 'pre_fill', t, 'a1', { seq: 1 }), scanAt('scan-a', 'LPG-X', 'ST-1', 'fill', t + 2000, 'a2', { seq: 2 })];
      // node b numbers its own readings from 1 too
      const onB = [scanAt('hand-b', 'LPG-X', 'ST-2', 'delivery', t + 1000, 'b1', { seq: 1 }), scanAt('hand-b', 'LPG-X', 'ST-2', 'recovery', t + 40 * 86_400_000, 'b2', { seq: 2 }),
        scanAt('hand-b', 'LPG-Y', 'ST-2', 'recovery', t + 1500, 'other', { seq: 3 })];
      await s.readings.appendBatch(onA, []);
      await nodeB.appendBatch(onB, []);
      const all = await s.cylinders.scans({ code: 'LPG-X', limit: 10 });
      expect(all.scans.map((x) => [x.msgId, x.seq, x.deviceId])).toEqual([['a1', 1, 'scan-a'], ['b1', 1, 'hand-b'], ['a2', 2, 'scan-a'], ['b2', 2, 'hand-b']]);
      expect(all.more).toBe(false);
      expect(await s.cylinders.scans({ code: 'LPG-X', from: t + 1000, limit: 2 })).toMatchObject({ more: true, scans: [{ msgId: 'a2' }, { msgId: 'b2' }] });
      // the same device time and seq on both nodes: both kept, in one order every time
      await s.readings.appendBatch([scanAt('scan-a', 'LPG-Z', 'ST-1', 'fill', t, 'za', { seq: 9 })], []);
      await nodeB.appendBatch([scanAt('hand-b', 'LPG-Z', 'ST-2', 'fill', t, 'zb', { seq: 9 })], []);
      const tied = await s.cylinders.scans({ code: 'LPG-Z', limit: 10 });
      expect(tied.scans.map((x) => x.msgId)).toEqual(['za', 'zb']);
      expect(await s.cylinders.scans({ code: 'LPG-Z', limit: 1 })).toMatchObject({ more: true, scans: [{ msgId: 'zb' }] });
    });
  });
}
