// The cylinder registry import (admin; POST /api/cylinders/import): a file (CSV, or a JSON
// array) or CSV pasted in, all or nothing, with what to do about codes already registered
// (`onConflict`). A refused import lists every bad row (`details`: row, field, message) so it
// can be fixed; the rows are the file's data rows, the header not counted. Row text is text.
import { ApiError, post } from './api.js';
import { clear, h, select } from './dom.js';
import { fill, t } from './i18n.js';
import { importBody, importForm, rowProblems } from './importRows.js';

const COLUMNS = 'code,model,mfgDate,designLifeYears,lastInspection,nextInspection,ownerStationId,entrustedStationIds,status,maxFillKg';
const conflicts = ['error', 'skip', 'update'];

/** The panel: `el`, `dispose()`; `imported()` runs after an import went through. */
export function cylinderImport(imported) {
  let onConflict = 'error';
  let busy = false;
  const file = h('input', { type: 'file', id: 'cyl-import-file', accept: '.csv,.json,text/csv,application/json' });
  const text = h('textarea', { id: 'cyl-import-text', rows: 5, spellcheck: 'false', placeholder: COLUMNS });
  const msg = h('div', { class: 'notice', id: 'cyl-import-msg', role: 'status', 'aria-live': 'polite' });
  const errors = h('div', { id: 'cyl-import-errors' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'cyl-import-go' }, t('cyl.importGo'));
  const conflictSel = select(conflicts.map((c) => [c, t(`cyl.conflict.${c}`)]), onConflict, (v) => { onConflict = v; });
  conflictSel.id = 'cyl-import-conflict';

  const say = (kind, words, code = '') => { msg.className = `notice ${kind}`; msg.dataset.code = code; msg.textContent = words; };

  async function submit() {
    if (busy) return;
    clear(errors);
    let payload;
    try { payload = await importBody(file, text); } catch (err) { say('error', `${t('cyl.badJson')}: ${err.message}`, 'bad_json'); return; }
    if (payload === null) { say('error', t('cyl.importEmpty'), 'empty'); return; }
    busy = true;
    go.disabled = true;
    say('', t('load.loading'));
    try {
      const r = await post(`/api/cylinders/import?onConflict=${onConflict}`, payload);
      say('ok', fill(t('cyl.importDone'), r), 'done');
      file.value = '';
      text.value = '';
      imported();
    } catch (err) {
      if (err?.status === 401) return;
      const rows = err instanceof ApiError && Array.isArray(err.details) ? err.details : [];
      say('error', rows.length ? fill(t('cyl.importRefused'), { n: rows.length })
        : err?.code === 'bad_csv' ? `${t('cyl.badCsv')}: ${err.message}` : `${t('err.generic')}: ${err?.message ?? err}`, err?.code ?? 'error');
      if (rows.length) {
        clear(errors, rowProblems('cyl-import-rows', rows, ['cyl.row', 'cyl.field', 'cyl.problem']));
      }
    } finally { busy = false; go.disabled = false; }
  }

  const el = importForm('cyl-import', { title: 'cyl.import', hint: 'cyl.importHint', file: 'cyl.importFile', paste: 'cyl.importPaste', onConflict: 'cyl.onConflict' },
    COLUMNS, { file, text, conflict: conflictSel, go, msg, out: errors }, submit);
  return { el, dispose() {} };
}
