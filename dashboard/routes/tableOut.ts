/**
 * A route that exports a table offers it as CSV (csvOut.ts) or XLSX (xlsxOut.ts) with the same
 * query parameter and the same answer headers; this is the one place that choice is made, so
 * every export route gets both (docs/api.md lists them).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { csvText } from './csvOut.js';
import { xlsxBuffer, type XlsxCell } from './xlsxOut.js';

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** `?format=`: the route's JSON, or its table as a file for a spreadsheet. */
export const exportFormat = z.enum(['json', 'csv', 'xlsx']).default('json')
  .describe('json, or the table as a file: csv (UTF-8 with a BOM) or xlsx (one sheet, bold frozen header)');

export type TableFormat = 'csv' | 'xlsx';

/**
 * Send `header` and `rows` as `<name>.csv` or `<name>.xlsx` (an attachment; the sheet is named
 * `name` too). `name` is the route's own ASCII text; anything else in it becomes `_` so the
 * header stays one safe token.
 */
export function sendTable(reply: FastifyReply, format: TableFormat, name: string, header: readonly string[], rows: ReadonlyArray<ReadonlyArray<XlsxCell>>): FastifyReply {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  const [type, body] = format === 'csv'
    ? ['text/csv; charset=utf-8', csvText(header, rows)]
    : [XLSX_TYPE, xlsxBuffer(safe, header, rows)];
  return reply.header('content-type', type).header('content-disposition', `attachment; filename="${safe}.${format}"`).send(body);
}
