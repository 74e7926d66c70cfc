/**
 * Requests to a test service's HTTP API with fastify inject, shared by the route suites under
 * test/dashboard/routes/: `apiFor` (an `api()` bound to the suite's service, admin token by
 * default), `expectError` for the error format, the operator and dispatcher users most suites
 * use, and small waits.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect } from 'vitest';
import { startService, type TestService } from './service.js';

export interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => unknown;
}

// Response bodies are checked field by field in the suites; a loose type keeps that readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export type ApiRes<T = Loose> = Res & { data: T };

export interface ApiOptions {
  /** a bearer token; `null` sends none; default the admin's */
  token?: string | null;
  payload?: unknown;
  headers?: Record<string, string>;
}

export type Api = <T = Loose>(method: 'GET' | 'POST', url: string, opts?: ApiOptions) => Promise<ApiRes<T>>;

/**
 * An `api(method, url, opts)` for the service `service()` returns (a getter, since suites start
 * theirs in beforeAll): the response with its body parsed as JSON in `data` (null when not JSON).
 */
export function apiFor(service: () => TestService): Api {
  return async <T = Loose>(method: 'GET' | 'POST', url: string, opts: ApiOptions = {}): Promise<ApiRes<T>> => {
    const ts = service();
    const token = opts.token === undefined ? ts.adminToken : opts.token;
    const res = await ts.service.http.inject({
      method, url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      ...(opts.payload === undefined ? {} : { payload: opts.payload as string }),
    });
    let data: unknown = null;
    try { data = res.json(); } catch { /* not JSON */ }
    return Object.assign(res as unknown as Res, { data: data as T });
  };
}

export function expectError(res: ApiRes, status: number, code: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.data.error.code).toBe(code);
  expect(typeof res.data.error.message).toBe('string');
}

/** The `path` of each entry in a validation error's details. */
export const detailPaths = (res: { data: Loose }): string[] => (res.data.error.details as Array<{ path: string }>).map((d) => d.path);

/**
 * Create the users `op1` (operator) and `disp1` (dispatcher), passwords `op1-password` and
 * `disp1-password`, and log them in: their tokens.
 */
export async function addRoleUsers(ts: TestService): Promise<{ opToken: string; dispToken: string }> {
  const api = apiFor(() => ts);
  for (const [username, role] of [['op1', 'operator'], ['disp1', 'dispatcher']] as const) {
    const res = await api('POST', '/api/users', { payload: { username, password: `${username}-password`, role } });
    expect(res.statusCode, res.body).toBe(201);
  }
  return { opToken: await ts.token('op1', 'op1-password'), dispToken: await ts.token('disp1', 'disp1-password') };
}

/**
 * A route suite's service: started before the file's tests with `env`, with an operator and a
 * dispatcher (addRoleUsers), disposed after them. `use` receives them once started.
 */
export function routeService(env: Record<string, string | number>, use: (s: { ts: TestService; opToken: string; dispToken: string }) => void): void {
  let ts: TestService | undefined;
  beforeAll(async () => {
    ts = await startService(env);
    use({ ts, ...await addRoleUsers(ts) });
  });
  afterAll(async () => ts?.dispose());
}

/** Poll `cond` every 20 ms until it holds; throw after `ms`. */
export async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Read `read()` every 100 ms until `ok` holds or `ms` pass, and return the last value read either
 * way: the caller's assertion on it then says what was seen.
 */
export async function readUntil<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Publish at QoS 1 (resolves on PUBACK). */
export async function publish(c: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  await c.publishAsync(topic, payload, { qos: 1 });
}
