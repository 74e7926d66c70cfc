// The connection-coverage panel of the operators' wall (docs/dashboard.md, Operators' wall):
// the bureau's goal is every registered device in use connected, and a device that never
// connected raises no offline alert (devices/connectionState.ts), so the wall counts them here.
// Per family: connected now / registered, ever-connected coverage (coverageRows.js) and the
// never-connected count; a click on that count lists those devices in a dialog
// (GET /api/devices?neverConnected=true). Read from GET /api/devices/coverage every 30 s and
// soon after the live statistics show the registered or connected count change; a failed read
// retries by itself and says so, as the alert list does (retry.js). Device text is text (dom.js).
import { get } from './api.js';
import { coverageFamilies, coverageRows } from './coverageRows.js';
import { confirmDialog } from './dialog.js';
import { districtName } from './districts.js';
import { h, toast } from './dom.js';
import { fill, fmtTime, t, tv } from './i18n.js';
import { retrying } from './retry.js';
import { state, subscribe } from './state.js';

const REFRESH_MS = 30_000;
/** after the live counts changed: one read for a burst of connects (the stats come every 2 s) */
const SOON_MS = 1000;
/** devices listed in the dialog at most (the title says how many there are) */
const LIST_LIMIT = 200;

/** Text set only when it changed (no DOM mutation otherwise). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** The never-connected devices of one family, in a dialog that only informs. */
async function showNeverConnected(family) {
  let res;
  try {
    res = await get(`/api/devices?neverConnected=true&family=${encodeURIComponent(family)}&limit=${LIST_LIMIT}`);
  } catch (err) {
    if (err?.status !== 401) toast(`${t('load.failedShort')}: ${err.message}`);
    return;
  }
  const list = res.items.length
    ? h('div', { class: 'scroll never-list' }, h('table', {},
      h('thead', {}, h('tr', {}, ['devices.id', 'devices.name', 'col.district', 'coverage.registeredAt'].map((k) => h('th', {}, t(k))))),
      h('tbody', {}, res.items.map((d) => h('tr', { dataset: { id: d.id } },
        h('td', {}, d.id), h('td', {}, d.name ?? ''), h('td', { title: d.district ?? '' }, districtName(d.district) || '-'), h('td', { class: 'nowrap' }, fmtTime(Date.parse(d.createdAt))))))))
    : h('p', { class: 'muted' }, t('wall.none'));
  await confirmDialog({
    id: 'coverage-never',
    title: fill(t('coverage.neverTitle'), { family: tv('family', family), n: res.total }),
    lines: [list, res.total > res.items.length ? fill(t('coverage.neverMore'), { shown: res.items.length, n: res.total }) : null].filter(Boolean),
    confirmLabel: t('coverage.close'),
  });
}

/** The panel: `el` to place, `dispose()` when the view goes. */
export function coveragePanel() {
  const loadEl = h('span', { class: 'load-state', id: 'coverage-load', role: 'status', 'aria-live': 'polite' });
  const cells = {};
  const body = h('tbody', {}, coverageFamilies.map((family) => {
    const c = {
      connected: h('td', { class: 'num c-connected' }, '-'),
      coverage: h('td', { class: 'num c-coverage' }, '-'),
      never: h('button', { class: 'link never', disabled: true, onclick: () => void showNeverConnected(family) }, '-'),
    };
    cells[family] = c;
    return h('tr', { dataset: { family } }, h('th', { scope: 'row' }, tv('family', family)), c.connected, c.coverage, h('td', { class: 'num c-never' }, c.never));
  }));
  const el = h('section', { class: 'panel coverage-panel', id: 'wall-coverage', 'aria-label': t('coverage.title') },
    h('div', { class: 'panel-head' }, h('h2', {}, t('coverage.title')), loadEl),
    h('table', { class: 'coverage' },
      h('thead', {}, h('tr', {}, h('th', {}, t('col.family')),
        ['coverage.connected', 'coverage.coverage', 'coverage.never'].map((k) => h('th', { class: 'num' }, t(k))))),
      body));

  let loaded = false;
  let loadState = { phase: 'idle' };
  let loader = null;

  function paint(answer) {
    loaded = true;
    for (const r of coverageRows(answer)) {
      const c = cells[r.family];
      setText(c.connected, r.connected);
      setText(c.coverage, r.coverage);
      c.coverage.title = fill(t('coverage.everOf'), { ever: r.everConnected, registered: r.registered });
      c.coverage.dataset.state = !r.registered ? 'none' : r.complete ? 'full' : 'partial';
      setText(c.never, String(r.neverConnected));
      c.never.disabled = r.neverConnected === 0;
      c.never.title = r.neverConnected ? t('coverage.neverOpen') : '';
    }
  }

  function paintLoad() {
    // a refresh behind figures already shown says nothing until it fails
    const s = loadState.phase === 'loading' && loaded ? { phase: 'ok' } : loadState.phase === 'idle' ? { phase: 'loading' } : loadState;
    if (loadEl.dataset.state !== s.phase) loadEl.dataset.state = s.phase;
    el.dataset.state = s.phase;
    if (s.phase === 'loading') setText(loadEl, t('load.loading'));
    else if (s.phase === 'failed') setText(loadEl, fill(t('load.failed'), { s: Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) }));
    else if (s.phase === 'error') setText(loadEl, `${t('load.failedShort')}: ${s.error?.message ?? ''}`);
    else setText(loadEl, '');
  }

  let loadingSince = 0;
  /** asked for while a read was under way: read once more after it (it may predate the change) */
  let again = false;
  function refresh() {
    // a failed read is already being retried (1 s, 2 s, 4 s … 30 s): no second one beside it
    if (loader && loadState.phase === 'failed') return;
    if (loader && loadState.phase === 'loading' && Date.now() - loadingSince < REFRESH_MS) { again = true; return; }
    again = false;
    loader?.stop();
    loader = retrying(() => get('/api/devices/coverage'), {
      onData: paint,
      onState: (s) => {
        loadState = s;
        if (s.phase === 'loading') loadingSince = Date.now();
        paintLoad();
        if (s.phase === 'ok' && again) refresh();
      },
    });
  }

  let soon = null;
  let counts = null;
  const unsubscribe = subscribe((ev) => {
    if (ev.kind === 'stats' && state.stats) {
      // registered or connected devices changed (a device connected, left, was imported)
      const now = `${state.stats.devices}/${state.stats.connectedDevices}`;
      if (counts !== null && now !== counts) soon ??= setTimeout(() => { soon = null; refresh(); }, SOON_MS);
      counts = now;
    } else if (ev.kind === 'reload') {
      refresh();
    }
  });
  const every = setInterval(refresh, REFRESH_MS);
  const tick = setInterval(paintLoad, 1000);
  paintLoad();
  refresh();

  return {
    el,
    dispose() {
      unsubscribe();
      clearInterval(every);
      clearInterval(tick);
      clearTimeout(soon);
      loader?.stop();
    },
  };
}
