// The 96333 dispatcher console: the phone report form (phoneReport.js), the open rescue cases
// against the 5-minute dispatch and 30-minute arrival deadlines (rescueCard.js; steps recorded
// in a dialog, rescueActions.js), and the case history with each case's printable report
// (caseReport.js), which exports (导出) every case of a period with its step times and deadlines met.
import { get, session } from './api.js';
import { printCase, sourceText } from './caseReport.js';
import { clear, h } from './dom.js';
import { fmtDuration, fmtTime, t, tv } from './i18n.js';
import { phoneReportForm } from './phoneReport.js';
import { rescueCard } from './rescueCard.js';
import { stepRecord } from './rescueActions.js';
import { state, subscribe } from './state.js';
import { exportButtons } from './tableDownload.js';

const DAY = 86_400_000;
/** A China Standard Time calendar day (a date input's value) and its first moment. */
const cstDate = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
const cstStart = (day) => Date.parse(`${day}T00:00:00+08:00`);

export function dispatchView(root) {
  const open = h('div', { id: 'cases' });
  const history = h('tbody');
  const canReport = ['admin', 'dispatcher'].includes(session()?.role);
  // the export's period: whole CST days, the last 30 by default
  const period = { from: cstDate(Date.now() - 29 * DAY), to: cstDate(Date.now()) };
  const exportPath = () => {
    const from = cstStart(period.from);
    const to = cstStart(period.to) + DAY;
    return `/api/rescue-cases/export?${new URLSearchParams({ ...(Number.isFinite(from) ? { from: String(from) } : {}), ...(Number.isFinite(to) ? { to: String(to) } : {}) })}`;
  };
  clear(root, h('div', { class: 'grid cols-dispatch' },
    h('div', { class: 'stack' },
      canReport ? h('section', { class: 'panel' }, phoneReportForm((c) => focusCase(c.id))) : null,
      h('section', { class: 'panel', 'aria-labelledby': 'cases-title' }, h('h2', { id: 'cases-title' }, t('dispatch.open')), open)),
    h('section', { class: 'panel', 'aria-labelledby': 'history-title' }, h('h2', { id: 'history-title' }, t('dispatch.history')),
      h('div', { class: 'filters', id: 'cases-export-bar' },
        h('label', { for: 'cases-from' }, t('stats.from')), h('input', { id: 'cases-from', type: 'date', value: period.from, onchange: (e) => { period.from = e.target.value; } }),
        h('label', { for: 'cases-to' }, t('stats.to')), h('input', { id: 'cases-to', type: 'date', value: period.to, onchange: (e) => { period.to = e.target.value; } }),
        exportButtons('cases-export', exportPath)),
      h('div', { class: 'scroll' }, h('table', { id: 'case-history' },
      h('thead', {}, h('tr', {}, ['dispatch.elevator', 'dispatch.alarmAt', 'rescue.source', 'dispatch.status', 'step.dispatched', 'step.arrived', 'report.short']
        .map((k) => h('th', {}, t(k))))), history)))));

  /** Bring a case's card into view (a call just opened or joined it). */
  function focusCase(id) {
    const el = open.querySelector(`[data-case="${CSS.escape(id)}"]`);
    if (!el) return;
    el.scrollIntoView({ block: 'nearest' });
    el.classList.add('flash-case');
    setTimeout(() => el.classList.remove('flash-case'), 1500);
  }

  function renderOpen() {
    const cases = [...state.cases.values()].sort((a, b) => a.alarmAt - b.alarmAt);
    clear(open, cases.length ? cases.map(rescueCard) : h('p', { class: 'muted' }, t('dispatch.none')));
  }

  let past = [];
  function renderHistory() {
    // open cases show their live state (the list was read before their latest step)
    clear(history, past.map((p) => state.cases.get(p.id) ?? p).map((c) => {
      const at = (s) => stepRecord(c, s)?.at ?? null;
      return h('tr', { dataset: { case: c.id, status: c.status } },
        h('td', {}, c.elevator?.name ? [c.elevator.name, h('div', { class: 'muted' }, c.elevatorId)] : c.elevatorId),
        h('td', {}, fmtTime(c.alarmAt)), h('td', {}, sourceText(c)), h('td', {}, tv('step', c.status)),
        h('td', {}, at('dispatched') === null ? '-' : fmtDuration(at('dispatched') - c.alarmAt)),
        h('td', {}, at('arrived') === null ? '-' : fmtDuration(at('arrived') - c.alarmAt)),
        h('td', {}, h('button', { class: 'small', dataset: { print: c.id }, 'aria-label': `${t('report.print')} ${c.id}`, onclick: () => void printCase(c) }, t('report.print'))));
    }));
  }

  async function loadHistory() {
    try {
      const res = await get('/api/rescue-cases?scope=all&limit=100');
      past = res.items;
      renderHistory();
    } catch { /* shown on the next change */ }
  }

  const unsubscribe = subscribe((ev) => {
    if (ev.kind === 'case') {
      // a finished case leaves the open list: its row in the history shows its end at once
      const i = past.findIndex((p) => p.id === ev.rescueCase.id);
      if (i >= 0 && past[i].updatedAt <= ev.rescueCase.updatedAt) past[i] = { ...past[i], ...ev.rescueCase };
    }
    if (ev.kind === 'case' || ev.kind === 'reload') { renderOpen(); renderHistory(); if (ev.kind === 'reload' || ev.change !== 'updated') void loadHistory(); }
    if (ev.kind === 'alert' && ev.change === 'opened') renderOpen();
  });
  renderOpen();
  void loadHistory();
  return unsubscribe;
}
