/**
 * The alert engine end to end over real MQTT: a device publishes, the rule fires, the alert
 * and the 96333 rescue case appear in the API, the cylinder scanner gets its reply, and a
 * restart in the middle of a timer gives the same alert. Short thresholds come from
 * ALERT_OVERRIDES, as an operator would set them.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { examplePayload } from '../../core/schemas/examples.js';
import { programs } from '../helpers/external.js';
import { collect, startService, type TestService } from '../helpers/service.js';

const overrides = JSON.stringify({ rules: { 'elevator.trapped': { atFloorMs: 1500, outsideDoorZoneMs: 500 } } });
const settings = { ALERT_TICK_MS: 100, ALERT_CHECKPOINT_MS: 200, ALERT_OVERRIDES: overrides };
const mosquitto = programs(['mosquitto_sub'], 'mosquitto-clients');

let ts: TestService;
const auth = () => ({ authorization: `Bearer ${ts.adminToken}` });

async function api<T = unknown>(method: 'GET' | 'POST', url: string, payload?: unknown, headers = auth()): Promise<{ status: number; body: T }> {
  const res = await ts.service.http.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.json() as T };
}

interface AlertBody { id: string; rule: string; severity: string; status: string; count: number; device: { id: string }; params: Record<string, unknown>; timeline: Array<{ action: string; by: string }> }
interface CaseBody { id: string; elevatorId: string; status: string; steps: Array<{ step: string; by: string }>; elapsed: { sinceAlarm: number }; deadlines: { dispatchBy: number; arrivalBy: number } }

async function waitForAlert(rule: string, deviceId: string, ms = 5000): Promise<AlertBody> {
  const until = Date.now() + ms;
  for (;;) {
    const { body } = await api<{ items: AlertBody[] }>('GET', `/api/alerts?rule=${rule}&deviceId=${deviceId}`);
    if (body.items[0]) return body.items[0];
    if (Date.now() > until) throw new Error(`no ${rule} alert for ${deviceId} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const status = (over: Record<string, unknown>, msgId: string) => JSON.stringify({ ...examplePayload('elevator', 'status', msgId, Date.now()), ...over });
const trappedStatus = { passengerPresent: true, doorClosed: true, moving: false, doorZone: true, direction: 'stop', speedMps: 0, serviceMode: 'normal' };

// every scenario twice: the rules in their worker thread (the default) and in the main thread (ENGINE_WORKER=false)
describe.each([
  { rules: 'in their worker thread', ENGINE_WORKER: 'true' },
  { rules: 'in the main thread', ENGINE_WORKER: 'false' },
])('the rules $rules', ({ ENGINE_WORKER }) => {
  const modeSettings = { ...settings, ENGINE_WORKER };

  beforeAll(async () => {
    ts = await startService(modeSettings);
    await api('POST', '/api/users', { username: 'disp1', password: 'dispatcher-pass', role: 'dispatcher' });
    await api('POST', '/api/users', { username: 'op1', password: 'operator-pass', role: 'operator' });
  });
  afterAll(async () => ts?.dispose());

  describe('elevator: trapped passengers and the 96333 rescue case', () => {
    let dev: { id: string; secret: string };
    let c: MqttClient;
    beforeAll(async () => {
      dev = await ts.registerDevice({ id: 'e2e-elev-1', family: 'elevator', district: '330106', meta: { registrationCode: '31103301002019120001', maintenanceUnit: '杭州某电梯维保公司' } });
      c = await ts.connectDevice(dev.id, dev.secret);
    });
    afterAll(async () => c?.endAsync());

    it('fault code 11 opens a critical trapped alert and a rescue case; dispatchers record the steps, operators may not', async () => {
      await c.publishAsync(`elevator/${dev.id}/fault`, JSON.stringify({ msgId: 'f11', ts: Date.now(), code: 11, floor: 7 }), { qos: 1 });
      const alert = await waitForAlert('elevator.trapped', dev.id);
      expect(alert.severity).toBe('critical');
      const { body: cases } = await api<{ items: CaseBody[] }>('GET', `/api/rescue-cases?elevatorId=${dev.id}`);
      expect(cases.items).toHaveLength(1);
      const rc = cases.items[0]!;
      expect(rc).toMatchObject({ status: 'alarmed', elevatorId: dev.id });
      expect(rc.deadlines.arrivalBy - rc.deadlines.dispatchBy).toBe(25 * 60_000);

      const op = { authorization: `Bearer ${await ts.token('op1', 'operator-pass')}` };
      const disp = { authorization: `Bearer ${await ts.token('disp1', 'dispatcher-pass')}` };
      expect((await api('POST', `/api/rescue-cases/${rc.id}/steps`, { step: 'dispatched' }, op)).status).toBe(403);
      expect((await api('POST', `/api/alerts/${alert.id}/ack`, {}, op)).status).toBe(403);
      for (const step of ['dispatched', 'arrived', 'released']) {
        const r = await api<CaseBody>('POST', `/api/rescue-cases/${rc.id}/steps`, { step }, disp);
        expect(r.status).toBe(200);
      }
      const back = await api<{ error: { code: string } }>('POST', `/api/rescue-cases/${rc.id}/steps`, { step: 'dispatched' }, disp);
      expect(back.body.error.code).toBe('rescue_step_refused');
      const closed = await api<CaseBody>('POST', `/api/rescue-cases/${rc.id}/steps`, { step: 'closed', note: 'all out, follow-up done' }, disp);
      expect(closed.body.steps.map((s) => [s.step, s.by])).toEqual([['alarmed', 'system'], ['dispatched', 'disp1'], ['arrived', 'disp1'], ['released', 'disp1'], ['closed', 'disp1']]);
      // the trapped alert closes with its case
      const { body: after } = await api<AlertBody>('GET', `/api/alerts/${alert.id}`);
      expect(after.status).toBe('resolved');
    });

    it('a second trapping while the first case waits at released opens a second case (any number per elevator)', async () => {
      const d = await ts.registerDevice({ id: 'e2e-elev-3', family: 'elevator', district: '330106' });
      const c3 = await ts.connectDevice(d.id, d.secret);
      const disp = { authorization: `Bearer ${await ts.token('disp1', 'dispatcher-pass')}` };
      await c3.publishAsync(`elevator/${d.id}/fault`, JSON.stringify({ msgId: 'a11', ts: Date.now(), code: 11, floor: 3 }), { qos: 1 });
      const first = await waitForAlert('elevator.trapped', d.id);
      const { body: one } = await api<{ items: CaseBody[] }>('GET', `/api/rescue-cases?elevatorId=${d.id}`);
      expect(one.items).toHaveLength(1);
      for (const step of ['dispatched', 'arrived', 'released']) expect((await api('POST', `/api/rescue-cases/${one.items[0]!.id}/steps`, { step }, disp)).status).toBe(200);
      // back to normal, then trapped again: a new incident
      await c3.publishAsync(`elevator/${d.id}/fault`, JSON.stringify({ msgId: 'a40', ts: Date.now(), code: 40, floor: 3 }), { qos: 1 });
      await c3.publishAsync(`elevator/${d.id}/fault`, JSON.stringify({ msgId: 'b11', ts: Date.now(), code: 11, floor: 5 }), { qos: 1 });
      let two: CaseBody[] = [];
      for (let i = 0; i < 50 && two.length < 2; i++) {
        two = (await api<{ items: CaseBody[] }>('GET', `/api/rescue-cases?elevatorId=${d.id}`)).body.items;
        if (two.length < 2) await new Promise((r) => setTimeout(r, 100));
      }
      expect(two).toHaveLength(2);
      expect(two.map((c) => c.status).sort()).toEqual(['alarmed', 'released']);
      const second = two.find((c) => c.status === 'alarmed')! as CaseBody & { alertId: string };
      expect(second.alertId).not.toBe(first.id);
      expect((await api<{ rescueCaseId: string }>('GET', `/api/alerts/${second.alertId}`)).body.rescueCaseId).toBe(second.id);
      await c3.endAsync();
    });

    it('a status timer detects trapped passengers without a code (90 s at a floor, shortened here to 1.5 s)', async () => {
      const d = await ts.registerDevice({ id: 'e2e-elev-2', family: 'elevator' });
      const c2 = await ts.connectDevice(d.id, d.secret);
      await c2.publishAsync(`elevator/${d.id}/status`, status(trappedStatus, 's1'), { qos: 1 });
      await new Promise((r) => setTimeout(r, 500));
      const early = await api<{ items: AlertBody[] }>('GET', `/api/alerts?rule=elevator.trapped&deviceId=${d.id}`);
      expect(early.body.items).toHaveLength(0);
      const alert = await waitForAlert('elevator.trapped', d.id, 4000);
      expect(alert.severity).toBe('critical');
      await c2.endAsync();
    });
  });

  describe('cylinder scan reply', () => {
    it('refuses a scan of an expired cylinder with the reason, on cylinder/{id}/scan/reply', async () => {
      const imported = await api<{ created: number }>('POST', '/api/cylinders/import', [
        { code: 'LPG-OLD-1', model: 'YSP15', mfgDate: '2010-03-01', designLifeYears: 8, nextInspection: '2030-01-01', ownerStationId: 'ST-01', status: 'in_service' },
        { code: 'LPG-OK-1', model: 'YSP15', mfgDate: '2024-03-01', designLifeYears: 8, nextInspection: '2028-01-01', ownerStationId: 'ST-01', status: 'in_service' },
      ]);
      expect(imported.status).toBe(200);
      const d = await ts.registerDevice({ id: 'e2e-scan-1', family: 'cylinder', meta: { stationId: 'ST-01' } });
      const c = await ts.connectDevice(d.id, d.secret);
      await c.subscribeAsync(`cylinder/${d.id}/scan/reply`, { qos: 1 });
      const replies = collect(c, 2, 3000);
      const scan = (code: string, msgId: string) => JSON.stringify({ msgId, ts: Date.now(), cylinderCode: code, stationId: 'ST-01', point: 'pre_fill', operatorId: 'OP-1' });
      const t0 = Date.now();
      await c.publishAsync(`cylinder/${d.id}/scan`, scan('LPG-OLD-1', 'scan-old'), { qos: 1 });
      await c.publishAsync(`cylinder/${d.id}/scan`, scan('LPG-OK-1', 'scan-ok'), { qos: 1 });
      const got = (await replies).map((m) => JSON.parse(m.payload.toString()));
      expect(Date.now() - t0).toBeLessThan(3000);
      const old = got.find((r) => r.msgId === 'scan-old');
      expect(old).toMatchObject({ cylinderCode: 'LPG-OLD-1', decision: 'refuse' });
      expect(old.reasons).toContain('expired_life');
      expect(got.find((r) => r.msgId === 'scan-ok')).toMatchObject({ decision: 'allow' });
      await c.endAsync();
      await waitForAlert('cylinder.refused', d.id);
    });
  });

  describe('dispenser', () => {
    it('a rolled-back totaliser raises a critical alert', async () => {
      const d = await ts.registerDevice({ id: 'e2e-disp-1', family: 'dispenser', meta: { stationId: 'FS-01' } });
      const c = await ts.connectDevice(d.id, d.secret);
      const txn = (msgId: string, totalizerL: number) => JSON.stringify({ ...examplePayload('dispenser', 'txn', msgId, Date.now()), volumeL: 40, unitPrice: 7.51, amountYuan: 300.4, totalizerL, durationS: 60, pulses: 4000, pulsesPerL: 100 });
      await c.publishAsync(`dispenser/${d.id}/txn`, txn('t1', 10_000), { qos: 1 });
      await c.publishAsync(`dispenser/${d.id}/txn`, txn('t2', 10_040), { qos: 1 });
      await c.publishAsync(`dispenser/${d.id}/txn`, txn('t3', 9_000), { qos: 1 });
      const alert = await waitForAlert('dispenser.totalizer', d.id);
      expect(alert.severity).toBe('critical');
      await c.endAsync();
    });
  });

  describe('alert actions and integrations', () => {
    it('acknowledge, note and resolve via the API; the timeline says who', async () => {
      const d = await ts.registerDevice({ id: 'e2e-cam-1', family: 'kitchen', meta: { storeId: 'S-9' } });
      const c = await ts.connectDevice(d.id, d.secret);
      await c.publishAsync(`kitchen/${d.id}/violation`, JSON.stringify({ msgId: 'v1', ts: Date.now(), storeId: 'S-9', type: 'rat', confidence: 0.9 }), { qos: 1 });
      await c.publishAsync(`kitchen/${d.id}/violation`, JSON.stringify({ msgId: 'v2', ts: Date.now(), storeId: 'S-9', type: 'rat', confidence: 0.8 }), { qos: 1 });
      await c.endAsync();
      const alert = await waitForAlert('kitchen.violation', d.id);
      const op = { authorization: `Bearer ${await ts.token('op1', 'operator-pass')}` };
      expect((await api<AlertBody>('GET', `/api/alerts/${alert.id}`)).body.count).toBe(2);
      expect((await api('POST', `/api/alerts/${alert.id}/ack`, { note: 'calling the store' }, op)).status).toBe(200);
      expect((await api('POST', `/api/alerts/${alert.id}/note`, { note: 'inspector on the way' }, op)).status).toBe(200);
      const done = await api<AlertBody>('POST', `/api/alerts/${alert.id}/resolve`, { note: 'rectified' }, op);
      expect(done.body.status).toBe('resolved');
      expect(done.body.timeline.map((t) => [t.action, t.by])).toEqual([['opened', 'system'], ['repeated', 'system'], ['acknowledged', 'op1'], ['noted', 'op1'], ['resolved', 'op1']]);
      const again = await api<{ error: { code: string } }>('POST', `/api/alerts/${alert.id}/ack`, {}, op);
      expect([again.status, again.body.error.code]).toEqual([409, 'alert_conflict']);
      const disp = { authorization: `Bearer ${await ts.token('disp1', 'dispatcher-pass')}` };
      expect((await api('POST', `/api/alerts/${alert.id}/note`, { note: 'x' }, disp)).status).toBe(403);
    });

    it.skipIf(!mosquitto.ok)('mosquitto_sub, signed in as a user, receives alerts on alerts/{family}/{rule}; a device may not subscribe there', async () => {
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(ts.started.mqttPort), '-i', 'user:op1', '-u', 'op1', '-P', 'operator-pass', '-q', '1', '-t', 'alerts/dispenser/#', '-C', '1', '-W', '10', '-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      sub.stdout.on('data', (b: Buffer) => { out += b.toString(); });
      const exited = new Promise<number | null>((r) => sub.on('exit', r));
      await new Promise((r) => setTimeout(r, 500));
      const d = await ts.registerDevice({ id: 'e2e-disp-2', family: 'dispenser' });
      const c = await ts.connectDevice(d.id, d.secret);
      await c.publishAsync(`dispenser/${d.id}/tamper`, JSON.stringify({ msgId: 'tp1', ts: Date.now(), stationId: 'FS-02', dispenserId: 'D-1', kind: 'seal_open' }), { qos: 1 });
      expect(await exited).toBe(0);
      expect(out).toMatch(/^alerts\/dispenser\/tamper /);
      expect(JSON.parse(out.slice(out.indexOf(' ') + 1)).alert).toMatchObject({ rule: 'dispenser.tamper', severity: 'critical' });
      // MQTT.js fails a SUBACK holding 0x80 and carries the packet on the error
      const granted = await c.subscribeAsync('alerts/#', { qos: 1 }).then((g) => g.map((x) => x.qos), (err: { packet?: { granted: number[] } }) => err.packet?.granted ?? []);
      expect(granted).toEqual([128]);
      await c.endAsync();
    });
  });

  describe('kitchen repeat offenders (红黑榜)', () => {
    it('3 class-2 alerts within 7 days flag the store; a false positive takes it off again', async () => {
      const d = await ts.registerDevice({ id: 'e2e-cam-2', family: 'kitchen', meta: { storeId: 'S-42' } });
      const c = await ts.connectDevice(d.id, d.secret);
      for (const [i, type] of ['smoking', 'trash_uncovered', 'board_mixed'].entries()) {
        await c.publishAsync(`kitchen/${d.id}/violation`, JSON.stringify({ msgId: `ro-${i}`, ts: Date.now(), storeId: 'S-42', type, confidence: 0.9 }), { qos: 1 });
      }
      await c.endAsync();
      const until = Date.now() + 3000;
      let flagged: Array<{ storeId: string; count: number }> = [];
      while (Date.now() < until) {
        flagged = (await api<{ items: Array<{ storeId: string; count: number }> }>('GET', '/api/stores/flagged')).body.items;
        if (flagged.some((f) => f.storeId === 'S-42')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(flagged.find((f) => f.storeId === 'S-42')?.count).toBe(3);
      const smoking = (await api<{ items: AlertBody[] }>('GET', `/api/alerts?rule=kitchen.violation&deviceId=${d.id}`)).body.items.find((a) => a.params.type === 'smoking')!;
      const op = { authorization: `Bearer ${await ts.token('op1', 'operator-pass')}` };
      const fp = await api<AlertBody>('POST', `/api/alerts/${smoking.id}/false-positive`, { note: 'steam, not smoke' }, op);
      expect(fp.body.status).toBe('false_positive');
      expect((await api<{ items: Array<{ storeId: string }> }>('GET', '/api/stores/flagged')).body.items.some((f) => f.storeId === 'S-42')).toBe(false);
    });
  });

  describe('restart in the middle of a timer', () => {
    it('a trapped timer started before a restart fires after it, once', async () => {
      const first = await startService(modeSettings);
      const dir = first.dataDir;
      const d = await first.registerDevice({ id: 'restart-elev', family: 'elevator' });
      const c = await first.connectDevice(d.id, d.secret);
      await c.publishAsync(`elevator/${d.id}/status`, status(trappedStatus, 'rs1'), { qos: 1 });
      await c.endAsync();
      await first.stop();
      await new Promise((r) => setTimeout(r, 1600));
      const second = await startService(modeSettings, dir);
      try {
        const until = Date.now() + 4000;
        let items: AlertBody[] = [];
        while (Date.now() < until) {
          const res = await second.service.http.inject({ method: 'GET', url: `/api/alerts?rule=elevator.trapped&deviceId=${d.id}`, headers: { authorization: `Bearer ${second.adminToken}` } });
          items = res.json().items;
          if (items.length) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(items).toHaveLength(1);
        expect(second.service.engine!.activeRescueCases().filter((rc) => rc.elevatorId === d.id)).toHaveLength(1);
        // acknowledged before a restart, still acknowledged after it, timeline and all
        const headers = { authorization: `Bearer ${second.adminToken}` };
        expect((await second.service.http.inject({ method: 'POST', url: `/api/alerts/${items[0]!.id}/ack`, headers, payload: { note: 'dispatcher on it' } })).statusCode).toBe(200);
        await second.stop();
        const third = await startService(modeSettings, dir);
        try {
          const res = await third.service.http.inject({ method: 'GET', url: `/api/alerts/${items[0]!.id}`, headers: { authorization: `Bearer ${third.adminToken}` } });
          expect(res.json()).toMatchObject({ status: 'acknowledged' });
          expect(res.json().timeline.map((t: { action: string }) => t.action)).toContain('acknowledged');
          expect(third.service.engine!.activeAlerts().map((a) => a.id)).toContain(items[0]!.id);
        } finally {
          await third.stop();
        }
      } finally {
        await second.dispose();
      }
    });
  });
});
