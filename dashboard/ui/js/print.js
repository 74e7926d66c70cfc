// Printing (打印): the print styles are print.css (index.html loads it for print only); this
// says what goes on paper. `body[data-print]` is "report" while a 96333 case report prints
// (caseReport.js: #print-report alone), else the view: without the header, the controls and the
// toasts, under a head (#print-head) with the view's title, its active filters and the print
// time. A print button may name the part of the view it prints (the wall: its alert list); the
// rest of the view is marked .print-hidden. With an alert or case drawer open, the drawer is
// printed instead of the view. The browser's own print (Ctrl+P) gets the same head, filled at
// `beforeprint`. Text from devices and users goes in as text nodes (dom.js), never as HTML.
import { session } from './api.js';
import { clear, h } from './dom.js';
import { cstInput, fill, t } from './i18n.js';

/** while our own window.print() runs, `beforeprint` has been prepared for already */
let ours = false;

/**
 * 打印 / Print for a view's toolbar: `scope()` is the element to print (default: the whole
 * view), read at the click.
 */
export function printButton({ id, scope } = {}) {
  return h('button', { type: 'button', class: 'small print-button', id, dataset: { printView: '' }, onclick: () => printView(scope?.() ?? null) }, t('common.print'));
}

/** Print the view, or `scope` within it (the drawer when one is open). */
export function printView(scope = null) {
  prepare('view', scope);
  run();
}

/** Print the case report put into #print-report (caseReport.js), alone. */
export function printReport() {
  prepare('report', null);
  run();
}

function run() {
  ours = true;
  try { window.print(); } finally { ours = false; }
}

function prepare(mode, scope) {
  document.body.dataset.print = mode;
  for (const el of document.querySelectorAll('.print-hidden')) el.classList.remove('print-hidden');
  if (mode === 'report') return;
  const main = document.querySelector('#root main');
  const drawer = document.querySelector('body > .overlay .drawer');
  if (!drawer && scope && main?.contains(scope)) {
    for (let el = scope; el !== main; el = el.parentElement) {
      for (const sibling of el.parentElement.children) if (sibling !== el) sibling.classList.add('print-hidden');
    }
  }
  let head = document.getElementById('print-head');
  if (!head) {
    // hidden on screen by the attribute; print.css shows it
    head = h('div', { id: 'print-head', hidden: true });
    document.body.prepend(head);
  }
  const nav = document.querySelector('header nav a.active')?.textContent ?? '';
  const part = drawer ? drawer.getAttribute('aria-label') ?? '' : (scope?.querySelector('h2')?.textContent ?? '');
  const title = [nav, part].filter((s, i, all) => s && all.indexOf(s) === i).join(' · ');
  const filters = drawer ? null : filterTexts(scope ?? main);
  clear(head,
    h('h1', {}, title ? `${t('app.title')} · ${title}` : t('app.title')),
    filters === null ? null : h('p', { id: 'print-filters' }, filters.length ? `${t('print.filters')}: ${filters.join(' · ')}` : t('print.noFilters')),
    h('p', { id: 'print-time' }, fill(t('report.printed'), { at: cstInput(Date.now()).replace('T', ' '), by: session()?.username ?? '-' })));
}

/** The filters set in `root`'s filter bars, each "name: value" as shown (an empty one, "all", left out). */
function filterTexts(root) {
  if (!root) return [];
  const out = [];
  for (const el of root.querySelectorAll('.filters input, .filters select')) {
    if (['checkbox', 'radio', 'hidden', 'file', 'submit', 'button'].includes(el.type) || el.closest('.print-hidden')) continue;
    const value = el.tagName === 'SELECT'
      ? (el.value === '' ? '' : el.selectedOptions[0]?.textContent ?? el.value)
      : el.value.trim().replace(/^(\d{4}-\d{2}-\d{2})T/, '$1 ');
    if (!value) continue;
    const name = controlName(el);
    out.push(name && name !== value ? `${name}: ${value}` : value);
  }
  return out;
}

/** What a filter control is called: its label, or the "<name>: all" of a select's empty option. */
function controlName(el) {
  const label = el.getAttribute('aria-label') || (el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent : '')
    || el.getAttribute('title') || el.getAttribute('placeholder');
  if (label) return label.trim();
  const all = el.tagName === 'SELECT' ? el.querySelector('option[value=""]')?.textContent ?? '' : '';
  const colon = all.search(/[:：]/);
  return colon > 0 ? all.slice(0, colon).trim() : '';
}

// the browser's own print (Ctrl+P) prints the view as shown, with a fresh head
window.addEventListener('beforeprint', () => { if (!ours) prepare('view', null); });
// done: the page as it was (a stubbed print in tests fires neither event, and stays prepared)
window.addEventListener('afterprint', () => {
  delete document.body.dataset.print;
  for (const el of document.querySelectorAll('.print-hidden')) el.classList.remove('print-hidden');
});
