/**
 * POST /api/dead-letters/replay and the paging of GET /api/dead-letters (dashboard/routes/deadLetters.ts,
 * ingest/replay.ts) on a real service in open mode, with fastify inject: a message dead-lettered
 * because its device was unknown, then registered and replayed, is stored once (the readings API
 * shows it once); again: a duplicate; a still-invalid payload: refused with its code and no new dead
 * letter; unknown ids; the role and size checks; district scope. Every dead-letter reason code has a
 * name in the UI's table (dashboard/ui/i18n.json). Each kind of refusal: test/ingest/replay.test.ts.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { codes } from '../../../core/codes.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, detailPaths, expectError, publish, routeService, type Loose } from '../../helpers/api.js';
import { connectMqtt, type TestService } from '../../helpers/service.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);
routeService({ MQTT_ALLOW_ANONYMOUS: 'true' }, (s) => ({ ts, opToken, dispToken } = s));

const HERE = '330106';
const status = (msgId: string, over: Record<string, unknown> = {}): string => JSON.stringify({ ...examplePayload('elevator', 'status', msgId, Date.now()), ...over });
/** dead-letter ids by name */
const ids: Record<string, number> = {};
let scopedOp: string;

async function letters(query: string, token?: string): Promise<Loose[]> {
  const res = await api('GET', `/api/dead-letters${query}`, token === undefined ? {} : { token });
  expect(res.statusCode, res.body).toBe(200);
  return res.data.items;
}

const replay = (body: unknown, token?: string | null) => api('POST', '/api/dead-letters/replay', { payload: body, ...(token === undefined ? {} : { token }) });
const readings = async (id: string): Promise<string[]> =>
  (await api('GET', `/api/devices/${id}/readings?channel=status`)).data.items.map((r: { msgId: string }) => r.msgId);

beforeAll(async () => {
  // open mode: an anonymous client may publish for any device id; an unregistered one is dead-lettered
  const anon = await connectMqtt(ts.mqttUrl, { clientId: 'anon:replay-test' });
  try {
    await publish(anon, 'elevator/rp-lift/status', status('late-1'));
    await publish(anon, 'elevator/rp-far/status', status('far-1'));
  } finally {
    await anon.endAsync();
  }
  await ts.registerDevice({ id: 'rp-far', family: 'elevator', district: '330108' });
  const lift = await ts.registerDevice({ id: 'rp-lift', family: 'elevator', district: HERE });
  const c = await ts.connectDevice(lift.id, lift.secret);
  try {
    await publish(c, 'elevator/rp-lift/status', status('bad-1', { speedMps: 'fast' }));
  } finally {
    await c.endAsync();
  }
  // an unknown device's letter carries no msgId (the payload was not read): named by device and reason
  const names: Record<string, string> = { 'rp-lift unknown_device': 'late-1', 'rp-far unknown_device': 'far-1', 'rp-lift schema': 'bad-1' };
  for (const d of await letters('?limit=10')) ids[names[`${d.deviceId} ${d.reason}`] ?? '?'] = d.id;
  expect(Object.keys(ids).sort()).toEqual(['bad-1', 'far-1', 'late-1']);
  const r = await api('POST', '/api/users', { payload: { username: 'op-rp', password: 'op-rp-password', role: 'operator', district: HERE } });
  expect(r.statusCode, r.body).toBe(201);
  scopedOp = await ts.token('op-rp', 'op-rp-password');
});

describe('POST /api/dead-letters/replay', () => {
  it.each([
    ['unknown device, registered since: stored', () => [ids['late-1']], [{ outcome: 'stored' }], ['late-1']],
    ['the same again: a duplicate, not stored twice', () => [ids['late-1']], [{ outcome: 'duplicate' }], ['late-1']],
    ['still invalid: refused with its code', () => [ids['bad-1']], [{ outcome: 'refused', code: 'schema', message: expect.stringContaining('speedMps') }], ['late-1']],
    ['an id that does not exist: not_found', () => [987_654], [{ outcome: 'not_found' }], ['late-1']],
    ['several at once, in the order asked', () => [987_654, ids['late-1'], ids['bad-1']],
      [{ outcome: 'not_found' }, { outcome: 'duplicate' }, { outcome: 'refused', code: 'schema', message: expect.any(String) }], ['late-1']],
  ])('%s', async (_d, asked, outcomes, stored) => {
    const before = (await letters('?limit=1000')).length;
    const res = await replay({ ids: asked() });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.data.items).toEqual(outcomes.map((o, i) => ({ id: asked()[i], ...o })));
    // the readings API shows the replayed message once; a refusal adds no dead letter
    expect(await readings('rp-lift')).toEqual(stored);
    expect((await letters('?limit=1000')).length).toBe(before);
  });

  it('an operator may read dead letters but not replay them: 403', async () => {
    expect((await letters('', opToken)).length).toBeGreaterThan(0);
    expectError(await replay({ ids: [ids['far-1']] }, opToken), 403, 'forbidden');
    expectError(await replay({ ids: [ids['far-1']] }, dispToken), 403, 'forbidden');
    expectError(await replay({ ids: [ids['far-1']] }, null), 401, 'unauthorized');
  });

  it.each([
    ['more than 500 ids', { ids: Array.from({ length: 501 }, (_, i) => i + 1) }, 'ids'],
    ['no ids', { ids: [] }, 'ids'],
    ['an id that is not a whole number', { ids: [1.5] }, 'ids.0'],
    ['an id as text', { ids: ['1'] }, 'ids.0'],
    ['an unknown field', { ids: [1], all: true }, '(root)'],
  ])('%s -> 400 validation', async (_d, body, p) => {
    const res = await replay(body);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });

  it('500 ids are taken (unknown ones: not_found)', async () => {
    const res = await replay({ ids: Array.from({ length: 500 }, (_, i) => 1_000_000 + i) });
    expect(res.statusCode, res.body).toBe(200);
    expect(new Set(res.data.items.map((i: { outcome: string }) => i.outcome))).toEqual(new Set(['not_found']));
  });

  it('district scope: a scoped operator lists only its district; replay stays the admins\', who are never scoped', async () => {
    expect((await letters('', scopedOp)).map((d) => d.id)).toEqual([ids['bad-1'], ids['late-1']]);
    expectError(await replay({ ids: [ids['far-1']] }, scopedOp), 403, 'forbidden');
    expect(await readings('rp-far')).toEqual([]);
    // the admin sees the whole city: the other district's letter is replayed
    expect((await replay({ ids: [ids['far-1']] })).data.items).toEqual([{ id: ids['far-1'], outcome: 'stored' }]);
    expect(await readings('rp-far')).toEqual(['far-1']);
  });
});

describe('GET /api/dead-letters: paging and time range', () => {
  it('pages newest first by nextBefore to the end, with the filters', async () => {
    const all = (await letters('?limit=1000')).map((d) => d.id);
    const seen: number[] = [];
    let url = '/api/dead-letters?limit=2';
    for (;;) {
      const res = await api('GET', url);
      seen.push(...res.data.items.map((d: { id: number }) => d.id));
      if (res.data.nextBefore === null) break;
      expect(res.data.nextBefore).toBe(seen[seen.length - 1]);
      url = `/api/dead-letters?limit=2&before=${res.data.nextBefore}`;
    }
    expect(seen).toEqual(all);
    const res = await api('GET', `/api/dead-letters?limit=3&deviceId=rp-lift&before=${ids['bad-1']}`);
    expect(res.data).toEqual({ items: [expect.objectContaining({ id: ids['late-1'] })], nextBefore: null });
  });

  it('until is exclusive, since inclusive', async () => {
    const [bad] = await letters(`?deviceId=rp-lift&reason=schema`);
    const at = Date.parse(bad.receivedAt);
    expect((await letters(`?deviceId=rp-lift&until=${at}`)).map((d) => d.id)).toEqual([ids['late-1']]);
    expect((await letters(`?deviceId=rp-lift&since=${at}&until=${at + 1}`)).map((d) => d.id)).toEqual([ids['bad-1']]);
  });

  it.each([['before 0', '?before=0', 'before'], ['before not a number', '?before=abc', 'before'], ['bad until', '?until=tomorrow', 'until']])('%s -> 400', async (_d, q, p) => {
    const res = await api('GET', `/api/dead-letters${q}`);
    expectError(res, 400, 'validation');
    expect(detailPaths(res)).toContain(p);
  });
});

describe('the UI names every dead-letter reason', () => {
  const table = JSON.parse(readFileSync(new URL('../../../dashboard/ui/i18n.json', import.meta.url), 'utf8')) as Record<'zh' | 'en', Record<string, string>>;
  const reasons = Object.entries(codes).filter(([code, s]) => s.scope !== 'http' || code.startsWith('replay_')).map(([code]) => code);
  it.each(reasons)('dlReason.%s in Chinese and English', (code) => {
    expect(table.zh[`dlReason.${code}`]).toMatch(/[\u4e00-\u9fff]/);
    expect(table.en[`dlReason.${code}`]).toMatch(/\S/);
  });
});
