// The printable report of a 96333 rescue case (结案单): the case, the elevator and its codes,
// the unit, how it was reported, every step with its time, person, details and reason, the
// elapsed times against the deadlines, and the escalations. Built with dom.js (text only);
// printed from a print-only container (print.js, print.css: nothing else on paper), in
// the same window. Also shown on screen (openCase) from the statistics' drill-down.
import { get, session } from './api.js';
import { districtName } from './districts.js';
import { clear, h, toast } from './dom.js';
import { fill, fmtDuration, fmtTime, t, tv } from './i18n.js';
import { printReport } from './print.js';
import { stepDeadline } from './rescueActions.js';

const kv = (pairs) => h('div', { class: 'kv' }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [h('div', {}, t(k)), h('div', {}, String(v))]));

/** A step's details in words: unit, technician, phone, passengers released, injuries. */
export function detailText(d) {
  if (!d) return '';
  return ['unit', 'technician', 'phone', 'passengersReleased', 'injuries'].filter((k) => d[k] !== undefined && d[k] !== null && d[k] !== '')
    .map((k) => `${t(`detailKey.${k}`)}: ${d[k]}`).join(' · ');
}

export const sourceText = (c) => tv('source', c.source ?? 'device');

/** The report of case `c` as DOM. */
export function reportContent(c) {
  const e = c.elevator ?? {};
  const at = (s) => c.steps.find((x) => x.step === s)?.at ?? null;
  const took = (s, by) => {
    const when = at(s);
    if (when === null) return '-';
    return `${fmtDuration(when - c.alarmAt)}${by !== null && by !== undefined ? ` (${when > by ? t('report.late') : t('report.onTime')})` : ''}`;
  };
  const end = c.status === 'closed' || c.status === 'false_alarm' ? c.steps[c.steps.length - 1].at : null;
  const me = session();
  return h('article', { class: 'report', dataset: { case: c.id } },
    h('h1', {}, t('report.title')),
    h('p', { class: 'muted' }, fill(t('report.printed'), { at: fmtTime(Date.now()), by: me?.username ?? '-' })),
    h('h2', {}, t('report.case')),
    kv([['report.caseId', c.id], ['report.alertId', c.alertId], ['dispatch.status', tv('step', c.status)], ['rescue.source', sourceText(c)],
      ['dispatch.alarmAt', fmtTime(c.alarmAt)]]),
    h('h2', {}, t('report.elevator')),
    kv([['dispatch.elevator', `${e.name ?? ''} ${c.elevatorId}`.trim()], ['col.district', districtName(e.district ?? c.district)], ['rescue.address', e.address],
      ['rescue.rescueCode', e.rescueCode], ['rescue.registrationCode', e.registrationCode],
      ['dispatch.unit', e.maintenanceUnit ?? c.maintenanceUnit], ['rescue.unitPhone', e.maintenancePhone]]),
    (c.reports ?? []).length ? [h('h2', {}, t('rescue.reports')), h('table', {},
      h('thead', {}, h('tr', {}, ['rescue.callerPhone', 'rescue.floor', 'rescue.passengers', 'rescue.note'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, c.reports.map((r) => h('tr', { class: 'report-call' }, h('td', {}, r.callerPhone ?? '-'), h('td', {}, r.floor ?? '-'),
        h('td', {}, r.passengers ?? '-'), h('td', {}, r.note ?? '')))))] : null,
    h('h2', {}, t('report.steps')),
    h('table', { class: 'report-steps' },
      h('thead', {}, h('tr', {}, ['report.step', 'col.time', 'report.by', 'report.details', 'rescue.reason'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, c.steps.map((s) => {
        const due = stepDeadline(c, s.step);
        return h('tr', { dataset: { step: s.step } },
          h('td', {}, tv('step', s.step), due !== null && s.at > due ? ` (${t('report.late')})` : ''),
          h('td', {}, fmtTime(s.at), s.recordedAt && s.recordedAt - s.at > 1000 ? h('div', { class: 'muted' }, fill(t('report.recordedAt'), { at: fmtTime(s.recordedAt) })) : null),
          h('td', {}, s.by === 'system' ? t('tl.system') : s.by),
          h('td', {}, detailText(s.details)),
          h('td', {}, s.note ?? ''));
      }))),
    h('h2', {}, t('report.elapsed')),
    kv([['report.toDispatch', took('dispatched', c.deadlines?.dispatchBy)], ['report.toArrival', took('arrived', c.deadlines?.arrivalBy)],
      ['report.toRelease', took('released', null)], ['report.total', end === null ? t('report.running') : fmtDuration(end - c.alarmAt)],
      ['dispatch.dispatchDeadline', fmtTime(c.deadlines?.dispatchBy)], ['dispatch.arrivalDeadline', fmtTime(c.deadlines?.arrivalBy)]]),
    (c.escalations ?? []).length ? [h('h2', {}, t('esc.title')), escalationTable(c.escalations)] : null,
    h('div', { class: 'signatures' }, h('span', {}, `${t('report.signDispatcher')}: ________`), h('span', {}, `${t('report.signUnit')}: ________`)));
}

export function escalationTable(list, ackButton = null) {
  return h('table', { class: 'escalations' },
    h('thead', {}, h('tr', {}, ['esc.level', 'esc.to', 'esc.reason', 'col.time', 'esc.notifications', 'esc.ack'].map((k) => h('th', {}, t(k))))),
    h('tbody', {}, list.map((x) => h('tr', { dataset: { level: String(x.level) } },
      h('td', {}, fill(t('esc.levelN'), { n: x.level + 1 })),
      h('td', {}, x.to?.name ?? '-', x.to?.phone ? h('div', { class: 'muted' }, x.to.phone) : null),
      h('td', {}, tv('rescueEvent', x.reason)),
      h('td', {}, fmtTime(x.at)),
      h('td', {}, String(x.notifications ?? 0), x.lastNotifiedAt ? h('div', { class: 'muted' }, fill(t('esc.last'), { at: fmtTime(x.lastNotifiedAt) })) : null),
      h('td', {}, x.acknowledgedAt ? fill(t('esc.acked'), { by: x.acknowledgedBy ?? '-', at: fmtTime(x.acknowledgedAt) })
        : [h('span', { class: 'tag off' }, t('esc.notAcked')), ackButton ? ' ' : null, ackButton?.(x) ?? null])))));
}

/** The newest version of a case (the list's copy may be older); the given one when it cannot be read. */
async function fresh(c) {
  try { return await get(`/api/rescue-cases/${encodeURIComponent(c.id)}`); } catch { return c; }
}

/** Print the report of case `c` (read again first): the print-only container, then the browser's print. */
export async function printCase(c) {
  const rc = await fresh(c);
  let box = document.getElementById('print-report');
  if (!box) {
    box = h('div', { id: 'print-report', class: 'print-only' });
    document.body.append(box);
  }
  clear(box, reportContent(rc));
  printReport();
}

let shown = null;

/** The report of a case on screen, in a drawer, with a print button (statistics' drill-down). */
export async function openCase(id) {
  closeCase();
  const drawer = h('div', { class: 'drawer', role: 'dialog', 'aria-label': t('report.title') }, h('p', { class: 'muted' }, '…'));
  const overlay = h('div', { class: 'overlay', id: 'case-detail', onclick: (e) => { if (e.target === overlay) closeCase(); } }, drawer);
  shown = overlay;
  document.body.append(overlay);
  try {
    const c = await get(`/api/rescue-cases/${encodeURIComponent(id)}`);
    if (shown !== overlay) return;
    clear(drawer, h('div', { class: 'drawer-head' }, h('span'), h('div', { class: 'actions' },
      h('button', { class: 'primary', dataset: { print: c.id }, onclick: () => void printCase(c) }, t('report.print')),
      h('button', { onclick: closeCase }, t('detail.close')))), reportContent(c));
  } catch (err) {
    closeCase();
    toast(`${t('err.generic')}: ${err.message}`);
  }
}

export function closeCase() {
  shown?.remove();
  shown = null;
}

/** Signing out: no case on screen, no report left in the page. */
export function forgetReports() {
  closeCase();
  document.getElementById('print-report')?.remove();
}
