// One open 96333 rescue case on the dispatcher console: the elevator (name, address, rescue
// code, maintenance unit and its phone), how it was reported and by whom, the trapped floor,
// the clocks against the dispatch and arrival deadlines, the steps so far with their details,
// the escalations, and buttons for the steps that may come next only.
import { session } from './api.js';
import { escalationTable, detailText, printCase, sourceText } from './caseReport.js';
import { countdown, done, elapsedClock } from './countdown.js';
import { districtName } from './districts.js';
import { h, toast } from './dom.js';
import { fmtDuration, fmtTime, t, tv } from './i18n.js';
import { ackEscalation, nextSteps, recordStepDialog, refusalText, STEPS, stepRecord } from './rescueActions.js';
import { state } from './state.js';

const MIN = 60_000;

/** The floor the car is stuck at: the first call's, else the terminal's reading. */
export function trappedFloor(c) {
  const fromCall = (c.reports ?? []).find((r) => r.floor)?.floor;
  return fromCall ?? state.alerts.get(c.alertId)?.params?.floor ?? null;
}

const info = (key, value, name) => (value === null || value === undefined || value === '' ? null
  : [h('div', {}, t(key)), h('div', { dataset: { info: name } }, String(value))]);

export function rescueCard(c) {
  const canRecord = ['admin', 'dispatcher'].includes(session()?.role);
  const e = c.elevator ?? {};
  const alert = state.alerts.get(c.alertId);
  const dispatchBy = c.deadlines?.dispatchBy ?? c.alarmAt + 5 * MIN;
  const arrivalBy = c.deadlines?.arrivalBy ?? c.alarmAt + c.arrivalWithinMs;
  const arrivalWarn = c.deadlines?.arrivalWarnAt ?? arrivalBy - 10 * MIN;
  const at = (s) => stepRecord(c, s)?.at ?? null;
  const took = (when, by) => done(`${t('dispatch.done')} ${fmtDuration(when - c.alarmAt)}${when > by ? ' ⚠' : ''}`);
  const calls = (c.reports ?? []).map((r) => r.callerPhone).filter(Boolean);
  const passengers = (c.reports ?? []).find((r) => typeof r.passengers === 'number')?.passengers ?? alert?.params?.passengers ?? null;
  const escalations = c.escalations ?? [];
  const next = nextSteps(c.status);

  return h('article', { class: `case${escalations.some((x) => !x.acknowledgedAt) ? ' escalated' : ''}`, dataset: { case: c.id, status: c.status }, 'aria-label': `${e.name ?? c.elevatorId} ${c.id}` },
    h('h3', {}, e.name ?? alert?.device?.name ?? c.elevatorId,
      h('span', { class: 'muted' }, ` ${c.elevatorId} ${districtName(e.district ?? alert?.device?.district ?? c.district)}`),
      h('span', { class: `tag src-${c.source ?? 'device'}`, dataset: { source: c.source ?? 'device' } }, sourceText(c))),
    h('div', { class: 'kv case-info' },
      info('rescue.floor', trappedFloor(c), 'floor'),
      info('rescue.passengers', passengers, 'passengers'),
      info('rescue.address', e.address, 'address'),
      info('dispatch.unit', e.maintenanceUnit ?? c.maintenanceUnit ?? '-', 'unit'),
      info('rescue.unitPhone', e.maintenancePhone, 'unitPhone'),
      info('rescue.rescueCode', e.rescueCode, 'rescueCode'),
      info('rescue.callerPhone', calls.join(', '), 'callerPhone'),
      info('dispatch.alarmAt', fmtTime(c.alarmAt), 'alarmAt')),
    (c.reports ?? []).some((r) => r.note) ? h('ul', { class: 'calls' }, c.reports.filter((r) => r.note).map((r) => h('li', { class: 'call-note' },
      r.callerPhone ? h('span', { class: 'muted' }, `${r.callerPhone}: `) : null, r.note))) : null,
    h('div', { class: 'clocks' },
      h('div', {}, h('div', { class: 'muted' }, t('dispatch.elapsed')), elapsedClock(c.alarmAt, arrivalWarn, arrivalBy)),
      h('div', {}, h('div', { class: 'muted' }, `${t('dispatch.dispatchDeadline')} ${Math.round((dispatchBy - c.alarmAt) / MIN)} ${t('dispatch.minutes')}`),
        at('dispatched') !== null ? took(at('dispatched'), dispatchBy) : countdown(dispatchBy, dispatchBy - MIN, t('dispatch.left'))),
      h('div', {}, h('div', { class: 'muted' }, `${t('dispatch.arrivalDeadline')} ${Math.round((arrivalBy - c.alarmAt) / MIN)} ${t('dispatch.minutes')}`),
        at('arrived') !== null ? took(at('arrived'), arrivalBy) : countdown(arrivalBy, arrivalWarn, t('dispatch.left')))),
    h('ol', { class: 'steps' }, STEPS.map((s) => {
      const r = stepRecord(c, s);
      return h('li', { class: r ? 'done' : '', dataset: { stepDone: s } }, tv('step', s), r ? ` ${fmtTime(r.at, false)}` : '',
        r && r.by !== 'system' ? h('span', { class: 'muted' }, ` ${r.by}`) : null,
        r?.details ? h('div', { class: 'step-details' }, detailText(r.details)) : null,
        r?.note ? h('div', { class: 'step-note muted' }, r.note) : null);
    })),
    escalations.length ? h('div', { class: 'escalation-box' }, h('h4', {}, t('esc.title')),
      escalationTable(escalations, canRecord ? (x) => h('button', {
        dataset: { ackEscalation: String(x.level) },
        onclick: async (ev) => {
          ev.target.disabled = true;
          try { await ackEscalation(c, x.level); } catch (err) { ev.target.disabled = false; toast(refusalText(err)); }
        },
      }, t('esc.doAck')) : null)) : null,
    h('div', { class: 'actions' },
      canRecord ? [
        next.map((s, i) => h('button', { class: i === 0 ? 'primary' : '', dataset: { step: s }, onclick: () => void recordStepDialog(c, s) }, tv('step', s))),
        h('button', { class: 'danger-outline', dataset: { step: 'false_alarm' }, onclick: () => void recordStepDialog(c, 'false_alarm') }, tv('step', 'false_alarm')),
      ] : null,
      h('button', { dataset: { print: c.id }, onclick: () => void printCase(c) }, t('report.print'))));
}
