// The live alert list of the operators' wall (and, for elevator alerts only, the dispatchers'
// list): in the API's `sort=priority` order (severity, then the deadline due, then newest), with
// every critical or overdue alert pinned on top (loaded in full by state.js), and the rest read
// from the server a page at a time with the filters as query parameters (family, severity,
// status, district); "more" (or scrolling to the end) reads the next page.
//
// Rows are updated in place: a push changes the cells of its row, and only the rows that come,
// go or move are inserted, removed or moved, never the whole list. While the pointer moves over
// the list, no row moves: content changes show at once, while new rows, removals and the new
// order wait (the list says how many) until the pointer leaves or has been still for
// HOLD_IDLE_MS, so a click lands on the row the operator aimed at. The rows and their cells are
// drawn by alertRows.js; the pointer's hold is followed by listHold.js. 导出 CSV / XLSX saves every
// alert the filters name, pinned or not, in one file (GET /api/alerts/export).
import { get } from './api.js';
import { byPriority, compareKeys, isActive, isPinned, priorityKey } from './alertOrder.js';
import { arrange, columns, draw, setText, severities } from './alertRows.js';
import { districtName } from './districts.js';
import { clear, h, select, toast } from './dom.js';
import { fill, t, tv } from './i18n.js';
import { listHold } from './listHold.js';
import { retrying, worstState } from './retry.js';
import { absorb, state, subscribe } from './state.js';
import { printButton } from './print.js';
import { exportButtons } from './tableDownload.js';

export { HOLD_IDLE_MS } from './listHold.js';

/** alerts per page of the rest (about four screens of a 1080p wall) */
export const PAGE = 100;
/** the boundary of a rest that has been read to its end */
const ALL = 'all';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const statuses = ['open', 'acknowledged', 'resolved', 'false_positive'];

const sameIds = (x, y) => x.length === y.length && x.every((id, i) => id === y[i]);

export function alertList({ fixedFamily, onDistrict } = {}) {
  const filters = { family: fixedFamily ?? '', severity: '', status: 'active', district: '' };
  /** alert id -> its row; one row per alert, moved between the two sections, never rebuilt */
  const rows = new Map();
  const pinnedBody = h('tbody', { class: 'pinned' });
  const restBody = h('tbody', { class: 'rest' });
  const pinnedHead = h('th', { colspan: columns.length });
  const restHead = h('th', { colspan: columns.length });
  const pinnedSection = h('tbody', { class: 'section pinned-head' }, h('tr', {}, pinnedHead));
  const restSection = h('tbody', { class: 'section rest-head' }, h('tr', {}, restHead));
  const more = h('button', { id: 'alerts-more', class: 'small', onclick: () => void loadMore() }, t('list.more'));
  const moreRow = h('tfoot', {}, h('tr', {}, h('td', { colspan: columns.length, class: 'more-cell' }, more)));
  const count = h('span', { class: 'muted', id: 'alerts-count' });
  const loadEl = h('span', { class: 'load-state', id: 'alerts-load', role: 'status', 'aria-live': 'polite' });
  const heldEl = h('span', { class: 'held', id: 'alerts-held', role: 'status' });
  /** the district filter by name (the field holds the code, as typed or from the wall's map) */
  const districtTag = h('span', { class: 'tag district', id: 'alerts-district' });
  const bar = h('div', { class: 'filters' });
  const scroller = h('div', { class: 'scroll alert-scroll' }, h('table', { class: 'alerts' },
    h('colgroup', {}, columns.map((c) => h('col', { class: `c-${c}` }))),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, t(`col.${c}`))))),
    pinnedSection, pinnedBody, restSection, restBody, moreRow));

  /** the rest as read: up to `boundary` (the last key read; ALL: to the end; null: not yet) */
  let rest = { boundary: null, cursor: null, count: 0 };
  let restState = { phase: 'idle' };
  let restLoader = null;
  /** filters changed or reloaded: answers for an older generation are dropped */
  let generation = 0;
  /** whether the pointer holds the list (listHold.js); leaving it shows what waited */
  const holding = listHold(scroller, () => { if (held) reconcile(); });
  let held = 0;
  let timer = null;
  let districtTimer = null;
  let moreBusy = false;

  function renderFilters() {
    const setFilter = (k) => (v) => { filters[k] = v; filtersChanged(); };
    clear(bar,
      fixedFamily ? null : select(families.map((f) => [f, tv('family', f)]), filters.family, setFilter('family'), `${t('filter.family')}: ${t('filter.all')}`),
      select(severities.map((s) => [s, tv('severity', s)]), filters.severity, setFilter('severity'), `${t('filter.severity')}: ${t('filter.all')}`),
      select([['active', t('filter.activeOnly')], ...statuses.map((s) => [s, tv('status', s)])], filters.status, setFilter('status'), `${t('filter.status')}: ${t('filter.all')}`),
      h('input', {
        class: 'district-filter', placeholder: t('filter.district'), size: 8, maxlength: 12, value: filters.district, 'aria-label': t('filter.district'),
        oninput: (e) => {
          clearTimeout(districtTimer);
          districtTimer = setTimeout(() => { filters.district = e.target.value.trim(); paintDistrict(); onDistrict?.(filters.district); filtersChanged(); }, 300);
        },
      }),
      districtTag, count, heldEl, loadEl, exportButtons('alerts-export', exportPath),
      // on paper the list's panel only (on the wall: not the map and the counts)
      printButton({ id: 'alerts-print', scope: () => bar.closest('.panel') }));
    paintDistrict();
  }

  /** The filters as GET /api/alerts/export reads them: the list's own query, less its paging and its split into pinned and rest. */
  function exportPath() {
    const q = new URLSearchParams();
    const status = filters.status === 'active' ? 'open,acknowledged' : filters.status;
    if (status) q.set('status', status);
    if (filters.severity) q.set('severity', filters.severity);
    if (filters.family) q.set('family', filters.family);
    if (filters.district) q.set('district', filters.district);
    return `/api/alerts/export${q.toString() ? `?${q}` : ''}`;
  }

  function matches(a, f = filters) {
    if (f.family && a.family !== f.family) return false;
    if (f.severity && a.severity !== f.severity) return false;
    if (f.status === 'active' && !isActive(a)) return false;
    if (f.status && f.status !== 'active' && a.status !== f.status) return false;
    if (f.district && !(a.device?.district ?? '').startsWith(f.district)) return false;
    return true;
  }

  const within = (a, boundary) => boundary === ALL || (boundary !== null && compareKeys(priorityKey(a), boundary) <= 0);

  /** Only active alerts asked for: every critical one is pinned (state.js loads them all). */
  const activeOnly = (f) => ['active', 'open', 'acknowledged'].includes(f.status);
  /** Alerts the rest's query asks for: the filters, less the critical ones when they are all pinned. */
  const restWants = (a, f) => matches(a, f) && !(activeOnly(f) && a.severity === 'critical');

  function query(f, limit, cursor) {
    const q = new URLSearchParams({ sort: 'priority', limit: String(limit) });
    const status = f.status === 'active' ? 'open,acknowledged' : f.status;
    if (status) q.set('status', status);
    if (f.severity) q.set('severity', f.severity);
    else if (activeOnly(f)) q.set('severity', 'major,minor,info');
    if (f.family) q.set('family', f.family);
    if (f.district) q.set('district', f.district);
    if (cursor) q.set('cursor', cursor);
    return `/api/alerts?${q}`;
  }

  const boundaryOf = (res) => (res.nextCursor && res.items.length ? priorityKey(res.items[res.items.length - 1]) : ALL);

  /** Read the rest from the top again (`limit` alerts), retrying until it succeeds. */
  function loadRest(limit = PAGE, { force = false } = {}) {
    restLoader?.stop();
    const f = { ...filters };
    const gen = generation;
    if (activeOnly(f) && f.severity === 'critical') {
      // all of them pinned: nothing more to read
      rest = { boundary: ALL, cursor: null, count: 0 };
      restState = { phase: 'ok' };
      reconcile({ force });
      paintLoad();
      return;
    }
    let startedAt = 0;
    restLoader = retrying(async () => {
      startedAt = Date.now();
      return get(query(f, limit));
    }, {
      onState: (s) => { restState = s; paintLoad(); },
      onData: (res) => {
        if (gen !== generation) return;
        const boundary = boundaryOf(res);
        // alerts of this filter before the boundary that the answer did not name are gone
        absorb(res.items, { startedAt, covers: (a) => restWants(a, f) && within(a, boundary) });
        rest = { boundary, cursor: res.nextCursor, count: res.items.length };
        reconcile({ force });
      },
    });
  }

  async function loadMore() {
    if (!rest.cursor || moreBusy) return;
    moreBusy = true;
    paintMore();
    const gen = generation;
    try {
      const res = await get(query({ ...filters }, PAGE, rest.cursor));
      if (gen !== generation) return;
      absorb(res.items, { startedAt: Date.now() });
      rest = { boundary: boundaryOf(res), cursor: res.nextCursor, count: rest.count + res.items.length };
      reconcile();
    } catch (err) {
      if (err?.status !== 401) toast(`${t('load.failedShort')}: ${err.message}`);
    } finally {
      moreBusy = false;
      paintMore();
    }
  }

  function filtersChanged() {
    generation++;
    rest = { boundary: null, cursor: null, count: 0 };
    restLoader?.stop();
    restState = { phase: 'loading' };
    reconcile({ force: true });
    if (state.loaded) loadRest(PAGE, { force: true });
    paintLoad();
  }

  function wanted(now) {
    const pinned = [];
    const others = [];
    for (const a of state.alerts.values()) {
      if (!matches(a)) continue;
      if (isPinned(a, now)) pinned.push(a);
      else if (within(a, rest.boundary)) others.push(a);
    }
    return { pinned: byPriority(pinned), rest: byPriority(others) };
  }

  /**
   * Bring the rows to what the state says. Content is redrawn in place at once; rows that come,
   * go or move wait while the pointer holds the list (unless `force`: the operator changed a
   * filter), except rows added after the last one (the next page), which move nothing.
   */
  function reconcile({ force = false } = {}) {
    clearTimeout(timer);
    timer = null;
    const now = Date.now();
    for (const [id, tr] of rows) {
      const a = state.alerts.get(id);
      if (a) draw(tr, a, now);
    }
    const want = wanted(now);
    const wp = want.pinned.map((a) => a.id);
    const wr = want.rest.map((a) => a.id);
    const cp = [...pinnedBody.rows].map((tr) => tr.dataset.id);
    const cr = [...restBody.rows].map((tr) => tr.dataset.id);
    if (sameIds(wp, cp) && sameIds(wr, cr)) {
      setHeld(0);
      paintCounts(wp.length, wr.length);
      return;
    }
    const appendOnly = sameIds(wp, cp) && wr.length > cr.length && sameIds(wr.slice(0, cr.length), cr);
    if (!force && !appendOnly && holding(now)) {
      const shown = new Set([...cp, ...cr]);
      const wantSet = new Set([...wp, ...wr]);
      setHeld(Math.max(1, [...wantSet].filter((id) => !shown.has(id)).length + [...shown].filter((id) => !wantSet.has(id)).length));
      return;
    }
    const all = new Set([...wp, ...wr]);
    for (const [id, tr] of rows) {
      if (!all.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    arrange(pinnedBody, want.pinned, rows);
    arrange(restBody, want.rest, rows);
    setHeld(0);
    paintCounts(wp.length, wr.length);
  }

  function schedule() {
    if (timer === null) timer = setTimeout(() => reconcile(), 150);
  }

  // ---- what the list says about itself

  function paintDistrict() {
    const name = districtName(filters.district);
    setText(districtTag, name === filters.district ? '' : name);
    districtTag.hidden = !districtTag.textContent;
  }

  function setHeld(n) {
    held = n;
    setText(heldEl, n ? fill(t('list.held'), { n }) : '');
    heldEl.classList.toggle('on', n > 0);
  }

  function paintCounts(pinned, others) {
    pinnedSection.hidden = pinned === 0;
    setText(pinnedHead, fill(t('list.pinned'), { n: pinned }));
    setText(restHead, fill(t(rest.cursor ? 'list.restMore' : 'list.rest'), { n: others }));
    restSection.hidden = rest.boundary === null && others === 0;
    setText(count, fill(t('list.count'), { n: pinned + others }));
    paintMore();
  }

  function paintMore() {
    moreRow.hidden = !rest.cursor;
    more.disabled = moreBusy;
    setText(more, moreBusy ? t('load.loading') : fill(t('list.more'), { n: PAGE }));
  }

  function paintLoad() {
    const s = worstState(state.load.phase === 'idle' ? { phase: 'loading' } : state.load, restState);
    if (loadEl.dataset.state !== s.phase) loadEl.dataset.state = s.phase;
    if (s.phase === 'loading') setText(loadEl, t('load.loading'));
    else if (s.phase === 'failed') setText(loadEl, fill(t('load.failed'), { s: Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) }));
    else if (s.phase === 'error') setText(loadEl, `${t('load.failedShort')}: ${s.error?.message ?? ''}`);
    else setText(loadEl, '');
  }

  // the end of the list in view: read the next page. An observer's entries can be stale by the
  // time they are delivered (a page clicked in with "more" landed in between, pushing the end
  // out of view), so the end's place is measured again before reading on.
  const END_MARGIN = 120;
  const endInView = () => !moreRow.hidden && moreRow.getBoundingClientRect().top <= scroller.getBoundingClientRect().bottom + END_MARGIN;
  const seen = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting) && endInView()) void loadMore(); }, { root: scroller, rootMargin: `${END_MARGIN}px` })
    : null;
  seen?.observe(moreRow);

  const unsubscribe = subscribe((ev) => {
    if (ev.kind === 'alert') {
      const tr = rows.get(ev.alert.id);
      if (tr) draw(tr, ev.alert, Date.now());
      schedule();
    } else if (ev.kind === 'reload') {
      generation++;
      // nothing of the rest shown yet: show it at once; else it waits for the pointer like any change
      loadRest(Math.min(Math.max(PAGE, rest.count), 1000), { force: rest.boundary === null });
      schedule();
    } else if (ev.kind === 'load') {
      paintLoad();
    }
  });
  // deadlines passing (an alert becomes overdue: pinned), a hold running out, the retry countdown
  const tick = setInterval(() => { reconcile(); paintLoad(); }, 1000);

  const el = h('div', { class: 'alert-list' }, bar, scroller);
  renderFilters();
  reconcile({ force: true });
  paintLoad();
  if (state.loaded) loadRest(PAGE, { force: true });

  return {
    el,
    /** Bring the list up to date now (it also follows the state by itself). */
    render: () => reconcile(),
    /** Filter by a district code prefix ('' for all), as the wall's map does; the field shows it. */
    setDistrict(code) {
      clearTimeout(districtTimer);
      if (code === filters.district) return;
      filters.district = code;
      const field = bar.querySelector('input.district-filter');
      if (field) field.value = code;
      paintDistrict();
      onDistrict?.(code);
      filtersChanged();
    },
    dispose() {
      unsubscribe();
      clearInterval(tick);
      clearTimeout(timer);
      clearTimeout(districtTimer);
      restLoader?.stop();
      seen?.disconnect();
    },
  };
}
