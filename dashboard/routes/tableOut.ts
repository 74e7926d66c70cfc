/**
 * A route that exports a table offers it as CSV (csvOut.ts) or XLSX (xlsxOut.ts) with the same
 * query parameter and the same answer headers; this is the one place that choice is made, so
 * every export route gets both (docs/api.md lists them).
 *
 * Files are built a slice of rows at a time (slices.ts), never holding the event loop long, and
 * at most EXPORTS_AT_ONCE at a time in the whole service: each costs the memory of its rows and
 * its file, which any signed-in user could otherwise multiply. One more is refused
 * (429 `export_busy`, Retry-After), not queued.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CodedError } from '../../core/codes.js';
import { csvBuffer } from './csvOut.js';
import { xlsxBuffer, type XlsxCell } from './xlsxOut.js';

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** `?format=`: the route's JSON, or its table as a file for a spreadsheet. */
export const exportFormat = z.enum(['json', 'csv', 'xlsx']).default('json')
  .describe('json, or the table as a file: csv (UTF-8 with a BOM) or xlsx (one sheet, bold frozen header)');

export type TableFormat = 'csv' | 'xlsx';

/** Exports read and built at once, service-wide; a 50,000-row XLSX holds ~100 MB while it is built. */
export const EXPORTS_AT_ONCE = 2;
/** What a refused export is told to wait (Retry-After): about how long a 50,000-row file takes. */
const EXPORT_RETRY_S = 5;

/** Exports running, per service (keyed by its dependencies, one object per app). */
const running = new WeakMap<object, number>();
/** Requests holding a slot: a route that holds one while reading its rows keeps it through sendTable. */
const holding = new WeakSet<FastifyRequest>();

/**
 * Run `work` (reading an export's rows, building its file) in one of the service's
 * EXPORTS_AT_ONCE slots, released when it ends however it ends; all taken: 429 `export_busy`.
 * A request already holding a slot runs `work` in it.
 */
export async function inExportSlot<T>(req: FastifyRequest, work: () => Promise<T>): Promise<T> {
  if (holding.has(req)) return work();
  const service = req.server.deps;
  const n = running.get(service) ?? 0;
  if (n >= EXPORTS_AT_ONCE) {
    throw new CodedError('export_busy', `${n} exports are being built, the most at once; retry in ${EXPORT_RETRY_S} s`,
      { retryAfterS: EXPORT_RETRY_S, maxAtOnce: EXPORTS_AT_ONCE });
  }
  running.set(service, n + 1);
  holding.add(req);
  try {
    return await work();
  } finally {
    holding.delete(req);
    running.set(service, (running.get(service) ?? 1) - 1);
  }
}

/**
 * Send `header` and `rows` as `<name>.csv` or `<name>.xlsx` (an attachment; the sheet is named
 * `name` too), built in an export slot. `name` is the route's own ASCII text; anything else in
 * it becomes `_` so the header stays one safe token.
 */
export async function sendTable(reply: FastifyReply, format: TableFormat, name: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<XlsxCell>>): Promise<FastifyReply> {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  const body = await inExportSlot(reply.request, () => (format === 'csv' ? csvBuffer(header, rows) : xlsxBuffer(safe, header, rows)));
  const type = format === 'csv' ? 'text/csv; charset=utf-8' : XLSX_TYPE;
  return reply.header('content-type', type).header('content-disposition', `attachment; filename="${safe}.${format}"`).send(body);
}
