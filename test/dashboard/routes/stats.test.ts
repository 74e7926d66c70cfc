/**
 * dashboard/routes/stats.ts: GET /api/stats/on-time and its drill-down on a real service, with
 * fastify inject, over an alert a real device raised; with its refusals. The arithmetic is
 * tested as tables in test/core/alerts/onTime.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { cstDay } from '../../../core/alerts/onTime.js';
import { apiFor, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

describe('on-time statistics', () => {
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
    // the figure drills down to the alert behind it
    const drill = await api<{ kind: string; total: number; ids: string[] }>('GET', '/api/stats/on-time/items?district=330102&measure=ack&outcome=onTime', { token: opToken });
    expect(drill.statusCode, drill.body).toBe(200);
    expect(drill.data).toEqual({ kind: 'alert', total: 1, ids: [items[0]!.id] });
    expect((await api<{ ids: string[] }>('GET', '/api/stats/on-time/items?district=330102&measure=ack&outcome=late')).data.ids).toEqual([]);
    expect((await api('GET', '/api/stats/on-time/items?measure=nonsense')).statusCode).toBe(400);
    expect((await api('GET', '/api/stats/on-time/items?measure=ack', { token: dispToken })).statusCode).toBe(403);
    const fam = await api<Stats>('GET', '/api/stats/on-time?family=elevator&district=330102');
    expect(fam.data.total.alerts).toBe(0);
    expect((await api('GET', '/api/stats/on-time', { token: dispToken })).statusCode).toBe(403);
    expect((await ts.service.http.inject({ url: '/api/stats/on-time' })).statusCode).toBe(401);
    expect((await api('GET', '/api/stats/on-time?from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z')).statusCode).toBe(400);
    expect((await api('GET', '/api/stats/on-time?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z')).statusCode).toBe(400);
  });
});
