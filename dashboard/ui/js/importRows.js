// What the two registry imports (devices: deviceImport.js; cylinders: cylinderImport.js) share:
// the body read from a chosen file or pasted text, and the table of the rows a refused import
// names (row, field, problem). Row text is text.
import { h } from './dom.js';
import { t } from './i18n.js';

/**
 * The body to send: a JSON array as itself, anything else as CSV text (sent as a JSON string,
 * which the import routes read as CSV); null when nothing was given. A malformed JSON array
 * throws a SyntaxError.
 */
export async function importBody(file, text) {
  const f = file.files?.[0];
  const raw = f ? await f.text() : text.value;
  if (!raw.trim()) return null;
  if (!raw.trimStart().startsWith('[')) return raw;
  const rows = JSON.parse(raw);
  // the message is the shape wanted, in no language: the caller puts its own words before it
  if (!Array.isArray(rows)) throw new SyntaxError('[ … ]');
  return rows;
}

/** The refused rows as a table (`id` on it); `labels`: the i18n keys of its three headers. */
export function rowProblems(id, rows, labels) {
  return h('div', { class: 'scroll' }, h('table', { id },
    h('thead', {}, h('tr', {}, labels.map((k) => h('th', {}, t(k))))),
    h('tbody', {}, rows.map((e) => h('tr', { dataset: { row: String(e.row ?? '') } },
      h('td', { class: 'num' }, String(e.row ?? '-')), h('td', {}, e.path || '-'), h('td', {}, e.message ?? ''))))));
}
