// Statistics: the four on-time rates (四率: acknowledged and resolved on time, rescue dispatched
// within 5 minutes, arrived within the deadline) of a period, in total, per family, district
// and day, with what is not counted shown apart (GET /api/stats/on-time; docs/rules.md, On-time
// rates). Every figure is a button listing the alerts or cases behind it (statsDrill.js). 导出 saves
// the tables of the period shown as one file (`format=` on GET /api/stats/on-time).
/* global echarts */
import { get } from './api.js';
import { districtName } from './districts.js';
import { axisTooltip, clear, h, select, toast } from './dom.js';
import { t, tv } from './i18n.js';
import { drillPanel, figureName } from './statsDrill.js';
import { printButton } from './print.js';
import { exportButtons } from './tableDownload.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const DAY = 86_400_000;
const cstDate = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
const RATES = [
  { m: 'ack', of: (r) => r.ack },
  { m: 'resolve', of: (r) => r.resolve },
  { m: 'dispatch', of: (r) => r.rescue.dispatch },
  { m: 'arrival', of: (r) => r.rescue.arrival },
];
const pct = (r) => (r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`);

export function statsView(root) {
  const f = { from: cstDate(Date.now() - 6 * DAY), to: cstDate(Date.now()), family: '', district: '' };
  const top = h('div');
  const out = h('div');
  const chartEl = h('div', { class: 'chart', id: 'stats-chart' });
  const drill = drillPanel();
  clear(root, h('div', { class: 'grid' }, h('div', { class: 'panel' },
    h('h2', {}, t('stats.title')),
    h('div', { class: 'filters' },
      h('label', { for: 'stats-from' }, t('stats.from')), h('input', { id: 'stats-from', type: 'date', value: f.from, onchange: (e) => { f.from = e.target.value; } }),
      h('label', { for: 'stats-to' }, t('stats.to')), h('input', { id: 'stats-to', type: 'date', value: f.to, onchange: (e) => { f.to = e.target.value; } }),
      select(families.map((x) => [x, tv('family', x)]), '', (v) => { f.family = v; }, `${t('filter.family')}: ${t('filter.all')}`),
      h('input', { placeholder: t('filter.district'), 'aria-label': t('filter.district'), size: 8, oninput: (e) => { f.district = e.target.value.trim(); } }),
      h('button', { class: 'primary', onclick: () => void load() }, t('stats.apply')),
      // the period shown (the last one queried), so the file holds the figures on screen
      exportButtons('stats-export', () => `/api/stats/on-time?${new URLSearchParams(period ? Object.fromEntries(Object.entries(period).map(([k, v]) => [k, String(v)])) : {})}`),
      printButton({ id: 'stats-print' })),
    h('p', { class: 'muted small' }, t('stats.formula')),
    top, chartEl, out), drill.el));
  const chart = echarts.init(chartEl, 'dark');
  let s = null;
  let period = null;

  /** A figure: a button listing what it counts. */
  const fig = (value, where, q, cls = 'fig') => h('button', {
    type: 'button', class: cls, dataset: { where: where.key, measure: q.measure, outcome: q.outcome ?? '' },
    'aria-label': `${where.label} · ${figureName(q)}: ${value}`,
    onclick: () => void drill.show(period, where, q, String(value), where.district === undefined && period.district ? s.byDistrict.map((r) => r.district ?? '') : null),
  }, String(value));

  const counts = (c, where, m) => h('div', { class: 'counts' },
    ['onTime', 'late', 'pending', 'none', 'system'].filter((o) => o === 'onTime' || o === 'late' || o === 'pending' || c[o] > 0)
      .map((o, i) => [i ? ' · ' : '', `${tv('outcome', o)} `, fig(c[o], where, { measure: m, outcome: o })]));

  const rateCell = (r, where, m) => {
    const c = RATES.find((x) => x.m === m).of(r);
    return [fig(pct(c.rate), where, { measure: m }, 'fig rate'), counts(c, where, m)];
  };

  /** Not in any rate: closed by the system, false positives, false alarms. */
  const apart = (r, where) => h('div', { class: 'apart' },
    `${t('stats.systemClosed')} `, fig(r.systemClosed, where, { measure: 'systemClosed' }),
    ` · ${t('stats.falsePositives')} `, fig(r.falsePositives, where, { measure: 'falsePositives' }),
    ` · ${t('stats.falseAlarms')} `, fig(r.rescue.falseAlarms, where, { measure: 'falseAlarms' }));

  const tiles = (r) => {
    const where = { key: 'total', label: t('stats.total') };
    return h('div', { class: 'tiles', id: 'stats-tiles' },
      RATES.map(({ m }) => h('div', { class: 'tile', dataset: { rate: m } }, h('div', { class: 'l' }, t(`measure.${m}`)), h('div', { class: 'rate' }, rateCell(r, where, m)))),
      h('div', { class: 'tile', dataset: { rate: 'apart' } },
        h('div', { class: 'l' }, t('stats.alerts'), ' ', fig(r.alerts, where, { measure: 'alerts' }), ` · ${t('stats.cases')} `, fig(r.rescue.cases, where, { measure: 'cases' })),
        h('div', { class: 'l' }, t('stats.notCounted')), apart(r, where)));
  };

  const table = (rows, first) => h('table', { class: 'rates' },
    h('thead', {}, h('tr', {}, [first, 'stats.alerts', 'measure.ack', 'measure.resolve', 'stats.cases', 'measure.dispatch', 'measure.arrival', 'stats.notCounted'].map((k) => h('th', {}, t(k))))),
    h('tbody', {}, rows.map(({ r, where }) => h('tr', { dataset: { row: where.key } }, h('td', {}, where.label),
      h('td', {}, fig(r.alerts, where, { measure: 'alerts' })),
      h('td', {}, rateCell(r, where, 'ack')), h('td', {}, rateCell(r, where, 'resolve')),
      h('td', {}, fig(r.rescue.cases, where, { measure: 'cases' })),
      h('td', {}, rateCell(r, where, 'dispatch')), h('td', {}, rateCell(r, where, 'arrival')),
      h('td', {}, apart(r, where))))));

  async function load() {
    const from = Date.parse(`${f.from}T00:00:00+08:00`);
    const to = Date.parse(`${f.to}T00:00:00+08:00`) + DAY;
    const params = new URLSearchParams({ from: String(from), to: String(to), ...(f.family ? { family: f.family } : {}), ...(f.district ? { district: f.district } : {}) });
    try {
      s = await get(`/api/stats/on-time?${params}`);
      period = { from, to, ...(f.family ? { family: f.family } : {}), ...(f.district ? { district: f.district } : {}) };
      drill.el.hidden = true;
      const days = s.byDay.filter((d) => d.alerts || d.rescue.cases);
      clear(top, tiles(s.total));
      clear(out,
        h('h3', {}, t('stats.byFamily')), table(s.byFamily.map((r) => ({ r, where: { key: `family:${r.family}`, label: tv('family', r.family), family: r.family } })), 'col.family'),
        h('h3', {}, t('stats.byDistrict')), table(s.byDistrict.map((r) => ({ r, where: { key: `district:${r.district ?? ''}`, label: districtName(r.district) || t('stats.noDistrict'), district: r.district ?? '' } })), 'col.district'),
        h('h3', {}, t('stats.byDay')), days.length ? table(days.map((r) => ({ r, where: { key: `day:${r.day}`, label: r.day, day: r.day } })), 'stats.day') : h('p', { class: 'muted' }, t('drill.none')));
      const rate = (c) => (c.rate === null ? null : +(c.rate * 100).toFixed(1));
      chart.setOption({
        backgroundColor: 'transparent', animation: false, tooltip: { trigger: 'axis', confine: true, formatter: axisTooltip((v, p) => (p.seriesIndex > 1 ? `${v}%` : v)) },
        legend: { top: 0, data: [t('stats.alerts'), t('stats.cases'), ...RATES.map(({ m }) => t(`measure.${m}`))], textStyle: { color: '#c9d6e3' } },
        grid: { left: 50, right: 50, top: 50, bottom: 30 },
        xAxis: { type: 'category', data: s.byDay.map((d) => d.day) },
        yAxis: [{ type: 'value', name: t('stats.alerts') }, { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } }],
        series: [
          { name: t('stats.alerts'), type: 'bar', data: s.byDay.map((d) => d.alerts), itemStyle: { color: '#3d8bfd' } },
          { name: t('stats.cases'), type: 'bar', data: s.byDay.map((d) => d.rescue.cases), itemStyle: { color: '#e5484d' } },
          ...RATES.map(({ m, of }) => ({ name: t(`measure.${m}`), type: 'line', yAxisIndex: 1, connectNulls: true, data: s.byDay.map((d) => rate(of(d))) })),
        ],
      }, { notMerge: true });
    } catch (err) { toast(err.message); }
  }

  // a click on a day's bar or point lists that day's items of that series
  chart.on('click', (p) => {
    const d = s?.byDay[p.dataIndex];
    if (!d) return;
    const measure = ['alerts', 'cases', ...RATES.map((x) => x.m)][p.seriesIndex];
    void drill.show(period, { key: `day:${d.day}`, label: d.day, day: d.day }, { measure }, String(p.value ?? '-'), period.district ? s.byDistrict.map((r) => r.district ?? '') : null);
  });
  void load();
  return () => chart.dispose();
}
