// The 红黑榜 panels of the store view (docs/rules.md, Store lists): the black list (GET
// /api/stores/lists?kind=black) with each store's stage and every step (who, when, note), and the
// button for the next step (notified → rectified → rechecked → lifted, a note required; POST
// /api/stores/:storeId/list-steps, refusals in words by `details.reason`); the red list
// (kind=red). Both over the chosen period, each with its CSV / XLSX export. Store names come
// from the cameras' metadata: text only (dom.js).
import { ApiError, get, post } from './api.js';
import { confirmDialog } from './dialog.js';
import { districtName } from './districts.js';
import { clear, h } from './dom.js';
import { fill, fmtTime, t, tv } from './i18n.js';
import { loadLine } from './loadLine.js';
import { noteText } from './systemNote.js';
import { exportButtons } from './tableDownload.js';

/** The stages a person records, in order after `flagged` (core/stores/storeList.ts). */
const NEXT = { flagged: 'notified', notified: 'rectified', rectified: 'rechecked', rechecked: 'lifted' };
const MAX_NOTE = 2000;

/** A store as its name (when its camera has one) over its id. */
export const storeCell = (s) => h('td', { dataset: { col: 'store' } },
  s.storeName ? h('div', { class: 'store-name' }, s.storeName) : null, h('div', { class: 'muted small' }, s.storeId));

/** A refusal of a list step in words: by its reason (409 store_list_refused), else its message. */
function stepRefusal(err) {
  if (!(err instanceof ApiError)) return `${t('err.generic')}: ${err?.message ?? err}`;
  if (err.code === 'store_list_refused' && err.details?.reason) return tv('listRefusal', err.details.reason);
  if (err.status === 403) return `${t('err.forbidden')}: ${err.message}`;
  return `${t('err.generic')}: ${err.message}`;
}

/** The black list panel; `f.period` is the period shown ("30d"). */
export function blackListPanel(f) {
  const body = h('tbody');
  const msg = h('div', { class: 'notice', id: 'stores-black-msg', role: 'status', 'aria-live': 'polite' });
  const line = loadLine('stores-black-load', () => get(`/api/stores/lists?kind=black&period=${f.period}`), paint);

  function paint(res) {
    clear(body, res.items.length ? res.items.map(row) : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, t('stores.noneBlack'))));
  }

  function row(e) {
    const next = NEXT[e.stage];
    return h('tr', { dataset: { store: e.storeId, stage: e.stage } },
      storeCell(e),
      h('td', { title: e.district ?? '' }, districtName(e.district) || '-'),
      h('td', {}, h('span', { class: `tag stage-${e.stage}` }, tv('stage', e.stage))),
      h('td', { class: 'nowrap' }, fmtTime(e.flaggedAt)),
      h('td', { class: 'num' }, e.count),
      h('td', {}, h('ol', { class: 'list-steps' }, e.steps.map((s) => h('li', { dataset: { stage: s.stage } },
        h('b', {}, tv('stage', s.stage)), ' · ', s.by === 'system' ? t('stores.system') : s.by, ' · ', h('span', { class: 'nowrap' }, fmtTime(s.at)),
        s.note ? h('div', { class: 'muted small step-note' }, noteText(s)) : null)))),
      h('td', {}, next
        ? h('button', { type: 'button', class: 'small', dataset: { next }, onclick: () => void step(e, next) }, fill(t('stores.next'), { stage: tv('stage', next) }))
        : h('span', { class: 'muted' }, '-')));
  }

  async function step(e, stage) {
    msg.className = 'notice';
    msg.textContent = '';
    const done = await confirmDialog({
      id: 'store-step',
      title: fill(t('stores.stepTitle'), { stage: tv('stage', stage) }),
      lines: [fill(t('stores.stepStore'), { store: e.storeName ? `${e.storeName} (${e.storeId})` : e.storeId }), t('stores.stepPublic')],
      fields: [{ name: 'note', label: t('stores.note'), type: 'textarea', attrs: { maxlength: MAX_NOTE } }],
      validate: (v) => (v.note.trim() ? null : t('stores.noteRequired')),
      confirmLabel: fill(t('stores.next'), { stage: tv('stage', stage) }),
      cancelLabel: t('stores.cancel'),
      submit: async (v) => {
        try {
          await post(`/api/stores/${encodeURIComponent(e.storeId)}/list-steps`, { stage, note: v.note.trim() });
          return null;
        } catch (err) {
          if (err?.status === 401) return null;
          // a colleague recorded it meanwhile (or the system lifted it): show the list as it is now
          if (err?.code === 'store_list_refused') line.reload();
          return stepRefusal(err);
        }
      },
    });
    if (!done) return;
    msg.className = 'notice ok';
    msg.textContent = fill(t('stores.stepDone'), { stage: tv('stage', stage), store: e.storeName ?? e.storeId });
    line.reload();
  }

  const el = h('section', { class: 'panel', id: 'stores-black', 'aria-label': t('stores.black') },
    h('div', { class: 'panel-head' }, h('h2', {}, t('stores.black')), line.el,
      exportButtons('stores-black-export', () => `/api/stores/lists?kind=black&period=${f.period}`)),
    h('p', { class: 'muted small' }, t('stores.blackHint')),
    msg,
    h('div', { class: 'scroll' }, h('table', { id: 'stores-black-table' },
      h('thead', {}, h('tr', {}, ['stores.store', 'col.district', 'stores.stage', 'stores.flaggedAt', 'stores.count', 'stores.steps', 'stores.action'].map((k) => h('th', {}, t(k))))),
      body)));
  return { el, reload: () => line.reload(), dispose: () => line.dispose() };
}

/** The red list panel over `f.period`. */
export function redListPanel(f) {
  const body = h('tbody');
  const line = loadLine('stores-red-load', () => get(`/api/stores/lists?kind=red&period=${f.period}`), (res) => {
    clear(body, res.items.length ? res.items.map((s) => h('tr', { dataset: { store: s.storeId } }, storeCell(s), h('td', { title: s.district ?? '' }, districtName(s.district) || '-')))
      : h('tr', {}, h('td', { colspan: 2, class: 'muted' }, t('stores.noneRed'))));
  });
  const el = h('section', { class: 'panel', id: 'stores-red', 'aria-label': t('stores.red') },
    h('div', { class: 'panel-head' }, h('h2', {}, t('stores.red')), line.el,
      exportButtons('stores-red-export', () => `/api/stores/lists?kind=red&period=${f.period}`)),
    h('p', { class: 'muted small' }, t('stores.redHint')),
    h('div', { class: 'scroll' }, h('table', { id: 'stores-red-table' },
      h('thead', {}, h('tr', {}, ['stores.store', 'col.district'].map((k) => h('th', {}, t(k))))),
      body)));
  return { el, reload: () => line.reload(), dispose: () => line.dispose() };
}
