/**
 * dashboard/routes/history.ts on a real service, with fastify inject: GET /api/devices/:id/history
 * downsamples a week of 10-second readings in the store; GET /api/history-fields; each with its
 * refusals.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../../store/types.js';
import { apiFor, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

describe('GET /api/devices/:id/history', () => {
  const to = Date.UTC(2026, 10, 20, 0, 0, 0);
  const from = to - 7 * DAY;
  beforeAll(async () => {
    await ts.registerDevice({ id: 'hist-elev', family: 'elevator', district: '330106' });
    // a week of 10-second status readings: 60 480 rows, speed = minute of the hour / 10
    const rows: Reading[] = [];
    for (let t = from, i = 0; t < to; t += 10_000, i++) {
      rows.push({
        seq: 5_000_000 + i, family: 'elevator', channel: 'status', deviceId: 'hist-elev', msgId: `h${i}`, ts: t, receivedAt: t, qos: 1, extra: null,
        data: { floor: i % 20, doorZone: true, doorClosed: true, moving: i % 2 === 0, direction: 'stop', speedMps: (new Date(t).getUTCMinutes()) / 10, passengerPresent: false, serviceMode: 'normal', powerOk: true },
      });
    }
    await ts.service.store.readings.appendBatch(rows, []);
  });

  // how fast is measured by `npm run bench:history` (docs/benchmarks.md), not asserted here
  it('a week renders as at most `buckets` points with min/max/avg', async () => {
    const r = await api<{ bucketMs: number; points: Array<{ t: number; min: number; max: number; avg: number; n: number }> }>(
      'GET', `/api/devices/hist-elev/history?channel=status&field=speedMps&from=${from}&to=${to}&buckets=168`, { token: dispToken });
    expect(r.statusCode).toBe(200);
    expect(r.data.bucketMs).toBe(HOUR);
    expect(r.data.points).toHaveLength(168);
    const p = r.data.points[5]!;
    expect(p).toMatchObject({ t: from + 5 * HOUR, min: 0, max: 5.9, n: 360 });
    expect(p.avg).toBeCloseTo(2.95, 5);
    expect(r.data.points.reduce((s, x) => s + x.n, 0)).toBe(60_480);
  });

  it('defaults to the last 24 h in 500 buckets; booleans chart as 0/1; empty periods give no points', async () => {
    const r = await api<{ from: number; to: number; bucketMs: number; points: unknown[] }>('GET', '/api/devices/hist-elev/history?channel=status&field=moving', { token: opToken });
    expect(r.statusCode).toBe(200);
    expect(r.data.to - r.data.from).toBe(DAY);
    expect(r.data.bucketMs).toBe(173_000);
    expect(r.data.points).toEqual([]);
    const b = await api<{ points: Array<{ avg: number; min: number; max: number }> }>('GET', `/api/devices/hist-elev/history?channel=status&field=moving&from=${from}&to=${from + HOUR}&buckets=1`);
    expect(b.data.points).toEqual([{ t: from, min: 0, max: 1, avg: 0.5, n: 360 }]);
  });

  it('refuses unknown devices, channels, fields, periods, and requests without a token', async () => {
    expect((await api('GET', '/api/devices/nope/history?channel=status&field=speedMps')).statusCode).toBe(404);
    const ch = await api<{ error: { code: string; message: string } }>('GET', '/api/devices/hist-elev/history?channel=violation&field=confidence');
    expect(ch.statusCode).toBe(400);
    expect(ch.data.error.message).toMatch(/status/);
    const f = await api<{ error: { code: string; message: string } }>('GET', '/api/devices/hist-elev/history?channel=status&field=direction');
    expect(f.data.error).toMatchObject({ code: 'validation' });
    expect(f.data.error.message).toMatch(/speedMps/);
    expect((await api('GET', `/api/devices/hist-elev/history?channel=status&field=floor&from=${to}&to=${from}`)).statusCode).toBe(400);
    expect((await api('GET', '/api/devices/hist-elev/history?channel=status&field=floor&buckets=0')).statusCode).toBe(400);
    expect((await api('GET', `/api/devices/hist-elev/history?channel=status&field=floor&from=${to - 400 * DAY}&to=${to}`)).statusCode).toBe(400);
    const anon = await ts.service.http.inject({ url: '/api/devices/hist-elev/history?channel=status&field=floor' });
    expect(anon.statusCode).toBe(401);
  });

  it('lists the numeric fields per family and channel', async () => {
    const r = await api<Record<string, Record<string, string[]>>>('GET', '/api/history-fields', { token: dispToken });
    expect(r.data.elevator!.status).toContain('speedMps');
    expect(r.data.elevator!.status).not.toContain('direction');
    expect(r.data.kitchen!.violation).toEqual(['confidence']);
    expect((await ts.service.http.inject({ url: '/api/history-fields' })).statusCode).toBe(401);
  });
});
