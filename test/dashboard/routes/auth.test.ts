/**
 * dashboard/routes/auth.ts on a real service, with fastify inject: POST /api/login (bad
 * credentials, validation, rate limiting), GET /api/me, users, and every route's token and
 * role checks.
 */
import { describe, expect, it } from 'vitest';
import { apiFor, detailPaths, expectError, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

routeService({ LOGIN_MAX_ATTEMPTS: 3 }, (s) => ({ ts, opToken, dispToken } = s));

describe('login', () => {
  it('good password: token and role; the token works', async () => {
    const res = await api('POST', '/api/login', { token: null, payload: { username: 'op1', password: 'op1-password' } });
    expect(res.statusCode).toBe(200);
    expect(res.data.role).toBe('operator');
    expect(typeof res.data.token).toBe('string');
    expect(Date.parse(res.data.expiresAt)).toBeGreaterThan(Date.now());
    const me = await api('GET', '/api/me', { token: res.data.token });
    expect(me.data).toEqual({ username: 'op1', role: 'operator', district: null });
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
