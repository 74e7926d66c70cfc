// The device view: the registry a page at a time (GET /api/devices: search by id or name,
// family, district code prefix; `total` for the pager), each device connected now or not and
// when it was last heard from, how many of the filtered devices are connected now
// (GET /api/devices/coverage), and one device's detail beside the list (deviceDetail.js).
import { get, session } from './api.js';
import { deviceImport } from './deviceImport.js';
import { districtName } from './districts.js';
import { clear, h, select, toast } from './dom.js';
import { fill, fmtTime, t, tv } from './i18n.js';
import { deviceDetail } from './deviceDetail.js';
import { printButton } from './print.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
/** devices per page */
export const DEVICE_PAGE = 50;
/** typing in a text filter asks the service once the typing pauses this long */
const TYPING_MS = 300;

export function devicesView(root) {
  const q = { q: '', family: '', district: '' };
  let page = 0;
  let total = 0;
  const body = h('tbody');
  const summary = h('span', { class: 'muted', id: 'devices-total', role: 'status' });
  const online = h('span', { class: 'muted', id: 'devices-online' });
  const pageEl = h('span', { class: 'muted', id: 'devices-page' });
  const prev = h('button', { class: 'small', id: 'devices-prev', onclick: () => void go(page - 1) }, t('devices.prev'));
  const next = h('button', { class: 'small', id: 'devices-next', onclick: () => void go(page + 1) }, t('devices.next'));
  const detail = deviceDetail();
  // admins register devices in bulk here (deviceImport.js); the list shows them once imported
  const importer = session()?.role === 'admin' ? deviceImport(() => void go(0)) : null;
  const scroller = h('div', { class: 'scroll' }, h('table', { id: 'device-list' },
    h('thead', {}, h('tr', {}, ['devices.id', 'devices.name', 'col.family', 'col.district', 'col.status', 'devices.lastSeen'].map((k) => h('th', {}, t(k))))), body));
  let typing = null;
  const typed = (k) => (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => { q[k] = e.target.value.trim(); void go(0); }, TYPING_MS);
  };
  clear(root, h('div', { class: 'split' },
    h('div', { class: 'panel' },
      h('div', { class: 'filters' },
        h('input', { placeholder: t('devices.search'), 'aria-label': t('devices.search'), id: 'device-search', oninput: typed('q') }),
        select(families.map((f) => [f, tv('family', f)]), '', (v) => { q.family = v; void go(0); }, `${t('filter.family')}: ${t('filter.all')}`),
        h('input', { placeholder: t('filter.district'), 'aria-label': t('filter.district'), id: 'device-district', size: 8, maxlength: 12, oninput: typed('district') }),
        summary, online, printButton({ id: 'devices-print' })),
      scroller,
      h('div', { class: 'filters pager' }, prev, pageEl, next),
      importer?.el ?? null),
    detail.el));

  let seq = 0;
  /** Show page `p` (from 0) of the devices the filters name. */
  async function go(p) {
    const mine = ++seq;
    const filter = { ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}) };
    const params = new URLSearchParams({ limit: String(DEVICE_PAGE), offset: String(Math.max(0, p) * DEVICE_PAGE), ...filter, ...(q.q ? { q: q.q } : {}) });
    try {
      // connected now counted over the family and district (the coverage does not search names)
      const [res, cov] = await Promise.all([get(`/api/devices?${params}`), q.q ? null : get(`/api/devices/coverage?${new URLSearchParams(filter)}`)]);
      if (mine !== seq) return;
      page = Math.max(0, p);
      total = res.total;
      clear(body, res.items.length ? res.items.map(row) : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, t('devices.none'))));
      scroller.scrollTop = 0;
      summary.textContent = fill(t('devices.total'), { n: total });
      online.textContent = cov ? fill(t('devices.connectedNow'), { n: cov.total.connectedNow, of: cov.total.registered }) : '';
      const pages = Math.max(1, Math.ceil(total / DEVICE_PAGE));
      pageEl.textContent = fill(t('devices.page'), { p: page + 1, n: pages });
      prev.disabled = page === 0;
      next.disabled = page + 1 >= pages;
    } catch (err) {
      if (mine === seq && err?.status !== 401) toast(err.message);
    }
  }

  function row(d) {
    const c = d.connection;
    return h('tr', { class: 'alert-row', dataset: { device: d.id }, onclick: () => void detail.show(d.id) },
      h('td', {}, d.id), h('td', {}, d.name ?? ''), h('td', {}, tv('family', d.family)), h('td', { title: d.district ?? '' }, districtName(d.district) || '-'),
      h('td', {}, h('span', { class: `st ${c.connected ? 'st-resolved' : 'st-open'}`, dataset: { connected: String(c.connected) } },
        c.connected ? t('devices.connected') : t('devices.disconnected'))),
      h('td', { class: 'last-seen', dataset: { lastSeen: c.lastSeen ?? '' } }, c.lastSeen ? fmtTime(Date.parse(c.lastSeen)) : t('devices.never')));
  }

  void go(0);
  return () => { clearTimeout(typing); detail.dispose(); importer?.dispose(); };
}
