/**
 * dashboard/routes/stats.ts: the on-time counts (onTimeStats, pure) and GET /api/stats/on-time on
 * a real service, with fastify inject, over an alert a real device raised; with its refusals.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../core/alerts/alert.js';
import { deadlinesFor, defaultDeadlinePolicy } from '../../../core/alerts/deadlines.js';
import { cstDay, onTimeStats } from '../../../dashboard/routes/stats.js';
import { apiFor, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

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
      items = (await api<{ items: Array<{ id: string }> }>('GET', '/api/alerts?deviceId=stats-cam')).data.items;
      if (!items.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(items).toHaveLength(1);
    expect((await api('POST', `/api/alerts/${items[0]!.id}/ack`, { token: opToken, payload: {} })).statusCode).toBe(200);
    type Stats = { total: { alerts: number; ack: { onTime: number } }; byFamily: Array<{ family: string; alerts: number }>; byDistrict: Array<{ district: string | null }>; byDay: Array<{ day: string }> };
    const r = await api<Stats>('GET', '/api/stats/on-time?district=330102', { token: opToken });
    expect(r.statusCode).toBe(200);
    expect(r.data.total).toMatchObject({ alerts: 1, ack: { onTime: 1 } });
    expect(r.data.byDistrict).toEqual([expect.objectContaining({ district: '330102' })]);
    expect(r.data.byDay).toHaveLength(8);
    expect(r.data.byDay.at(-1)!.day).toBe(cstDay(Date.now()));
    const fam = await api<Stats>('GET', '/api/stats/on-time?family=elevator&district=330102');
    expect(fam.data.total.alerts).toBe(0);
    expect((await api('GET', '/api/stats/on-time', { token: dispToken })).statusCode).toBe(403);
    expect((await ts.service.http.inject({ url: '/api/stats/on-time' })).statusCode).toBe(401);
    expect((await api('GET', '/api/stats/on-time?from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z')).statusCode).toBe(400);
    expect((await api('GET', '/api/stats/on-time?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z')).statusCode).toBe(400);
  });
});
