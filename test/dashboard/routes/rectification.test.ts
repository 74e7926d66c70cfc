/**
 * Rectification on a real service (core/alerts/rectification.ts): a class-2 detection opens an
 * alert the store must answer within 2 h, the store's contact gateway (STORE_CONTACT_WEBHOOKS, a
 * local HTTP server here) is asked, an operator cannot acknowledge it without the answer, a
 * failed re-check asks the store again, a passed one resolves it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, routeService, until } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);
const received: Array<Record<string, unknown>> = [];
let gateway: Server;
const env: Record<string, string | number> = { ALERT_CHECKPOINT_MS: 200 };

beforeAll(async () => {
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { received.push(JSON.parse(body) as Record<string, unknown>); res.end('ok'); });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  env.STORE_CONTACT_WEBHOOKS = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/rectify`;
});
afterAll(() => new Promise<void>((r) => gateway.close(() => r())));
routeService(env, (s) => ({ ts, opToken, dispToken } = s));

type Detail = { id: string; status: string; rule: string; condition: string; rectification?: { round: number; answeredAt: number | null } | null;
  deadlines: { ackBy: number; resolveBy: number }; firstSeen: number; timeline: Array<{ action: string; by: string; note?: string }>;
  error?: { code: string; details?: { reason: string } } };

describe('rectification of a class-2 detection', () => {
  it('asks the store, refuses a bare acknowledgement, takes the answer and the re-checks', async () => {
    const cam = await ts.registerDevice({ id: 'rf-cam-1', family: 'kitchen', name: '后厨', district: '330106', meta: { storeId: 'S-RF', storeName: '川味馆', storeContact: '13800000000' } });
    const c = await ts.connectDevice(cam.id, cam.secret);
    await c.publishAsync(`kitchen/${cam.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'rf-1', Date.now()), storeId: 'S-RF', type: 'smoking', confidence: 0.9 }), { qos: 1 });
    await c.publishAsync(`kitchen/${cam.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'rf-2', Date.now()), storeId: 'S-RF', type: 'rat', confidence: 0.9 }), { qos: 1 });
    await c.endAsync();
    let list: { items: Detail[] } = { items: [] };
    await until(async () => { list = (await api<{ items: Detail[] }>('GET', '/api/alerts?family=kitchen')).data; return list.items.length === 2; }, 8000);
    const smoking = list.items.find((a) => a.condition === 'smoking')!;
    const rat = list.items.find((a) => a.condition === 'rat')!;
    expect(smoking.rectification).toEqual({ round: 1, answeredAt: null });
    expect([smoking.deadlines.ackBy - smoking.firstSeen, smoking.deadlines.resolveBy - smoking.firstSeen]).toEqual([2 * 3_600_000, 72 * 3_600_000]);
    expect(rat.rectification ?? null).toBeNull();

    // the gateway is asked once, for the class-2 alert only
    await until(async () => received.length >= 1, 8000);
    expect(received).toEqual([expect.objectContaining({
      type: 'rectificationRequest', alertId: smoking.id, round: 1, store: { id: 'S-RF', name: '川味馆', contact: '13800000000' },
      violation: { type: 'smoking', riskClass: 2 }, answerBy: smoking.deadlines.ackBy, recheckBy: smoking.deadlines.resolveBy,
    })]);

    const post = (path: string, payload: unknown, token = opToken) => api<Detail>('POST', `/api/alerts/${smoking.id}/${path}`, { token, payload });
    expect((await post('ack', {})).data.error).toMatchObject({ code: 'alert_conflict', details: { reason: 'rectification' } });
    expect((await post('recheck', { passed: true, note: '合格' })).data.error?.details?.reason).toBe('not_answered');
    expect((await post('store-answer', { note: '  ' })).statusCode).toBe(400);
    expect((await post('store-answer', { note: '已整改' }, dispToken)).statusCode).toBe(403);
    expect((await api('POST', `/api/alerts/${rat.id}/store-answer`, { token: opToken, payload: { note: 'x' } })).statusCode).toBe(409);

    const answered = await post('store-answer', { note: '店长回复：已对涉事员工批评教育' });
    expect(answered.statusCode).toBe(200);
    expect(answered.data.status).toBe('acknowledged');
    expect(answered.data.timeline.at(-1)).toMatchObject({ action: 'store_answered', by: 'op1', note: '店长回复：已对涉事员工批评教育' });

    const failed = await post('recheck', { passed: false, note: '复查时仍有人吸烟' });
    expect(failed.data).toMatchObject({ status: 'open', rectification: { round: 2, answeredAt: null } });
    await until(async () => received.length >= 2, 8000);
    expect(received[1]).toMatchObject({ alertId: smoking.id, round: 2 });

    await post('store-answer', { note: '已张贴禁烟标识' });
    const passed = await post('recheck', { passed: true, note: '复查合格' });
    expect(passed.data.status).toBe('resolved');
    expect(passed.data.timeline.map((e) => e.action).slice(-4)).toEqual(['store_answered', 'recheck_failed', 'store_answered', 'rechecked']);
    // closing asks the store nothing
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(2);
  });
});
