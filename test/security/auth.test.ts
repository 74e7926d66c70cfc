/**
 * Password checks and tokens (docs/security.md): one limiter for HTTP and MQTT, counted
 * before the hash; unknown names cost no hash past a small budget; sessions end at logout,
 * when the user is disabled, deleted, re-passworded or given a new role; the role is the user's current one;
 * nothing in the data directory mints a token, and its files are the service's own.
 */
import { statSync, readdirSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ADMIN_PASSWORD, startService, type TestService } from '../helpers/service.js';

let ts: TestService;

beforeAll(async () => {
  // small limits so the test is quick; the defaults are the same code with other numbers
  ts = await startService({ LOGIN_MAX_ATTEMPTS: 10, LOGIN_MAX_ATTEMPTS_PER_ADDRESS: 1000, LOGIN_UNKNOWN_PER_MINUTE: 20 });
});
afterAll(async () => { await ts?.dispose(); });

const login = (username: string, password: string, remoteAddress = '127.0.0.1') =>
  ts.service.http.inject({ method: 'POST', url: '/api/login', payload: { username, password }, remoteAddress });
const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string, payload?: unknown) =>
  ts.service.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
const counts = () => ({ ...ts.service.users.counts });

async function createUser(username: string, role: string, password = 'a-good-password'): Promise<void> {
  const res = await call('POST', '/api/users', ts.adminToken, { username, password, role });
  expect(res.statusCode, res.body).toBe(201);
}

/** One MQTT CONNECT; resolves with the CONNACK return code (0 accepted). */
function mqttConnect(username: string, password: string, localAddress = '127.0.0.1', clientId?: string): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect(ts.mqttUrl, {
      username, password, reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4,
      clientId: clientId ?? `user:${username}`, localAddress,
    } as mqtt.IClientOptions);
    c.once('connect', (ack) => { c.end(true); resolve(ack.returnCode ?? 0); });
    c.once('error', (err) => { c.end(true); resolve((err as Error & { code?: number }).code ?? -1); });
  });
}

describe('one password limiter, counted before the hash', () => {
  it('100 parallel HTTP attempts: at most LOGIN_MAX_ATTEMPTS are checked, the rest 429, the right password among them too', async () => {
    await createUser('victim1', 'operator', 'victim1-password');
    const before = counts();
    const attempts = Array.from({ length: 100 }, (_, i) => login('victim1', i === 99 ? 'victim1-password' : `wrong-${i}`, '127.0.0.11'));
    const statuses = (await Promise.all(attempts)).map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(90);
    expect(statuses[99]).toBe(429);
    expect(counts().hashes - before.hashes).toBeLessThanOrEqual(10);
    const limited = await login('victim1', 'victim1-password', '127.0.0.11');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.json().error.code).toBe('rate_limited');
  });

  it('the real user is not locked out from elsewhere', async () => {
    const res = await login('victim1', 'victim1-password', '127.0.0.12');
    expect(res.statusCode, res.body).toBe(200);
  });

  it('MQTT logins with a dashboard username share the limiter: 30 wrong passwords, then the right one, refused', async () => {
    await createUser('victim2', 'operator', 'victim2-password');
    const before = counts();
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) codes.push(await mqttConnect('victim2', `wrong-${i}`));
    expect(codes.every((c) => c === 4 || c === 5)).toBe(true);
    expect(await mqttConnect('victim2', 'victim2-password')).not.toBe(0);
    expect(counts().hashes - before.hashes).toBeLessThanOrEqual(10);
    expect(counts().limited - before.limited).toBeGreaterThanOrEqual(21);
    // and the HTTP login from the same address is limited too: one limiter
    expect((await login('victim2', 'victim2-password', '127.0.0.1')).statusCode).toBe(429);
    // from another address the user still gets in
    expect((await login('victim2', 'victim2-password', '127.0.0.13')).statusCode).toBe(200);
  });

  it('a flood of unknown usernames costs at most LOGIN_UNKNOWN_PER_MINUTE hashes, with the same answer', async () => {
    const before = counts();
    const http = await Promise.all(Array.from({ length: 200 }, (_, i) => login(`nobody-${i}`, 'x', `127.0.${1 + (i % 200)}.${1 + Math.floor(i / 200)}`)));
    expect(new Set(http.map((r) => r.statusCode))).toEqual(new Set([401]));
    expect(new Set(http.map((r) => r.json().error.code))).toEqual(new Set(['bad_credentials']));
    const mqttCodes = await Promise.all(Array.from({ length: 100 }, (_, i) => mqttConnect(`ghost-${i}`, 'x', `127.0.3.${1 + i}`)));
    expect(mqttCodes.every((c) => c === 4 || c === 5)).toBe(true);
    const after = counts();
    expect(after.hashes - before.hashes).toBeLessThanOrEqual(20);
    expect(after.unknownUnhashed - before.unknownUnhashed).toBeGreaterThanOrEqual(280);
    // a real user meanwhile is checked as ever
    expect((await login('admin', ADMIN_PASSWORD, '127.0.0.14')).statusCode).toBe(200);
    const metrics = (await ts.service.http.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/auth_unknown_user_unhashed_total \d+/);
    expect(metrics).toMatch(/auth_password_checks_total\{outcome="limited"\} \d+/);
  });
});

describe('sessions end when they should', () => {
  it('logout ends the token; another session of the same user stays', async () => {
    await createUser('op-logout', 'operator');
    const a = (await login('op-logout', 'a-good-password')).json().token as string;
    const b = (await login('op-logout', 'a-good-password')).json().token as string;
    expect((await call('POST', '/api/logout', a)).statusCode).toBe(204);
    expect((await call('GET', '/api/me', a)).statusCode).toBe(401);
    expect((await call('GET', '/api/me', b)).statusCode).toBe(200);
  });

  it.each([
    ['disabled', (u: string) => call('PATCH', `/api/users/${u}`, ts.adminToken, { disabled: true })],
    ['deleted', (u: string) => call('DELETE', `/api/users/${u}`, ts.adminToken)],
    ['given a new password by an admin', (u: string) => call('PATCH', `/api/users/${u}`, ts.adminToken, { password: 'another-password' })],
  ])('a user %s: every token of theirs is refused at once', async (_what, change) => {
    const username = `op-${Math.random().toString(36).slice(2, 8)}`;
    await createUser(username, 'operator');
    const tokens = await Promise.all([1, 2, 3].map(async () => (await login(username, 'a-good-password')).json().token as string));
    const res = await change(username);
    expect(res.statusCode, res.body).toBeLessThan(300);
    for (const t of tokens) expect((await call('GET', '/api/me', t)).statusCode).toBe(401);
    expect((await login(username, 'a-good-password')).statusCode).toBe(401);
  });

  it('changing your own password ends your other sessions and gives a new token', async () => {
    await createUser('op-self', 'operator');
    const old = (await login('op-self', 'a-good-password')).json().token as string;
    const other = (await login('op-self', 'a-good-password')).json().token as string;
    const wrong = await call('POST', '/api/me/password', old, { currentPassword: 'not-it', newPassword: 'new-password-1' });
    expect(wrong.statusCode).toBe(401);
    const res = await call('POST', '/api/me/password', old, { currentPassword: 'a-good-password', newPassword: 'new-password-1' });
    expect(res.statusCode, res.body).toBe(200);
    const fresh = res.json().token as string;
    expect((await call('GET', '/api/me', old)).statusCode).toBe(401);
    expect((await call('GET', '/api/me', other)).statusCode).toBe(401);
    expect((await call('GET', '/api/me', fresh)).statusCode).toBe(200);
    expect((await login('op-self', 'new-password-1')).statusCode).toBe(200);
  });

  it('disabling a user closes their MQTT integration connection too', async () => {
    await createUser('op-mqtt', 'operator');
    const c = await new Promise<mqtt.MqttClient>((resolve, reject) => {
      const client = mqtt.connect(ts.mqttUrl, { username: 'op-mqtt', password: 'a-good-password', clientId: 'user:op-mqtt:wall', reconnectPeriod: 0, protocolVersion: 4 });
      client.once('connect', () => resolve(client));
      client.once('error', reject);
    });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    expect((await call('PATCH', '/api/users/op-mqtt', ts.adminToken, { disabled: true })).statusCode).toBe(200);
    await closed;
    expect(await mqttConnect('op-mqtt', 'a-good-password', '127.0.0.16', 'user:op-mqtt')).not.toBe(0);
    c.end(true);
  });

  it('a role change ends the user\'s sessions; the next login has the new role, read from the user', async () => {
    await createUser('op-role', 'operator');
    const t = (await login('op-role', 'a-good-password')).json().token as string;
    expect((await call('GET', '/api/dead-letters', t)).statusCode).toBe(200);
    expect((await call('PATCH', '/api/users/op-role', ts.adminToken, { role: 'dispatcher' })).statusCode).toBe(200);
    expect((await call('GET', '/api/dead-letters', t)).statusCode).toBe(401);
    const next = (await login('op-role', 'a-good-password')).json().token as string;
    expect((await call('GET', '/api/dead-letters', next)).statusCode).toBe(403);
    expect((await call('GET', '/api/me', next)).json()).toEqual({ username: 'op-role', role: 'dispatcher', district: null });
  });

  it('the last enabled admin cannot be removed, disabled or demoted', async () => {
    for (const [method, payload] of [['DELETE', undefined], ['PATCH', { disabled: true }], ['PATCH', { role: 'operator' }]] as const) {
      const res = await call(method, '/api/users/admin', ts.adminToken, payload);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().error.code).toBe('last_admin');
    }
  });

  it('a live push socket closes when its session ends', async () => {
    await createUser('op-live', 'operator');
    const t = (await login('op-live', 'a-good-password')).json().token as string;
    const ws = new WebSocket(`ws://127.0.0.1:${ts.started.httpPort}/ws?token=${t}`);
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (d) => { if (JSON.parse(String(d)).type === 'hello') resolve(); });
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    expect((await call('POST', '/api/logout', t)).statusCode).toBe(204);
    expect(await closed).toBe(4401);
  });

  it('a user holds at most 20 sessions; the oldest end first', async () => {
    await createUser('op-many', 'operator');
    const tokens: string[] = [];
    for (let i = 0; i < 23; i++) tokens.push((await login('op-many', 'a-good-password', `127.0.9.${i + 1}`)).json().token as string);
    const alive = await Promise.all(tokens.map(async (t) => (await call('GET', '/api/me', t)).statusCode === 200));
    expect(alive).toEqual([false, false, false, ...Array<boolean>(20).fill(true)]);
  });
});

describe('nothing in the data directory mints a token', () => {
  it('tokens are opaque, stored only as hashes, and no signing key is kept', async () => {
    const t = (await login('admin', ADMIN_PASSWORD, '127.0.0.15')).json().token as string;
    expect(t).toMatch(/^sst_[A-Za-z0-9_-]{43}$/);
    const sessions = await ts.service.store.accounts.loadSessions();
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.some((s) => s.tokenHash === t || t.includes(s.tokenHash))).toBe(false);
    expect(await ts.service.store.settings.get('token_key')).toBeNull();
  });

  it('DATA_DIR and everything in it is readable by the service user only', () => {
    const bad: string[] = [];
    const walk = (p: string): void => {
      const st = statSync(p);
      if ((st.mode & 0o077) !== 0) bad.push(`${path.relative(ts.dataDir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
      if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
    };
    walk(ts.dataDir);
    expect(bad).toEqual([]);
  });
});
