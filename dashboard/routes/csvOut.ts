/**
 * CSV answers (RFC 4180): every cell quoted, and a cell that a spreadsheet would read as a
 * formula (starting with =, +, -, @, a tab or a carriage return) prefixed with a quote, so a
 * store name typed by anyone never runs in the bureau's Excel (OWASP, CSV injection). A BOM
 * first, so Excel reads the Chinese as UTF-8.
 */
export function csvText(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  return '\uFEFF' + [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

function cell(v: string | number | null): string {
  let s = v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}
