// Statistics: on-time acknowledge/resolve rates per family and district for a period, and a
// chart per day (GET /api/stats/on-time).
/* global echarts */
import { get } from './api.js';
import { axisTooltip, clear, h, select, toast } from './dom.js';
import { t, tv } from './i18n.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const DAY = 86_400_000;
const cstDate = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);

export function statsView(root) {
  const f = { from: cstDate(Date.now() - 6 * DAY), to: cstDate(Date.now()), family: '', district: '' };
  const out = h('div');
  const chartEl = h('div', { class: 'chart', id: 'stats-chart' });
  clear(root, h('div', { class: 'panel' },
    h('h2', {}, t('stats.title')),
    h('div', { class: 'filters' },
      t('stats.from'), h('input', { type: 'date', value: f.from, onchange: (e) => { f.from = e.target.value; } }),
      t('stats.to'), h('input', { type: 'date', value: f.to, onchange: (e) => { f.to = e.target.value; } }),
      select(families.map((x) => [x, tv('family', x)]), '', (v) => { f.family = v; }, `${t('filter.family')}: ${t('filter.all')}`),
      h('input', { placeholder: t('filter.district'), size: 8, oninput: (e) => { f.district = e.target.value.trim(); } }),
      h('button', { class: 'primary', onclick: () => void load() }, t('stats.apply'))),
    chartEl, out));
  const chart = echarts.init(chartEl, 'dark');
  const pct = (r) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
  const table = (rows, first) => h('table', {},
    h('thead', {}, h('tr', {}, [first, 'stats.alerts', 'stats.ackRate', 'stats.resolveRate'].map((k) => h('th', {}, t(k))))),
    h('tbody', {}, rows.map((r) => h('tr', {}, h('td', {}, r.label), h('td', {}, r.alerts),
      h('td', {}, pct(r.ack.rate), h('span', { class: 'muted' }, ` (${t('stats.late')} ${r.ack.late}, ${t('stats.pending')} ${r.ack.pending})`)),
      h('td', {}, pct(r.resolve.rate), h('span', { class: 'muted' }, ` (${t('stats.late')} ${r.resolve.late}, ${t('stats.pending')} ${r.resolve.pending})`))))));

  async function load() {
    const from = Date.parse(`${f.from}T00:00:00+08:00`);
    const to = Date.parse(`${f.to}T00:00:00+08:00`) + DAY;
    const params = new URLSearchParams({ from: String(from), to: String(to), ...(f.family ? { family: f.family } : {}), ...(f.district ? { district: f.district } : {}) });
    try {
      const s = await get(`/api/stats/on-time?${params}`);
      clear(out,
        h('h3', {}, t('stats.byFamily')), table(s.byFamily.map((r) => ({ ...r, label: tv('family', r.family) })), 'col.family'),
        h('h3', {}, t('stats.byDistrict')), table(s.byDistrict.map((r) => ({ ...r, label: r.district ?? t('stats.noDistrict') })), 'col.district'));
      chart.setOption({
        backgroundColor: 'transparent', animation: false, tooltip: { trigger: 'axis', confine: true, formatter: axisTooltip((v, p) => (p.seriesIndex > 0 ? `${v}%` : v)) },
        legend: { top: 0, data: [t('stats.alerts'), t('stats.ackRate'), t('stats.resolveRate')], textStyle: { color: '#c9d6e3' } },
        grid: { left: 50, right: 50, top: 50, bottom: 30 },
        xAxis: { type: 'category', data: s.byDay.map((d) => d.day) },
        yAxis: [{ type: 'value', name: t('stats.alerts') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
        series: [
          { name: t('stats.alerts'), type: 'bar', data: s.byDay.map((d) => d.alerts), itemStyle: { color: '#3d8bfd' } },
          { name: t('stats.ackRate'), type: 'line', yAxisIndex: 1, data: s.byDay.map((d) => (d.ack.rate === null ? null : +(d.ack.rate * 100).toFixed(1))) },
          { name: t('stats.resolveRate'), type: 'line', yAxisIndex: 1, data: s.byDay.map((d) => (d.resolve.rate === null ? null : +(d.resolve.rate * 100).toFixed(1))) },
        ],
      }, { notMerge: true });
    } catch (err) { toast(err.message); }
  }
  void load();
  return () => chart.dispose();
}
