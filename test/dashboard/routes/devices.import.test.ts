/**
 * The import routes of dashboard/routes/devices.ts on a real service, with fastify inject:
 * POST /api/devices/import (a JSON array or CSV) runs as a background job, followed to its end
 * through GET /api/devices/import/jobs/:id; all or nothing, onConflict, who sees the secrets.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFor, expectError, type Loose, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
const api = apiFor(() => ts);

routeService({}, (s) => ({ ts, opToken } = s));

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
      expect((await ts.service.store.devices.load()).find((d) => d.id === 'oc-1')).toMatchObject({ name: 'New', district: '330106', meta: { storeName: 'Noodles' } });
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
