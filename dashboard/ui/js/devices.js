// The device view: registry search, connection state, last readings, and a downsampled
// history chart of one field (GET /api/devices/:id/history).
/* global echarts */
import { get } from './api.js';
import { axisTooltip, clear, h, select, toast } from './dom.js';
import { fmtTime, t, tv } from './i18n.js';
import { compact } from './alertDetail.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const periods = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

export function devicesView(root) {
  const q = { q: '', family: '' };
  const body = h('tbody');
  const detail = h('div', { class: 'panel', id: 'device-detail' }, h('p', { class: 'muted' }, t('devices.pick')));
  let chart = null;
  let fields = null;
  clear(root, h('div', { class: 'split' },
    h('div', { class: 'panel' },
      h('div', { class: 'filters' },
        h('input', { placeholder: t('devices.search'), id: 'device-search', oninput: (e) => { q.q = e.target.value.trim(); void search(); } }),
        select(families.map((f) => [f, tv('family', f)]), '', (v) => { q.family = v; void search(); }, `${t('filter.family')}: ${t('filter.all')}`)),
      h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ['devices.id', 'devices.name', 'col.family', 'col.district', 'col.status'].map((k) => h('th', {}, t(k))))), body))),
    detail));

  let seq = 0;
  async function search() {
    const mine = ++seq;
    const params = new URLSearchParams({ limit: '200', ...(q.q ? { q: q.q } : {}), ...(q.family ? { family: q.family } : {}) });
    const res = await get(`/api/devices?${params}`);
    if (mine !== seq) return;
    clear(body, res.items.map((d) => h('tr', { class: 'alert-row', onclick: () => void show(d.id) },
      h('td', {}, d.id), h('td', {}, d.name ?? ''), h('td', {}, tv('family', d.family)), h('td', {}, d.district ?? '-'),
      h('td', {}, h('span', { class: `st ${d.connection.connected ? 'st-resolved' : 'st-open'}` }, d.connection.connected ? t('devices.connected') : t('devices.disconnected'))))));
  }

  async function show(id) {
    fields ??= await get('/api/history-fields');
    const [d, r] = await Promise.all([get(`/api/devices/${encodeURIComponent(id)}`), get(`/api/devices/${encodeURIComponent(id)}/readings?limit=10`)]);
    const channels = Object.keys(fields[d.family] ?? {});
    const pick = { channel: channels[0] ?? '', field: fields[d.family]?.[channels[0]]?.[0] ?? '', period: '24h' };
    const chartEl = h('div', { class: 'chart', id: 'history-chart' });
    const controls = h('div', { class: 'filters' });
    const renderControls = () => clear(controls,
      select(channels.map((c) => [c, c]), pick.channel, (v) => { pick.channel = v; pick.field = fields[d.family][v][0]; renderControls(); void load(); }),
      select((fields[d.family]?.[pick.channel] ?? []).map((f) => [f, f]), pick.field, (v) => { pick.field = v; void load(); }),
      select(Object.keys(periods).map((p) => [p, t(`period.${p}`)]), pick.period, (v) => { pick.period = v; void load(); }));
    clear(detail,
      h('h2', {}, `${d.name ?? ''} ${d.id}`),
      h('div', { class: 'kv' },
        h('div', {}, t('col.family')), h('div', {}, tv('family', d.family)),
        h('div', {}, t('col.district')), h('div', {}, d.district ?? '-'),
        h('div', {}, t('devices.location')), h('div', {}, d.location ? `${d.location.lat}, ${d.location.lng}` : '-'),
        h('div', {}, t('col.status')), h('div', {}, d.connection.connected ? t('devices.connected') : t('devices.disconnected')),
        h('div', {}, t('devices.lastSeen')), h('div', {}, d.connection.lastSeen ? fmtTime(Date.parse(d.connection.lastSeen)) : '-')),
      h('h3', {}, t('devices.readings')),
      r.items.length ? h('table', {}, h('tbody', {}, [...r.items].reverse().map((x) => h('tr', {}, h('td', {}, fmtTime(Date.parse(x.ts))), h('td', {}, x.channel), h('td', { class: 'muted' }, compact(x.data))))))
        : h('p', { class: 'muted' }, t('devices.noData')),
      h('h3', {}, t('devices.history')), controls, chartEl);
    renderControls();
    chart?.dispose();
    chart = echarts.init(chartEl, 'dark');
    async function load() {
      if (!pick.channel || !pick.field) return;
      const to = Date.now();
      const from = to - periods[pick.period];
      try {
        const res = await get(`/api/devices/${encodeURIComponent(d.id)}/history?channel=${pick.channel}&field=${pick.field}&from=${from}&to=${to}&buckets=400`);
        const pts = res.points;
        chart.setOption({
          backgroundColor: 'transparent', animation: false,
          tooltip: { trigger: 'axis', confine: true, formatter: axisTooltip((v) => (typeof v === 'number' ? +v.toFixed(3) : v)) },
          legend: { top: 0, data: [t('chart.avg'), t('chart.min'), t('chart.max')], textStyle: { color: '#c9d6e3' } },
          grid: { left: 50, right: 16, top: 30, bottom: 40 },
          xAxis: { type: 'time', min: from, max: to },
          yAxis: { type: 'value', scale: true, name: pick.field },
          series: [
            { name: t('chart.min'), type: 'line', showSymbol: false, lineStyle: { opacity: 0.4 }, data: pts.map((p) => [p.t, p.min]) },
            { name: t('chart.max'), type: 'line', showSymbol: false, lineStyle: { opacity: 0.4 }, data: pts.map((p) => [p.t, p.max]) },
            { name: t('chart.avg'), type: 'line', showSymbol: false, data: pts.map((p) => [p.t, p.avg]) },
          ],
          title: pts.length ? undefined : { text: t('devices.noData'), left: 'center', top: 'middle', textStyle: { color: '#8b9bb0' } },
        }, { notMerge: true });
      } catch (err) { toast(err.message); }
    }
    void load();
  }

  void search();
  return () => chart?.dispose();
}
