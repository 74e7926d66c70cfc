// Device import (admin; POST /api/devices/import, docs/dashboard.md Device import jobs): a CSV
// file or a JSON array, or CSV pasted in, all or nothing, as a background job followed until it
// ends (GET /api/devices/import/jobs/:id?wait=30): its progress, then every bad row (row, field,
// problem) or the counts and the new devices' secrets. The secrets are shown once, here, and can
// be saved as a CSV file: they are not kept anywhere the dashboard can read them again.
import { ApiError, get, post } from './api.js';
import { clear, h, select } from './dom.js';
import { fill, t } from './i18n.js';
import { importBody, importForm, rowProblems } from './importRows.js';

const COLUMNS = 'id,family,name,lat,lng,district,storeId,storeName,registrationCode,rescueCode,maintenanceUnit,maintenancePhone,stationId,stationName';
const conflicts = ['error', 'skip', 'update'];
/** a job is asked again at most this often while it runs (each ask waits up to 30 s for its end) */
const FOLLOW_PAUSE_MS = 300;

/** A CSV cell as RFC 4180 wants it, a formula-looking one kept text (the file goes to Excel). */
const cell = (s) => `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;

function saveSecrets(created) {
  const text = `\uFEFFid,family,secret\r\n${created.map((d) => [d.id, d.family, d.secret ?? ''].map(cell).join(',')).join('\r\n')}\r\n`;
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const a = h('a', { download: 'device-secrets.csv', hidden: true });
  // set directly: h() keeps only http(s) URLs, and this blob: URL is our own file, not page data
  a.href = url;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The panel: `el`, `dispose()`; `imported()` runs after an import went through. */
export function deviceImport(imported) {
  let onConflict = 'error';
  let busy = false;
  let disposed = false;
  const file = h('input', { type: 'file', id: 'dev-import-file', accept: '.csv,.json,text/csv,application/json' });
  const text = h('textarea', { id: 'dev-import-text', rows: 4, spellcheck: 'false', placeholder: COLUMNS });
  const msg = h('div', { class: 'notice', id: 'dev-import-msg', role: 'status', 'aria-live': 'polite' });
  const out = h('div', { id: 'dev-import-out' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'dev-import-go' }, t('devImport.go'));
  const conflictSel = select(conflicts.map((c) => [c, t(`devImport.conflict.${c}`)]), onConflict, (v) => { onConflict = v; });
  conflictSel.id = 'dev-import-conflict';
  const say = (kind, words, code = '') => { msg.className = `notice ${kind}`; msg.dataset.code = code; msg.textContent = words; };

  const showErrors = (rows) => clear(out, rowProblems('dev-import-rows', rows, ['devImport.row', 'devImport.field', 'devImport.problem']));

  function showCreated(created) {
    if (!created.length) { clear(out); return; }
    clear(out,
      h('p', { class: 'notice warn' }, t('devImport.secretsOnce')),
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'dev-import-save', onclick: () => saveSecrets(created) }, t('devImport.saveSecrets'))),
      h('div', { class: 'scroll' }, h('table', { id: 'dev-import-created' },
        h('thead', {}, h('tr', {}, ['devices.id', 'col.family', 'devImport.secret'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, created.slice(0, 200).map((d) => h('tr', {}, h('td', {}, d.id), h('td', {}, t(`family.${d.family}`, d.family)), h('td', { class: 'mono' }, d.secret ?? '-')))))),
      created.length > 200 ? h('p', { class: 'muted' }, fill(t('devImport.more'), { n: created.length - 200 })) : null);
  }

  /** Follow the job to its end, saying how far it got. */
  async function follow(job) {
    while (!disposed && (job.status === 'queued' || job.status === 'validating' || job.status === 'writing')) {
      say('', fill(t(`devImport.${job.status}`), { validated: job.validated, written: job.written, total: job.total }), job.status);
      await new Promise((r) => setTimeout(r, FOLLOW_PAUSE_MS));
      job = await get(`/api/devices/import/jobs/${encodeURIComponent(job.id)}?wait=30`);
    }
    if (disposed) return;
    if (job.status === 'done') {
      say('ok', fill(t('devImport.done'), job.counts ?? { created: 0, updated: 0, skipped: 0 }), 'done');
      showCreated(job.result?.created ?? []);
      file.value = '';
      text.value = '';
      imported();
    } else {
      const rows = job.errors ?? [];
      say('error', rows.length ? fill(t('devImport.refused'), { n: rows.length }) : `${t('err.generic')}: ${job.error?.message ?? ''}`, job.error?.code ?? 'failed');
      if (rows.length) showErrors(rows);
    }
  }

  async function submit() {
    if (busy) return;
    clear(out);
    let payload;
    try { payload = await importBody(file, text); } catch (err) { say('error', `${t('devImport.badJson')}: ${err.message}`, 'bad_json'); return; }
    if (payload === null) { say('error', t('devImport.empty'), 'empty'); return; }
    busy = true;
    go.disabled = true;
    say('', t('load.loading'));
    try {
      await follow(await post(`/api/devices/import?onConflict=${onConflict}`, payload));
    } catch (err) {
      if (err?.status === 401) return;
      const rows = err instanceof ApiError && Array.isArray(err.details) ? err.details : [];
      say('error', err?.message ?? String(err), err?.code ?? 'error');
      if (rows.length) showErrors(rows);
    } finally { busy = false; go.disabled = false; }
  }

  const el = importForm('dev-import', { title: 'devImport.title', hint: 'devImport.hint', file: 'devImport.file', paste: 'devImport.paste', onConflict: 'devImport.onConflict' },
    COLUMNS, { file, text, conflict: conflictSel, go, msg, out }, submit);
  return { el, dispose() { disposed = true; } };
}
