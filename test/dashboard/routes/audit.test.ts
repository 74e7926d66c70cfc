/**
 * The audit log on a real service (accounts/auditLog.ts, dashboard/routes/audit.ts), with
 * fastify inject: every recorded action, done once through its route, appears once with its
 * actor, target and address; a refused login is recorded by the name typed and never the
 * password. Access, filters, paging and exports: auditApi.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { auditActionCodes, auditActions, type AuditAction } from '../../../core/audit.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, routeService, until, type Loose } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);
routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

const WRONG_PASSWORD = 'Never-Kept-7f3a';

/** PATCH and DELETE, which apiFor does not send. */
async function send(method: 'PATCH' | 'DELETE', url: string, payload?: unknown, token = ts.adminToken): Promise<number> {
  const res = await ts.service.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as string }) });
  return res.statusCode;
}

async function entries(query: string): Promise<{ total: number; items: Loose[] }> {
  const res = await api('GET', `/api/audit?limit=1000&${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.data;
}

async function createUser(username: string, role = 'operator'): Promise<void> {
  expect((await api('POST', '/api/users', { payload: { username, password: `${username}-password`, role } })).statusCode).toBe(201);
}

/** the kitchen alerts by condition, and the ids of the dead letter and rescue case made below */
const alerts: Record<string, string> = {};
let deadLetterId = 0;
let caseId = '';

beforeAll(async () => {
  const cam = await ts.registerDevice({ id: 'au-cam', family: 'kitchen', district: '330106', meta: { storeId: 'S-AU', storeName: '审计餐馆' } });
  await ts.registerDevice({ id: 'au-lift', family: 'elevator', district: '330106', meta: {} });
  const c = await ts.connectDevice(cam.id, cam.secret);
  for (const type of ['rat', 'unattended_flame', 'smoking']) {
    await c.publishAsync(`kitchen/${cam.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', `au-${type}`, Date.now()), storeId: 'S-AU', type, confidence: 0.95 }), { qos: 1 });
  }
  await c.publishAsync(`kitchen/${cam.id}/violation`, '{"msgId":"au-bad"}', { qos: 1 });
  await c.endAsync();
  await until(async () => (await api('GET', '/api/alerts?rule=kitchen.violation')).data.items.length === 3, 8000);
  for (const a of (await api('GET', '/api/alerts?rule=kitchen.violation')).data.items as Array<{ id: string; condition: string }>) alerts[a.condition] = a.id;
  await until(async () => (await api('GET', '/api/stores/flagged')).data.items.length === 1, 8000);
  deadLetterId = (await api('GET', '/api/dead-letters?deviceId=au-cam')).data.items[0].id;
  for (const u of ['au-login', 'au-self', 'au-dis', 'au-role', 'au-dist', 'au-reset', 'au-pw', 'au-del']) await createUser(u);
});

const alertCall = (path: string, name: string, payload: unknown = {}) => async () => {
  const res = await api('POST', `/api/alerts/${alerts[name]}/${path}`, { token: opToken, payload });
  expect(res.statusCode, res.body).toBe(200);
};

/** [action, what does it (once), the target's id, actor, details expected (a subset), address (default the client's)] */
const cases: Array<[AuditAction, () => Promise<void>, () => string | null, string | null, Record<string, unknown>?, (string | null)?]> = [
  ['auth.login', async () => { await ts.token('au-login', 'au-login-password'); }, () => 'au-login', 'au-login', { role: 'operator' }],
  ['auth.login_refused', async () => {
    expect((await api('POST', '/api/login', { token: null, payload: { username: 'ghost\u0007user', password: WRONG_PASSWORD } })).statusCode).toBe(401);
  }, () => 'ghost user', null, { reason: 'bad_credentials' }],
  ['auth.logout', async () => { expect((await api('POST', '/api/logout', { token: await ts.token('au-self', 'au-self-password') })).statusCode).toBe(204); }, () => 'au-self', 'au-self'],
  ['auth.password_changed', async () => {
    const token = await ts.token('au-self', 'au-self-password');
    expect((await api('POST', '/api/me/password', { token, payload: { currentPassword: 'au-self-password', newPassword: 'au-self-new-password' } })).statusCode).toBe(200);
  }, () => 'au-self', 'au-self'],
  ['user.created', () => createUser('au-new', 'dispatcher'), () => 'au-new', 'admin', { role: 'dispatcher', district: null }],
  ['user.disabled', async () => { expect(await send('PATCH', '/api/users/au-dis', { disabled: true })).toBe(200); }, () => 'au-dis', 'admin'],
  ['user.enabled', async () => { expect(await send('PATCH', '/api/users/au-dis', { disabled: false })).toBe(200); }, () => 'au-dis', 'admin'],
  ['user.role_changed', async () => { expect(await send('PATCH', '/api/users/au-role', { role: 'dispatcher' })).toBe(200); }, () => 'au-role', 'admin', { from: 'operator', to: 'dispatcher' }],
  ['user.district_changed', async () => { expect(await send('PATCH', '/api/users/au-dist', { district: '330106' })).toBe(200); }, () => 'au-dist', 'admin', { from: null, to: '330106' }],
  ['user.password_reset', async () => {
    expect((await api('POST', '/api/users/au-reset/password')).statusCode).toBe(200);
    expect(await send('PATCH', '/api/users/au-pw', { password: 'au-pw-new-password' })).toBe(200);
  }, () => 'au-reset', 'admin', { generated: true }],
  ['user.deleted', async () => { expect(await send('DELETE', '/api/users/au-del')).toBe(204); }, () => 'au-del', 'admin', { role: 'operator' }],
  ['device.registered', async () => { await ts.registerDevice({ id: 'au-new-cam', family: 'kitchen', meta: { storeId: 'S-X' } }); }, () => 'au-new-cam', 'admin', { family: 'kitchen' }],
  ['device.secret_rotated', async () => { expect((await api('POST', '/api/devices/au-new-cam/secret')).statusCode).toBe(200); }, () => 'au-new-cam', 'admin'],
  ['device.import_started', async () => {
    const job = await ts.importDevices([{ id: 'au-imp-1', family: 'elevator' }, { id: 'au-imp-2', family: 'elevator' }]);
    expect(job.status).toBe('done');
    importJob = job.id;
  }, () => importJob, 'admin', { rows: 2, format: 'json', onConflict: 'error' }],
  // the job ends after its request answered: by who started it, from no address
  ['device.imported', () => Promise.resolve(), () => importJob, 'admin', { status: 'done', created: 2, updated: 0, skipped: 0 }, null],
  ['cylinder.imported', async () => {
    const row = { code: 'AU-C1', model: 'YSP15', mfgDate: '2023-05-01', nextInspection: '2030-05-01', ownerStationId: 'ST-AU', status: 'in_service' };
    expect((await api('POST', '/api/cylinders/import', { payload: [row] })).statusCode).toBe(200);
  }, () => null, 'admin', { created: 1, rows: 1, format: 'json' }],
  ['store.list_step', async () => {
    expect((await api('POST', '/api/stores/S-AU/list-steps', { token: opToken, payload: { stage: 'notified', note: '书面通知' } })).statusCode).toBe(200);
  }, () => 'S-AU', 'op1', { stage: 'notified' }],
  ['alert.ack', alertCall('ack', 'rat'), () => alerts.rat!, 'op1', { rule: 'kitchen.violation' }],
  ['alert.note', alertCall('note', 'rat', { note: '已电话通知商户' }), () => alerts.rat!, 'op1', { note: '已电话通知商户' }],
  ['alert.assign', alertCall('assign', 'rat', { assignee: '西湖所' }), () => alerts.rat!, 'op1', { assignee: '西湖所' }],
  ['alert.resolve', alertCall('resolve', 'rat'), () => alerts.rat!, 'op1'],
  ['alert.false_positive', alertCall('false-positive', 'unattended_flame', { note: '是灶台反光' }), () => alerts.unattended_flame!, 'op1'],
  ['alert.store_answer', alertCall('store-answer', 'smoking', { note: '已整改' }), () => alerts.smoking!, 'op1'],
  ['alert.recheck', alertCall('recheck', 'smoking', { passed: true, note: '复查合格' }), () => alerts.smoking!, 'op1', { passed: true }],
  ['rescue.reported', async () => {
    const res = await api('POST', '/api/rescue-cases', { token: dispToken, payload: { elevatorId: 'au-lift', floor: '3' } });
    expect(res.statusCode, res.body).toBe(201);
    caseId = res.data.id;
  }, () => caseId, 'disp1', { elevatorId: 'au-lift', merged: false }],
  ['rescue.step', async () => {
    expect((await api('POST', `/api/rescue-cases/${caseId}/steps`, { token: dispToken, payload: { step: 'dispatched' } })).statusCode).toBe(200);
  }, () => caseId, 'disp1', { step: 'dispatched' }],
  ['dead_letter.replayed', async () => {
    expect((await api('POST', '/api/dead-letters/replay', { payload: { ids: [deadLetterId] } })).statusCode).toBe(200);
  }, () => String(deadLetterId), 'admin', { count: 1 }],
];
let importJob = '';

describe('every action is recorded once, by its actor, about its target, from the client address', () => {
  it('the table covers every action code', () => {
    // the escalation acknowledgement needs a breached rescue deadline: recorded like the steps (rescue.ts)
    expect(new Set([...cases.map((c) => c[0]), 'rescue.escalation_ack'])).toEqual(new Set(auditActionCodes));
  });

  it.each(cases)('%s', async (action, run, target, actor, details, address = '127.0.0.1') => {
    await run();
    const { total, items } = await entries(`action=${action}&target=${encodeURIComponent(target() ?? '')}`.replace(/&target=$/, ''));
    expect(total, JSON.stringify(items)).toBe(1);
    expect(items[0]).toMatchObject({ action, actor, targetKind: auditActions[action], targetId: target(), address });
    expect(Date.parse(items[0].at)).toBeGreaterThan(Date.now() - 60_000);
    if (details) expect(items[0].details).toMatchObject(details);
  });

  it('a PATCH records each change it makes; a password set by the admin is not generated', async () => {
    expect((await entries('action=user.password_reset&target=au-pw')).items.map((e) => e.details)).toEqual([{ generated: false }]);
    expect(await send('PATCH', '/api/users/au-role', { role: 'operator', district: '3301', disabled: true })).toBe(200);
    expect((await entries('target=au-role')).items.map((e) => e.action).slice(0, 3).sort()).toEqual(['user.disabled', 'user.district_changed', 'user.role_changed']);
    // nothing changed, nothing recorded
    const before = (await entries('target=au-role')).total;
    expect(await send('PATCH', '/api/users/au-role', { disabled: true })).toBe(200);
    expect((await entries('target=au-role')).total).toBe(before);
  });

  it('a refusal is not an action: a refused PATCH records nothing; a refused login is recorded without the password', async () => {
    expect(await send('PATCH', '/api/users/admin', { disabled: true })).toBe(409);
    expect((await entries('target=admin&action=user.disabled')).total).toBe(0);
    const all = await api('GET', '/api/audit?limit=1000');
    const csv = await ts.service.http.inject({ url: '/api/audit?format=csv', headers: { authorization: `Bearer ${ts.adminToken}` } });
    for (const text of [all.body, csv.body]) {
      expect(text).toContain('ghost user');
      expect(text).not.toContain(WRONG_PASSWORD);
      for (const pw of ['au-self-new-password', 'au-pw-new-password', 'op1-password']) expect(text).not.toContain(pw);
    }
    // the generated password is in the answer only, never in the log
    const reset = await api('POST', '/api/users/au-reset/password', { payload: {} });
    expect(reset.data.password).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect((await api('GET', '/api/audit?limit=1000')).body).not.toContain(reset.data.password);
    // a name longer than any username is cut, and still recorded once
    expect((await api('POST', '/api/login', { token: null, payload: { username: 'x'.repeat(64), password: WRONG_PASSWORD } })).statusCode).toBe(401);
    expect((await entries(`target=${'x'.repeat(64)}`)).total).toBe(1);
  });

  it('the import job\'s end is recorded without the secrets of its result', async () => {
    const job = (await api('GET', `/api/devices/import/jobs/${importJob}`)).data;
    const [entry] = (await entries(`action=device.imported&target=${importJob}`)).items;
    for (const d of job.result.created) expect(JSON.stringify(entry)).not.toContain(d.secret);
  });
});
