/**
 * Exports do not hold the event loop (dashboard/routes/slices.ts, csvOut.ts, xlsxOut.ts): the
 * file is built a slice of rows at a time and the loop runs between slices, counted here as the
 * turns a setImmediate ticker gets while a 50,000-row file is built (no clock is read: how long
 * a turn waits depends on the machine). The files still read back (Python's zipfile and
 * ElementTree for XLSX, csv-parse for CSV). And at most EXPORTS_AT_ONCE exports run at once in
 * the service: one more is 429 export_busy with Retry-After, a slot is given back however its
 * export ends, and the JSON of the same routes is never refused.
 */
import { parse } from 'csv-parse/sync';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { EXPORT_MAX_ROWS, alertHeader } from '../../../dashboard/routes/exportTables.js';
import { csvBuffer } from '../../../dashboard/routes/csvOut.js';
import { SLICE_ROWS } from '../../../dashboard/routes/slices.js';
import { EXPORTS_AT_ONCE, XLSX_TYPE, inExportSlot } from '../../../dashboard/routes/tableOut.js';
import { xlsxBuffer, type XlsxCell } from '../../../dashboard/routes/xlsxOut.js';
import { apiFor, expectError, routeService } from '../../helpers/api.js';
import { insertBulkAlerts } from '../../helpers/bulkAlerts.js';
import type { TestService } from '../../helpers/service.js';
import { python, readXlsx } from '../../helpers/xlsx.js';

let ts: TestService;
const api = apiFor(() => ts);
routeService({ DUCKDB_WORKER: 'false' }, (s) => ({ ts } = s));

const ROWS = 50_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
/** The widest export (alerts): Chinese text, numbers, empty cells, formula-looking text. */
const rows: XlsxCell[][] = Array.from({ length: ROWS }, (_, i) => [
  `alert-${i}`, 'kitchen', 'kitchen.violation', 'rat', 'major', 'resolved', `cam-${i % 500}`, i % 1000 === 0 ? '=HYPERLINK("x")' : `西湖区某餐馆 ${i % 500} 号店`,
  '330106', iso(T0 + i * 1000), iso(T0 + i * 1000 + 5000), 1 + (i % 7), iso(T0 + i * 1000 + 600_000), null, iso(T0 + i * 1000 + 3_600_000), null,
  'system', null, null, `Kitchen violation rat (confidence 0.95) at cam-${i % 500} & <kitchen ${i}>`,
]);

/**
 * Count the event loop's turns while `work` runs: a ticker that re-arms itself with setImmediate
 * runs once per turn, so code that never lets the loop run gets one tick at most.
 */
async function loopTurnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let on = true;
  const tick = () => { if (on) { turns++; setImmediate(tick); } };
  setImmediate(tick);
  try {
    const result = await work();
    return { result, turns };
  } finally {
    on = false;
  }
}

describe('the writers let the event loop run between slices of rows', () => {
  it.skipIf(!python.ok)(`XLSX of ${ROWS} rows: a turn per slice of ${SLICE_ROWS} (the widths, then the sheet), and the file reads back`, async () => {
    const { result: file, turns } = await loopTurnsDuring(() => xlsxBuffer('alerts', alertHeader, rows));
    expect(turns).toBeGreaterThanOrEqual(2 * (ROWS / SLICE_ROWS));
    const x = readXlsx(file);
    expect(x.badEntry).toBeNull();
    expect(x.formula).toBe(false);
    expect(x.rows).toHaveLength(ROWS + 1);
    expect(x.rows[0]).toEqual(alertHeader);
    // empty cells are no cell: compare with nulls where the reader saw none
    const seen = (r: Array<string | number | null>, want: XlsxCell[]) => want.map((_, i) => r[i] ?? null);
    for (const i of [0, 1, 999, 1000, 24_999, ROWS - 1]) expect(seen(x.rows[i + 1]!, rows[i]!), `row ${i}`).toEqual(rows[i]);
    expect(x.types[2]![11]).toBe('n');
  }, 120_000);

  it(`CSV of ${ROWS} rows: a turn per slice, the same text as before (BOM, quoted cells, CRLF)`, async () => {
    const { result: file, turns } = await loopTurnsDuring(() => csvBuffer(alertHeader, rows));
    expect(turns).toBeGreaterThanOrEqual(ROWS / SLICE_ROWS);
    const read = parse(file, { bom: true }) as string[][];
    expect(read).toHaveLength(ROWS + 1);
    expect(read[0]).toEqual(alertHeader);
    expect(read[1001]![7]).toBe('\'=HYPERLINK("x")');
    expect(read[ROWS]![0]).toBe(`alert-${ROWS - 1}`);
    expect((await csvBuffer(['a', 'b'], [['1', null], [2, '-x "y"']])).toString('utf8')).toBe('\uFEFF"a","b"\r\n"1",""\r\n"2","\'-x ""y"""\r\n');
    expect((await csvBuffer(['a'], [])).toString('utf8')).toBe('\uFEFF"a"\r\n');
  }, 60_000);
});

describe(`a ${EXPORT_MAX_ROWS}-row XLSX export through the route`, () => {
  it('builds with the event loop running between slices, and the file reads back', async () => {
    // older than the statistics' default period, which the last test reads
    const t0 = Date.now() - 10 * 86_400_000;
    await insertBulkAlerts(ts, EXPORT_MAX_ROWS, t0, '339901');
    const { result: res, turns } = await loopTurnsDuring(() => ts.service.http.inject({
      url: '/api/alerts/export?district=339901&format=xlsx', headers: { authorization: `Bearer ${ts.adminToken}` },
    }));
    expect(res.statusCode, res.body.slice(0, 200)).toBe(200);
    expect(res.headers['content-type']).toBe(XLSX_TYPE);
    expect(turns).toBeGreaterThanOrEqual(2 * (EXPORT_MAX_ROWS / SLICE_ROWS));
    if (python.ok) {
      const x = readXlsx(res.rawPayload);
      expect(x.badEntry).toBeNull();
      expect(x.rows).toHaveLength(EXPORT_MAX_ROWS + 1);
      expect(x.rows[0]).toEqual(alertHeader);
      expect(x.rows[1]![0]).toBe(`bulk-${String(EXPORT_MAX_ROWS - 1).padStart(6, '0')}`);
      expect(new Set(x.rows.map((r) => r[0])).size).toBe(EXPORT_MAX_ROWS + 1);
    }
  }, 120_000);
});

describe(`at most ${EXPORTS_AT_ONCE} exports at once`, () => {
  /** A request of this service, as inExportSlot sees it. */
  const request = () => ({ server: ts.service.http }) as unknown as FastifyRequest;
  /** Hold a slot until the returned function is called. */
  const hold = () => {
    let release!: () => void;
    const held = inExportSlot(request(), () => new Promise<void>((resolve) => { release = resolve; }));
    return async () => { release(); await held; };
  };

  it('one more is 429 export_busy with Retry-After; JSON reads go on; a slot comes back however its export ended', async () => {
    // exports that fail inside their slot (too many rows) give it back
    await insertBulkAlerts(ts, EXPORT_MAX_ROWS + 1, Date.now() - 11 * 86_400_000, '339902', 'many');
    for (let i = 0; i < EXPORTS_AT_ONCE + 1; i++) expectError(await api('GET', '/api/alerts/export?district=339902'), 400, 'export_too_large');

    const releases: Array<() => Promise<void>> = [];
    for (let i = 0; i < EXPORTS_AT_ONCE; i++) releases.push(hold());
    for (const url of ['/api/alerts/export', '/api/rescue-cases/export?format=xlsx', '/api/stats/on-time?format=csv', '/api/audit?format=xlsx']) {
      const busy = await api('GET', url);
      expectError(busy, 429, 'export_busy');
      expect(busy.headers['retry-after']).toBe(String(busy.data.error.details.retryAfterS));
      expect(busy.data.error.details.maxAtOnce).toBe(EXPORTS_AT_ONCE);
    }
    // directly too: the slot is refused before any work starts
    let ran = false;
    await expect(inExportSlot(request(), async () => { ran = true; })).rejects.toMatchObject({ code: 'export_busy' });
    expect(ran).toBe(false);
    // the JSON of the same routes is no export
    expect((await api('GET', '/api/stats/on-time')).statusCode).toBe(200);
    expect((await api('GET', '/api/audit')).statusCode).toBe(200);

    await releases.pop()!();
    const ok = await api('GET', '/api/alerts/export?family=elevator');
    expect(ok.statusCode, ok.body).toBe(200);
    // within a held slot, the same request's file is built in it (the route holds one while reading rows)
    const req = request();
    expect(await inExportSlot(req, () => inExportSlot(req, async () => 'nested'))).toBe('nested');
    for (const release of releases) await release();
  }, 120_000);
});
