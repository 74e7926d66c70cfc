/**
 * dashboard/routes/storeLists.ts on a real service: a camera's three class-1/2 violations flag
 * its store (kitchen.repeat_offender), people walk the black list's steps, and both lists are
 * published as JSON, and as CSV and XLSX that no spreadsheet reads a formula from.
 */
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { apiFor, readUntil, routeService } from '../../helpers/api.js';
import type { TestService } from '../../helpers/service.js';
import { python, readXlsx } from '../../helpers/xlsx.js';

let ts: TestService;
let opToken: string;
let dispToken: string;
const api = apiFor(() => ts);

routeService({ ALERT_CHECKPOINT_MS: 200 }, (s) => ({ ts, opToken, dispToken } = s));

describe('the store lists', () => {
  it('a flagged store walks the black list with notes; the lists publish as JSON, CSV and XLSX', async () => {
    const bad = await ts.registerDevice({ id: 'sl-cam-1', family: 'kitchen', district: '330106', meta: { storeId: 'S-BAD', storeName: '=HYPERLINK("http://x","点我")' } });
    await ts.registerDevice({ id: 'sl-cam-2', family: 'kitchen', district: '330106', meta: { storeId: 'S-GOOD', storeName: '好味道餐馆' } });
    const c = await ts.connectDevice(bad.id, bad.secret);
    for (const type of ['rat', 'smoking', 'trash_uncovered']) {
      await c.publishAsync(`kitchen/${bad.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', `v-${type}`, Date.now()), storeId: 'S-BAD', type, confidence: 0.95 }), { qos: 1 });
    }
    await c.endAsync();
    type Black = { kind: string; items: Array<{ storeId: string; storeName: string | null; stage: string; count: number; steps: Array<{ stage: string; by: string; note?: string }> }> };
    const black = await readUntil(() => api<Black>('GET', '/api/stores/lists?kind=black', { token: opToken }), (r) => r.data.items.length > 0);
    expect(black.statusCode).toBe(200);
    expect(black.data.items).toEqual([expect.objectContaining({ storeId: 'S-BAD', stage: 'flagged', count: 3, storeName: '=HYPERLINK("http://x","点我")' })]);

    // steps in order, each with a note; refusals carry their reason
    const step = (stage: string, note = `${stage} 已完成`, token = opToken) => api<Loose>('POST', '/api/stores/S-BAD/list-steps', { token, payload: { stage, note } });
    type Loose = { stage: string; steps: unknown[]; error: { code: string; details: { reason: string } } };
    expect((await step('rectified')).data.error).toMatchObject({ code: 'store_list_refused', details: { reason: 'stage_out_of_order' } });
    expect((await step('notified', '   ')).statusCode).toBe(400);
    expect((await step('notified', '已书面通知', dispToken)).statusCode).toBe(403);
    for (const stage of ['notified', 'rectified', 'rechecked']) expect((await step(stage)).statusCode).toBe(200);
    const red = await api<{ items: Array<{ storeId: string }> }>('GET', '/api/stores/lists?kind=red&period=7d');
    expect(red.data.items.map((s) => s.storeId)).toEqual(['S-GOOD']);
    const lifted = await step('lifted', '复查合格，移出黑榜');
    expect(lifted.data.stage).toBe('lifted');
    expect((await step('notified')).data.error.details.reason).toBe('not_listed');

    // it left the list in the period: still published, at its stage; no longer on it now
    const after = await api<Black>('GET', '/api/stores/lists?kind=black&period=1d');
    expect(after.data.items.map((e) => [e.storeId, e.stage])).toEqual([['S-BAD', 'lifted']]);
    expect(after.data.items[0]!.steps.map((s) => s.stage)).toEqual(['flagged', 'notified', 'rectified', 'rechecked', 'lifted']);
    expect((await api<{ items: unknown[] }>('GET', '/api/stores/flagged')).data.items).toEqual([]);

    // CSV for the bureau: a BOM, every cell quoted, a formula neutralised
    const csv = await ts.service.http.inject({ url: '/api/stores/lists?kind=black&format=csv', headers: { authorization: `Bearer ${opToken}` } });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body.startsWith('\uFEFF"storeId","storeName"')).toBe(true);
    expect(csv.body).toContain('"\'=HYPERLINK(""http://x"",""点我"")"');
    expect(csv.body).toContain('"复查合格，移出黑榜"');
    // XLSX: the same table as a file (read back by Python in the test below)
    for (const kind of ['black', 'red']) {
      const x = await ts.service.http.inject({ url: `/api/stores/lists?kind=${kind}&format=xlsx`, headers: { authorization: `Bearer ${opToken}` } });
      expect(x.statusCode).toBe(200);
      expect(x.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      expect(x.headers['content-disposition']).toBe(`attachment; filename="${kind}-list-30d.xlsx"`);
      expect(x.rawPayload.subarray(0, 4).toString('latin1')).toBe('PK\x03\x04');
    }
    expect((await api('GET', '/api/stores/lists?kind=red&format=xls')).statusCode).toBe(400);
    const openapi = await api('GET', '/docs/json', { token: null });
    const format = openapi.data.paths['/api/stores/lists'].get.parameters.find((p: { name: string }) => p.name === 'format');
    expect(format.schema.enum).toEqual(['json', 'csv', 'xlsx']);
    // bad queries
    expect((await api('GET', '/api/stores/lists?kind=grey')).statusCode).toBe(400);
    expect((await api('GET', '/api/stores/lists?kind=red&period=999d')).statusCode).toBe(400);
    expect((await ts.service.http.inject({ url: '/api/stores/lists?kind=red' })).statusCode).toBe(401);
  });

  // after the test above: S-BAD left the black list today, S-GOOD is on the red list
  it.skipIf(!python.ok)(`the lists as XLSX, read back by Python${python.ok ? '' : ` (skipped: ${python.reason})`}`, async () => {
    const get = async (q: string) => readXlsx((await ts.service.http.inject({ url: `/api/stores/lists?${q}&format=xlsx`, headers: { authorization: `Bearer ${opToken}` } })).rawPayload);
    const black = await get('kind=black&period=1d');
    expect(black.badEntry).toBeNull();
    expect(black.sheets).toEqual(['black-list-1d']);
    expect(black.rows[0]).toEqual(['storeId', 'storeName', 'district', 'stage', 'flaggedAt', 'count', 'lastStep', 'lastStepBy', 'lastStepNote']);
    expect(black.rows[1]).toEqual(['S-BAD', '=HYPERLINK("http://x","点我")', '330106', 'lifted', expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), 3, expect.any(String), 'op1', '复查合格，移出黑榜']);
    expect(black.types[1]![5]).toBe('n');
    expect(black.formula).toBe(false);
    const red = await get('kind=red&period=7d');
    expect(red.rows).toEqual([['storeId', 'storeName', 'district'], ['S-GOOD', '好味道餐馆', '330106']]);
  });
});
