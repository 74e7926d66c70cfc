// What a dispatcher may do to a 96333 rescue case (docs/rules.md, 96333 rescue cases): which
// steps may come next, recording one in a dialog with its time, details and reason, and
// acknowledging an escalation. The service decides (409 rescue_step_refused with a reason);
// the dialog checks the same rules first and says why.
import { ApiError, get, post } from './api.js';
import { confirmDialog } from './dialog.js';
import { h } from './dom.js';
import { cstInput, fill, fmtTime, parseCstInput, t, tv } from './i18n.js';
import { putCase } from './state.js';

export const STEPS = ['alarmed', 'dispatched', 'acknowledged', 'arrived', 'released', 'followed_up', 'closed'];
/** cannot be skipped; the unit's acknowledgement and the follow-up call may be */
const REQUIRED = new Set(['dispatched', 'arrived', 'released']);
const PHONE = /^[0-9+\-() ]{3,32}$/;

/** The steps that may come next: forward up to and including the first required one. */
export function nextSteps(status) {
  const out = [];
  for (const s of STEPS.slice(STEPS.indexOf(status) + 1)) {
    out.push(s);
    if (REQUIRED.has(s)) break;
  }
  return status === 'closed' || status === 'false_alarm' ? [] : out;
}

export const stepRecord = (c, s) => c.steps.find((x) => x.step === s) ?? null;

/** The deadline a step is measured against (null: none), as the service says: a step after it needs a reason. */
export function stepDeadline(c, step) {
  const d = c.deadlines ?? {};
  const by = step === 'dispatched' ? d.dispatchBy : step === 'acknowledged' ? d.unitAckBy : step === 'arrived' ? d.arrivalBy : null;
  return typeof by === 'number' ? by : null;
}

/** An API refusal in the dispatcher's words: the 409's reason, the 400's fields, 404, 403. */
export function refusalText(err) {
  if (!(err instanceof ApiError)) return `${t('err.generic')}: ${err?.message ?? err}`;
  const reason = err.details?.reason;
  if (err.code === 'rescue_step_refused' && reason) return `${tv('refusal', reason)} (${err.message})`;
  if (err.code === 'escalation_refused') return `${t('esc.refused')} (${err.message})`;
  if (err.code === 'validation') {
    const fields = Array.isArray(err.details) ? err.details.map((d) => `${d.path}: ${d.message}`).join('; ') : '';
    return `${t('rescue.invalid')}: ${fields || err.message}`;
  }
  if (err.status === 403) return `${t('err.forbidden')}: ${err.message}`;
  if (err.status === 404) return `${t('rescue.caseNotFound')}: ${err.message}`;
  return `${t('err.generic')}: ${err.message}`;
}

/** Read a case again (after a refusal: it moved on elsewhere) and show where it stands. */
export async function reloadCase(id) {
  try { putCase(await get(`/api/rescue-cases/${encodeURIComponent(id)}`)); } catch { /* the push will bring it */ }
}

const detailFields = {
  dispatched: (c) => [
    { name: 'unit', label: t('rescue.unitDispatched'), optional: true, value: c.elevator?.maintenanceUnit ?? c.maintenanceUnit ?? '', attrs: { maxlength: 128 } },
    { name: 'technician', label: t('rescue.technician'), optional: true, attrs: { maxlength: 64 } },
    { name: 'phone', label: t('rescue.technicianPhone'), type: 'tel', optional: true, attrs: { maxlength: 32, placeholder: c.elevator?.maintenancePhone ?? '' } },
  ],
  released: (c) => [
    { name: 'passengersReleased', label: t('rescue.passengersReleased'), type: 'number', optional: true,
      value: String(c.reports?.find((r) => typeof r.passengers === 'number')?.passengers ?? ''), attrs: { min: 0, max: 100, step: 1, inputmode: 'numeric' } },
    { name: 'injuries', label: t('rescue.injuries'), optional: true, attrs: { maxlength: 500, placeholder: t('rescue.injuriesNone') } },
  ],
};

/** The details the service takes (only keys with values; strict: nothing else). */
function detailsOf(step, v) {
  const d = {};
  if (step === 'dispatched') for (const k of ['unit', 'technician', 'phone']) if (v[k]?.trim()) d[k] = v[k].trim();
  if (step === 'released') {
    if (v.passengersReleased?.trim()) d.passengersReleased = Number(v.passengersReleased);
    if (v.injuries?.trim()) d.injuries = v.injuries.trim();
  }
  return d;
}

/**
 * Record `step` on case `c` in a dialog: the step's details, when it happened (default now;
 * an earlier time allowed) and the reason, required for a false alarm and for a step after its
 * deadline (the dialog says which deadline). Resolves with the updated case, or null.
 */
export async function recordStepDialog(c, step) {
  const falseAlarm = step === 'false_alarm';
  const due = stepDeadline(c, step);
  const last = c.steps[c.steps.length - 1];
  const opened = cstInput(Date.now());
  const why = h('span', { id: 'step-why' });
  let result = null;
  // unchanged: none (the service takes its own now). Compared as times, since Chromium reads
  // back "…T23:11:00" as "…T23:11", which would otherwise be a time a moment before the dialog
  // opened, before the previous step when that was in the same second
  const when = (v) => (v.at === opened || parseCstInput(v.at) === parseCstInput(opened) ? null : parseCstInput(v.at));
  const reasonWhy = (v) => {
    if (falseAlarm) return t('rescue.falseAlarmWhy');
    const at = when(v) ?? Date.now();
    return due !== null && at > due ? fill(t('rescue.lateWhy'), { deadline: tv('deadlineOf', step), by: fmtTime(due) }) : '';
  };
  const values = await confirmDialog({
    id: 'step-dialog',
    title: fill(t('rescue.recordTitle'), { step: tv('step', step) }),
    lines: [`${c.elevator?.name ?? c.elevatorId} · ${c.id}`, falseAlarm ? t('rescue.falseAlarmEnds') : null, why].filter(Boolean),
    fields: [
      ...(detailFields[step]?.(c) ?? []),
      { name: 'at', label: t('rescue.at'), type: 'datetime-local', value: opened, attrs: { step: 1 }, hint: t('rescue.atHint') },
      // the reason has the focus when one is needed from the start (a false alarm, a step already late)
      { name: 'note', label: t('rescue.note'), type: 'textarea', optional: true, attrs: { maxlength: 2000 }, focus: reasonWhy({ at: opened, note: '' }) !== '' },
    ],
    danger: falseAlarm,
    confirmLabel: falseAlarm ? t('rescue.confirmFalseAlarm') : fill(t('rescue.confirmStep'), { step: tv('step', step) }),
    cancelLabel: t('do.cancel'),
    onInput: (v, els) => {
      const r = reasonWhy(v);
      why.textContent = r;
      why.className = r ? 'notice warn' : '';
      els.note.required = Boolean(r);
      els.note.setAttribute('aria-required', r ? 'true' : 'false');
      els['note:label'].textContent = r ? `${t('rescue.reason')} (${t('rescue.required')})` : t('rescue.note');
    },
    validate: (v) => {
      const at = when(v);
      if (at !== null) {
        if (Number.isNaN(at)) return t('rescue.badTime');
        if (at > Date.now()) return tv('refusal', 'time_in_future');
        if (at < last.at) return fill(t('rescue.beforePrevious'), { step: tv('step', last.step), at: fmtTime(last.at) });
      }
      const r = reasonWhy(v);
      if (r && !v.note.trim()) return `${t('rescue.reasonMissing')}: ${r}`;
      if (v.phone?.trim() && !PHONE.test(v.phone.trim())) return t('rescue.badPhone');
      const n = v.passengersReleased?.trim();
      if (n && !(Number.isInteger(Number(n)) && Number(n) >= 0 && Number(n) <= 100)) return t('rescue.badPassengers');
      return null;
    },
    submit: async (v) => {
      const at = when(v);
      const details = detailsOf(step, v);
      // `at` as RFC 3339 (the service reads times as strings: epoch ms or RFC 3339)
      const body = { step, ...(at !== null ? { at: new Date(at).toISOString() } : {}), ...(v.note.trim() ? { note: v.note.trim() } : {}), ...(Object.keys(details).length ? { details } : {}) };
      try {
        result = await post(`/api/rescue-cases/${encodeURIComponent(c.id)}/steps`, body);
        putCase(result);
        return null;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) void reloadCase(c.id);
        return refusalText(err);
      }
    },
  });
  return values ? result : null;
}

/** Acknowledge an escalation of a case (its level): the person it went to has taken it. */
export async function ackEscalation(c, level) {
  const updated = await post(`/api/rescue-cases/${encodeURIComponent(c.id)}/escalations/${encodeURIComponent(level)}/ack`, {});
  if (updated && typeof updated === 'object' && updated.id === c.id && Array.isArray(updated.steps)) putCase(updated); else await reloadCase(c.id);
}
