// The cylinder view (一瓶一码一档, admin and operator): the registry a page at a time with its
// filters (GET /api/cylinders), a search by code, and a cylinder's trace (cylinderTrace.js);
// admins also import the registry (cylinderImport.js). `#/cylinders/<code>` opens that trace,
// so a code can be linked to. Codes, stations and operators are device text: dom.js text nodes.
import { get, session } from './api.js';
import { cylinderImport } from './cylinderImport.js';
import { cylinderTrace, regDate } from './cylinderTrace.js';
import { clear, h, select } from './dom.js';
import { fill, t, tv } from './i18n.js';
import { loadLine } from './loadLine.js';
import { printButton } from './print.js';

const PAGE = 50;
const statuses = ['in_service', 'scrapped', 'lost'];
/** filters typed in: read once the typing pauses, not on every key */
const TYPING_MS = 250;

export function cylindersView(root) {
  const f = { q: '', status: '', stationId: '', offset: 0 };
  const body = h('tbody');
  const pageInfo = h('span', { class: 'muted small', id: 'cyl-page' });
  const prev = h('button', { type: 'button', class: 'small', id: 'cyl-prev', disabled: true, onclick: () => { f.offset = Math.max(0, f.offset - PAGE); list.reload(); } }, t('cyl.prev'));
  const next = h('button', { type: 'button', class: 'small', id: 'cyl-next', disabled: true, onclick: () => { f.offset += PAGE; list.reload(); } }, t('cyl.next'));
  const trace = cylinderTrace();
  const admin = session()?.role === 'admin';
  const importer = admin ? cylinderImport(() => list.reload()) : null;

  const list = loadLine('cyl-load', () => {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(f.offset) });
    if (f.q) q.set('q', f.q);
    if (f.status) q.set('status', f.status);
    if (f.stationId) q.set('stationId', f.stationId);
    return get(`/api/cylinders?${q}`);
  }, paint);

  function paint(res) {
    clear(body, res.items.length ? res.items.map((c) => h('tr', { class: 'alert-row', dataset: { code: c.code }, onclick: () => open(c.code) },
      h('td', { class: 'nowrap' }, c.code), h('td', {}, c.model), h('td', {}, c.ownerStationId),
      h('td', {}, c.entrustedStationIds.join(', ') || '-'),
      h('td', {}, h('span', { class: `tag ${c.status === 'in_service' ? 'on' : 'off'}` }, tv('cylStatus', c.status))),
      h('td', { class: 'nowrap' }, regDate(c.nextInspection))))
      : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, t('cyl.noneFound'))));
    pageInfo.textContent = res.total
      ? fill(t('cyl.page'), { from: f.offset + 1, to: f.offset + res.items.length, total: res.total })
      : fill(t('cyl.total'), { n: 0 });
    prev.disabled = f.offset === 0;
    next.disabled = f.offset + res.items.length >= res.total;
  }

  let typing = null;
  const typed = (key) => (e) => {
    f[key] = e.target.value.trim();
    f.offset = 0;
    clearTimeout(typing);
    typing = setTimeout(() => list.reload(), TYPING_MS);
  };

  /** Show a code's trace, and name it in the address so it can be linked to (no re-render). */
  function open(code) {
    history.replaceState(null, '', `#/cylinders/${encodeURIComponent(code)}`);
    trace.show(code);
  }

  const statusSel = select(statuses.map((s) => [s, tv('cylStatus', s)]), '', (v) => { f.status = v; f.offset = 0; list.reload(); }, `${t('col.status')}: ${t('filter.all')}`);
  statusSel.id = 'cyl-status';
  statusSel.setAttribute('aria-label', t('col.status'));
  clear(root, h('div', { class: 'split cyl-layout' },
    h('div', { class: 'stack' },
      h('div', { class: 'panel', id: 'cyl-registry' },
        h('div', { class: 'panel-head' }, h('h2', {}, t('cyl.registry')), list.el),
        h('div', { class: 'filters' },
          h('input', { id: 'cyl-q', placeholder: t('cyl.filterCode'), 'aria-label': t('cyl.filterCode'), oninput: typed('q') }),
          h('input', { id: 'cyl-station', placeholder: t('cyl.filterStation'), 'aria-label': t('cyl.filterStation'), size: 12, oninput: typed('stationId') }),
          statusSel, printButton({ id: 'cyl-print' })),
        h('div', { class: 'scroll' }, h('table', { id: 'cyl-table' },
          h('thead', {}, h('tr', {}, ['cyl.code', 'cyl.model', 'cyl.owner', 'cyl.entrusted', 'col.status', 'cyl.nextInspection'].map((k) => h('th', {}, t(k))))),
          body)),
        h('div', { class: 'actions' }, prev, next, pageInfo)),
      importer?.el),
    trace.el));

  list.reload();
  // #/cylinders/<code>: open that trace at once
  let linked = '';
  try { linked = decodeURIComponent(location.hash.replace(/^#\/cylinders\/?/, '')); } catch { /* a malformed address: no trace */ }
  if (linked) trace.show(linked);
  return () => { clearTimeout(typing); list.dispose(); trace.dispose(); importer?.dispose(); };
}
