/**
 * The operator HTTP API (docs/protocol.md, Operator HTTP API) on a real service: every route via
 * inject, with readings and dead letters produced by real devices over MQTT.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../core/schemas/examples.js';
import { connectMqtt, startService, type TestService } from './helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;

interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => unknown;
}

// Response bodies are checked field by field below; a loose type keeps that readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

async function api(method: 'GET' | 'POST', url: string, opts: { token?: string | null; payload?: unknown; headers?: Record<string, string> } = {}): Promise<Res & { data: Loose }> {
  const token = opts.token === undefined ? ts.adminToken : opts.token;
  const res = await ts.service.http.inject({
    method, url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
    ...(opts.payload === undefined ? {} : { payload: opts.payload as string }),
  });
  let data: unknown = null;
  try { data = res.json(); } catch { /* not JSON */ }
  return Object.assign(res as unknown as Res, { data: data as Loose });
}

function expectError(res: Res & { data: Loose }, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.data.error.code).toBe(code);
  expect(typeof res.data.error.message).toBe('string');
}

const detailPaths = (res: { data: Loose }): string[] => (res.data.error.details as Array<{ path: string }>).map((d) => d.path);

beforeAll(async () => {
  ts = await startService({ LOGIN_MAX_ATTEMPTS: 3 });
  for (const [username, role] of [['op1', 'operator'], ['disp1', 'dispatcher']] as const) {
    const res = await api('POST', '/api/users', { payload: { username, password: `${username}-password`, role } });
    expect(res.statusCode, res.body).toBe(201);
  }
  opToken = await ts.token('op1', 'op1-password');
  dispToken = await ts.token('disp1', 'disp1-password');
});
afterAll(async () => ts?.dispose());

describe('ops routes', () => {
  it('GET /healthz: 200 with each component up, no token needed', async () => {
    const res = await api('GET', '/healthz', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.data).toMatchObject({ ok: true, components: { store: { ok: true }, broker: { ok: true }, http: { ok: true } } });
  });

  it('GET /metrics: Prometheus text with the ingest metrics, no token needed', async () => {
    const res = await api('GET', '/metrics', { token: null });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^text\/plain/);
    for (const name of [
      'ingest_received_total', 'ingest_stored_total', 'ingest_duplicates_total', 'ingest_dead_letters_total', 'ingest_batches_total',
      'ingest_store_failures_total', 'ingest_pending_rows', 'ingest_dedupe_entries', 'ingest_batch_commit_seconds',
      'mqtt_connected_clients', 'devices_registered',
    ]) expect(res.body).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge|histogram)$`, 'm'));
    expect(res.body).toMatch(/^# TYPE ingest_received_total counter$/m);
    expect(res.body).toMatch(/^ingest_received_total \d+$/m);
    expect(res.body).toMatch(/^devices_registered \d+$/m);
  });

  it('GET /docs/json: an OpenAPI document listing the /api routes', async () => {
    const res = await api('GET', '/docs/json', { token: null });
    expect(res.statusCode).toBe(200);
    expect(res.data.openapi).toMatch(/^3\./);
    const paths = res.data.paths as Record<string, Record<string, unknown>>;
    const expected: Array<[string, string]> = [
      ['/api/login', 'post'], ['/api/users', 'get'], ['/api/users', 'post'], ['/api/devices', 'get'], ['/api/devices', 'post'],
      ['/api/devices/import', 'post'], ['/api/devices/import/jobs', 'get'], ['/api/devices/import/jobs/{id}', 'get'], ['/api/devices/{id}', 'get'], ['/api/devices/{id}/secret', 'post'],
      ['/api/devices/{id}/readings', 'get'], ['/api/dead-letters', 'get'], ['/healthz', 'get'], ['/metrics', 'get'],
    ];
    for (const [p, method] of expected) expect(paths[p]?.[method], `${method} ${p}`).toBeDefined();
    expect(res.data.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it.each([['GET', '/nope'], ['GET', '/api/nope'], ['POST', '/api/devices/x/y/z']] as const)('%s %s: 404 not_found', async (method, url) => {
    const res = await api(method, url);
    expectError(res, 404, 'not_found');
  });
});

describe('login', () => {
  it('good password: token and role; the token works', async () => {
    const res = await api('POST', '/api/login', { token: null, payload: { username: 'op1', password: 'op1-password' } });
    expect(res.statusCode).toBe(200);
    expect(res.data.role).toBe('operator');
    expect(typeof res.data.token).toBe('string');
    expect(Date.parse(res.data.expiresAt)).toBeGreaterThan(Date.now());
    const me = await api('GET', '/api/me', { token: res.data.token });
    expect(me.data).toEqual({ username: 'op1', role: 'operator' });
  });

  it('bad password and unknown user get the same 401 bad_credentials', async () => {
    const bad = await api('POST', '/api/login', { token: null, payload: { username: 'disp1', password: 'wrong-password' } });
    const unknown = await api('POST', '/api/login', { token: null, payload: { username: 'nobody-here', password: 'whatever1' } });
    expectError(bad, 401, 'bad_credentials');
    expectError(unknown, 401, 'bad_credentials');
    expect(bad.data.error.message).toBe(unknown.data.error.message);
  });

  it.each([
    ['missing password', { username: 'admin' }, 'password'],
    ['empty username', { username: '', password: 'x' }, 'username'],
    ['not JSON object', [], '(root)'],
  ])('%s: 400 validation', async (_d, payload, p) => {
    const res = await api('POST', '/api/login', { token: null, payload });
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('rate limiting: after LOGIN_MAX_ATTEMPTS failures, 429 rate_limited with Retry-After, even with the right password', async () => {
    expect((await api('POST', '/api/users', { payload: { username: 'rl-user', password: 'rl-password', role: 'operator' } })).statusCode).toBe(201);
    for (let i = 0; i < 3; i++) {
      expectError(await api('POST', '/api/login', { token: null, payload: { username: 'rl-user', password: `wrong-${i}` } }), 401, 'bad_credentials');
    }
    for (const password of ['wrong-again', 'rl-password']) {
      const res = await api('POST', '/api/login', { token: null, payload: { username: 'rl-user', password } });
      expectError(res, 429, 'rate_limited');
      const retry = Number(res.headers['retry-after']);
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(15 * 60);
    }
    // other users are not affected
    expect((await api('POST', '/api/login', { token: null, payload: { username: 'op1', password: 'op1-password' } })).statusCode).toBe(200);
  });

  it('a success resets the failure count', async () => {
    expect((await api('POST', '/api/users', { payload: { username: 'rl-reset', password: 'rl-password', role: 'operator' } })).statusCode).toBe(201);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) await api('POST', '/api/login', { token: null, payload: { username: 'rl-reset', password: 'nope-nope' } });
      expect((await api('POST', '/api/login', { token: null, payload: { username: 'rl-reset', password: 'rl-password' } })).statusCode).toBe(200);
    }
  });
});

describe('users', () => {
  it('admin creates operator and dispatcher users; they log in with their role', async () => {
    const op = await api('POST', '/api/users', { payload: { username: 'op2', password: 'op2-password', role: 'operator' } });
    expect(op.statusCode).toBe(201);
    expect(op.data).toMatchObject({ username: 'op2', role: 'operator' });
    expect(Number.isNaN(Date.parse(op.data.createdAt))).toBe(false);
    expect(op.data).not.toHaveProperty('password');
    expect(op.data).not.toHaveProperty('passwordHash');
    const d = await api('POST', '/api/users', { payload: { username: 'disp2', password: 'disp2-password', role: 'dispatcher' } });
    expect(d.statusCode).toBe(201);
    const login = await api('POST', '/api/login', { token: null, payload: { username: 'disp2', password: 'disp2-password' } });
    expect(login.data.role).toBe('dispatcher');
    const list = await api('GET', '/api/users');
    expect(list.data.items.map((u: { username: string }) => u.username)).toEqual(expect.arrayContaining(['admin', 'op1', 'disp1', 'op2', 'disp2']));
    expect(list.body).not.toContain('scrypt');
  });

  it('duplicate -> 409 user_exists', async () => {
    expectError(await api('POST', '/api/users', { payload: { username: 'op1', password: 'another-password', role: 'dispatcher' } }), 409, 'user_exists');
    expectError(await api('POST', '/api/users', { payload: { username: 'admin', password: 'another-password', role: 'admin' } }), 409, 'user_exists');
  });

  it.each([
    ['short password (7)', { username: 'u-short', password: '1234567', role: 'operator' }, 'password'],
    ['bad username chars', { username: 'bad user', password: '12345678', role: 'operator' }, 'username'],
    ['unknown role', { username: 'u-role', password: '12345678', role: 'root' }, 'role'],
    ['missing role', { username: 'u-role2', password: '12345678' }, 'role'],
  ])('%s -> 400 validation', async (_d, payload, p) => {
    const res = await api('POST', '/api/users', { payload });
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('a password of exactly 8 characters is accepted', async () => {
    expect((await api('POST', '/api/users', { payload: { username: 'u-eight', password: '12345678', role: 'operator' } })).statusCode).toBe(201);
  });
});

describe('authentication and roles', () => {
  /** the operator's token with one character of it changed */
  function altered(): string {
    const last = opToken.at(-1) === 'A' ? 'B' : 'A';
    return opToken.slice(0, -1) + last;
  }

  it.each([
    ['no token', () => null],
    ['garbage token', () => 'garbage'],
    ['a token with junk appended', () => opToken + 'x'],
    ['a token with one character changed', altered],
    ['a token cut short', () => opToken.slice(0, -1)],
  ])('%s -> 401 unauthorized', async (_d, token) => {
    for (const [method, url] of [['GET', '/api/devices'], ['GET', '/api/dead-letters'], ['POST', '/api/devices'], ['GET', '/api/me']] as const) {
      expectError(await api(method, url, { token: token(), payload: method === 'POST' ? { id: 'x-unauth', family: 'kitchen' } : undefined }), 401, 'unauthorized');
    }
    expect((await api('GET', '/api/devices/x-unauth')).statusCode).toBe(404);
  });

  it('a token in a header without Bearer is refused', async () => {
    const res = await ts.service.http.inject({ method: 'GET', url: '/api/devices', headers: { authorization: ts.adminToken } });
    expect(res.statusCode).toBe(401);
  });

  it.each([
    ['operator', () => opToken],
    ['dispatcher', () => dispToken],
  ])('%s may not manage devices or users -> 403 forbidden', async (_role, token) => {
    expectError(await api('POST', '/api/devices', { token: token(), payload: { id: 'x-forbidden', family: 'kitchen' } }), 403, 'forbidden');
    expectError(await api('POST', '/api/devices/import', { token: token(), payload: [] }), 403, 'forbidden');
    expectError(await api('POST', '/api/users', { token: token(), payload: { username: 'sneaky', password: '12345678', role: 'admin' } }), 403, 'forbidden');
    expectError(await api('GET', '/api/users', { token: token() }), 403, 'forbidden');
    expect((await api('GET', '/api/devices/x-forbidden', { token: token() })).statusCode).toBe(404); // not created
    expect((await api('GET', '/api/devices', { token: token() })).statusCode).toBe(200);
  });

  it('dispatchers may not read dead letters; operators may', async () => {
    expectError(await api('GET', '/api/dead-letters', { token: dispToken }), 403, 'forbidden');
    expect((await api('GET', '/api/dead-letters', { token: opToken })).statusCode).toBe(200);
  });

  it('a rotated secret needs admin', async () => {
    await ts.registerDevice({ id: 'role-rot', family: 'kitchen' });
    expectError(await api('POST', '/api/devices/role-rot/secret', { token: opToken }), 403, 'forbidden');
  });
});

describe('POST /api/devices', () => {
  it('registers a device and returns its secret once (32 chars base64url)', async () => {
    const body = { id: 'reg-lift-1', family: 'elevator', name: 'Lift 1', location: { lat: 30.25, lng: 120.17 }, district: '330106', meta: { registrationCode: 'R-1', arrivalDeadlineMin: 45 } };
    const res = await api('POST', '/api/devices', { payload: body });
    expect(res.statusCode).toBe(201);
    expect(Object.keys(res.data).sort()).toEqual(['family', 'id', 'secret']);
    expect(res.data).toMatchObject({ id: 'reg-lift-1', family: 'elevator' });
    expect(res.data.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(ts.service.registry.authenticate('reg-lift-1', Buffer.from(res.data.secret))).not.toBeNull();

    const got = await api('GET', '/api/devices/reg-lift-1');
    expect(got.statusCode).toBe(200);
    expect(got.data).toMatchObject({ id: 'reg-lift-1', family: 'elevator', name: 'Lift 1', location: { lat: 30.25, lng: 120.17 }, district: '330106', meta: { registrationCode: 'R-1', arrivalDeadlineMin: 45 } });
    expect(got.body).not.toContain(res.data.secret);
    expect(got.data).not.toHaveProperty('secretHash');
    expect(got.data).not.toHaveProperty('secret');
  });

  it('two devices get different secrets', async () => {
    const a = await api('POST', '/api/devices', { payload: { id: 'reg-a', family: 'kitchen' } });
    const b = await api('POST', '/api/devices', { payload: { id: 'reg-b', family: 'kitchen' } });
    expect(a.data.secret).not.toBe(b.data.secret);
  });

  it.each([
    ['bad id characters', { id: 'bad id!', family: 'kitchen' }, ['id'], /A-Za-z0-9/],
    ['id of 65 characters', { id: 'x'.repeat(65), family: 'kitchen' }, ['id'], null],
    ['empty id', { id: '', family: 'kitchen' }, ['id'], null],
    ['unknown family', { id: 'v-1', family: 'boiler' }, ['family'], /kitchen/],
    ['missing family', { id: 'v-2' }, ['family'], null],
    ['meta key of another family', { id: 'v-3', family: 'kitchen', meta: { registrationCode: 'x' } }, ['meta'], /kitchen devices take: storeId, storeName, address, cameraArea/],
    ['unknown meta key (elevator)', { id: 'v-4', family: 'elevator', meta: { color: 'red' } }, ['meta'], /elevator devices take: registrationCode, rescueCode/],
    ['meta value out of range', { id: 'v-5', family: 'elevator', meta: { arrivalDeadlineMin: 4 } }, ['meta.arrivalDeadlineMin'], null],
    ['bad district (5 digits)', { id: 'v-6', family: 'kitchen', district: '33010' }, ['district'], /GB\/T 2260/],
    ['bad district (letters)', { id: 'v-7', family: 'kitchen', district: '33010a' }, ['district'], null],
    ['lat over 90', { id: 'v-8', family: 'kitchen', location: { lat: 90.0001, lng: 0 } }, ['location.lat'], null],
    ['lat under -90', { id: 'v-9', family: 'kitchen', location: { lat: -91, lng: 0 } }, ['location.lat'], null],
    ['lng over 180', { id: 'v-10', family: 'kitchen', location: { lat: 0, lng: 180.5 } }, ['location.lng'], null],
    ['location missing lng', { id: 'v-11', family: 'kitchen', location: { lat: 0 } }, ['location.lng'], null],
    ['unknown top-level key', { id: 'v-12', family: 'kitchen', colour: 'red' }, ['(root)'], /colour/],
    ['empty name', { id: 'v-13', family: 'kitchen', name: '' }, ['name'], null],
    ['several problems at once', { id: 'bad id', family: 'kitchen', district: '1', location: { lat: 100, lng: 0 } }, ['id', 'district', 'location.lat'], null],
  ])('%s -> 400 validation naming %j', async (_d, payload, paths, message) => {
    const res = await api('POST', '/api/devices', { payload });
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toEqual(expect.arrayContaining(paths));
    if (message) expect(res.data.error.message).toMatch(message);
    expect((await api('GET', `/api/devices/${encodeURIComponent(String(payload.id ?? 'none'))}`)).statusCode).not.toBe(200);
  });

  it('boundary values are accepted: lat/lng at ±90/±180, 9- and 12-digit districts, 64-char id', async () => {
    for (const [i, body] of ([
      { location: { lat: 90, lng: 180 }, district: '330106001' },
      { location: { lat: -90, lng: -180 }, district: '330106001002' },
    ] as const).entries()) {
      expect((await api('POST', '/api/devices', { payload: { id: `edge-${i}`, family: 'kitchen', ...body } })).statusCode).toBe(201);
    }
    expect((await api('POST', '/api/devices', { payload: { id: 'e'.repeat(64), family: 'dispenser' } })).statusCode).toBe(201);
  });

  it('duplicate id -> 409 device_exists, and the first secret keeps working', async () => {
    const first = await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'cylinder' } });
    expect(first.statusCode).toBe(201);
    expectError(await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'cylinder' } }), 409, 'device_exists');
    expectError(await api('POST', '/api/devices', { payload: { id: 'dup-1', family: 'kitchen' } }), 409, 'device_exists');
    expect(ts.service.registry.authenticate('dup-1', Buffer.from(first.data.secret))).not.toBeNull();
  });
});

describe('POST /api/devices/import (a background job: tests follow it to its end)', () => {
  /** The finished job of an import (ts.importDevices: POST 202, then GET ?wait= until done or failed). */
  const run = (payload: unknown[] | string, q = ''): Promise<Loose> => ts.importDevices(payload, q);

  function expectFailed(job: Loose, code: string): void {
    expect(job.status, JSON.stringify(job)).toBe('failed');
    expect(job.error.code).toBe(code);
    expect(job.error.message).toContain('nothing was imported');
    expect(job.result).toBeUndefined();
  }

  it('answers 202 with the queued job and its Location; the job ends done with the result', async () => {
    const res = await api('POST', '/api/devices/import', { payload: [{ id: 'job-1', family: 'kitchen' }] });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.data).toMatchObject({ status: 'queued', total: 1, validated: 0, written: 0, by: 'admin', onConflict: 'error', format: 'json', finishedAt: null });
    expect(res.headers.location).toBe(`/api/devices/import/jobs/${res.data.id}`);
    const done = (await api('GET', `${res.headers.location as string}?wait=30`)).data;
    expect(done).toMatchObject({ id: res.data.id, status: 'done', validated: 1, written: 1, counts: { created: 1, updated: 0, skipped: 0, errors: 0 } });
    expect(done.result.created[0]).toMatchObject({ id: 'job-1', family: 'kitchen' });
  });

  it('JSON array: creates every device with a secret', async () => {
    const rows = [
      { id: 'imp-1', family: 'kitchen', name: 'Canteen', meta: { storeId: 'S-1' } },
      { id: 'imp-2', family: 'elevator', district: '330106' },
      { id: 'imp-3', family: 'dispenser', location: { lat: 30, lng: 120 } },
    ];
    const job = await run(rows);
    expect(job.status, JSON.stringify(job)).toBe('done');
    expect(job.result.created.map((c: { id: string }) => c.id)).toEqual(['imp-1', 'imp-2', 'imp-3']);
    for (const c of job.result.created) {
      expect(c.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(ts.service.registry.authenticate(c.id, Buffer.from(c.secret))).not.toBeNull();
    }
    expect(job.result.updated).toEqual([]);
    expect(job.result.skipped).toEqual([]);
    expect((await api('GET', '/api/devices/imp-1')).data.meta).toEqual({ storeId: 'S-1' });
  });

  it('all or nothing: one bad row imports nothing, every problem has its row number', async () => {
    const job = await run([
      { id: 'aon-1', family: 'kitchen' },
      { id: 'aon-2', family: 'boiler' },
      { id: 'aon-3', family: 'kitchen' },
      { id: 'aon 4', family: 'kitchen', district: 'x' },
    ]);
    expectFailed(job, 'validation');
    const details = job.errors as Array<{ row: number; path: string }>;
    expect(details.map((d) => [d.row, d.path])).toEqual(expect.arrayContaining([[2, 'family'], [4, 'id'], [4, 'district']]));
    expect(details.every((d) => d.row !== 1 && d.row !== 3)).toBe(true);
    expect(job.counts.errors).toBe(details.length);
    for (const id of ['aon-1', 'aon-3']) expect((await api('GET', `/api/devices/${id}`)).statusCode).toBe(404);
  });

  it('a non-object row is reported with its row number', async () => {
    const job = await run([{ id: 'nob-1', family: 'kitchen' }, 'nob-2', null]);
    expectFailed(job, 'validation');
    expect(job.errors.map((d: { row: number }) => d.row)).toEqual([2, 3]);
  });

  it('duplicate ids within the file are refused with both row numbers', async () => {
    const job = await run([{ id: 'fd-1', family: 'kitchen' }, { id: 'fd-2', family: 'kitchen' }, { id: 'fd-1', family: 'elevator' }]);
    expectFailed(job, 'validation');
    expect(job.errors).toEqual([expect.objectContaining({ row: 3, path: 'id', message: expect.stringContaining('first at row 1') })]);
    expect((await api('GET', '/api/devices/fd-2')).statusCode).toBe(404);
  });

  it('a body that is neither an array nor CSV is refused at once (400, no job)', async () => {
    expectError(await api('POST', '/api/devices/import', { payload: { id: 'x', family: 'kitchen' } }), 400, 'validation');
  });

  it('the result\'s secrets go to who started the job and admins only; lists and unknown ids', async () => {
    const job = await run([{ id: 'sec-1', family: 'kitchen' }]);
    const asOperator = (await api('GET', `/api/devices/import/jobs/${job.id}`, { token: opToken })).data;
    expect(asOperator.result.created).toEqual([{ id: 'sec-1', family: 'kitchen' }]);
    expect(JSON.stringify(asOperator)).not.toContain(job.result.created[0].secret);
    const asAdmin = (await api('GET', `/api/devices/import/jobs/${job.id}`)).data;
    expect(asAdmin.result.created[0].secret).toBe(job.result.created[0].secret);
    const list = await api('GET', '/api/devices/import/jobs', { token: opToken });
    expect(list.statusCode).toBe(200);
    expect(list.data.items[0]).toMatchObject({ id: job.id, status: 'done', counts: { created: 1 } });
    expect(list.data.items.every((j: Loose) => j.result === undefined && j.errors === undefined)).toBe(true);
    expectError(await api('GET', '/api/devices/import/jobs/no-such-job'), 404, 'not_found');
  });

  describe('onConflict', () => {
    let oldSecret: string;
    beforeAll(async () => {
      const job = await run([{ id: 'oc-1', family: 'kitchen', name: 'Old' }]);
      oldSecret = job.result.created[0].secret;
    });

    it('error (the default): an existing id is a row problem and nothing is imported', async () => {
      for (const q of ['', '?onConflict=error']) {
        const job = await run([{ id: 'oc-new', family: 'kitchen' }, { id: 'oc-1', family: 'kitchen' }], q);
        expectFailed(job, 'validation');
        expect(job.errors).toEqual([expect.objectContaining({ row: 2, path: 'id', message: expect.stringContaining('already registered') })]);
        expect((await api('GET', '/api/devices/oc-new')).statusCode).toBe(404);
      }
    });

    it('skip: existing ids are left alone, new ones created', async () => {
      const job = await run([{ id: 'oc-1', family: 'elevator', name: 'Ignored' }, { id: 'oc-2', family: 'kitchen' }], '?onConflict=skip');
      expect(job.status, JSON.stringify(job)).toBe('done');
      expect(job.result.skipped).toEqual(['oc-1']);
      expect(job.result.created.map((c: { id: string }) => c.id)).toEqual(['oc-2']);
      expect((await api('GET', '/api/devices/oc-1')).data).toMatchObject({ name: 'Old', family: 'kitchen' });
    });

    it('update: existing ids get the new fields and keep their secret', async () => {
      const job = await run([{ id: 'oc-1', family: 'kitchen', name: 'New', district: '330106', meta: { storeName: 'Noodles' } }], '?onConflict=update');
      expect(job.status, JSON.stringify(job)).toBe('done');
      expect(job.result).toEqual({ created: [], updated: ['oc-1'], skipped: [] });
      const got = (await api('GET', '/api/devices/oc-1')).data;
      expect(got).toMatchObject({ name: 'New', district: '330106', meta: { storeName: 'Noodles' } });
      expect(Date.parse(got.updatedAt)).toBeGreaterThanOrEqual(Date.parse(got.createdAt));
      expect(ts.service.registry.authenticate('oc-1', Buffer.from(oldSecret))).not.toBeNull();
      // and so after a restart: the store has the update, not only the registry in memory
      expect((await ts.service.store.loadDevices()).find((d) => d.id === 'oc-1')).toMatchObject({ name: 'New', district: '330106', meta: { storeName: 'Noodles' } });
    });

    it('update refuses a family change', async () => {
      const job = await run([{ id: 'oc-1', family: 'elevator' }], '?onConflict=update');
      expectFailed(job, 'validation');
      expect(job.errors).toEqual([expect.objectContaining({ row: 1, path: 'family', message: expect.stringContaining('cannot change') })]);
      expect((await api('GET', '/api/devices/oc-1')).data.family).toBe('kitchen');
    });

    it('an unknown onConflict value -> 400', async () => {
      expectError(await api('POST', '/api/devices/import?onConflict=merge', { payload: [] }), 400, 'validation');
    });
  });

  describe('CSV', () => {
    const csv = (text: string, q = ''): Promise<Loose> => run(text, q);

    it('imports rows with location, district and metadata columns', async () => {
      const job = await csv('id,family,name,lat,lng,district,storeId,registrationCode\n'
        + 'csv-k1,kitchen,"Cafe, North",30.1,120.2,330106,S-9,\n'
        + 'csv-e1,elevator,Lift,,,,,R-77\n');
      expect(job.status, JSON.stringify(job)).toBe('done');
      expect(job.format).toBe('csv');
      expect(job.result.created.map((c: { id: string }) => c.id)).toEqual(['csv-k1', 'csv-e1']);
      expect((await api('GET', '/api/devices/csv-k1')).data).toMatchObject({
        name: 'Cafe, North', location: { lat: 30.1, lng: 120.2 }, district: '330106', meta: { storeId: 'S-9' },
      });
      expect((await api('GET', '/api/devices/csv-e1')).data).toMatchObject({ location: null, district: null, meta: { registrationCode: 'R-77' } });
    });

    it('a byte order mark and CRLF line ends are fine', async () => {
      const job = await csv('\uFEFFid,family\r\ncsv-bom,cylinder\r\n');
      expect(job.status, JSON.stringify(job)).toBe('done');
      expect(job.result.created[0].id).toBe('csv-bom');
    });

    it('bad rows: nothing imported, data-row numbers (header excluded)', async () => {
      const job = await csv('id,family,lat,lng,storeId\ncsv-ok,kitchen,,,\ncsv-bad,kitchen,95,0,\ncsv-meta,elevator,,,S-1\n');
      expectFailed(job, 'validation');
      expect(job.errors.map((d: { row: number; path: string }) => [d.row, d.path])).toEqual([[2, 'location.lat'], [3, 'meta']]);
      expect((await api('GET', '/api/devices/csv-ok')).statusCode).toBe(404);
    });

    it('duplicate ids in a CSV are refused', async () => {
      const job = await csv('id,family\ncsv-d,kitchen\ncsv-d,kitchen\n');
      expectFailed(job, 'validation');
      expect(job.errors[0]).toMatchObject({ row: 2, path: 'id' });
    });

    it('onConflict=update works for CSV too', async () => {
      expect((await csv('id,family,name\ncsv-up,kitchen,One\n')).status).toBe('done');
      const job = await csv('id,family,name\ncsv-up,kitchen,Two\n', '?onConflict=update');
      expect(job.result.updated).toEqual(['csv-up']);
      expect((await api('GET', '/api/devices/csv-up')).data.name).toBe('Two');
    });

    it('unparseable CSV -> 400 bad_csv at once, no job', async () => {
      const post = (text: string) => api('POST', '/api/devices/import', { payload: text, headers: { 'content-type': 'text/csv' } });
      expectError(await post('id,family\n"csv-x,kitchen\n'), 400, 'bad_csv');
      expectError(await post('id,family\ncsv-y,kitchen,extra\n'), 400, 'bad_csv');
    });
  });
});

describe('GET /api/devices', () => {
  beforeAll(async () => {
    const rows = [
      { id: 'lst-a', family: 'kitchen', name: 'Alpha Kitchen', district: '330106' },
      { id: 'lst-b', family: 'kitchen', name: 'Beta', district: '330106001' },
      { id: 'lst-c', family: 'elevator', name: 'Gamma Lift', district: '330108' },
      { id: 'lst-d', family: 'elevator', district: '110101' },
      { id: 'lst-e', family: 'cylinder', name: 'alpha station' },
    ];
    expect((await ts.importDevices(rows)).status).toBe('done');
  });

  const ids = (res: { data: Loose }): string[] => res.data.items.map((d: { id: string }) => d.id);

  it.each([
    ['q on id', '?q=lst-', ['lst-a', 'lst-b', 'lst-c', 'lst-d', 'lst-e'], 5],
    ['family', '?q=lst-&family=elevator', ['lst-c', 'lst-d'], 2],
    ['district prefix (county)', '?q=lst-&district=330106', ['lst-a', 'lst-b'], 2],
    ['district prefix (city)', '?q=lst-&district=3301', ['lst-a', 'lst-b', 'lst-c'], 3],
    ['q on name, case-insensitive', '?q=ALPHA', ['lst-a', 'lst-e'], 2],
    ['family and q', '?family=cylinder&q=alpha', ['lst-e'], 1],
    ['limit', '?q=lst-&limit=2', ['lst-a', 'lst-b'], 5],
    ['limit and offset', '?q=lst-&limit=2&offset=2', ['lst-c', 'lst-d'], 5],
    ['offset past the end', '?q=lst-&offset=10', [], 5],
    ['nothing matches', '?q=lst-&family=dispenser', [], 0],
  ])('%s (%s)', async (_d, query, expected, total) => {
    const res = await api('GET', `/api/devices${query}`, { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(ids(res)).toEqual(expected);
    expect(res.data.total).toBe(total);
  });

  it.each([
    ['unknown family', '?family=boiler', 'family'],
    ['limit 0', '?limit=0', 'limit'],
    ['limit over the maximum', '?limit=10001', 'limit'],
    ['negative offset', '?offset=-1', 'offset'],
    ['non-numeric limit', '?limit=ten', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/devices${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('items carry connection state: connected while a device is on, last seen, then disconnected', async () => {
    const d = await ts.registerDevice({ id: 'lst-conn', family: 'elevator' });
    const before = (await api('GET', '/api/devices?q=lst-conn')).data.items[0];
    expect(before.connection).toEqual({ connected: false, lastSeen: null, lastConnectedAt: null, lastDisconnectedAt: null });

    const t0 = Date.now();
    const c = await ts.connectDevice(d.id, d.secret);
    await until(async () => (await api('GET', '/api/devices/lst-conn')).data.connection.connected === true);
    const on = (await api('GET', '/api/devices?q=lst-conn')).data.items[0].connection;
    expect(on.connected).toBe(true);
    expect(Date.parse(on.lastConnectedAt)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(Date.parse(on.lastSeen)).toBeGreaterThanOrEqual(Date.parse(on.lastConnectedAt));
    expect(on.lastDisconnectedAt).toBeNull();

    await c.endAsync();
    await until(async () => (await api('GET', '/api/devices/lst-conn')).data.connection.connected === false);
    const off = (await api('GET', '/api/devices/lst-conn')).data.connection;
    expect(Date.parse(off.lastDisconnectedAt)).toBeGreaterThanOrEqual(Date.parse(on.lastConnectedAt));
  });
});

describe('GET /api/devices/:id and secret rotation', () => {
  it('unknown id -> 404 device_not_found (get, readings, secret)', async () => {
    expectError(await api('GET', '/api/devices/no-such-device'), 404, 'device_not_found');
    expectError(await api('GET', '/api/devices/no-such-device/readings'), 404, 'device_not_found');
    expectError(await api('POST', '/api/devices/no-such-device/secret'), 404, 'device_not_found');
  });

  it('POST /api/devices/:id/secret issues a new secret; the old one stops authenticating', async () => {
    const d = await ts.registerDevice({ id: 'rot-1', family: 'dispenser' });
    const res = await api('POST', '/api/devices/rot-1/secret');
    expect(res.statusCode).toBe(200);
    expect(res.data).toMatchObject({ id: 'rot-1', family: 'dispenser' });
    expect(res.data.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(res.data.secret).not.toBe(d.secret);
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(d.secret))).toBeNull();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(res.data.secret))).toMatchObject({ id: 'rot-1' });
    // and over MQTT
    await expect(connectMqtt(ts.mqttUrl, { username: 'rot-1', password: d.secret })).rejects.toMatchObject({ code: 4 });
    const c = await ts.connectDevice('rot-1', res.data.secret);
    await c.endAsync();
    // the new secret survives a reload of the registry from the store
    await ts.service.registry.start();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(res.data.secret))).not.toBeNull();
    expect(ts.service.registry.authenticate('rot-1', Buffer.from(d.secret))).toBeNull();
  });
});

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function publish(c: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  await c.publishAsync(topic, payload, { qos: 1 });
}

describe('GET /api/devices/:id/readings', () => {
  const T = Date.UTC(2026, 10, 23, 0, 0, 0);
  const iso = (ms: number) => new Date(ms).toISOString();
  beforeAll(async () => {
    const d = await ts.registerDevice({ id: 'rd-lift', family: 'elevator' });
    const c = await ts.connectDevice(d.id, d.secret);
    try {
      await publish(c, 'elevator/rd-lift/status', JSON.stringify(examplePayload('elevator', 'status', 's3', T + 3000)));
      await publish(c, 'elevator/rd-lift/status', JSON.stringify(examplePayload('elevator', 'status', 's1', T + 1000)));
      // RFC 3339 with offset: the same instant as T + 2000
      await publish(c, 'elevator/rd-lift/fault', JSON.stringify({ ...examplePayload('elevator', 'fault', 'f2', '2026-11-23T08:00:02+08:00'), vendor: 'x' }));
      await publish(c, 'elevator/rd-lift/heartbeat', JSON.stringify(examplePayload('elevator', 'heartbeat', 'h4', T + 4000)));
    } finally {
      await c.endAsync();
    }
  });

  const msgIds = (res: { data: Loose }): string[] => res.data.items.map((i: { msgId: string }) => i.msgId);

  it('every channel, newest last, with ISO times, data and extra', async () => {
    const res = await api('GET', '/api/devices/rd-lift/readings', { token: dispToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.data.deviceId).toBe('rd-lift');
    expect(res.data.family).toBe('elevator');
    expect(msgIds(res)).toEqual(['s1', 'f2', 's3', 'h4']);
    const fault = res.data.items[1];
    expect(fault).toMatchObject({ channel: 'fault', ts: iso(T + 2000), data: { code: 2, floor: 7, detail: 'door failed to close 3 times' }, extra: { vendor: 'x' } });
    expect(Number.isNaN(Date.parse(fault.receivedAt))).toBe(false);
    expect(res.data.items[0]).toMatchObject({ channel: 'status', data: { floor: 7, direction: 'stop', serviceMode: 'normal' }, extra: null });
  });

  it.each([
    ['channel=status', ['s1', 's3']],
    ['channel=fault', ['f2']],
    ['channel=heartbeat', ['h4']],
    [`from=${T + 2000}`, ['f2', 's3', 'h4']],
    [`to=${T + 2000}`, ['s1', 'f2']],
    [`from=${T + 1500}&to=${T + 3500}`, ['f2', 's3']],
    [`from=${encodeURIComponent('2026-11-23T08:00:02+08:00')}`, ['f2', 's3', 'h4']],
    [`from=${encodeURIComponent(iso(T + 2500))}&to=${encodeURIComponent('2026-11-23T00:00:03.000Z')}`, ['s3']],
    [`channel=status&from=${T + 2000}`, ['s3']],
    ['limit=2', ['s3', 'h4']],
    ['limit=1&channel=status', ['s3']],
    [`from=${T + 10_000}`, []],
  ])('%s', async (query, expected) => {
    const res = await api('GET', `/api/devices/rd-lift/readings?${query}`, { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(msgIds(res)).toEqual(expected);
  });

  it.each([
    ['unknown channel', 'channel=nonsense', 'channel'],
    ['another family\'s channel', 'channel=violation', 'channel'],
    ['platform -> device channel', 'channel=error', 'channel'],
    ['scan/reply', 'channel=scan%2Freply', 'channel'],
    ['prototype name', 'channel=constructor', 'channel'],
    ['words for time', 'from=yesterday', 'from'],
    ['bad RFC 3339', 'to=2026-13-45T99:00:00Z', 'to'],
    ['empty from', 'from=', 'from'],
    ['limit 0', 'limit=0', 'limit'],
    ['limit over the maximum', 'limit=10001', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/devices/rd-lift/readings?${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('the stored readings show in /metrics', async () => {
    const body = (await api('GET', '/metrics', { token: null })).body;
    const m = body.match(/^ingest_stored_total\{family="elevator",channel="status"\} (\d+)/m);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(2);
  });
});

describe('GET /api/dead-letters', () => {
  let since: number;
  beforeAll(async () => {
    const d = await ts.registerDevice({ id: 'dl-cam', family: 'kitchen' });
    const d2 = await ts.registerDevice({ id: 'dl-cam2', family: 'kitchen' });
    const c = await ts.connectDevice(d.id, d.secret);
    const c2 = await ts.connectDevice(d2.id, d2.secret);
    try {
      await publish(c, 'kitchen/dl-cam/violation', '{"msgId": "x",');
      await new Promise((r) => setTimeout(r, 5));
      since = Date.now();
      await publish(c, 'kitchen/dl-cam/violation', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
      await publish(c, 'kitchen/dl-cam/violation', JSON.stringify({ ...examplePayload('kitchen', 'violation', 'bad-conf', Date.now()), confidence: 2 }));
      await publish(c2, 'kitchen/dl-cam2/status', JSON.stringify({ msgId: 'nochan', ts: Date.now() }));
    } finally {
      await c.endAsync();
      await c2.endAsync();
    }
  });

  const reasons = (res: { data: Loose }): string[] => res.data.items.map((i: { reason: string }) => i.reason);

  it('lists a device\'s rejected messages newest first, with raw bytes, reason, issues and msgId', async () => {
    const res = await api('GET', '/api/dead-letters?deviceId=dl-cam', { token: opToken });
    expect(res.statusCode, res.body).toBe(200);
    expect(reasons(res)).toEqual(['schema', 'invalid_json', 'invalid_json']);
    const [schema, binary, partial] = res.data.items;
    expect(schema).toMatchObject({
      deviceId: 'dl-cam', topic: 'kitchen/dl-cam/violation', qos: 1, msgId: 'bad-conf',
      issues: [expect.objectContaining({ path: 'confidence' })], rawTruncated: false,
    });
    expect(JSON.parse(schema.raw)).toMatchObject({ msgId: 'bad-conf', confidence: 2 });
    expect(Buffer.from(binary.rawBase64, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(binary.rawSize).toBe(4);
    expect(binary.detail).toMatch(/UTF-8/);
    expect(partial.raw).toBe('{"msgId": "x",');
    expect(partial.msgId).toBeNull();
    expect(res.data.items[0].id).toBeGreaterThan(res.data.items[1].id);
    expect(Number.isNaN(Date.parse(schema.receivedAt))).toBe(false);
  });

  it.each([
    ['reason', () => '?reason=unknown_channel', ['unknown_channel']],
    ['device and reason', () => '?deviceId=dl-cam&reason=invalid_json', ['invalid_json', 'invalid_json']],
    ['since (epoch ms)', () => `?deviceId=dl-cam&since=${since}`, ['schema', 'invalid_json']],
    ['since (RFC 3339)', () => `?deviceId=dl-cam&since=${encodeURIComponent(new Date(since).toISOString())}`, ['schema', 'invalid_json']],
    ['limit', () => '?deviceId=dl-cam&limit=1', ['schema']],
    ['no match', () => '?deviceId=nobody', []],
  ])('filter: %s', async (_d, query, expected) => {
    const res = await api('GET', `/api/dead-letters${query()}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(reasons(res)).toEqual(expected);
  });

  it('an unknown channel is recorded against the device that sent it', async () => {
    const res = await api('GET', '/api/dead-letters?reason=unknown_channel');
    expect(res.data.items[0]).toMatchObject({ deviceId: 'dl-cam2', topic: 'kitchen/dl-cam2/status', msgId: null, detail: expect.stringContaining('status') });
  });

  it.each([
    ['bad since', '?since=last-week', 'since'],
    ['limit 0', '?limit=0', 'limit'],
    ['limit over 1000', '?limit=1001', 'limit'],
  ])('%s -> 400 validation', async (_d, query, p) => {
    const res = await api('GET', `/api/dead-letters${query}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });
});
