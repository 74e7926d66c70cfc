// The rows of the live alert list (alertList.js): one row per alert, its cells drawn from the
// alert and each redrawn only when what it shows changed, and a section's rows put in order by
// moving only the rows that are out of place, never rebuilding the list.
import { isActive, isOverdue } from './alertOrder.js';
import { alertCountdown } from './countdown.js';
import { districtName } from './districts.js';
import { clear, h } from './dom.js';
import { conditionLabel, fmtTime, getLang, ruleName, tv } from './i18n.js';
import { openAlert } from './alertDetail.js';
import { state } from './state.js';

export const severities = ['critical', 'major', 'minor', 'info'];
export const columns = ['time', 'severity', 'family', 'rule', 'device', 'district', 'count', 'status', 'deadline'];

/** The longest increasing subsequence of `seq` (distinct numbers), as a set of its values. */
function increasing(seq) {
  const tails = [];
  const prev = new Array(seq.length);
  for (let i = 0; i < seq.length; i++) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (seq[tails[m]] < seq[i]) lo = m + 1; else hi = m;
    }
    prev[i] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = i;
  }
  const out = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) out.add(seq[i]);
  return out;
}

const CST_MS = 8 * 3_600_000;
const cstDay = (ms) => Math.floor((ms + CST_MS) / 86_400_000);

const shortDates = {};
/** "07/12 13:55" in China time: an alert from before today, in the list's narrow column */
function shortDate(ms) {
  const lang = getLang();
  shortDates[lang] ??= new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', hour12: false, month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  return shortDates[lang].format(new Date(ms));
}

/** Text set only when it changed (the list's own lines are repainted every second). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}


/** row -> the values its cells were drawn from */
const drawn = new WeakMap();

function makeRow(a) {
  const tr = h('tr', { class: 'alert-row', onclick: () => openAlert(tr.dataset.id) }, columns.map((c) => h('td', { class: `c-${c}` })));
  drawn.set(tr, []);
  if (state.fresh.has(a.id)) {
    tr.classList.add('flash');
    tr.addEventListener('animationend', () => tr.classList.remove('flash'), { once: true });
  }
  draw(tr, a, Date.now());
  return tr;
}

/** The row's cells from the alert, each redrawn only when what it shows changed. */
export function draw(tr, a, now) {
  if (tr.dataset.status !== a.status) tr.dataset.status = a.status;
  if (tr.dataset.severity !== a.severity) {
    tr.dataset.severity = a.severity;
    for (const s of severities) tr.classList.toggle(`sevrow-${s}`, s === a.severity);
  }
  if (tr.dataset.id !== a.id) tr.dataset.id = a.id;
  tr.classList.toggle('overdue', isActive(a) && isOverdue(a, now));
  tr.classList.toggle('closed', !isActive(a));
  const was = drawn.get(tr);
  const cell = (i, key, content, title) => {
    if (was[i] === key) return;
    was[i] = key;
    const td = tr.cells[i];
    clear(td, content());
    if (title !== undefined) td.title = title;
  };
  const d = a.deadlines ?? {};
  const device = a.device ?? {};
  // today's time only (China time), an older one with its date
  const today = cstDay(a.lastSeen) === cstDay(now);
  cell(0, `${a.lastSeen}|${today}`, () => (today ? fmtTime(a.lastSeen, false) : shortDate(a.lastSeen)), fmtTime(a.lastSeen));
  cell(1, a.severity, () => h('span', { class: `sev sev-${a.severity}` }, tv('severity', a.severity)));
  cell(2, a.family, () => tv('family', a.family), tv('family', a.family));
  cell(3, `${a.rule}\u0000${a.condition}`, () => [h('b', {}, ruleName(a.rule)), ' ', h('span', { class: 'muted' }, conditionLabel(a))],
    `${ruleName(a.rule)} ${conditionLabel(a)}`);
  cell(4, `${device.name ?? ''}\u0000${device.id}`, () => [device.name ?? device.id, device.name ? h('span', { class: 'muted' }, ` ${device.id}`) : null],
    `${device.name ?? ''} ${device.id}`.trim());
  // the district by name (districts.js), its code on hover
  cell(5, device.district ?? '-', () => districtName(device.district) || '-', device.district ?? '');
  cell(6, a.count, () => (a.count > 1 ? `×${a.count}` : ''));
  cell(7, a.status, () => h('span', { class: `st st-${a.status}` }, tv('status', a.status)));
  cell(8, `${a.status}|${d.ackBy}|${d.resolveBy}|${d.acknowledgedAt}`, () => alertCountdown(a, { short: true }));
}

/**
 * Put `list` into `body` in order, moving only the rows that are out of place; `rows` (alert id
 * -> its row) gains the rows made for alerts new to the list.
 */
export function arrange(body, list, rows) {
  const pos = new Map(list.map((a, i) => [a.id, i]));
  const here = [...body.rows].filter((tr) => pos.has(tr.dataset.id)).map((tr) => pos.get(tr.dataset.id));
  const stay = increasing(here);
  let next = null;
  for (let i = list.length - 1; i >= 0; i--) {
    const a = list[i];
    let tr = rows.get(a.id);
    if (!tr) {
      tr = makeRow(a);
      rows.set(a.id, tr);
    }
    if (!stay.has(i)) body.insertBefore(tr, next);
    next = tr;
  }
}
