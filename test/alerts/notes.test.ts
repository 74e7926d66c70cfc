/**
 * Notes cannot take the store down (issue: the store under growth). Before, each note
 * rewrote the whole alert document and pushed the whole alert, timeline included, so the
 * write-ahead log and the live ring grew with the square of the notes; ~740 notes of 2,000
 * characters filled DuckDB's memory. Now a note appends one row, the record stays small,
 * the push carries the change only, and past the per-alert cap a note is refused with a code.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { MAX_NOTE_CHARS, MAX_NOTES } from '../../core/alerts/alert.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { startService, type TestService } from '../helpers/service.js';

let ts: TestService;
const auth = () => ({ authorization: `Bearer ${ts.adminToken}` });

async function api<T = Record<string, unknown>>(method: 'GET' | 'POST', url: string, payload?: object): Promise<{ status: number; body: T }> {
  const res = await ts.service.http.inject({ method, url, headers: auth(), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() as T };
}

beforeAll(async () => {
  ts = await startService({ ALERT_CHECKPOINT_MS: 200 });
});
afterAll(async () => ts?.dispose());

describe('notes on one alert', () => {
  it(`${MAX_NOTES} notes of ${MAX_NOTE_CHARS} characters: all stored as rows, the next refused with note_limit, the record and each push stay small`, async () => {
    const dev = await ts.registerDevice({ id: 'notes-cam-1', family: 'kitchen', district: '330106', meta: { storeId: 'S-1' } });
    const c = await ts.connectDevice(dev.id, dev.secret);
    await c.publishAsync(`kitchen/${dev.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'v1', Date.now()), type: 'rat' }), { qos: 1 });
    await c.endAsync();
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      const { body } = await api<{ items: Array<{ id: string }> }>('GET', `/api/alerts?deviceId=${dev.id}`);
      id = body.items[0]?.id ?? '';
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    expect(id).not.toBe('');

    const pushed: number[] = [];
    const off = ts.service.bus.on('alert', (e) => { if (e.alert.id === id) pushed.push(JSON.stringify(e).length); });
    onTestFinished(off);
    const rssBefore = process.memoryUsage().rss;
    const text = (i: number) => `${String(i).padStart(4, '0')} ${'商户已整改，复查合格。'.repeat(200)}`.slice(0, MAX_NOTE_CHARS);
    for (let i = 0; i < MAX_NOTES; i++) {
      const r = await api('POST', `/api/alerts/${id}/note`, { note: text(i) });
      expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBe(200);
    }
    // past the cap: refused with the code, nothing added; closing the alert is never refused
    const over = await api<{ error: { code: string } }>('POST', `/api/alerts/${id}/note`, { note: 'one too many' });
    expect([over.status, over.body.error.code]).toEqual([409, 'note_limit']);
    const assign = await api<{ error: { code: string } }>('POST', `/api/alerts/${id}/assign`, { assignee: 'inspector-7' });
    expect([assign.status, assign.body.error.code]).toEqual([409, 'note_limit']);
    const ack = await api<{ status: string; notes: number; events: number }>('POST', `/api/alerts/${id}/ack`, { note: 'acknowledged after all' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', notes: MAX_NOTES + 1, events: MAX_NOTES + 2 });

    // every note is stored, in order, as a row of its own
    await ts.service.engine!.checkpoint();
    const rows = await ts.service.store.alerts.timeline(id, 5000);
    expect(rows).toHaveLength(MAX_NOTES + 2);
    expect(rows.filter((e) => e.action === 'noted').map((e) => e.note)).toEqual(Array.from({ length: MAX_NOTES }, (_v, i) => text(i)));
    // the stored record is the record alone, written in place
    expect(JSON.stringify(await ts.service.store.alerts.get(id)).length).toBeLessThan(4000);
    // each push carried one change: the last note's push is as small as the first's
    const notePushes = pushed.slice(0, MAX_NOTES);
    expect(Math.max(...notePushes)).toBeLessThan(notePushes[0]! + 500);
    // the write-ahead log is checkpointed by size on this path too; memory did not follow the notes
    expect(statSync(path.join(ts.dataDir, 'supervision.duckdb.wal'), { throwIfNoEntry: false })?.size ?? 0).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(400 * 1024 * 1024);
    const metrics = (await ts.service.http.inject({ method: 'GET', url: '/metrics' })).body;
    const duckdbBytes = Number(/^duckdb_memory_bytes (\S+)$/m.exec(metrics)?.[1]);
    expect(duckdbBytes).toBeGreaterThan(0);
    expect(duckdbBytes).toBeLessThan(128 * 1024 * 1024);

    // and every query still answers
    const detail = await api<{ timeline: Array<{ n: number }>; timelineTotal: number }>('GET', `/api/alerts/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.timelineTotal).toBe(MAX_NOTES + 2);
    expect(detail.body.timeline.at(-1)!.n).toBe(MAX_NOTES + 1);
    const older = await api<{ items: Array<{ n: number }> }>('GET', `/api/alerts/${id}/timeline?before=${detail.body.timeline[0]!.n}&limit=1000`);
    expect(older.body.items.map((e) => e.n)).toEqual([...Array(detail.body.timeline[0]!.n).keys()].slice(-1000));
    expect((await api('GET', '/api/alerts?status=open,acknowledged&limit=500')).status).toBe(200);
    expect((await api('GET', '/api/stats/on-time')).status).toBe(200);
  }, 240_000);
});
