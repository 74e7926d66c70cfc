/**
 * The alerts repository (store/duckdb/alerts.ts) in a temp dir: an engine checkpoint of
 * thousands of changed alerts stays within DuckDB's memory limit; a system note's code and
 * parameters are kept on its timeline row (schema 10), and a database of schema 9 is upgraded
 * with its rows' notes as they were.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { autoResolve, openAlert } from '../../../core/alerts/alert.js';
import { defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { systemNote } from '../../../core/alerts/systemNotes.js';
import { migrations } from '../../../store/migrations.js';
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

describe('system notes by code (schema 10)', () => {
  const opened = () => openAlert('a-note', {
    type: 'raise', rule: 'elevator.fault', family: 'elevator', deviceId: 'elev-1', condition: '2', severity: 'major', windowMs: 600_000,
    summary: 'fault 2', params: {}, evidence: { seqs: [1] }, at: T0,
  }, { id: 'elev-1', name: null, district: '330106', location: null, meta: {} }, defaultDeadlinePolicy);

  it('a timeline entry keeps its code and parameters; entries without keep none', async () => {
    const s = await freshStore();
    const o = opened();
    const closed = autoResolve(o.alert, systemNote('fault.back_to_normal', { event: 40, seq: 12 }), T0 + 1000);
    const timeline = [...o.entries, ...closed.entries].map((entry) => ({ alertId: 'a-note', entry }));
    await s.alerts.saveCheckpoint({ lastSeq: 1, ruleStates: {}, alerts: [closed.alert], timeline, cases: [] });
    expect(await s.alerts.timeline('a-note', 10)).toEqual([
      { n: 0, at: T0, by: 'system', action: 'opened' },
      { n: 1, at: T0 + 1000, by: 'system', action: 'auto_resolved', code: 'fault.back_to_normal', params: { event: 40, seq: 12 }, note: 'event 40 back to normal (seq 12)' },
    ]);
  });

  it('upgrades a database of schema 9: its rows keep their English note, without a code; new rows take one', async () => {
    const file = tempFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const [i, statements] of migrations.slice(0, 9).entries()) {
      for (const sql of statements) if (typeof sql === 'string') await c.run(sql);
      await c.run('INSERT INTO schema_version VALUES (?)', [i + 1]);
    }
    await c.run(`INSERT INTO alert_timeline VALUES ('old-1', 0, make_timestamp(${T0}::BIGINT * 1000), 'system', 'auto_resolved', 'reconnected')`);
    c.closeSync();
    db.closeSync();

    const s = await freshStore(file);
    expect(await s.alerts.timeline('old-1', 10)).toEqual([{ n: 0, at: T0, by: 'system', action: 'auto_resolved', note: 'reconnected' }]);
    const entry = { n: 1, at: T0 + 1, by: 'system', action: 'auto_resolved' as const, ...systemNote('store_list.lapsed', { days: 30 }) };
    await s.alerts.saveCheckpoint({ lastSeq: 1, ruleStates: {}, alerts: [], timeline: [{ alertId: 'old-1', entry }], cases: [] });
    expect((await s.alerts.timeline('old-1', 10))[1]).toEqual(entry);
  });
});
