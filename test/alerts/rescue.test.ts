/**
 * 96333 rescue cases over the HTTP API on a real service (docs/rules.md, 96333 rescue cases):
 * a phone report by rescue or registration code, the merge of reports of one incident, a new
 * case per incident, the order of steps with their refusal reasons, and the trapped alert
 * following its case (acknowledged by the dispatch, resolved by the close).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type TestService } from '../helpers/service.js';

let ts: TestService;
let disp: Record<string, string>;
let op: Record<string, string>;

// Response bodies are checked field by field below; a loose type keeps that readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

async function api(method: 'GET' | 'POST', url: string, payload?: unknown, headers = disp): Promise<{ status: number; body: Loose }> {
  const res = await ts.service.http.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.json() };
}

const MIN = 60_000;

beforeAll(async () => {
  ts = await startService({ ALERT_CHECKPOINT_MS: 200 });
  const admin = { authorization: `Bearer ${ts.adminToken}` };
  await api('POST', '/api/users', { username: 'disp1', password: 'dispatcher-pass', role: 'dispatcher' }, admin);
  await api('POST', '/api/users', { username: 'op1', password: 'operator-pass', role: 'operator' }, admin);
  disp = { authorization: `Bearer ${await ts.token('disp1', 'dispatcher-pass')}` };
  op = { authorization: `Bearer ${await ts.token('op1', 'operator-pass')}` };
  await ts.registerDevice({
    id: 'rc-elev-1', family: 'elevator', name: '西湖大厦 1号梯', district: '330106',
    meta: { rescueCode: '96333-0001', registrationCode: '31103301002019120001', address: '西湖区文三路 1 号', maintenanceUnit: '杭州某电梯维保公司', maintenancePhone: '0571-88880000' },
  });
  await ts.registerDevice({ id: 'rc-elev-2', family: 'elevator', district: '330108', meta: { rescueCode: '96333-0002', registrationCode: '31103301002019120002' } });
  await ts.registerDevice({ id: 'rc-cam', family: 'kitchen', meta: { storeId: 's-1' } });
});
afterAll(async () => ts?.dispose());

describe('a trapping reported by phone', () => {
  let caseId: string;
  let alertId: string;

  it('opens the trapped alert and its case by the rescue code in the car: 201, source phone, linked both ways', async () => {
    const r = await api('POST', '/api/rescue-cases', { rescueCode: '96333-0001', callerPhone: '13900000000', floor: '12', passengers: 2, note: '电梯停在12楼' });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({
      merged: false, elevatorId: 'rc-elev-1', status: 'alarmed', source: 'phone', reports: [{ callerPhone: '13900000000', floor: '12', passengers: 2, note: '电梯停在12楼' }],
      steps: [{ step: 'alarmed', by: 'disp1' }],
      elevator: { name: '西湖大厦 1号梯', address: '西湖区文三路 1 号', rescueCode: '96333-0001', maintenanceUnit: '杭州某电梯维保公司', maintenancePhone: '0571-88880000' },
    });
    expect(r.body.deadlines.dispatchBy - r.body.alarmAt).toBe(5 * MIN);
    caseId = r.body.id;
    alertId = r.body.alertId;
    const alert = await api('GET', `/api/alerts/${alertId}`);
    expect(alert.body).toMatchObject({ rule: 'elevator.trapped', severity: 'critical', status: 'open', rescueCaseId: caseId, params: { detectedBy: 'phone', floor: '12' } });
    expect(alert.body.deadlines.ackBy - alert.body.firstSeen).toBe(5 * MIN);
  });

  it('a second call about the same incident joins the case: 200 merged, no second case or dispatch', async () => {
    const r = await api('POST', '/api/rescue-cases', { registrationCode: '31103301002019120001', callerPhone: '13700000000', floor: '12' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ merged: true, id: caseId });
    expect(r.body.reports).toHaveLength(2);
    const active = await api('GET', '/api/rescue-cases?elevatorId=rc-elev-1');
    expect(active.body.items.map((c: { id: string }) => c.id)).toEqual([caseId]);
  });

  it('finds elevators by their codes in the device list', async () => {
    const byRescue = await api('GET', '/api/devices?q=96333-0002', undefined, { authorization: `Bearer ${ts.adminToken}` });
    expect(byRescue.body.items.map((d: { id: string }) => d.id)).toEqual(['rc-elev-2']);
    const byRegistration = await api('GET', '/api/devices?q=31103301002019120001', undefined, { authorization: `Bearer ${ts.adminToken}` });
    expect(byRegistration.body.items.map((d: { id: string }) => d.id)).toEqual(['rc-elev-1']);
  });

  it.each<[string, object, number, string]>([
    ['an unknown rescue code', { rescueCode: 'nope' }, 404, 'device_not_found'],
    ['an unknown elevator id', { elevatorId: 'nope' }, 404, 'device_not_found'],
    ['a device that is not an elevator', { elevatorId: 'rc-cam' }, 400, 'validation'],
    ['no elevator named', { floor: '3' }, 400, 'validation'],
    ['two ways of naming it', { elevatorId: 'rc-elev-2', rescueCode: '96333-0002' }, 400, 'validation'],
    ['an unknown field', { elevatorId: 'rc-elev-2', vip: true }, 400, 'validation'],
    ['a phone number that is not one', { elevatorId: 'rc-elev-2', callerPhone: '<script>' }, 400, 'validation'],
  ])('refuses %s', async (_n, body, status, code) => {
    const r = await api('POST', '/api/rescue-cases', body);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it('operators may not open cases', async () => {
    expect((await api('POST', '/api/rescue-cases', { elevatorId: 'rc-elev-2' }, op)).status).toBe(403);
  });

  it('the dispatch cannot be skipped; refusals name their reason', async () => {
    const skip = await api('POST', `/api/rescue-cases/${caseId}/steps`, { step: 'arrived' });
    expect(skip.status).toBe(409);
    expect(skip.body.error).toMatchObject({ code: 'rescue_step_refused', details: { reason: 'step_skipped' } });
    const noReason = await api('POST', `/api/rescue-cases/${caseId}/steps`, { step: 'false_alarm' });
    expect(noReason.body.error).toMatchObject({ code: 'rescue_step_refused', details: { reason: 'reason_required' } });
    const badDetails = await api('POST', `/api/rescue-cases/${caseId}/steps`, { step: 'dispatched', details: { html: '<b>x</b>' } });
    expect(badDetails.status).toBe(400);
  });

  it('recording the dispatch acknowledges the trapped alert, by that dispatcher at that time', async () => {
    // when the call was put through, recorded a moment later
    const at = (await api('GET', `/api/rescue-cases/${caseId}`)).body.alarmAt + 1;
    await new Promise((r) => setTimeout(r, 5));
    const r = await api('POST', `/api/rescue-cases/${caseId}/steps`, { step: 'dispatched', at: String(at), details: { unit: '杭州某电梯维保公司', technician: '王师傅', phone: '13800000000' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.steps.at(-1)).toMatchObject({ step: 'dispatched', at, by: 'disp1', details: { technician: '王师傅', phone: '13800000000' } });
    const alert = await api('GET', `/api/alerts/${alertId}`);
    expect(alert.body.status).toBe('acknowledged');
    expect(alert.body.deadlines.acknowledgedAt).toBe(at);
    // the note is the system's, by code (core/alerts/systemNotes.ts), with its English
    expect(alert.body.timeline.at(-1)).toMatchObject({ action: 'acknowledged', by: 'disp1', at, code: 'rescue.dispatched', note: 'rescue dispatched (96333)' });
  });

  it('after the release a new trapping is a new incident: its own case', async () => {
    for (const step of ['arrived', 'released']) {
      const details = step === 'released' ? { passengersReleased: 2, injuries: '无' } : {};
      expect((await api('POST', `/api/rescue-cases/${caseId}/steps`, { step, details })).status).toBe(200);
    }
    const again = await api('POST', '/api/rescue-cases', { elevatorId: 'rc-elev-1', floor: '3' });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(caseId);
    const active = await api('GET', '/api/rescue-cases?elevatorId=rc-elev-1');
    expect(active.body.items).toHaveLength(2);
    // closing the first case resolves its alert; the second case is untouched
    expect((await api('POST', `/api/rescue-cases/${caseId}/steps`, { step: 'closed' })).status).toBe(200);
    const closed = (await api('GET', `/api/alerts/${alertId}`)).body;
    expect(closed).toMatchObject({ status: 'resolved', closedBy: 'disp1' });
    expect(closed.timeline.at(-1)).toMatchObject({ action: 'resolved', by: 'disp1', code: 'rescue.closed', note: 'rescue case closed' });
    expect((await api('GET', `/api/rescue-cases/${again.body.id}`)).body.status).toBe('alarmed');
  });
});

describe('escalation of a breach', () => {
  let es: TestService;
  const esApi = async (method: 'GET' | 'POST', url: string, payload?: unknown): Promise<{ status: number; body: Loose }> => {
    const res = await es.service.http.inject({ method, url, headers: { authorization: `Bearer ${es.adminToken}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
    return { status: res.statusCode, body: res.json() };
  };
  beforeAll(async () => {
    // a 0.3 s dispatch deadline and a 0.3 s re-notification, so the test need not wait minutes
    const rescue = { dispatchMin: 0.005, renotifyMin: 0.005, escalation: { '330106': [{ name: '西湖区值班领导', phone: '0571-87000000' }, { name: '杭州市市场监管局' }], '*': [{ name: '值班领导' }] } };
    es = await startService({ ALERT_TICK_MS: 50, ALERT_CHECKPOINT_MS: 200, ALERT_OVERRIDES: JSON.stringify({ rescue }) });
    await es.registerDevice({ id: 'esc-elev', family: 'elevator', district: '330106', meta: { rescueCode: 'E-1' } });
  });
  afterAll(async () => es?.dispose());

  it('goes to the district\'s first contact, is pushed as a case change, re-notified until acknowledged', async () => {
    const pushed: string[][] = [];
    const off = es.service.bus.on('rescueCase', (e) => { if (e.events.length) pushed.push([...e.events]); });
    try {
      const opened = await esApi('POST', '/api/rescue-cases', { rescueCode: 'E-1' });
      expect(opened.status).toBe(201);
      const id = opened.body.id as string;
      let c: Loose;
      for (const end = Date.now() + 10_000; ;) {
        c = (await esApi('GET', `/api/rescue-cases/${id}`)).body;
        if (c.escalations?.[0]?.notifications >= 2 || Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(c.escalations).toHaveLength(1);
      expect(c.escalations[0]).toMatchObject({ level: 0, to: { name: '西湖区值班领导', phone: '0571-87000000' }, reason: 'dispatch_breached', acknowledgedAt: null });
      expect(c.escalations[0].notifications).toBeGreaterThanOrEqual(2);
      expect(pushed.flat()).toEqual(expect.arrayContaining(['dispatch_breached', 'escalated', 'escalation_renotified']));
      const acked = await esApi('POST', `/api/rescue-cases/${id}/escalations/0/ack`, {});
      expect(acked.status, JSON.stringify(acked.body)).toBe(200);
      expect(acked.body.escalations[0]).toMatchObject({ acknowledgedBy: 'admin' });
      const again = await esApi('POST', `/api/rescue-cases/${id}/escalations/0/ack`, {});
      expect(again.body.error).toMatchObject({ code: 'escalation_refused', details: { reason: 'already_acknowledged' } });
      expect((await esApi('POST', `/api/rescue-cases/${id}/escalations/7/ack`, {})).body.error.details.reason).toBe('no_escalation');
      // acknowledged: no more notifications of that level
      const count = acked.body.escalations[0].notifications;
      await new Promise((r) => setTimeout(r, 800));
      expect((await esApi('GET', `/api/rescue-cases/${id}`)).body.escalations[0].notifications).toBe(count);
    } finally {
      off();
    }
  });
});
