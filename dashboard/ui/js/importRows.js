// What the two registry imports (devices: deviceImport.js; cylinders: cylinderImport.js) share:
// the form's layout, the body read from a chosen file or pasted text, and the table of the rows
// a refused import names (row, field, problem). Row text is text.
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

/**
 * The import form: title, hint with the CSV columns, file, paste, on-conflict choice, the
 * submit button, then the message and the result below. `id` prefixes the fields' ids
 * (`<id>-file`, `<id>-text`, `<id>-conflict`); `keys` names the i18n texts.
 */
export function importForm(id, keys, columns, parts, submit) {
  return h('form', { class: 'panel form', id, onsubmit: (e) => { e.preventDefault(); void submit(); } },
    h('h2', {}, t(keys.title)),
    h('p', { class: 'muted small' }, t(keys.hint), ' ', h('code', {}, columns)),
    h('label', { for: `${id}-file` }, t(keys.file)), parts.file,
    h('label', { for: `${id}-text` }, t(keys.paste)), parts.text,
    h('label', { for: `${id}-conflict` }, t(keys.onConflict)), parts.conflict,
    h('div', { class: 'actions' }, parts.go),
    parts.msg, parts.out);
}
