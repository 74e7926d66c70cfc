// The audit log (admin, #/audit): who did what to which user, device, alert, case or store, from
// where (GET /api/audit; docs/security.md, Audit log). Filters by actor, action, target and time
// (China Standard Time), a page of 50 at a time with the total, and the matching entries as CSV
// or XLSX (tableDownload.js, with the filters shown).
import { get } from './api.js';
import { clear, h, select } from './dom.js';
import { cstInput, fill, fmtTime, parseCstInput, t, tv } from './i18n.js';
import { printButton } from './print.js';
import { exportButtons } from './tableDownload.js';
import { errorText } from './users.js';

const PAGE = 50;
const DAY = 86_400_000;

export function auditView(root) {
  const f = { actor: '', action: '', target: '', from: '', to: '' };
  let offset = 0;
  let alive = true;
  const body = h('tbody');
  const msg = h('div', { id: 'audit-msg', class: 'notice', role: 'status', 'aria-live': 'polite' });
  const range = h('span', { id: 'audit-range', class: 'muted' });
  const prev = h('button', { type: 'button', id: 'audit-prev', onclick: () => { offset = Math.max(0, offset - PAGE); void load(); } }, t('audit.prev'));
  const next = h('button', { type: 'button', id: 'audit-next', onclick: () => { offset += PAGE; void load(); } }, t('audit.next'));
  const input = (id, key, attrs = {}) => h('input', { id, name: key, autocomplete: 'off', ...attrs, oninput: (e) => { f[key] = e.target.value.trim(); } });
  const actor = input('audit-actor', 'actor', { placeholder: t('audit.actor'), maxlength: 128 });
  const target = input('audit-target', 'target', { placeholder: t('audit.target'), maxlength: 128 });
  const from = input('audit-from', 'from', { type: 'datetime-local', step: 1, 'aria-label': t('audit.from') });
  const to = input('audit-to', 'to', { type: 'datetime-local', step: 1, 'aria-label': t('audit.to') });
  const actionSel = h('span');
  let actionEl = null;

  clear(root, h('div', { class: 'panel audit' },
    h('h2', {}, t('audit.title')),
    h('p', { class: 'muted small' }, t('audit.hint')),
    h('form', { class: 'filters', id: 'audit-filters', onsubmit: (e) => { e.preventDefault(); offset = 0; void load(); } },
      actor, actionSel, target,
      h('label', { for: 'audit-from', class: 'muted' }, t('audit.from')), from,
      h('label', { for: 'audit-to', class: 'muted' }, t('audit.to')), to,
      h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, t('audit.search')),
      h('button', { type: 'button', id: 'audit-clear', onclick: reset }, t('audit.clear')),
      exportButtons('audit-export', () => `/api/audit?${query(false)}`), printButton({ id: 'audit-print' })),
    msg,
    h('div', { class: 'scroll' }, h('table', { id: 'audit-table' },
      h('thead', {}, h('tr', {}, ['audit.at', 'audit.actor', 'audit.action', 'audit.target', 'audit.address', 'audit.details'].map((k) => h('th', {}, t(k))))),
      body)),
    h('div', { class: 'actions audit-pager' }, prev, range, next)));

  /** The filters as a query; `paged` adds the page (an export takes every matching entry). */
  function query(paged) {
    const q = new URLSearchParams();
    if (f.actor) q.set('actor', f.actor);
    if (f.action) q.set('action', f.action);
    if (f.target) q.set('target', f.target);
    const fromMs = parseCstInput(f.from);
    const toMs = parseCstInput(f.to);
    if (Number.isFinite(fromMs)) q.set('from', String(fromMs));
    if (Number.isFinite(toMs)) q.set('to', String(toMs));
    if (paged) { q.set('limit', String(PAGE)); q.set('offset', String(offset)); }
    return q.toString();
  }

  function reset() {
    Object.assign(f, { actor: '', action: '', target: '', from: '', to: '' });
    for (const el of [actor, target, from, to, actionEl]) if (el) el.value = '';
    offset = 0;
    void load();
  }

  async function loadActions() {
    try {
      const res = await get('/api/audit/actions');
      if (!alive) return;
      const sel = select(res.items.map((a) => [a.action, tv('auditAction', a.action)]), f.action, (v) => { f.action = v; offset = 0; void load(); }, `${t('audit.action')}: ${t('filter.all')}`);
      sel.id = 'audit-action';
      sel.setAttribute('aria-label', t('audit.action'));
      actionEl = sel;
      clear(actionSel, sel);
    } catch { /* the filter stays empty; the list says why it fails */ }
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    msg.className = 'notice';
    msg.textContent = t('audit.loading');
    try {
      const res = await get(`/api/audit?${query(true)}`);
      if (!alive || mine !== seq) return;
      msg.textContent = '';
      clear(body, res.items.length ? res.items.map(row) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, t('audit.empty'))));
      range.textContent = res.total ? fill(t('audit.range'), { first: offset + 1, last: offset + res.items.length, total: res.total }) : '';
      prev.disabled = offset === 0;
      next.disabled = offset + res.items.length >= res.total;
    } catch (err) {
      if (!alive || mine !== seq) return;
      msg.className = 'notice error';
      msg.dataset.code = err.code ?? '';
      msg.textContent = errorText(err);
    }
  }

  function row(e) {
    return h('tr', { dataset: { action: e.action, actor: e.actor ?? '', target: e.targetId ?? '' } },
      h('td', { class: 'nowrap' }, fmtTime(Date.parse(e.at))),
      h('td', { class: e.actor ? '' : 'muted' }, e.actor ?? t('audit.nobody')),
      h('td', { title: e.action }, tv('auditAction', e.action)),
      h('td', {}, e.targetKind ? h('span', { class: 'muted' }, `${tv('auditTarget', e.targetKind)} `) : null, e.targetId ?? ''),
      h('td', { class: 'muted nowrap' }, e.address ?? ''),
      h('td', { class: 'muted small' }, e.details ? Object.entries(e.details).map(([k, v]) => `${k}=${v ?? ''}`).join('; ') : ''));
  }

  // the last 7 days by default: what an admin usually looks for; clear widens it
  f.from = cstInput(Date.now() - 7 * DAY).slice(0, 16);
  from.value = f.from;
  void loadActions();
  void load();
  return () => { alive = false; };
}
