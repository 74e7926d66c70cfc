/**
 * CSV answers (RFC 4180): every cell quoted, and a cell that a spreadsheet would read as a
 * formula (starting with =, +, -, @, a tab or a carriage return) prefixed with a quote, so a
 * store name typed by anyone never runs in the bureau's Excel (OWASP, CSV injection). A BOM
 * first, so Excel reads the Chinese as UTF-8. Built a slice of rows at a time (slices.ts).
 */
import { slices } from './slices.js';

/** The CSV file, UTF-8: BOM, header, then `rows`, each line ended by CRLF. */
export async function csvBuffer(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): Promise<Buffer> {
  const parts = [Buffer.from(`\uFEFF${line(header)}\r\n`, 'utf8')];
  for await (const slice of slices(rows)) parts.push(Buffer.from(`${slice.map(line).join('\r\n')}\r\n`, 'utf8'));
  return Buffer.concat(parts);
}

function line(r: ReadonlyArray<string | number | null>): string {
  return r.map(cell).join(',');
}

function cell(v: string | number | null): string {
  let s = v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}
