/**
 * The cylinder repository (store/duckdb/cylinders.ts) in a temp dir: a whole registry import
 * in one upsert stays within DuckDB's memory limit.
 */
import { describe, expect, it } from 'vitest';
import type { CylinderRecord } from '../../../core/alerts/types.js';
import { freshStore, tempFile } from './fixtures.js';

describe('bulk writes within the memory limit', () => {
  it('a cylinder import of 20,000 records in one go; a code given twice keeps the last', async () => {
    const s = await freshStore(tempFile(), { memoryLimit: '128MB' });
    const rec = (i: number, status = 'in_service') => ({ code: `C${i}`, ownerStationId: 'ST-1', status, note: 'y'.repeat(200) }) as unknown as CylinderRecord;
    await s.cylinders.upsert(Array.from({ length: 20_000 }, (_v, i) => rec(i)));
    await s.cylinders.upsert([rec(0, 'retired'), rec(1), rec(0, 'scrapped')]);
    const all = await s.cylinders.load();
    expect(all).toHaveLength(20_000);
    expect(all.find((r) => r.code === 'C0')!.status).toBe('scrapped');
  });
});
