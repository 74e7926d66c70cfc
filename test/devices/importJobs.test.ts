/**
 * Device imports as background jobs (issue 15): POST /api/devices/import answers 202 with a
 * job that ends done with the result, or failed with every bad row; one at a time (409
 * import_running); a store failure mid-write writes nothing and leaves the registry as it
 * was; progress shows in GET and on /ws; devices keep getting PUBACKs during a 20,000-row
 * import. No assertion is on timing: jobs are held at a gate where a test needs a moment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ImportResult } from '../../devices/deviceRegistry.js';
import { ImportJobs, jobJsonText, jobView, type ImportJobView } from '../../devices/importJobs.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { CodedError } from '../../core/codes.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { DeviceImportWriter, DeviceRecord, Store } from '../../store/types.js';
import { startService, type TestService } from '../helpers/service.js';
import { testBus } from '../helpers/bus.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const rows = (prefix: string, n: number, family = 'elevator'): Array<{ id: string; family: string }> =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, family }));

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => { open = resolve; });
  return { wait, open };
}

/**
 * Wrap the store's device import writer for one import: `hold` waits before the n-th stage
 * (1-based), `failAt` makes the n-th stage throw. Returns how to undo it.
 */
function interceptImport(store: Store, opts: { holdAt?: number; hold?: Promise<void>; failAt?: number; reached?: () => void }): () => void {
  const own = Object.getOwnPropertyDescriptor(store.devices, 'beginImport');
  const original = store.devices.beginImport.bind(store.devices);
  store.devices.beginImport = async (): Promise<DeviceImportWriter> => {
    const real = await original();
    let n = 0;
    return {
      stage: async (created, updated) => {
        n++;
        if (n === opts.holdAt) { opts.reached?.(); await opts.hold; }
        if (n === opts.failAt) throw new Error('injected: the disk went away');
        return real.stage(created, updated);
      },
      commit: () => real.commit(), abort: () => real.abort(),
    };
  };
  // put back what was there: an own property (the worker store's proxy) or the class's method
  return () => { if (own) Object.defineProperty(store.devices, 'beginImport', own); else delete (store.devices as { beginImport?: unknown }).beginImport; };
}

describe('device import jobs on a real service', () => {
  let ts: TestService;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${ts.adminToken}` });
  const post = (payload: unknown, q = '') => ts.service.http.inject({ method: 'POST', url: `/api/devices/import${q}`, headers: auth(), payload: payload as string });
  const getJob = async (id: string, wait = 0): Promise<Loose> => (await ts.service.http.inject({ method: 'GET', url: `/api/devices/import/jobs/${id}?wait=${wait}`, headers: auth() })).json();
  const finished = async (id: string): Promise<Loose> => {
    for (;;) {
      const job = await getJob(id, 30);
      if (job.status === 'done' || job.status === 'failed') return job;
    }
  };
  const storedIds = async (prefix: string): Promise<string[]> => (await ts.service.store.devices.load()).map((d) => d.id).filter((id) => id.startsWith(prefix));

  beforeAll(async () => { ts = await startService(); });
  afterAll(async () => ts?.dispose());

  it('lifecycle: 202 queued with a Location -> done with the result as the synchronous import gave it', async () => {
    const res = await post([...rows('life', 2500), { id: 'life-k', family: 'kitchen', name: 'Canteen', meta: { storeId: 'S-1' } }]);
    expect(res.statusCode, res.body).toBe(202);
    const job = res.json() as ImportJobView;
    expect(job).toMatchObject({ status: 'queued', total: 2501, validated: 0, written: 0, by: 'admin', finishedAt: null });
    expect(res.headers.location).toBe(`/api/devices/import/jobs/${job.id}`);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'done', total: 2501, validated: 2501, written: 2501, counts: { created: 2501, updated: 0, skipped: 0, errors: 0 } });
    expect(done.error).toBeUndefined();
    expect(typeof done.finishedAt).toBe('string');
    const result = done.result as ImportResult;
    expect(result.created).toHaveLength(2501);
    expect(result.updated).toEqual([]);
    expect(result.skipped).toEqual([]);
    for (const c of [result.created[0]!, result.created[2500]!]) {
      expect(c.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(ts.service.registry.authenticate(c.id, Buffer.from(c.secret))).not.toBeNull();
    }
    expect(await storedIds('life-')).toHaveLength(2501);
  });

  it('an invalid row: the job fails with every bad row, nothing is written', async () => {
    const payload: unknown[] = rows('bad', 3000);
    payload[1499] = { id: 'bad 1499', family: 'elevator' };
    payload[2999] = { id: 'bad-2999', family: 'boiler' };
    const job = await ts.importDevices(payload);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'validation', message: expect.stringContaining('nothing was imported') });
    expect(job.errors!.map((e) => [e.row, e.path])).toEqual([[1500, 'id'], [3000, 'family']]);
    expect(job.validated).toBe(3000);
    expect(job.written).toBe(0);
    expect(job.result).toBeUndefined();
    expect(await storedIds('bad-')).toEqual([]);
    expect(ts.service.registry.get('bad-0')).toBeUndefined();
  });

  it('imports while one runs wait in order, up to 4; the next is refused with 409 import_running and nothing of it is imported', async () => {
    const g = gate();
    const reached = gate();
    const undo = interceptImport(ts.service.store, { holdAt: 1, hold: g.wait, reached: reached.open });
    const waiting: string[] = [];
    try {
      const first = await post(rows('one', 10));
      expect(first.statusCode).toBe(202);
      await reached.wait; // the first job is writing, held before its first chunk
      for (let i = 0; i < 4; i++) {
        const queued = await post(rows(`q${i}-`, 10));
        expect(queued.statusCode, queued.body).toBe(202);
        expect(queued.json()).toMatchObject({ status: 'queued' });
        waiting.push(queued.json().id);
      }
      const refused = await post(rows('two', 10));
      expect(refused.statusCode, refused.body).toBe(409);
      expect(refused.json()).toMatchObject({ error: { code: 'import_running', details: { jobId: first.json().id, waiting } } });
      // CSV too, refused before its body is parsed
      const csv = await ts.service.http.inject({ method: 'POST', url: '/api/devices/import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'id,family\ntwo-csv,kitchen\n' });
      expect(csv.statusCode).toBe(409);
      g.open();
      expect((await finished(first.json().id)).status).toBe('done');
      const ends: string[] = [];
      for (const id of waiting) {
        const job = await finished(id);
        expect(job.status).toBe('done');
        ends.push(job.finishedAt!);
      }
      // in the order they came
      expect([...ends].sort()).toEqual(ends);
    } finally {
      g.open();
      undo();
    }
    expect(await storedIds('two')).toEqual([]);
    for (let i = 0; i < 4; i++) expect(await storedIds(`q${i}-`)).toHaveLength(10);
    expect((await ts.importDevices(rows('two', 10))).status).toBe('done');
    expect(await storedIds('two-')).toHaveLength(10);
  });

  it('a store failure mid-write: the job fails with a clear message, nothing is written, the registry is unchanged', async () => {
    const before = ts.service.registry.size;
    const undo = interceptImport(ts.service.store, { failAt: 3 }); // chunks 1 and 2 are staged by then
    let job: ImportJobView;
    try {
      job = await ts.importDevices(rows('sf', 3500));
    } finally {
      undo();
    }
    expect(job.status).toBe('failed');
    expect(job.error!.code).toBe('unavailable');
    expect(job.error!.message).toContain('nothing was imported');
    expect(job.error!.message).toContain('injected: the disk went away');
    expect(job.counts).toEqual({ created: 0, updated: 0, skipped: 0, errors: 0 });
    expect(job.written).toBeGreaterThan(0); // it failed in the middle of writing
    expect(job.written).toBeLessThan(3500);
    expect(await storedIds('sf-')).toEqual([]);
    expect(ts.service.registry.get('sf-0')).toBeUndefined();
    expect(ts.service.registry.size).toBe(before);
    // the staged rows are gone with the failed job: the same import succeeds now
    const again = await ts.importDevices(rows('sf', 3500));
    expect(again.status).toBe('done');
    expect(await storedIds('sf-')).toHaveLength(3500);
  });

  it('DuckDB refusing the commit (a device registered behind the registry\'s back): failed, nothing written', async () => {
    const now = Date.now();
    const ghost: DeviceRecord = { id: 'ghost-1500', family: 'elevator', name: null, location: null, district: null, meta: {}, secretHash: '00', createdAt: now, updatedAt: now };
    await ts.service.store.devices.insert([ghost]);
    const before = ts.service.registry.size;
    const job = await ts.importDevices(rows('ghost', 3000));
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'unavailable', message: expect.stringContaining('ghost-1500') });
    expect(job.written).toBe(3000); // every chunk staged; the one transaction refused them all
    expect(await storedIds('ghost-')).toEqual(['ghost-1500']);
    expect(ts.service.registry.size).toBe(before);
    expect(ts.service.registry.get('ghost-0')).toBeUndefined();
  });

  it('progress: GET shows a job in the middle of writing; /ws pushes numbered importJob events with rising counts and no secrets', async () => {
    const ws = new WebSocket(`${ts.httpUrl.replace('http', 'ws')}/ws?token=${ts.adminToken}`);
    const events: Loose[] = [];
    const doneEvent = new Promise<Loose>((resolve) => {
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as Loose;
        if (m.type !== 'importJob') return;
        events.push(m);
        if (m.job.status === 'done' || m.job.status === 'failed') resolve(m);
      });
    });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const g = gate();
    const reached = gate();
    const undo = interceptImport(ts.service.store, { holdAt: 3, hold: g.wait, reached: reached.open });
    let id: string;
    try {
      const res = await post(rows('prog', 5000));
      id = res.json().id;
      await reached.wait;
      const mid = await getJob(id);
      expect(mid).toMatchObject({ status: 'writing', validated: 5000, written: 2000 });
      g.open();
    } finally {
      g.open();
      undo();
    }
    const last = await doneEvent;
    ws.close();
    expect(last.job).toMatchObject({ id, status: 'done', written: 5000, counts: { created: 5000 } });
    const mine = events.filter((e) => e.job.id === id);
    expect(mine.map((e) => e.job.status)).toEqual(expect.arrayContaining(['queued', 'validating', 'writing', 'done']));
    for (let i = 1; i < mine.length; i++) expect(mine[i].seq).toBe(mine[i - 1].seq + 1);
    const validated = mine.filter((e) => e.job.status === 'validating').map((e) => e.job.validated as number);
    const written = mine.filter((e) => e.job.status === 'writing').map((e) => e.job.written as number);
    for (const seen of [validated, written]) {
      expect(seen.some((n) => n > 0 && n < 5000), `intermediate progress in ${JSON.stringify(seen)}`).toBe(true);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
    }
    for (const e of mine) {
      expect(e.job.result).toBeUndefined();
      expect(e.job.errors).toBeUndefined();
    }
    expect(mine.length).toBeLessThan(30); // bounded: progress steps, not one event per chunk or row
  });

  it('a 20,000-row import while a device publishes QoS 1: the device keeps getting PUBACKs (and /healthz answers) while the rows are validated and written', async () => {
    const dev = await ts.registerDevice({ id: 'pub-elev', family: 'elevator' });
    const client = await ts.connectDevice(dev.id, dev.secret);
    const res = await post(rows('big', 20_000));
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    const jobNow = () => ts.service.imports.get(id)!;
    const ackedIn = new Map<string, number>();
    let sent = 0;
    let acked = 0;
    const publishOne = (i: number) => new Promise<void>((resolve, reject) => {
      client.publish(`elevator/${dev.id}/heartbeat`, JSON.stringify(examplePayload('elevator', 'heartbeat', `hb-${i}`, Date.now())), { qos: 1 }, (err) => {
        if (err) { reject(err); return; }
        acked++;
        const status = jobNow().status;
        ackedIn.set(status, (ackedIn.get(status) ?? 0) + 1);
        resolve();
      });
    });
    const running = () => jobNow().status !== 'done' && jobNow().status !== 'failed';
    const healthIn = new Map<string, number>();
    // four publishers, each waiting for its PUBACK before the next, until the job has ended; and /healthz
    await Promise.all([
      ...Array.from({ length: 4 }, async () => {
        while (running()) await publishOne(sent++);
      }),
      (async () => {
        while (running()) {
          const h = await fetch(`${ts.httpUrl}/healthz`); // over a real socket: inject would not leave the microtask queue
          await h.arrayBuffer();
          if (h.status === 200) healthIn.set(jobNow().status, (healthIn.get(jobNow().status) ?? 0) + 1);
        }
      })(),
    ]);
    client.end();
    const job = await finished(id);
    expect(job.status).toBe('done');
    expect(job.counts.created).toBe(20_000);
    expect(acked).toBe(sent);
    // while the job ran (validation alone may be over before a round trip on a quiet machine)
    expect((ackedIn.get('validating') ?? 0) + (ackedIn.get('writing') ?? 0), JSON.stringify([...ackedIn])).toBeGreaterThan(0);
    expect(ackedIn.get('writing') ?? 0, JSON.stringify([...ackedIn])).toBeGreaterThan(0);
    expect((healthIn.get('validating') ?? 0) + (healthIn.get('writing') ?? 0), JSON.stringify([...healthIn])).toBeGreaterThan(0);
    const stored = await ts.service.store.readings.query({ deviceId: dev.id, family: 'elevator', channel: 'heartbeat', limit: 100_000 });
    expect(stored).toHaveLength(sent);
    expect(ts.service.registry.get('big-19999')).toBeDefined();
  });
});

describe('ImportJobs: bounds and stopping (a registry stand-in)', () => {
  const result = (n: number): ImportResult => ({ created: Array.from({ length: n }, (_, i) => ({ id: `d-${i}`, family: 'kitchen', secret: `s-${i}` })), updated: [], skipped: [] });

  it('keeps the last keepFinished jobs, fewer when their rows pass keepRows; the newest always stays', async () => {
    const jobs = new ImportJobs({ import: async (r) => result(r.length) }, testBus(), { keepFinished: 3, keepRows: 250 });
    const ids: string[] = [];
    for (const n of [10, 10, 10, 10]) {
      const j = jobs.start(new Array(n).fill({}), 'error', 'admin', 'json');
      ids.push(j.id);
      await jobs.waitFor(j.id, 10_000);
    }
    expect(jobs.list().map((j) => j.id)).toEqual(ids.slice(1).reverse());
    const big = jobs.start(new Array(240).fill({}), 'error', 'admin', 'json');
    await jobs.waitFor(big.id, 10_000);
    // 240 + 10 = 250 rows fit; one more 10 would not
    expect(jobs.list().map((j) => j.id)).toEqual([big.id, ids[3]]);
    const huge = jobs.start(new Array(300).fill({}), 'error', 'admin', 'json');
    await jobs.waitFor(huge.id, 10_000);
    expect(jobs.list().map((j) => j.id)).toEqual([huge.id]);
    expect(jobs.get(huge.id)!.result!.created).toHaveLength(300);
  });

  it('secrets only for who started the job and admins', async () => {
    const jobs = new ImportJobs({ import: async () => result(1) }, testBus());
    const j = jobs.start([{}], 'error', 'alice', 'json');
    await jobs.waitFor(j.id, 10_000);
    expect(jobView(j, { detail: true, viewer: { username: 'alice', role: 'operator' } }).result!.created[0]!.secret).toBe('s-0');
    expect(jobView(j, { detail: true, viewer: { username: 'root', role: 'admin' } }).result!.created[0]!.secret).toBe('s-0');
    expect(jobView(j, { detail: true, viewer: { username: 'bob', role: 'operator' } }).result!.created[0]).toEqual({ id: 'd-0', family: 'kitchen' });
    expect(jobView(j, { detail: false }).result).toBeUndefined();
  });

  it('jobJsonText: the same JSON as the view, in slices', async () => {
    const jobs = new ImportJobs({ import: async () => result(4500) }, testBus());
    const j = jobs.start([{}], 'error', 'alice', 'json');
    await jobs.waitFor(j.id, 10_000);
    const failed = { ...jobView(j, { detail: true }), status: 'failed' as const, result: undefined, errors: Array.from({ length: 4100 }, (_, i) => ({ row: i + 1, path: 'id', message: 'bad "id"' })) };
    for (const view of [jobView(j, { detail: true, viewer: { username: 'alice', role: 'operator' } }), failed]) {
      const parts: string[] = [];
      for await (const part of jobJsonText(view)) parts.push(part);
      expect(parts.length).toBeGreaterThan(3);
      expect(JSON.parse(parts.join(''))).toEqual(JSON.parse(JSON.stringify(view)));
    }
  });

  it('stop() aborts the job in progress (failed, unavailable) and refuses new ones', async () => {
    let signal: AbortSignal | undefined;
    const jobs = new ImportJobs({
      import: (_r, _c, opts) => new Promise<ImportResult>((_resolve, reject) => {
        signal = opts?.signal;
        signal?.addEventListener('abort', () => reject(signal!.reason as Error));
      }),
    }, testBus());
    const j = jobs.start([{}], 'error', 'admin', 'json');
    const waiting = jobs.waitFor(j.id, 60_000);
    while (!signal) await new Promise((r) => setImmediate(r));
    await jobs.stop();
    await waiting;
    expect(jobs.get(j.id)).toMatchObject({ status: 'failed', error: { code: 'unavailable' } });
    expect(() => jobs.start([{}], 'error', 'admin', 'json')).toThrow(CodedError);
  });
});

describe('DuckDbStore.devices.beginImport', () => {
  let dir: string;
  let store: DuckDbStore;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'supervision-import-'));
    store = new DuckDbStore(path.join(dir, 'db.duckdb'));
    await store.open();
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rec = (id: string, over: Partial<DeviceRecord> = {}): DeviceRecord => ({
    id, family: 'kitchen', name: null, location: null, district: null, meta: {}, secretHash: `h-${id}`, createdAt: 1_000, updatedAt: 1_000, ...over,
  });

  it('stages in chunks and writes them in one commit; an update changes only the imported fields', async () => {
    await store.devices.insert([rec('s-old', { secretHash: 'keep-me' })]);
    const w = await store.devices.beginImport();
    await expect(store.devices.beginImport()).rejects.toThrow(/already/);
    await w.stage([rec('s-1'), rec('s-2')], []);
    await w.stage([rec('s-3', { location: { lat: 30, lng: 120 }, meta: { storeId: 'S' } })], [rec('s-old', { name: 'New', secretHash: 'other', updatedAt: 2_000 })]);
    expect((await store.devices.load()).map((d) => d.id)).toEqual(['s-old']); // nothing visible before the commit
    await w.commit();
    const got = new Map((await store.devices.load()).map((d) => [d.id, d]));
    expect([...got.keys()].sort()).toEqual(['s-1', 's-2', 's-3', 's-old']);
    expect(got.get('s-3')).toMatchObject({ location: { lat: 30, lng: 120 }, meta: { storeId: 'S' } });
    expect(got.get('s-old')).toMatchObject({ name: 'New', secretHash: 'keep-me', updatedAt: 2_000, createdAt: 1_000 });
  });

  it('a commit that fails part-way writes nothing, and the next import starts clean', async () => {
    const w = await store.devices.beginImport();
    await w.stage([rec('f-1'), rec('f-2')], [rec('s-1', { name: 'changed' })]);
    await w.stage([rec('s-2')], []); // already there: the INSERT fails after nothing of it was committed
    await expect(w.commit()).rejects.toThrow(/s-2/);
    const ids = (await store.devices.load()).map((d) => d.id);
    expect(ids).not.toContain('f-1');
    expect((await store.devices.load()).find((d) => d.id === 's-1')!.name).toBeNull();
    const again = await store.devices.beginImport();
    await again.stage([rec('f-1')], []);
    await again.commit();
    expect((await store.devices.load()).map((d) => d.id)).toContain('f-1');
  });

  it('abort drops the staged rows', async () => {
    const w = await store.devices.beginImport();
    await w.stage([rec('a-1')], []);
    await w.abort();
    const next = await store.devices.beginImport();
    await next.commit();
    expect((await store.devices.load()).map((d) => d.id)).not.toContain('a-1');
  });
});
