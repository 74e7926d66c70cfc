/**
 * The dashboard's HTTP side with fastify inject: the UI and ECharts are served locally,
 * GET /api/devices/:id/history downsamples a week of 10-second readings in the store, and
 * GET /api/stats/on-time counts on-time handling; each with its role refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../core/alerts/alert.js';
import { deadlinesFor, defaultDeadlinePolicy } from '../../core/alerts/deadlines.js';
import { cstDay, onTimeStats } from '../../dashboard/routes/stats.js';
import type { Reading } from '../../store/types.js';
import { startService, type TestService } from '../helpers/service.js';

let ts: TestService;
const tokens: Record<string, string> = {};
const as = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });

async function api<T = unknown>(url: string, who = 'admin', method: 'GET' | 'POST' = 'GET', payload?: object): Promise<{ status: number; body: T }> {
  const res = await ts.service.http.inject({ method, url, headers: as(who), ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() as T };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

beforeAll(async () => {
  ts = await startService({ ALERT_CHECKPOINT_MS: 200 });
  tokens.admin = ts.adminToken;
  for (const [u, role] of [['op1', 'operator'], ['disp1', 'dispatcher']] as const) {
    const r = await api('/api/users', 'admin', 'POST', { username: u, password: `${u}-password`, role });
    expect(r.status).toBe(201);
    tokens[u] = await ts.token(u, `${u}-password`);
  }
});
afterAll(async () => ts?.dispose());

describe('static UI', () => {
  it('serves the login page, the modules and ECharts without internet, never the server sources', async () => {
    const page = await ts.service.http.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('/vendor/echarts.min.js');
    expect(page.body).not.toMatch(/https?:\/\//);
    const main = await ts.service.http.inject({ url: '/js/main.js' });
    expect(main.statusCode).toBe(200);
    expect(main.headers['content-type']).toMatch(/javascript/);
    const echarts = await ts.service.http.inject({ url: '/vendor/echarts.min.js' });
    expect(echarts.statusCode).toBe(200);
    expect(echarts.body.length).toBeGreaterThan(500_000);
    expect((await ts.service.http.inject({ url: '/serve.ts' })).statusCode).toBe(404);
    expect((await ts.service.http.inject({ url: '/vendor/package.json' })).statusCode).toBe(404);
    const i18n = await ts.service.http.inject({ url: '/i18n.json' });
    expect(i18n.json()).toHaveProperty('zh');
    // the API's own 404 still answers in the error format
    expect((await ts.service.http.inject({ url: '/api/nope', headers: as('admin') })).json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

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
    await ts.service.store.appendBatch(rows, []);
  });

  it('a week renders as at most `buckets` points with min/max/avg, fast', async () => {
    const started = performance.now();
    const r = await api<{ bucketMs: number; points: Array<{ t: number; min: number; max: number; avg: number; n: number }> }>(
      `/api/devices/hist-elev/history?channel=status&field=speedMps&from=${from}&to=${to}&buckets=168`, 'disp1');
    const ms = performance.now() - started;
    expect(r.status).toBe(200);
    expect(r.body.bucketMs).toBe(HOUR);
    expect(r.body.points).toHaveLength(168);
    const p = r.body.points[5]!;
    expect(p).toMatchObject({ t: from + 5 * HOUR, min: 0, max: 5.9, n: 360 });
    expect(p.avg).toBeCloseTo(2.95, 5);
    expect(r.body.points.reduce((s, x) => s + x.n, 0)).toBe(60_480);
    expect(ms).toBeLessThan(1000);
  });

  it('defaults to the last 24 h in 500 buckets; booleans chart as 0/1; empty periods give no points', async () => {
    const r = await api<{ from: number; to: number; bucketMs: number; points: unknown[] }>('/api/devices/hist-elev/history?channel=status&field=moving', 'op1');
    expect(r.status).toBe(200);
    expect(r.body.to - r.body.from).toBe(DAY);
    expect(r.body.bucketMs).toBe(173_000);
    expect(r.body.points).toEqual([]);
    const b = await api<{ points: Array<{ avg: number; min: number; max: number }> }>(`/api/devices/hist-elev/history?channel=status&field=moving&from=${from}&to=${from + HOUR}&buckets=1`);
    expect(b.body.points).toEqual([{ t: from, min: 0, max: 1, avg: 0.5, n: 360 }]);
  });

  it('refuses unknown devices, channels, fields, periods, and requests without a token', async () => {
    expect((await api('/api/devices/nope/history?channel=status&field=speedMps')).status).toBe(404);
    const ch = await api<{ error: { code: string; message: string } }>('/api/devices/hist-elev/history?channel=violation&field=confidence');
    expect(ch.status).toBe(400);
    expect(ch.body.error.message).toMatch(/status/);
    const f = await api<{ error: { code: string; message: string } }>('/api/devices/hist-elev/history?channel=status&field=direction');
    expect(f.body.error).toMatchObject({ code: 'validation' });
    expect(f.body.error.message).toMatch(/speedMps/);
    expect((await api(`/api/devices/hist-elev/history?channel=status&field=floor&from=${to}&to=${from}`)).status).toBe(400);
    expect((await api('/api/devices/hist-elev/history?channel=status&field=floor&buckets=0')).status).toBe(400);
    expect((await api(`/api/devices/hist-elev/history?channel=status&field=floor&from=${to - 400 * DAY}&to=${to}`)).status).toBe(400);
    const anon = await ts.service.http.inject({ url: '/api/devices/hist-elev/history?channel=status&field=floor' });
    expect(anon.statusCode).toBe(401);
  });

  it('lists the numeric fields per family and channel', async () => {
    const r = await api<Record<string, Record<string, string[]>>>('/api/history-fields', 'disp1');
    expect(r.body.elevator!.status).toContain('speedMps');
    expect(r.body.elevator!.status).not.toContain('direction');
    expect(r.body.kitchen!.violation).toEqual(['confidence']);
    expect((await ts.service.http.inject({ url: '/api/history-fields' })).statusCode).toBe(401);
  });
});

function alert(id: string, over: Partial<Alert> & { firstSeen: number }): Alert {
  const severity = over.severity ?? 'critical';
  return {
    id, family: 'kitchen', rule: 'kitchen.violation', condition: 'rat', severity, status: 'open', summary: '', params: {},
    device: { id: 'd', name: null, district: '330106', location: null, meta: {} }, evidence: [], assignee: null, count: 1,
    lastSeen: over.firstSeen, windowMs: 600_000, deadlines: deadlinesFor(severity, over.firstSeen, defaultDeadlinePolicy), events: 1, notes: 0, updatedAt: over.firstSeen,
    ...over,
  };
}

describe('on-time statistics', () => {
  const day0 = Date.parse('2026-11-10T00:00:00+08:00');
  const MIN = 60_000;
  const done = (a: Alert, ackAfter: number | null, resolveAfter: number | null): Alert => ({
    ...a, deadlines: { ...a.deadlines, acknowledgedAt: ackAfter === null ? null : a.firstSeen + ackAfter, resolvedAt: resolveAfter === null ? null : a.firstSeen + resolveAfter },
  });

  it('counts on time, late, pending and no-deadline per family, district and CST day (pure)', () => {
    const now = day0 + 2 * DAY + 10 * MIN;
    const alerts = [
      done(alert('a1', { firstSeen: day0 + HOUR }), 2 * MIN, 60 * MIN), // critical: ack 5 min, resolve 2 h: both on time
      done(alert('a2', { firstSeen: day0 + 2 * HOUR }), 10 * MIN, null), // ack late, resolve breached by now
      alert('a3', { firstSeen: day0 + DAY + 5 * HOUR, family: 'elevator', rule: 'elevator.fault', device: { id: 'e', name: null, district: '330108', location: null, meta: {} } }),
      alert('a4', { firstSeen: now - MIN, severity: 'major' }), // pending
      alert('a5', { firstSeen: day0 + HOUR, severity: 'info' }), // no deadlines
      alert('a6', { firstSeen: day0 - HOUR }), // before the period
    ];
    const s = onTimeStats(alerts, day0, day0 + 3 * DAY, now);
    expect(s.total.alerts).toBe(5);
    expect(s.total.ack).toEqual({ onTime: 1, late: 2, pending: 1, none: 1, rate: 1 / 3 });
    expect(s.total.resolve).toEqual({ onTime: 1, late: 2, pending: 1, none: 1, rate: 1 / 3 });
    expect(s.byFamily.map((f) => [f.family, f.alerts])).toEqual([['kitchen', 4], ['elevator', 1], ['cylinder', 0], ['dispenser', 0]]);
    expect(s.byFamily[2]!.ack.rate).toBeNull();
    expect(s.byDistrict.map((d) => [d.district, d.alerts])).toEqual([['330106', 4], ['330108', 1]]);
    expect(s.byDay.map((d) => [d.day, d.alerts])).toEqual([['2026-11-10', 3], ['2026-11-11', 1], ['2026-11-12', 1]]);
    expect(cstDay(day0)).toBe('2026-11-10');
    expect(cstDay(day0 - 1)).toBe('2026-11-09');
  });

  it('GET /api/stats/on-time counts real alerts; dispatchers and anonymous callers are refused', async () => {
    const dev = await ts.registerDevice({ id: 'stats-cam', family: 'kitchen', district: '330102', meta: { storeId: 's1' } });
    const c = await ts.connectDevice(dev.id, dev.secret);
    await c.publishAsync(`kitchen/${dev.id}/violation`, JSON.stringify({ msgId: 'v1', ts: Date.now(), storeId: 's1', type: 'rat', confidence: 0.9 }), { qos: 1 });
    await c.endAsync();
    let items: Array<{ id: string }> = [];
    for (let i = 0; i < 50 && !items.length; i++) {
      items = (await api<{ items: Array<{ id: string }> }>('/api/alerts?deviceId=stats-cam')).body.items;
      if (!items.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(items).toHaveLength(1);
    expect((await api(`/api/alerts/${items[0]!.id}/ack`, 'op1', 'POST', {})).status).toBe(200);
    type Stats = { total: { alerts: number; ack: { onTime: number } }; byFamily: Array<{ family: string; alerts: number }>; byDistrict: Array<{ district: string | null }>; byDay: Array<{ day: string }> };
    const r = await api<Stats>('/api/stats/on-time?district=330102', 'op1');
    expect(r.status).toBe(200);
    expect(r.body.total).toMatchObject({ alerts: 1, ack: { onTime: 1 } });
    expect(r.body.byDistrict).toEqual([expect.objectContaining({ district: '330102' })]);
    expect(r.body.byDay).toHaveLength(8);
    expect(r.body.byDay.at(-1)!.day).toBe(cstDay(Date.now()));
    const fam = await api<Stats>('/api/stats/on-time?family=elevator&district=330102');
    expect(fam.body.total.alerts).toBe(0);
    expect((await api('/api/stats/on-time', 'disp1')).status).toBe(403);
    expect((await ts.service.http.inject({ url: '/api/stats/on-time' })).statusCode).toBe(401);
    expect((await api('/api/stats/on-time?from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z')).status).toBe(400);
    expect((await api('/api/stats/on-time?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z')).status).toBe(400);
  });
});
