// The operators' wall: counts, live alert list, map of devices and open alerts, domain panels.
/* global echarts */
import { alertList } from './alertList.js';
import { clear, h, tooltipEl } from './dom.js';
import { conditionLabel, ruleName, t, tv } from './i18n.js';
import { loadDevices, state, subscribe } from './state.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const sevColor = { critical: '#e5484d', major: '#f76b15', minor: '#e2b203', info: '#3d8bfd' };

export function wallView(root) {
  const kpis = h('div', { class: 'kpis', id: 'kpis' });
  const list = alertList();
  const mapEl = h('div', { class: 'chart', id: 'map' });
  const domains = h('div', { class: 'domains' });
  clear(root,
    kpis,
    h('div', { class: 'grid wall' },
      h('div', { class: 'panel' }, h('h2', {}, t('wall.alerts')), list.el),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.map')), mapEl)),
    domains);
  const chart = echarts.init(mapEl, 'dark', { renderer: 'canvas' });
  const onResize = () => chart.resize();
  window.addEventListener('resize', onResize);

  function renderKpis() {
    const s = state.stats;
    clear(kpis,
      families.map((f) => h('div', { class: 'panel kpi', dataset: { family: f } }, h('div', { class: 'l' }, `${t('wall.today')} · ${tv('family', f)}`), h('div', { class: 'n' }, s ? s.today[f] : '-'))),
      h('div', { class: 'panel kpi' }, h('div', { class: 'l' }, t('wall.open')), h('div', { class: 'n', id: 'kpi-open' }, s ? s.open : '-')),
      h('div', { class: 'panel kpi' }, h('div', { class: 'l' }, t('wall.devices')), h('div', { class: 'n' }, s ? `${s.connectedDevices}/${s.devices}` : '-')));
  }

  function renderDomains() {
    const s = state.stats;
    const rows = (obj, label) => {
      const entries = Object.entries(obj ?? {}).sort((a, b) => b[1] - a[1]);
      return entries.length ? h('div', { class: 'bars' }, entries.map(([k, n]) => h('div', {}, h('span', {}, label(k)), h('b', {}, n)))) : h('p', { class: 'muted' }, t('wall.none'));
    };
    const trapped = [...state.cases.values()];
    clear(domains,
      h('div', { class: 'panel' }, h('h2', {}, t('wall.kitchenByType')), rows(s?.kitchenViolationsByType, (k) => tv('violation', k))),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.trappedNow')), h('div', { class: trapped.length ? 'big alarm' : 'big' }, s ? s.trappedNow : trapped.length),
        trapped.map((c) => h('div', { class: 'muted' }, `${c.elevatorId} · ${tv('step', c.status)}`))),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.cylinderRefusals')), h('div', { class: 'big' }, s ? s.cylinderRefusalsToday : '-')),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.dispenserAnomalies')), rows(s?.dispenserAnomalies, (k) => ruleName(k))));
  }

  function renderMap() {
    const devices = state.devices.filter((d) => d.location);
    const open = [...state.alerts.values()].filter((a) => (a.status === 'open' || a.status === 'acknowledged') && a.device?.location);
    chart.setOption({
      backgroundColor: 'transparent',
      animation: false,
      // device and alert text (names, cylinder codes, dispenser ids) as text nodes, never HTML;
      // confined, so ECharts adds no arrow (an HTML string with a style attribute the CSP blocks)
      tooltip: { trigger: 'item', confine: true, formatter: (p) => tooltipEl(p.data.tip, p.color) },
      legend: { data: [t('wall.mapDevices'), ...Object.keys(sevColor).map((s) => tv('severity', s))], textStyle: { color: '#c9d6e3' }, top: 0 },
      // a plain lng/lat grid as the base map: nothing comes from the internet
      grid: { left: 50, right: 16, top: 30, bottom: 30 },
      xAxis: { type: 'value', scale: true, name: 'lng', splitLine: { lineStyle: { color: '#24313f' } }, axisLabel: { color: '#8b9bb0' } },
      yAxis: { type: 'value', scale: true, name: 'lat', splitLine: { lineStyle: { color: '#24313f' } }, axisLabel: { color: '#8b9bb0' } },
      series: [
        { name: t('wall.mapDevices'), type: 'scatter', symbolSize: 5, itemStyle: { color: '#5b6b7f' },
          data: devices.map((d) => ({ value: [d.location.lng, d.location.lat], tip: [`${d.name ?? ''} ${d.id}`, `${tv('family', d.family)} · ${d.connection.connected ? t('devices.connected') : t('devices.disconnected')}`],
            itemStyle: { color: d.connection.connected ? '#4f8f6f' : '#5b6b7f' } })) },
        ...Object.entries(sevColor).map(([sev, color]) => ({
          name: tv('severity', sev), type: sev === 'critical' ? 'effectScatter' : 'scatter', symbolSize: sev === 'critical' ? 14 : 10, itemStyle: { color },
          data: open.filter((a) => a.severity === sev).map((a) => ({ value: [a.device.location.lng, a.device.location.lat], tip: [`${ruleName(a.rule)} ${conditionLabel(a)}`, a.device.name ?? a.device.id] })),
        })),
      ],
    }, { notMerge: true });
  }

  let pending = false;
  const schedule = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; list.render(); renderMap(); renderDomains(); });
  };
  const unsubscribe = subscribe((ev) => {
    if (ev.kind === 'stats') { renderKpis(); renderDomains(); } else schedule();
  });
  renderKpis();
  renderDomains();
  renderMap();
  void loadDevices().catch(() => {});
  return () => { unsubscribe(); window.removeEventListener('resize', onResize); chart.dispose(); };
}
