// One device beside the device list: its registration and connection (connected now, last
// seen, last connected and disconnected), its open alerts (GET /api/alerts?deviceId=, each
// opening the alert's drawer), an elevator's running 96333 case (GET /api/rescue-cases?
// scope=active&elevatorId=), the last 10 readings, and a history chart of one numeric field
// (min / avg / max per bucket, GET /api/devices/:id/history) over a preset period or any
// from/to in China time.
/* global echarts */
import { get } from './api.js';
import { openAlert } from './alertDetail.js';
import { openCase } from './caseReport.js';
import { districtName } from './districts.js';
import { axisTooltip, clear, h, select, toast } from './dom.js';
import { fieldsLine } from './fieldText.js';
import { conditionLabel, cstInput, fmtTime, parseCstInput, ruleName, t, tv } from './i18n.js';

const periods = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
/** points per chart: enough for a 1,000-pixel-wide line, few enough to draw at once */
const BUCKETS = 400;

export function deviceDetail() {
  const el = h('div', { class: 'panel', id: 'device-detail' }, h('p', { class: 'muted' }, t('devices.pick')));
  let chart = null;
  let fields = null;
  let seq = 0;

  async function show(id) {
    const mine = ++seq;
    try {
      fields ??= await get('/api/history-fields');
      const path = `/api/devices/${encodeURIComponent(id)}`;
      const d = await get(path);
      const [r, alerts, cases] = await Promise.all([
        get(`${path}/readings?limit=10`),
        get(`/api/alerts?${new URLSearchParams({ deviceId: d.id, status: 'open,acknowledged', sort: 'priority', limit: '100' })}`),
        d.family === 'elevator' ? get(`/api/rescue-cases?${new URLSearchParams({ scope: 'active', elevatorId: d.id })}`) : null,
      ]);
      if (mine !== seq) return;
      render(d, r.items, alerts.items, cases?.items ?? null);
    } catch (err) {
      if (mine === seq && err?.status !== 401) toast(err.message);
    }
  }

  function render(d, readings, alerts, cases) {
    const c = d.connection;
    const when = (iso) => (iso ? fmtTime(Date.parse(iso)) : '-');
    const chartEl = h('div', { class: 'chart', id: 'history-chart' });
    const controls = h('div', { class: 'filters', id: 'history-controls' });
    const rangeError = h('span', { class: 'error', id: 'history-range-error', role: 'alert' });
    clear(el,
      h('h2', {}, `${d.name ?? ''} ${d.id}`),
      h('div', { class: 'kv' },
        h('div', {}, t('col.family')), h('div', {}, tv('family', d.family)),
        h('div', {}, t('col.district')), h('div', { title: d.district ?? '' }, districtName(d.district) || '-'),
        h('div', {}, t('devices.location')), h('div', {}, d.location ? `${d.location.lat}, ${d.location.lng}` : '-'),
        h('div', {}, t('col.status')), h('div', { id: 'device-connected' }, c.connected ? t('devices.connected') : t('devices.disconnected')),
        h('div', {}, t('devices.lastSeen')), h('div', { id: 'device-last-seen' }, c.lastSeen ? when(c.lastSeen) : t('devices.never')),
        h('div', {}, t('devices.lastConnected')), h('div', {}, when(c.lastConnectedAt)),
        h('div', {}, t('devices.lastDisconnected')), h('div', {}, when(c.lastDisconnectedAt))),
      h('h3', {}, t('devices.openAlerts')),
      alerts.length
        ? h('ul', { id: 'device-alerts' }, alerts.map((a) => h('li', {}, h('button', { type: 'button', class: 'link', dataset: { alertId: a.id }, onclick: () => openAlert(a.id) },
          h('span', { class: `sev sev-${a.severity}` }, tv('severity', a.severity)),
          ` ${[ruleName(a.rule), conditionLabel(a), tv('status', a.status), fmtTime(a.lastSeen)].filter(Boolean).join(' · ')}`))))
        : h('p', { class: 'muted', id: 'device-alerts' }, t('devices.noOpenAlerts')),
      cases === null ? null : [
        h('h3', {}, t('devices.openCase')),
        cases.length
          ? h('ul', { id: 'device-case' }, cases.map((x) => h('li', {}, h('button', { type: 'button', class: 'link', dataset: { caseId: x.id }, onclick: () => void openCase(x.id) },
            `${x.id} · ${tv('step', x.status)} · ${fmtTime(x.alarmAt)}`))))
          : h('p', { class: 'muted', id: 'device-case' }, t('devices.noOpenCase')),
      ],
      h('h3', {}, t('devices.readings')),
      readings.length
        ? h('table', {}, h('tbody', {}, [...readings].reverse().map((x) => h('tr', {}, h('td', {}, fmtTime(Date.parse(x.ts))), h('td', {}, x.channel),
          h('td', { class: 'muted' }, fieldsLine(x.data))))))
        : h('p', { class: 'muted' }, t('devices.noData')),
      h('h3', {}, t('devices.history')), controls, rangeError, chartEl);
    chart?.dispose();
    chart = echarts.init(chartEl, 'dark');
    historyChart(d, controls, rangeError, chart);
  }

  /** The chart's controls (channel, field, a preset period or from/to) and what they draw. */
  function historyChart(d, controls, rangeError, ch) {
    const byChannel = fields[d.family] ?? {};
    const channels = Object.keys(byChannel);
    const to = Date.now();
    const pick = { channel: channels[0] ?? '', field: byChannel[channels[0]]?.[0] ?? '', from: to - periods['24h'], to };
    const fromIn = h('input', { type: 'datetime-local', id: 'history-from', step: 1, value: cstInput(pick.from), 'aria-label': t('devices.from') });
    const toIn = h('input', { type: 'datetime-local', id: 'history-to', step: 1, value: cstInput(pick.to), 'aria-label': t('devices.to') });
    /** a preset: the last `ms` up to now, shown in the inputs so it can be adjusted */
    const preset = (p) => {
      const now = Date.now();
      fromIn.value = cstInput(now - periods[p]);
      toIn.value = cstInput(now);
      apply();
    };
    const apply = () => {
      const from = parseCstInput(fromIn.value);
      const until = parseCstInput(toIn.value);
      if (!Number.isFinite(from) || !Number.isFinite(until) || from >= until) { rangeError.textContent = t('devices.badRange'); return; }
      rangeError.textContent = '';
      Object.assign(pick, { from, to: until });
      void load();
    };
    const draw = () => clear(controls,
      select(channels.map((c) => [c, c]), pick.channel, (v) => { pick.channel = v; pick.field = byChannel[v][0]; draw(); void load(); }),
      select((byChannel[pick.channel] ?? []).map((f) => [f, f]), pick.field, (v) => { pick.field = v; void load(); }),
      select(Object.keys(periods).map((p) => [p, t(`period.${p}`)]), '', (v) => { if (v) preset(v); }, t('devices.period')),
      h('label', { for: 'history-from' }, t('devices.from')), fromIn,
      h('label', { for: 'history-to' }, t('devices.to')), toIn,
      h('button', { id: 'history-apply', onclick: apply }, t('devices.apply')));
    let mine = 0;
    async function load() {
      if (!pick.channel || !pick.field) return;
      const n = ++mine;
      const { from, to: end } = pick;
      try {
        const q = new URLSearchParams({ channel: pick.channel, field: pick.field, from: String(from), to: String(end), buckets: String(BUCKETS) });
        const res = await get(`/api/devices/${encodeURIComponent(d.id)}/history?${q}`);
        if (n !== mine || chart !== ch) return;
        const pts = res.points;
        ch.setOption({
          backgroundColor: 'transparent', animation: false,
          tooltip: { trigger: 'axis', confine: true, formatter: axisTooltip((v) => (typeof v === 'number' ? +v.toFixed(3) : v)) },
          legend: { top: 0, data: [t('chart.avg'), t('chart.min'), t('chart.max')], textStyle: { color: '#c9d6e3' } },
          grid: { left: 50, right: 16, top: 30, bottom: 40 },
          xAxis: { type: 'time', min: from, max: end },
          yAxis: { type: 'value', scale: true, name: pick.field },
          series: [
            { name: t('chart.min'), type: 'line', showSymbol: false, lineStyle: { opacity: 0.4 }, data: pts.map((p) => [p.t, p.min]) },
            { name: t('chart.max'), type: 'line', showSymbol: false, lineStyle: { opacity: 0.4 }, data: pts.map((p) => [p.t, p.max]) },
            { name: t('chart.avg'), type: 'line', showSymbol: false, data: pts.map((p) => [p.t, p.avg]) },
          ],
          title: pts.length ? undefined : { text: t('devices.noData'), left: 'center', top: 'middle', textStyle: { color: '#8b9bb0' } },
        }, { notMerge: true });
        // what it drew, for a reader of the page (tests): the points and the period
        ch.getDom().dataset.points = String(pts.length);
        ch.getDom().dataset.range = `${from}-${end}`;
      } catch (err) {
        if (err?.status !== 401) toast(err.message);
      }
    }
    draw();
    void load();
  }

  return { el, show, dispose: () => chart?.dispose() };
}
