// Alert detail (a drawer over any view): evidence with readings and snapshot, timeline, and
// the actions the signed-in role may take on this alert.
import { get, post, session } from './api.js';
import { alertCountdown } from './countdown.js';
import { districtName } from './districts.js';
import { clear, h, safeUrl, toast } from './dom.js';
import { alertSummary, fieldName, fieldsLine, fieldValue } from './fieldText.js';
import { conditionLabel, fill, fmtTime, ruleName, t, tv } from './i18n.js';
import { mayHandle, state, subscribe } from './state.js';
import { printButton } from './print.js';
import { noteText } from './systemNote.js';

let current = null;

export function openAlert(id) {
  closeAlert();
  const drawer = h('div', { class: 'drawer', role: 'dialog', 'aria-label': t('detail.title') });
  const overlay = h('div', { class: 'overlay', id: 'alert-detail', onclick: (e) => { if (e.target === overlay) closeAlert(); } }, drawer);
  document.body.append(overlay);
  current = { id, overlay, drawer, alert: state.alerts.get(id) ?? null, readings: null, form: null };
  current.unsubscribe = subscribe((ev) => {
    if (current && ev.kind === 'alert' && ev.alert.id === id) { current.alert = withTimeline(ev.alert, current.alert, ev.entries); render(); }
  });
  // Esc closes the drawer, unless a dialog over it (dialog.js) takes the key first
  const onKey = (e) => { if (e.key === 'Escape' && !document.querySelector('dialog[open], .modal')) closeAlert(); };
  document.addEventListener('keydown', onKey);
  current.offKey = () => document.removeEventListener('keydown', onKey);
  render();
  void refresh();
}

/** `record` with the timeline entries of `prev` and `entries` together, by position, oldest first. */
function withTimeline(record, prev, entries) {
  const byN = new Map();
  for (const e of prev?.timeline ?? []) byN.set(e.n, e);
  for (const e of entries ?? []) byN.set(e.n, e);
  return { ...record, timeline: [...byN.values()].sort((x, y) => x.n - y.n) };
}

export function closeAlert() {
  if (!current) return;
  current.unsubscribe();
  current.offKey?.();
  current.overlay.remove();
  current = null;
}

async function refresh() {
  const c = current;
  try {
    const a = await get(`/api/alerts/${encodeURIComponent(c.id)}`);
    if (current !== c) return;
    // pushes may have arrived meanwhile: keep the newer record, and every entry of both
    c.alert = !c.alert || c.alert.updatedAt <= a.updatedAt ? withTimeline(a, c.alert, a.timeline) : withTimeline(c.alert, a, a.timeline);
    render();
    const from = a.firstSeen - 60_000;
    const to = a.lastSeen + 60_000;
    const r = await get(`/api/devices/${encodeURIComponent(a.device.id)}/readings?from=${from}&to=${to}&limit=20`);
    if (current !== c) return;
    c.readings = r.items;
    render();
  } catch (err) {
    if (current === c) { c.readings = []; render(); }
    if (err.status !== 404) toast(`${t('err.generic')}: ${err.message}`);
  }
}

async function act(path, body) {
  const c = current;
  try {
    const a = await post(`/api/alerts/${encodeURIComponent(c.id)}/${path}`, body);
    state.alerts.set(a.id, a);
    if (current === c) { c.alert = withTimeline(a, c.alert, a.timeline); c.form = null; render(); }
  } catch (err) {
    toast(`${err.status === 403 ? t('err.forbidden') : t('err.generic')}: ${err.message}`);
  }
}

function render() {
  const c = current;
  if (!c) return;
  const a = c.alert;
  if (!a) { clear(c.drawer, h('p', { class: 'muted' }, '…')); return; }
  const role = session()?.role;
  const closed = a.status === 'resolved' || a.status === 'false_positive';
  const may = mayHandle(role, a.rule);
  // a class-2 detection is acknowledged by the store's answer and resolved by the re-check (docs/rules/kitchen.md)
  const rect = a.rectification && !closed;
  const formButton = (form, label, primary = false) => h('button', { ...(primary ? { class: 'primary' } : {}), dataset: { action: form }, onclick: () => { c.form = form; render(); } }, label);
  const actions = may ? [
    a.status === 'open' && !a.rectification ? h('button', { class: 'primary', dataset: { action: 'ack' }, onclick: () => act('ack', {}) }, t('do.ack')) : null,
    rect && a.status === 'open' ? formButton('store-answer', t('do.storeAnswer'), true) : null,
    rect && a.status === 'acknowledged' ? formButton('recheck-pass', t('do.recheckPass'), true) : null,
    rect && a.status === 'acknowledged' ? formButton('recheck-fail', t('do.recheckFail')) : null,
    !closed ? h('button', { dataset: { action: 'assign' }, onclick: () => { c.form = 'assign'; render(); } }, t('do.assign')) : null,
    h('button', { dataset: { action: 'note' }, onclick: () => { c.form = 'note'; render(); } }, t('do.note')),
    !closed ? h('button', { dataset: { action: 'resolve' }, onclick: () => act('resolve', {}) }, t('do.resolve')) : null,
    a.family === 'kitchen' && a.status !== 'false_positive' ? h('button', { dataset: { action: 'false-positive' }, onclick: () => act('false-positive', {}) }, t('do.false_positive')) : null,
  ] : [h('span', { class: 'muted' }, t('detail.readOnly'))];

  let form = null;
  if (c.form) {
    const written = c.form !== 'assign';
    const placeholder = { note: 'do.noteText', assign: 'do.assignee', 'store-answer': 'do.storeAnswerText', 'recheck-pass': 'do.recheckText', 'recheck-fail': 'do.recheckText' }[c.form];
    const input = h(written ? 'textarea' : 'input', { rows: 3, class: 'wide', placeholder: t(placeholder) });
    form = h('form', {
      onsubmit: (e) => {
        e.preventDefault();
        const v = input.value.trim();
        if (!v) return;
        if (c.form === 'assign') void act('assign', { assignee: v });
        else if (c.form === 'note' || c.form === 'store-answer') void act(c.form, { note: v });
        else void act('recheck', { passed: c.form === 'recheck-pass', note: v });
      },
    }, input, h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, t('do.submit')), h('button', { type: 'button', onclick: () => { c.form = null; render(); } }, t('do.cancel'))));
  }

  clear(c.drawer,
    h('div', { class: 'drawer-head' },
      h('h2', {}, h('span', { class: `sev sev-${a.severity}` }, tv('severity', a.severity)), ' ', ruleName(a.rule)),
      h('span', { class: 'actions' }, printButton({ id: 'detail-print' }), h('button', { onclick: closeAlert }, t('detail.close')))),
    h('div', { class: 'kv' },
      h('div', {}, t('col.status')), h('div', {}, h('span', { class: `st st-${a.status}`, id: 'detail-status' }, tv('status', a.status)), ' ', alertCountdown(a)),
      h('div', {}, t('col.rule')), h('div', {}, conditionLabel(a)),
      h('div', {}, t('detail.summary')), h('div', { class: 'muted', id: 'detail-summary' }, alertSummary(a)),
      h('div', {}, t('col.device')), h('div', {}, `${a.device.name ?? ''} ${a.device.id}`),
      h('div', {}, t('col.district')), h('div', { title: a.device.district ?? '' }, districtName(a.device.district) || '-'),
      h('div', {}, t('detail.firstSeen')), h('div', {}, fmtTime(a.firstSeen)),
      h('div', {}, t('detail.lastSeen')), h('div', {}, fmtTime(a.lastSeen), a.count > 1 ? ` (×${a.count})` : ''),
      h('div', {}, t('col.assignee')), h('div', {}, a.assignee ?? '-'),
      a.rectification ? [h('div', {}, t('detail.rectification')), h('div', { id: 'detail-rectification' }, fill(t('detail.rectificationRound'), { n: a.rectification.round }), ' · ',
        a.rectification.answeredAt ? `${t('detail.answeredAt')} ${fmtTime(a.rectification.answeredAt)} · ${t('detail.recheckBy')} ${fmtTime(a.deadlines.resolveBy)}`
          : `${t('detail.answerBy')} ${fmtTime(a.deadlines.ackBy)}`)] : null),
    h('h3', {}, t('detail.actions')), h('div', { class: 'actions' }, actions), form,
    h('h3', {}, t('detail.evidence')),
    h('table', {}, h('tbody', {}, [...(a.evidence ?? [])].reverse().map((ev) => h('tr', {},
      h('td', {}, Object.entries(ev.values ?? {}).map(([k, v]) => h('div', {}, h('span', { class: 'muted' }, `${fieldName(k)}: `), fieldValue(k, v)))),
      h('td', {}, snapshot(ev.snapshotUrl),
        h('div', { class: 'muted' }, `seq ${ev.seqs.join(', ')}`)))))),
    h('h3', {}, t('detail.timeline')),
    // the detail carries the newest entries; say so when the alert has more
    (a.events ?? 0) > (a.timeline ?? []).length ? h('p', { class: 'muted' }, fill(t('detail.timelineOlder'), { shown: (a.timeline ?? []).length, total: a.events })) : null,
    h('table', { id: 'detail-timeline' }, h('tbody', {}, [...(a.timeline ?? [])].reverse().map((e) => h('tr', {},
      h('td', {}, fmtTime(e.at)), h('td', {}, tv('tl', e.action)), h('td', {}, e.by === 'system' ? t('tl.system') : e.by), h('td', { class: 'muted' }, noteText(e)))))),
    h('h3', {}, t('devices.readings')),
    c.readings === null ? h('p', { class: 'muted' }, '…') : c.readings.length === 0 ? h('p', { class: 'muted' }, t('devices.noData')) :
      // the device's own messages, without heartbeats: the drawer is about what happened
      h('table', {}, h('tbody', {}, (c.readings.some((r) => r.channel !== 'heartbeat') ? c.readings.filter((r) => r.channel !== 'heartbeat') : c.readings).slice(-10).reverse().map((r) => h('tr', {},
        h('td', {}, fmtTime(Date.parse(r.ts))), h('td', {}, r.channel), h('td', { class: 'muted' }, compact(r.data)))))));
}

/** The camera's snapshot link: only an http(s) URL becomes a link; anything else (a device
 * may send `javascript:...`) is shown as text. */
function snapshot(url) {
  if (!url) return null;
  const href = safeUrl(url);
  return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, t('detail.snapshot'))
    : h('div', { class: 'muted', dataset: { refusedUrl: '' } }, `${t('detail.snapshot')}: ${url}`);
}

/** A reading's data in a line, field names and values in the current language (fieldText.js). */
export const compact = (data) => fieldsLine(data);
