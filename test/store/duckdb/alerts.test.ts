/**
 * The alerts repository (store/duckdb/alerts.ts) in a temp dir: an engine checkpoint of
 * thousands of changed alerts stays within DuckDB's memory limit.
 */
import { describe, expect, it } from 'vitest';
import { openAlert } from '../../../core/alerts/alert.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { T0, freshStore, tempFile } from './fixtures.js';

describe('bulk writes within the memory limit', () => {
  const alert = (i: number, count = 1) => ({
    ...openAlert(`a-${i}`, {
      type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: `cam-${i}`, condition: 'rat', severity: 'major', windowMs: 600_000,
      summary: 'rat', params: { type: 'rat' }, evidence: { seqs: [i], values: { note: 'x'.repeat(300) } }, at: T0 + i,
    }, { id: `cam-${i}`, name: null, district: '330106', location: null, meta: { storeId: `S-${i % 50}` } }, defaultDeadlinePolicy).alert,
    count,
  });

  it('one engine checkpoint of 5,000 changed alerts, twice (insert, then update in place), at a 128 MB DuckDB limit', async () => {
    // DuckDB's ON CONFLICT once per row held ~400 KB a row until COMMIT: 3,000 alerts passed 512 MB
    const s = await freshStore(tempFile(), { memoryLimit: '128MB' });
    const alerts = Array.from({ length: 5000 }, (_v, i) => alert(i));
    const timeline = alerts.map((a) => ({ alertId: a.id, entry: { n: 0, at: a.firstSeen, by: 'system', action: 'opened' as const } }));
    await s.alerts.saveCheckpoint({ lastSeq: 1, ruleStates: {}, alerts, timeline, cases: [] });
    await s.alerts.saveCheckpoint({ lastSeq: 2, ruleStates: {}, alerts: alerts.map((a) => ({ ...a, count: 2 })), timeline: [], cases: [] });
    expect((await s.alerts.query({ limit: 10_000 })).map((a) => a.count)).toEqual(Array(5000).fill(2));
    expect(await s.alerts.timeline('a-4999', 10)).toEqual([{ n: 0, at: T0 + 4999, by: 'system', action: 'opened' }]);
  });
});
