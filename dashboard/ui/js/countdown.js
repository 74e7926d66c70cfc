// Deadline countdowns: elements carry data-by (deadline) and data-warn (warning moment);
// one ticker updates them every second: green, amber after the warning, red when overdue.
import { h } from './dom.js';
import { fmtDuration, t } from './i18n.js';

export function countdown(by, warn, label) {
  const el = h('span', { class: 'cd', dataset: { by: String(by), warn: String(warn ?? by), label: label ?? '' } });
  paint(el, Date.now());
  return el;
}

export function done(text) {
  return h('span', { class: 'cd muted' }, text);
}

/** Elapsed time since `from` (rescue cases), amber/red by the given moments. */
export function elapsedClock(from, warnAt, redAt) {
  const el = h('span', { class: 'cd', dataset: { from: String(from), warn: String(warnAt), red: String(redAt) } });
  paint(el, Date.now());
  return el;
}

function paint(el, now) {
  const d = el.dataset;
  if (d.from) {
    el.textContent = fmtDuration(now - Number(d.from));
    el.className = `cd ${now >= Number(d.red) ? 'red' : now >= Number(d.warn) ? 'amber' : 'ok'}`;
    return;
  }
  const by = Number(d.by);
  const warn = Number(d.warn);
  if (now >= by) {
    el.textContent = `${t('deadline.overdue')} ${fmtDuration(now - by)}`;
    el.className = 'cd red';
  } else {
    el.textContent = `${d.label ? d.label + ' ' : ''}${fmtDuration(by - now)}`;
    el.className = `cd ${now >= warn ? 'amber' : 'ok'}`;
  }
}

/** The countdown that matters for an alert now: acknowledge, then resolve (`short`: the list's labels). */
export function alertCountdown(a, { short = false } = {}) {
  const d = a.deadlines ?? {};
  if (a.status === 'resolved' || a.status === 'false_positive') return done(t('deadline.done'));
  if (d.acknowledgedAt === null && d.ackBy !== null) return countdown(d.ackBy, d.ackWarnAt, short ? t('deadline.ackShort') : t('deadline.ack'));
  if (d.resolveBy !== null && d.resolveBy !== undefined) return countdown(d.resolveBy, d.resolveWarnAt, short ? t('deadline.resolveShort') : t('deadline.resolve'));
  return done(t('deadline.none'));
}

setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll('.cd[data-by], .cd[data-from]')) paint(el, now);
}, 1000);
