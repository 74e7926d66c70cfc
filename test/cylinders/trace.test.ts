/**
 * GET /api/cylinders/:code/trace on a real service: one cylinder scanned over MQTT by the
 * scanners of two filling stations and a delivery handheld; between the scans its record is
 * changed (reported lost, found, handed to the other station) through the import API. The trace
 * keeps every scan — station, point, operator, decision, time — each judged by the record of its
 * time; the alerts name the reasons (lost its own); the reply went out as the protocol allows.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanReasons } from '../../core/schemas/index.js';
import { apiFor, expectError, publish, routeService, until } from '../helpers/api.js';
import type { TestService } from '../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);
routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

const CODE = 'YC-LPG-640100-000001';
const row = (over: Record<string, unknown> = {}) => ({
  code: CODE, model: 'YSP15', mfgDate: '2023-05-01', nextInspection: '2030-05-01', ownerStationId: 'YC-ST-1', status: 'in_service', ...over,
});

interface Device { id: string; client: MqttClient; replies: Array<{ msgId: string; decision: string; reasons: string[] }> }
const devices: Record<string, Device> = {};
let n = 0;

async function scanner(id: string, stationId: string): Promise<Device> {
  const d = await ts.registerDevice({ id, family: 'cylinder', meta: { stationId } });
  const client = await ts.connectDevice(d.id, d.secret);
  const dev: Device = { id, client, replies: [] };
  client.on('message', (_t, p) => dev.replies.push(JSON.parse(p.toString()) as Device['replies'][number]));
  await client.subscribeAsync(`cylinder/${id}/scan/reply`, { qos: 1 });
  return dev;
}

/** One scan, acknowledged (stored) before it returns; its msgId. */
async function scan(dev: Device, stationId: string, point: string, operatorId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const msgId = `t-${++n}`;
  await publish(dev.client, `cylinder/${dev.id}/scan`, JSON.stringify({ msgId, ts: Date.now(), cylinderCode: CODE, stationId, point, operatorId, ...extra }));
  return msgId;
}

async function importRow(over: Record<string, unknown>): Promise<void> {
  const r = await api('POST', '/api/cylinders/import?onConflict=update', { payload: [row(over)] });
  expect(r.statusCode, r.body).toBe(200);
}

beforeAll(async () => {
  devices.st1 = await scanner('yc-scan-st1', 'YC-ST-1');
  devices.st2 = await scanner('yc-scan-st2', 'YC-ST-2');
  devices.hand = await scanner('yc-hand-1', 'YC-ST-1');
});
afterAll(async () => {
  for (const d of Object.values(devices)) await d.client.endAsync();
});

describe('GET /api/cylinders/:code/trace', () => {
  const msg: Record<string, string> = {};

  beforeAll(async () => {
    await importRow({});
    // a full cycle at YC-ST-1, the delivery by its handheld
    msg.pre = await scan(devices.st1!, 'YC-ST-1', 'pre_fill', 'OP-1');
    msg.fill = await scan(devices.st1!, 'YC-ST-1', 'fill', 'OP-1');
    msg.post = await scan(devices.st1!, 'YC-ST-1', 'post_fill', 'OP-1', { netKg: 14.3 });
    msg.out = await scan(devices.st1!, 'YC-ST-1', 'outbound', 'OP-2');
    msg.delivery = await scan(devices.hand!, 'YC-ST-1', 'delivery', 'DRV-9');
    // reported lost; it turns up at YC-ST-2's recovery and pre-fill check
    await importRow({ status: 'lost' });
    msg.recovery = await scan(devices.st2!, 'YC-ST-2', 'recovery', 'OP-5');
    msg.pre2 = await scan(devices.st2!, 'YC-ST-2', 'pre_fill', 'OP-5');
    // found, and handed over to YC-ST-2: it fills there, and no longer at YC-ST-1
    await importRow({ status: 'in_service', ownerStationId: 'YC-ST-2' });
    msg.pre3 = await scan(devices.st2!, 'YC-ST-2', 'pre_fill', 'OP-6');
    msg.pre4 = await scan(devices.st1!, 'YC-ST-1', 'pre_fill', 'OP-1');
  });

  it('every scan at every station, in order, with station, point, operator, decision and time', async () => {
    const r = await api('GET', `/api/cylinders/${CODE}/trace`, { token: opToken });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.data).toMatchObject({ code: CODE, stations: ['YC-ST-1', 'YC-ST-2'], truncated: false, record: { status: 'in_service', ownerStationId: 'YC-ST-2' } });
    const rows = (r.data.scans as Array<Record<string, unknown>>).map((s) => [s.msgId, s.deviceId, s.stationId, s.point, s.operatorId, s.decision, (s.reasons as string[]).join('+')]);
    expect(rows).toEqual([
      [msg.pre, 'yc-scan-st1', 'YC-ST-1', 'pre_fill', 'OP-1', 'allow', ''],
      [msg.fill, 'yc-scan-st1', 'YC-ST-1', 'fill', 'OP-1', 'allow', ''],
      [msg.post, 'yc-scan-st1', 'YC-ST-1', 'post_fill', 'OP-1', 'allow', ''],
      [msg.out, 'yc-scan-st1', 'YC-ST-1', 'outbound', 'OP-2', 'allow', ''],
      [msg.delivery, 'yc-hand-1', 'YC-ST-1', 'delivery', 'DRV-9', 'allow', ''],
      [msg.recovery, 'yc-scan-st2', 'YC-ST-2', 'recovery', 'OP-5', 'allow', 'lost+not_owner'],
      [msg.pre2, 'yc-scan-st2', 'YC-ST-2', 'pre_fill', 'OP-5', 'refuse', 'lost+not_owner'],
      [msg.pre3, 'yc-scan-st2', 'YC-ST-2', 'pre_fill', 'OP-6', 'allow', ''],
      [msg.pre4, 'yc-scan-st1', 'YC-ST-1', 'pre_fill', 'OP-1', 'refuse', 'not_owner'],
    ]);
    const first = r.data.scans[0];
    expect(Date.parse(first.at)).toBeLessThanOrEqual(Date.parse(first.receivedAt));
    expect(first).toMatchObject({ netKg: null, alerts: [], recordFrom: expect.any(String) });
    expect(r.data.scans[2].netKg).toBe(14.3);
    expect(r.data.scans[5].alerts).toEqual(['cylinder.flagged']);
    expect(r.data.scans[6].alerts).toEqual(['cylinder.refused']);
    // three versions of the record judged them: the first, lost, handed over
    expect(new Set(r.data.scans.map((s: { recordFrom: string }) => s.recordFrom)).size).toBe(3);
  });

  it('the alerts at the time name the reasons, lost its own; the scanner got the protocol reasons', async () => {
    await until(async () => (await api('GET', '/api/alerts?rule=cylinder.flagged&deviceId=yc-scan-st2')).data.items.length === 1);
    const flagged = (await api('GET', '/api/alerts?rule=cylinder.flagged&deviceId=yc-scan-st2')).data.items[0];
    expect(flagged).toMatchObject({ condition: `${CODE}|lost+not_owner`, severity: 'major' });
    await until(async () => (await api('GET', '/api/alerts?rule=cylinder.refused&deviceId=yc-scan-st1')).data.items.length === 1);
    const refused = await api('GET', '/api/alerts?rule=cylinder.refused');
    expect(refused.data.items.map((a: { condition: string }) => a.condition).sort()).toEqual([`${CODE}|lost+not_owner`, `${CODE}|not_owner`]);
    await until(async () => devices.st2!.replies.length === 3);
    const lostWire = (scanReasons as readonly string[]).includes('lost') ? ['lost', 'not_owner'] : ['scrapped', 'not_owner'];
    expect(devices.st2!.replies.map((x) => [x.msgId, x.decision, x.reasons])).toEqual([
      [msg.recovery, 'allow', lostWire], [msg.pre2, 'refuse', lostWire], [msg.pre3, 'allow', []],
    ]);
  });

  it('from, to and limit: the newest scans of a period', async () => {
    const all = (await api('GET', `/api/cylinders/${CODE}/trace`)).data.scans as Array<{ msgId: string; at: string }>;
    const from = Date.parse(all[5]!.at);
    const r = await api('GET', `/api/cylinders/${CODE}/trace?from=${from}&limit=2`);
    expect(r.data.scans.map((s: { msgId: string }) => s.msgId)).toEqual([msg.pre3, msg.pre4]);
    expect(r.data).toMatchObject({ truncated: true, stations: ['YC-ST-2', 'YC-ST-1'] });
    const upTo = await api('GET', `/api/cylinders/${CODE}/trace?to=${new Date(Date.parse(all[1]!.at)).toISOString()}`);
    expect(upTo.data.scans.map((s: { msgId: string }) => s.msgId)).toEqual([msg.pre, msg.fill]);
  });

  it('a code never registered but scanned has a trace; one neither registered nor scanned is 404; bad periods 400', async () => {
    const d = devices.st1!;
    await publish(d.client, `cylinder/${d.id}/scan`, JSON.stringify({ msgId: 'unreg-1', ts: Date.now(), cylinderCode: 'YC-FAKE-1', stationId: 'YC-ST-1', point: 'delivery', operatorId: 'OP-1' }));
    const r = await api('GET', '/api/cylinders/YC-FAKE-1/trace');
    expect(r.statusCode).toBe(200);
    expect(r.data).toMatchObject({ record: null, stations: ['YC-ST-1'], scans: [{ msgId: 'unreg-1', decision: 'allow', reasons: ['unregistered'], alerts: ['cylinder.flagged'], recordFrom: null }] });
    expectError(await api('GET', '/api/cylinders/YC-NOTHING/trace'), 404, 'cylinder_not_found');
    expectError(await api('GET', `/api/cylinders/${CODE}/trace?from=2000&to=1000`), 400, 'validation');
    expectError(await api('GET', `/api/cylinders/${CODE}/trace?limit=0`), 400, 'validation');
  });

  it('operators and admins read it; dispatchers and anonymous callers do not', async () => {
    expect((await api('GET', `/api/cylinders/${CODE}/trace`, { token: dispToken })).statusCode).toBe(403);
    expect((await api('GET', `/api/cylinders/${CODE}/trace`, { token: null })).statusCode).toBe(401);
  });
});
