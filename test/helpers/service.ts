/**
 * Start a real service (DuckDB in a temp dir, MQTT and HTTP on free loopback ports) for a
 * test, and the small conveniences tests share: an admin token, device registration, an
 * MQTT client for a device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import pg from 'pg';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig, type SettingName } from '../../service/config.js';
import { Service, type ServiceSeams, type Started } from '../../service/service.js';
import type { ImportJobView } from '../../devices/importJobs.js';

export const ADMIN_PASSWORD = 'test-admin-password';

export interface TestService {
  service: Service;
  started: Started;
  dataDir: string;
  mqttUrl: string;
  httpUrl: string;
  adminToken: string;
  /** stop the service (keeps the data dir) */
  stop(): Promise<void>;
  /** stop and delete the data dir */
  dispose(): Promise<void>;
  token(username: string, password: string): Promise<string>;
  registerDevice(body: Record<string, unknown>): Promise<{ id: string; family: string; secret: string }>;
  /**
   * POST /api/devices/import (a JSON array, or CSV text) and wait for its job: the finished job,
   * `done` with its `result` or `failed` with `error` (and `errors`, the bad rows). Throws when
   * the POST is not answered 202.
   */
  importDevices(payload: unknown[] | string, query?: string): Promise<ImportJobView>;
  /** an MQTT client for a device, client id = device id */
  connectDevice(id: string, secret: string, opts?: IClientOptions): Promise<MqttClient>;
}

/** Which store startService runs on: DuckDB, or PostgreSQL in the project `postgres` of vitest.config.ts. */
export const testStore: 'duckdb' | 'postgres' = process.env.TEST_STORE === 'postgres' ? 'postgres' : 'duckdb';

let databases = 0;
/** each data dir's database: a service started again on the same dir (a restart) finds its data */
const databaseOfDir = new Map<string, string>();

/** The database of a data dir on the run's PostgreSQL (test/helpers/postgresGlobal.ts), made at its first service. */
async function databaseOf(dir: string): Promise<string> {
  const known = databaseOfDir.get(dir);
  if (known) return known;
  const admin = inject('postgresAdminUrl');
  const name = `svc_${process.pid}_${++databases}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const url = admin.replace(/\/postgres$/, `/${name}`);
  databaseOfDir.set(dir, url);
  return url;
}

/**
 * `seams`: Service's (the store's fault injection is always on here); `mqttCluster`: the broker
 * over Redis. In the PostgreSQL run (testStore) every data dir gets a database of its own (a
 * restart on the same dir finds it), unless the seams name one.
 */
export async function startService(overrides: Partial<Record<SettingName, unknown>> = {}, dataDir?: string, seams: Omit<ServiceSeams, 'store'> = {}): Promise<TestService> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'supervision-test-'));
  const config = loadConfig({}, {
    DATA_DIR: dir, MQTT_PORT: 0, HTTP_PORT: 0, MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1',
    ADMIN_PASSWORD, LOG_LEVEL: 'silent', ...overrides,
  });
  const sharedStore = seams.sharedStore ?? (testStore === 'postgres' ? { url: await databaseOf(dir), nodeId: 'test-node' } : undefined);
  const service = new Service(config, pino({ level: 'silent' }), { ...seams, store: true, ...(sharedStore ? { sharedStore } : {}) });
  const started = await service.start();
  const httpUrl = `http://127.0.0.1:${started.httpPort}`;
  const mqttUrl = `mqtt://127.0.0.1:${started.mqttPort}`;

  async function token(username: string, password: string): Promise<string> {
    const res = await service.http.inject({ method: 'POST', url: '/api/login', payload: { username, password } });
    if (res.statusCode !== 200) throw new Error(`login ${username} failed: ${res.statusCode} ${res.body}`);
    return (res.json() as { token: string }).token;
  }
  const adminToken = await token('admin', ADMIN_PASSWORD);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await service.stop();
    // every part's listeners are owned and removed at stop: a stopped service holds none
    const left = service.bus.listenerCount();
    if (left !== 0) throw new Error(`${left} event listeners left on the bus after stop()`);
  };

  return {
    service, started, dataDir: dir, mqttUrl, httpUrl, adminToken, stop, token,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async registerDevice(body) {
      const res = await service.http.inject({ method: 'POST', url: '/api/devices', headers: { authorization: `Bearer ${adminToken}` }, payload: body });
      if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async importDevices(payload, query = '') {
      const headers = { authorization: `Bearer ${adminToken}`, ...(typeof payload === 'string' ? { 'content-type': 'text/csv' } : {}) };
      const res = await service.http.inject({ method: 'POST', url: `/api/devices/import${query}`, headers, payload: payload as string });
      if (res.statusCode !== 202) throw new Error(`import refused: ${res.statusCode} ${res.body}`);
      let job = res.json() as ImportJobView;
      while (job.status !== 'done' && job.status !== 'failed') {
        const r = await service.http.inject({ method: 'GET', url: `/api/devices/import/jobs/${job.id}?wait=30`, headers });
        if (r.statusCode !== 200) throw new Error(`import job ${job.id}: ${r.statusCode} ${r.body}`);
        job = r.json() as ImportJobView;
      }
      return job;
    },
    connectDevice(id, secret, opts = {}) {
      // a device's client id is its device id (docs/security.md): a second connection takes the first over
      return connectMqtt(mqttUrl, { username: id, password: secret, clientId: id, ...opts });
    },
  };
}

/** Connect and resolve on CONNACK; reject on the first error (e.g. refused credentials). */
export function connectMqtt(url: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    client.once('connect', () => resolve(client));
    client.once('error', (err) => { client.end(true); reject(err); });
  });
}

/** Collect messages on a topic filter until `count` arrived or `ms` passed. */
export function collect(client: MqttClient, count: number, ms = 3000): Promise<Array<{ topic: string; payload: Buffer }>> {
  return new Promise((resolve) => {
    const got: Array<{ topic: string; payload: Buffer }> = [];
    const onMessage = (topic: string, payload: Buffer): void => {
      got.push({ topic, payload });
      if (got.length >= count) done();
    };
    const timer = setTimeout(() => done(), ms);
    function done(): void {
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(got);
    }
    client.on('message', onMessage);
  });
}
