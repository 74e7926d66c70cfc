// The live alert list: newest first, severity colours, filters, countdowns. Used by the
// operators' wall and, for elevator alerts only, by the dispatchers.
import { alertCountdown } from './countdown.js';
import { h, clear, select } from './dom.js';
import { conditionLabel, fmtTime, ruleName, t, tv } from './i18n.js';
import { state } from './state.js';
import { openAlert } from './alertDetail.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const severities = ['critical', 'major', 'minor', 'info'];
const statuses = ['open', 'acknowledged', 'resolved', 'false_positive'];

export function alertList({ fixedFamily } = {}) {
  const filters = { family: fixedFamily ?? '', severity: '', status: 'active', district: '' };
  const body = h('tbody');
  const count = h('span', { class: 'muted' });
  const bar = h('div', { class: 'filters' });

  function renderFilters() {
    clear(bar,
      fixedFamily ? null : select(families.map((f) => [f, tv('family', f)]), filters.family, (v) => { filters.family = v; render(); }, `${t('filter.family')}: ${t('filter.all')}`),
      select(severities.map((s) => [s, tv('severity', s)]), filters.severity, (v) => { filters.severity = v; render(); }, `${t('filter.severity')}: ${t('filter.all')}`),
      select([['active', t('filter.activeOnly')], ...statuses.map((s) => [s, tv('status', s)])], filters.status, (v) => { filters.status = v; render(); }, `${t('filter.status')}: ${t('filter.all')}`),
      h('input', { placeholder: t('filter.district'), size: 8, value: filters.district, oninput: (e) => { filters.district = e.target.value.trim(); render(); } }),
      count);
  }

  function matches(a) {
    if (filters.family && a.family !== filters.family) return false;
    if (filters.severity && a.severity !== filters.severity) return false;
    if (filters.status === 'active' && (a.status === 'resolved' || a.status === 'false_positive')) return false;
    if (filters.status && filters.status !== 'active' && a.status !== filters.status) return false;
    if (filters.district && !(a.device?.district ?? '').startsWith(filters.district)) return false;
    return true;
  }

  function render() {
    const items = [...state.alerts.values()].filter(matches).sort((x, y) => y.lastSeen - x.lastSeen || (y.id < x.id ? -1 : 1)).slice(0, 300);
    count.textContent = String(items.length);
    clear(body, items.map(row));
  }

  function row(a) {
    return h('tr', {
      class: `alert-row sevrow-${a.severity}${state.fresh.has(a.id) ? ' flash' : ''}`, dataset: { id: a.id, status: a.status }, onclick: () => openAlert(a.id),
    },
    h('td', {}, fmtTime(a.lastSeen)),
    h('td', {}, h('span', { class: `sev sev-${a.severity}` }, tv('severity', a.severity))),
    h('td', {}, tv('family', a.family)),
    h('td', {}, h('b', {}, ruleName(a.rule)), ' ', h('span', { class: 'muted' }, conditionLabel(a))),
    h('td', {}, a.device?.name ?? a.device?.id, a.device?.name ? h('div', { class: 'muted' }, a.device.id) : null),
    h('td', {}, a.device?.district ?? '-'),
    h('td', {}, a.count > 1 ? `×${a.count}` : ''),
    h('td', {}, h('span', { class: `st st-${a.status}` }, tv('status', a.status))),
    h('td', {}, alertCountdown(a)));
  }

  const el = h('div', {}, bar, h('div', { class: 'scroll' }, h('table', { class: 'alerts' },
    h('thead', {}, h('tr', {}, ['col.time', 'col.severity', 'col.family', 'col.rule', 'col.device', 'col.district', 'col.count', 'col.status', 'col.deadline'].map((k) => h('th', {}, t(k))))),
    body)));
  renderFilters();
  render();
  return { el, render };
}
