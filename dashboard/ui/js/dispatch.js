// The 96333 dispatcher console: open rescue cases against the 5-minute dispatch and 30-minute
// arrival deadlines, one-click step recording, and the case history.
import { get, post, session } from './api.js';
import { countdown, done, elapsedClock } from './countdown.js';
import { clear, h, toast } from './dom.js';
import { fmtDuration, fmtTime, t, tv } from './i18n.js';
import { state, subscribe } from './state.js';

const steps = ['dispatched', 'acknowledged', 'arrived', 'released', 'followed_up', 'closed'];
const MIN = 60_000;

export function dispatchView(root) {
  const open = h('div', { id: 'cases' });
  const history = h('tbody');
  clear(root, h('div', { class: 'grid cols-dispatch' },
    h('div', { class: 'panel' }, h('h2', {}, t('dispatch.open')), open),
    h('div', { class: 'panel' }, h('h2', {}, t('dispatch.history')), h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['dispatch.elevator', 'dispatch.alarmAt', 'dispatch.status', 'step.dispatched', 'step.arrived'].map((k) => h('th', {}, t(k))))), history)))));
  const canRecord = ['admin', 'dispatcher'].includes(session()?.role);

  async function record(c, step) {
    try {
      const updated = await post(`/api/rescue-cases/${encodeURIComponent(c.id)}/steps`, { step });
      if (updated.status === 'closed' || updated.status === 'false_alarm') state.cases.delete(updated.id); else state.cases.set(updated.id, updated);
      renderOpen();
      void loadHistory();
    } catch (err) {
      toast(`${err.status === 403 ? t('err.forbidden') : t('err.generic')}: ${err.message}`);
    }
  }

  function stepTime(c, s) {
    return c.steps.find((x) => x.step === s)?.at ?? null;
  }

  function card(c) {
    const dispatchBy = c.deadlines?.dispatchBy ?? c.alarmAt + 5 * MIN;
    const arrivalBy = c.deadlines?.arrivalBy ?? c.alarmAt + c.arrivalWithinMs;
    const arrivalWarn = c.deadlines?.arrivalWarnAt ?? arrivalBy - 10 * MIN;
    const dispatched = stepTime(c, 'dispatched');
    const arrived = stepTime(c, 'arrived');
    const alert = state.alerts.get(c.alertId);
    const idx = steps.indexOf(c.status);
    const next = steps.filter((s, i) => i > idx && (s !== 'closed' || steps.indexOf(c.status) >= steps.indexOf('released')));
    const took = (at, by) => done(`${t('dispatch.done')} ${fmtDuration(at - c.alarmAt)}${at > by ? ' ⚠' : ''}`);
    return h('div', { class: 'case', dataset: { case: c.id, status: c.status } },
      h('h3', {}, `${alert?.device?.name ?? c.elevatorId}`, h('span', { class: 'muted' }, ` ${c.elevatorId} ${alert?.device?.district ?? ''}`)),
      h('div', { class: 'muted' }, `${t('dispatch.alarmAt')} ${fmtTime(c.alarmAt)} · ${t('dispatch.unit')}: ${c.maintenanceUnit ?? '-'}`),
      h('div', { class: 'clocks' },
        h('div', {}, h('div', { class: 'muted' }, t('dispatch.elapsed')), elapsedClock(c.alarmAt, arrivalWarn, arrivalBy)),
        h('div', {}, h('div', { class: 'muted' }, `${t('dispatch.dispatchDeadline')} ${Math.round((dispatchBy - c.alarmAt) / MIN)} ${t('dispatch.minutes')}`),
          dispatched !== null ? took(dispatched, dispatchBy) : countdown(dispatchBy, dispatchBy - MIN, t('dispatch.left'))),
        h('div', {}, h('div', { class: 'muted' }, `${t('dispatch.arrivalDeadline')} ${Math.round((arrivalBy - c.alarmAt) / MIN)} ${t('dispatch.minutes')}`),
          arrived !== null ? took(arrived, arrivalBy) : countdown(arrivalBy, arrivalWarn, t('dispatch.left')))),
      h('div', { class: 'steps' }, ['alarmed', ...steps].map((s) => h('span', { class: stepTime(c, s) !== null ? 'done' : '' }, tv('step', s), stepTime(c, s) !== null ? ` ${fmtTime(stepTime(c, s), false)}` : ''))),
      canRecord ? h('div', { class: 'actions' },
        next.map((s, i) => h('button', { class: i === 0 ? 'primary' : '', dataset: { step: s }, onclick: () => record(c, s) }, tv('step', s))),
        h('button', { dataset: { step: 'false_alarm' }, onclick: () => record(c, 'false_alarm') }, tv('step', 'false_alarm'))) : null);
  }

  function renderOpen() {
    const cases = [...state.cases.values()].sort((a, b) => a.alarmAt - b.alarmAt);
    clear(open, cases.length ? cases.map(card) : h('p', { class: 'muted' }, t('dispatch.none')));
  }

  let past = [];
  function renderHistory() {
    // open cases show their live state (the list was read before their latest step)
    clear(history, past.map((p) => state.cases.get(p.id) ?? p).map((c) => {
      const at = (s) => stepTime(c, s);
      return h('tr', { dataset: { case: c.id } },
        h('td', {}, c.elevatorId), h('td', {}, fmtTime(c.alarmAt)), h('td', {}, tv('step', c.status)),
        h('td', {}, at('dispatched') === null ? '-' : fmtDuration(at('dispatched') - c.alarmAt)),
        h('td', {}, at('arrived') === null ? '-' : fmtDuration(at('arrived') - c.alarmAt)));
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
    if (ev.kind === 'case' || ev.kind === 'reload') { renderOpen(); renderHistory(); if (ev.kind === 'reload' || ev.change !== 'updated') void loadHistory(); }
    if (ev.kind === 'alert' && ev.change === 'opened') renderOpen();
  });
  renderOpen();
  void loadHistory();
  return unsubscribe;
}
