// A tiny element builder: h('div', {class: 'x', onclick}, 'text', child...).
//
// Every string child becomes a text node, so device and user text (names, codes, notes) is
// shown as text and never parsed as HTML. Nothing in the UI assigns innerHTML/outerHTML or
// calls insertAdjacentHTML/document.write; charts get their tooltips as DOM from tooltipEl()
// below. The page runs under a strict Content-Security-Policy (dashboard/security.ts), so
// handlers are listeners (never on*= attributes) and styles are set through the CSSOM.

/** URL attributes whose value may navigate or load: only http(s) and same-origin URLs are kept. */
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

/**
 * The URL when it is http(s) or relative to this page; null for anything else
 * (javascript:, data:, vbscript:, blob:, ... however spelled).
 */
export function safeUrl(value) {
  if (typeof value !== 'string' || value === '') return null;
  let url;
  try { url = new URL(value, location.href); } catch { return null; }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
}

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) {
      // a string would become an inline handler, which the CSP blocks and which is code
      if (typeof v !== 'function') throw new TypeError(`h(): ${k} must be a function`);
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    // CSSOM, not the style attribute: allowed under style-src 'self'
    else if (k === 'style') el.style.cssText = String(v);
    else if (URL_ATTRS.has(k.toLowerCase())) {
      const url = safeUrl(v);
      if (url !== null) el.setAttribute(k, url);
    } else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** toasts shown at once; an older one goes when a newer one would be past this */
const MAX_TOASTS = 4;

/**
 * A short message at the bottom of the screen, stacked above the others (never on top of
 * them), `kind` `error` (the default) or `ok` in its own colour; gone after 4 s (errors 8 s) or
 * on a click.
 */
export function toast(text, kind = 'error') {
  let stack = document.getElementById('toasts');
  if (!stack) {
    stack = h('div', { id: 'toasts', class: 'toasts' });
    document.body.append(stack);
  }
  const el = h('div', { class: `toast toast-${kind === 'ok' ? 'ok' : 'error'}`, role: kind === 'ok' ? 'status' : 'alert', onclick: () => el.remove() }, text);
  stack.append(el);
  while (stack.children.length > MAX_TOASTS) stack.firstElementChild.remove();
  setTimeout(() => el.remove(), kind === 'ok' ? 4000 : 8000);
}

/** <select> with translated options; `all` adds an empty "all" option first. */
export function select(options, value, onchange, all) {
  return h('select', { onchange: (e) => onchange(e.target.value) },
    all ? h('option', { value: '' }, all) : null,
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value) }, label)));
}

/**
 * An ECharts tooltip as DOM (ECharts appends a returned element as it is; a returned string
 * would be assigned to innerHTML). `lines` are strings or arrays of strings/nodes, one line
 * each; `color` puts the series' dot before the first line.
 */
export function tooltipEl(lines, color) {
  return h('div', { class: 'tip' }, lines.map((line, i) => h('div', {},
    i === 0 && color ? dot(color) : null, line)));
}

/** The coloured dot ECharts puts before a series name, without its inline-styled HTML. */
export function dot(color) {
  const el = h('span', { class: 'tip-dot' });
  if (typeof color === 'string') el.style.backgroundColor = color;
  return el;
}

/**
 * A formatter for axis-triggered chart tooltips (trigger: 'axis'): the axis value, then one
 * line per series, "● name: value"; replaces ECharts' default, which is an HTML string with
 * style attributes (blocked by the CSP).
 */
export function axisTooltip(format = (v) => v) {
  return (params) => {
    const list = Array.isArray(params) ? params : [params];
    const head = list[0]?.axisValueLabel ?? list[0]?.name ?? '';
    return h('div', { class: 'tip' }, h('div', {}, String(head)),
      list.map((p) => {
        const v = Array.isArray(p.value) ? p.value[p.value.length - 1] : p.value;
        return h('div', {}, dot(p.color), `${p.seriesName}: `, h('b', {}, v === null || v === undefined ? '-' : String(format(v, p))));
      }));
  };
}
