/**
 * The users API sets the district scope of an account (accounts/scope.ts; docs/api.md, users and
 * District scope): a GB/T 2260 code prefix of 2-12 digits or null, admin only, never on an admin
 * (400 admin_scope); shown by GET /api/users, /api/me and the login; a new district ends the
 * user's sessions, so nothing goes on under the old scope. What a scoped account then sees:
 * districtScope.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { apiFor, detailPaths, expectError, routeService, type ApiRes } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
const api = apiFor(() => ts);
routeService({}, (s) => ({ ts, opToken } = s));

/** PATCH /api/users/:name (the shared `api` sends GET and POST only) */
async function patchUser(name: string, payload: unknown, token = ts.adminToken): Promise<ApiRes> {
  const res = await ts.service.http.inject({ method: 'PATCH', url: `/api/users/${name}`, headers: { authorization: `Bearer ${token}` }, payload: payload as string });
  return Object.assign(res, { data: res.json() as unknown }) as unknown as ApiRes;
}

const create = (username: string, role: string, district?: unknown) =>
  api('POST', '/api/users', { payload: { username, password: `${username}-password`, role, ...(district === undefined ? {} : { district }) } });

describe('the district of a user', () => {
  it('is set at creation, listed, and read back by the login and /api/me', async () => {
    const r = await create('ward-op', 'operator', '330106');
    expect(r.statusCode, r.body).toBe(201);
    expect(r.data).toMatchObject({ username: 'ward-op', role: 'operator', district: '330106' });
    expect((await create('city-op', 'operator')).data.district).toBeNull();
    const list = (await api('GET', '/api/users')).data.items as Array<{ username: string; district: string | null }>;
    expect(Object.fromEntries(list.map((u) => [u.username, u.district]))).toMatchObject({ admin: null, 'ward-op': '330106', 'city-op': null, op1: null });
    const login = await api('POST', '/api/login', { token: null, payload: { username: 'ward-op', password: 'ward-op-password' } });
    expect(login.data).toMatchObject({ role: 'operator', district: '330106' });
    expect((await api('GET', '/api/me', { token: login.data.token })).data).toEqual({ username: 'ward-op', role: 'operator', district: '330106' });
    expect((await api('GET', '/api/me')).data).toEqual({ username: 'admin', role: 'admin', district: null });
  });

  it.each([
    ['letters', 'xihu'], ['one digit', '3'], ['13 digits', '3301060000001'], ['a number', 330106], ['spaces', ' 330106'], ['a wildcard', '33%'],
  ])('refuses %s as a district (400 validation)', async (_what, district) => {
    const r = await create('bad-district', 'operator', district);
    expectError(r, 400, 'validation');
    expect(detailPaths(r)).toEqual(['district']);
    expectError(await patchUser('op1', { district }), 400, 'validation');
  });

  it('an admin takes no district: refused with admin_scope at creation and on a promotion that keeps one', async () => {
    expectError(await create('boss', 'admin', '3301'), 400, 'admin_scope');
    expect((await create('ward-admin-to-be', 'operator', '330108')).statusCode).toBe(201);
    expectError(await patchUser('ward-admin-to-be', { role: 'admin' }), 400, 'admin_scope');
    expectError(await patchUser('admin', { district: '3301' }), 400, 'admin_scope');
    // promoted with the district cleared in the same change: the whole city
    const promoted = await patchUser('ward-admin-to-be', { role: 'admin', district: null });
    expect(promoted.data).toMatchObject({ role: 'admin', district: null });
  });

  it('a new district ends the user\'s sessions; clearing it gives back the whole city; admins only', async () => {
    expect((await create('mover', 'operator', '330106')).statusCode).toBe(201);
    const before = await ts.token('mover', 'mover-password');
    expectError(await patchUser('mover', { district: '330108' }, opToken), 403, 'forbidden');
    expect((await patchUser('mover', { district: '330108' })).data.district).toBe('330108');
    expectError(await api('GET', '/api/me', { token: before }), 401, 'unauthorized');
    const after = await ts.token('mover', 'mover-password');
    expect((await api('GET', '/api/me', { token: after })).data.district).toBe('330108');
    // the same district again changes nothing: the session stays
    expect((await patchUser('mover', { district: '330108' })).statusCode).toBe(200);
    expect((await api('GET', '/api/me', { token: after })).statusCode).toBe(200);
    expect((await patchUser('mover', { district: null })).data.district).toBeNull();
    expectError(await api('GET', '/api/me', { token: after }), 401, 'unauthorized');
    const city = await ts.token('mover', 'mover-password');
    expect((await api('GET', '/api/me', { token: city })).data.district).toBeNull();
  });
});
