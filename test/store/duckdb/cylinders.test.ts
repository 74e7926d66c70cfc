/**
 * The cylinder repository (store/duckdb/cylinders.ts) in a temp dir, what only DuckDB has (the
 * contract of every store is test/store/contract/cylinders.ts, run by cylindersContract.test.ts):
 * a whole registry import in one upsert stays within DuckDB's memory limit; schema 7 turns the
 * records of an older store into versions from 0; the scans of one code come from the readings
 * of every device, hot and in device-clustered history alike.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import { DuckDbStore } from '../../../store/duckdbStore.js';
import { migrations } from '../../../store/migrations.js';
import { rec, scanAt } from '../contract/cylinders.js';
import { T0, freshStore, tempFile } from './fixtures.js';

describe('bulk writes within the memory limit', () => {
  it('a cylinder import of 20,000 records in one go; a code given twice keeps the last', async () => {
    const s = await freshStore(tempFile(), { memoryLimit: '128MB' });
    const lax = (i: number, status = 'in_service') => ({ code: `C${i}`, ownerStationId: 'ST-1', status, note: 'y'.repeat(200) }) as unknown as CylinderRecord;
    await s.cylinders.upsert(Array.from({ length: 20_000 }, (_v, i) => lax(i)));
    await s.cylinders.upsert([lax(0, 'retired'), lax(1), lax(0, 'scrapped')]);
    const all = await s.cylinders.load();
    expect(all).toHaveLength(20_000);
    expect(all.find((r) => r.code === 'C0')!.status).toBe('scrapped');
    // C0 changed once more (the last of the two), C1 was written as it was
    expect((await s.cylinders.versions('C0')).map((v) => v.record.status)).toEqual(['in_service', 'scrapped']);
    expect(await s.cylinders.versions('C1')).toHaveLength(1);
  });
});

describe('record versions of an older store', () => {
  it('schema 7 makes each record of an older store one version from 0', async () => {
    const file = tempFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const [i, statements] of migrations.slice(0, 6).entries()) {
      for (const sql of statements) if (typeof sql === 'string') await c.run(sql);
      await c.run('INSERT INTO schema_version VALUES (?)', [i + 1]);
    }
    await c.run(`INSERT INTO cylinders VALUES ('OLD-1', 'ST-1', 'lost', ?, now())`, [JSON.stringify(rec('OLD-1', { status: 'lost' }))]);
    c.closeSync();
    db.closeSync();
    const s = new DuckDbStore(file);
    await s.open();
    try {
      expect(await s.cylinders.versions('OLD-1')).toEqual([{ from: 0, record: rec('OLD-1', { status: 'lost' }) }]);
      await s.cylinders.upsert([rec('OLD-1')], T0);
      expect((await s.cylinders.versions('OLD-1')).map((v) => [v.from, v.record.status])).toEqual([[0, 'lost'], [T0, 'in_service']]);
    } finally {
      await s.close();
    }
  });
});

describe('the scans of one code', () => {
  it('from every device and station, hot and archived, oldest first; other codes left out; from/to and limit', async () => {
    const s = await freshStore();
    const mine = [
      scanAt('scan-a', 'LPG-7', 'ST-1', 'pre_fill', T0, 'a1'), scanAt('scan-a', 'LPG-7', 'ST-1', 'fill', T0 + 1000, 'a2'),
      scanAt('scan-a', 'LPG-7', 'ST-1', 'post_fill', T0 + 2000, 'a3'), scanAt('hand-1', 'LPG-7', 'ST-1', 'delivery', T0 + 3_600_000, 'h1'),
    ];
    const others = [scanAt('scan-a', 'LPG-8', 'ST-1', 'pre_fill', T0 + 500, 'o1'), scanAt('scan-b', 'LPG-70', 'ST-2', 'pre_fill', T0 + 600, 'o2')];
    await s.readings.appendBatch([...mine, ...others], []);
    // sealed into a run sorted by device (store/readingRuns.ts), then more scans in the hot table
    const policy = { runRows: 2, sealAfterMs: 1, fanout: 4, maxLevel: 2 };
    while (await s.maintainReadings(Number.MAX_SAFE_INTEGER, policy, T0 + 10 * 86_400_000));
    expect(s.readingRuns().find((r) => r.base === 'r_cylinder_scan')!.rows).toBe(6);
    const later = [scanAt('scan-b', 'LPG-7', 'ST-2', 'recovery', T0 + 20 * 86_400_000, 'b1'), scanAt('scan-b', 'LPG-7', 'ST-2', 'pre_fill', T0 + 20 * 86_400_000 + 60_000, 'b2')];
    await s.readings.appendBatch(later, []);

    const all = await s.cylinders.scans({ code: 'LPG-7', limit: 100 });
    expect(all.more).toBe(false);
    expect(all.scans.map((x) => [x.msgId, x.deviceId, x.stationId, x.point])).toEqual([
      ['a1', 'scan-a', 'ST-1', 'pre_fill'], ['a2', 'scan-a', 'ST-1', 'fill'], ['a3', 'scan-a', 'ST-1', 'post_fill'], ['h1', 'hand-1', 'ST-1', 'delivery'],
      ['b1', 'scan-b', 'ST-2', 'recovery'], ['b2', 'scan-b', 'ST-2', 'pre_fill'],
    ]);
    expect(all.scans[2]).toEqual({
      seq: mine[2]!.seq, deviceId: 'scan-a', msgId: 'a3', ts: T0 + 2000, receivedAt: T0 + 2005, stationId: 'ST-1', point: 'post_fill', operatorId: 'OP-ST-1', netKg: 14.2,
    });
    expect(all.scans[0]!.netKg).toBeNull();

    const window = await s.cylinders.scans({ code: 'LPG-7', from: T0 + 1000, to: T0 + 3_600_000, limit: 100 });
    expect(window.scans.map((x) => x.msgId)).toEqual(['a2', 'a3', 'h1']);
    const newest = await s.cylinders.scans({ code: 'LPG-7', limit: 2 });
    expect(newest).toMatchObject({ more: true, scans: [{ msgId: 'b1' }, { msgId: 'b2' }] });
    expect(await s.cylinders.scans({ code: 'LPG-9', limit: 10 })).toEqual({ scans: [], more: false });
  });
});
