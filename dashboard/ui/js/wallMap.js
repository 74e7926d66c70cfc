// The wall's map: the configured city's districts (GET /api/map names the city, MAP_CITY, and its
// GeoJSON, served with the UI: nothing from the internet) drawn with ECharts' geo component and
// named in the UI's language, every device with a location and every open alert on it, the
// critical and overdue ones rippling so they stand out. A click on a district filters the wall's
// alert list to it (`onDistrict(code)`), a second click clears it; a click on an alert opens it.
// The view starts fitted to the devices and can be zoomed and moved (wheel, drag); "reset" fits
// it again. Redrawn at most every DRAW_EVERY_MS, keeping the view the operator chose.
/* global echarts */
import { get } from './api.js';
import { openAlert } from './alertDetail.js';
import { byPriority, isPinned } from './alertOrder.js';
import { districtName } from './districts.js';
import { h, tooltipEl } from './dom.js';
import { conditionLabel, fill, ruleName, t, tv } from './i18n.js';
import { retrying } from './retry.js';
import { state } from './state.js';

export const DRAW_EVERY_MS = 2000;
const sevColor = { critical: '#e5484d', major: '#f76b15', minor: '#e2b203', info: '#3d8bfd' };
/** the smallest span (degrees, about 30 km) the view is fitted to: a few close devices still show their district's neighbours */
const MIN_SPAN = 0.3;
const MAX_ZOOM = 12;

const isOpen = (a) => a.status === 'open' || a.status === 'acknowledged';

export function wallMap({ onDistrict }) {
  const chartEl = h('div', { class: 'chart', id: 'map', title: t('wall.mapHint') });
  const reset = h('button', { class: 'small', id: 'map-reset', onclick: () => { roamed = false; draw(); } }, t('wall.mapReset'));
  const el = h('section', { class: 'panel map-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, t('wall.map')), h('span', { class: 'muted small', id: 'map-kind' }, t('wall.mapSchematic')), reset),
    chartEl);
  const chart = echarts.init(chartEl, 'dark', { renderer: 'canvas' });
  const resized = new ResizeObserver(() => chart.resize());
  resized.observe(chartEl);

  /** the city's map once loaded: its ECharts name, region name <-> code, extent */
  let city = null;
  /** the district the list is filtered to ('' none), highlighted on the map */
  let selected = '';
  /** the operator zoomed or moved the view: it is kept, not fitted again */
  let roamed = false;
  let drawnAt = -Infinity;
  let dirty = true;

  const loader = retrying(async () => {
    const info = await get('/api/map');
    const res = await fetch(info.geojson);
    if (!res.ok) throw Object.assign(new Error(`${info.geojson}: ${res.status}`), { status: res.status });
    return { info, geojson: await res.json() };
  }, {
    onState: (s) => { el.dataset.state = s.phase; },
    onData: ({ info, geojson }) => {
      const mapName = `districts-${info.city}`;
      echarts.registerMap(mapName, geojson);
      const codeOf = new Map();
      const nameOf = new Map();
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const f of geojson.features) {
        const code = String(f.properties.adcode ?? f.id);
        codeOf.set(f.properties.name, code);
        nameOf.set(code, f.properties.name);
        for (const [x, y] of positions(f.geometry.coordinates)) {
          x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
        }
      }
      city = { code: info.city, mapName, codeOf, nameOf, extent: [x0, y0, x1, y1] };
      el.dataset.city = info.city;
      draw();
    },
  });

  chart.on('click', (p) => {
    if (p.componentType === 'geo' && city) {
      const code = city.codeOf.get(p.name);
      if (code) onDistrict(selected === code ? '' : code);
    } else if (p.data?.alertId) {
      openAlert(p.data.alertId);
    }
  });
  chart.on('georoam', () => { roamed = true; });

  /** Centre and zoom showing every device (the whole city without any). */
  function fit(points) {
    if (!points.length) return { center: null, zoom: 1 };
    // a loop, not Math.min(...xs): a city's devices are too many for a call's arguments
    let [lx, ly, hx, hy] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const [x, y] of points) {
      lx = Math.min(lx, x); hx = Math.max(hx, x); ly = Math.min(ly, y); hy = Math.max(hy, y);
    }
    const [x0, y0, x1, y1] = city.extent;
    const span = (lo, hi) => Math.max(MIN_SPAN, (hi - lo) * 1.4);
    const zoom = Math.min(MAX_ZOOM, Math.max(1, Math.min((x1 - x0) / span(lx, hx), (y1 - y0) / span(ly, hy))));
    return zoom === 1 ? { center: null, zoom } : { center: [(lx + hx) / 2, (ly + hy) / 2], zoom };
  }

  function draw() {
    dirty = false;
    drawnAt = Date.now();
    if (!city) return;
    const devices = state.devices.filter((d) => d.location);
    const open = byPriority([...state.alerts.values()].filter((a) => isOpen(a) && a.device?.location));
    const now = Date.now();
    const pinned = open.filter((a) => isPinned(a, now));
    const others = open.filter((a) => !isPinned(a, now));
    // per district: devices and open alerts, for the district's tooltip
    const counts = new Map();
    const count = (code, k) => {
      const c = counts.get(code) ?? { devices: 0, alerts: 0 };
      c[k] += 1;
      counts.set(code, c);
    };
    for (const d of state.devices) if (d.district) count(String(d.district).slice(0, 6), 'devices');
    for (const a of state.alerts.values()) if (isOpen(a) && a.device?.district) count(String(a.device.district).slice(0, 6), 'alerts');
    const view = roamed ? {} : fit(devices.map((d) => [d.location.lng, d.location.lat]));
    // a point's own tooltip, on each series: ECharts would otherwise take geo's (the district's)
    // for points on it, as the coordinate system comes before the global tooltip in its cascade
    const pointTip = { confine: true, formatter: (p) => tooltipEl(p.data.tip, p.color) };
    const alertPoint = (a, extra = {}) => ({
      value: [a.device.location.lng, a.device.location.lat], alertId: a.id,
      tip: [`${ruleName(a.rule)} ${conditionLabel(a)}`, a.device.name ?? a.device.id, `${tv('severity', a.severity)} · ${tv('status', a.status)}`], ...extra,
    });
    chart.setOption({
      backgroundColor: 'transparent',
      animation: false,
      // device, alert and district text as text nodes, never HTML; confined, so ECharts adds no
      // arrow (an HTML string with a style attribute the CSP blocks)
      tooltip: { trigger: 'item', confine: true, formatter: (p) => tooltipEl(p.data.tip, p.color) },
      legend: { data: [t('wall.mapDevices'), t('wall.mapPinned'), ...Object.keys(sevColor).map((s) => tv('severity', s))], textStyle: { color: '#c9d6e3' }, top: 0, type: 'scroll' },
      geo: {
        map: city.mapName, roam: true, scaleLimit: { min: 1, max: MAX_ZOOM }, top: 26, bottom: 4, left: 4, right: 4,
        ...('zoom' in view ? { zoom: view.zoom, center: view.center } : {}),
        selectedMode: false,
        tooltip: { show: true, confine: true, formatter: (p) => tooltipEl(districtTipLines(city.codeOf.get(p.name), counts)) },
        label: { show: true, color: '#8ea4bd', fontSize: 11, formatter: (p) => districtName(city.codeOf.get(p.name)) || p.name },
        itemStyle: { areaColor: '#132031', borderColor: '#3a526e', borderWidth: 1 },
        emphasis: { label: { color: '#fff' }, itemStyle: { areaColor: '#1b2d44' } },
        regions: selected && city.nameOf.has(selected)
          ? [{ name: city.nameOf.get(selected), itemStyle: { areaColor: '#1d3f66', borderColor: '#6fb1ff', borderWidth: 2 }, label: { color: '#fff', fontWeight: 'bold' } }]
          : [],
      },
      series: [
        { name: t('wall.mapDevices'), type: 'scatter', coordinateSystem: 'geo', symbolSize: 5, z: 2, itemStyle: { color: '#5b6b7f' }, tooltip: pointTip,
          data: devices.map((d) => ({
            value: [d.location.lng, d.location.lat],
            tip: [`${d.name ?? ''} ${d.id}`.trim(), `${tv('family', d.family)} · ${districtName(d.district) || '-'} · ${d.connection?.connected ? t('devices.connected') : t('devices.disconnected')}`],
            itemStyle: { color: d.connection?.connected ? '#4f8f6f' : '#5b6b7f' },
          })) },
        ...Object.entries(sevColor).map(([sev, color]) => ({
          name: tv('severity', sev), type: 'scatter', coordinateSystem: 'geo', symbolSize: 9, z: 3, itemStyle: { color }, tooltip: pointTip,
          data: others.filter((a) => a.severity === sev).map((a) => alertPoint(a)),
        })),
        // critical and overdue: larger, rippling, ringed in red, drawn over everything else
        { name: t('wall.mapPinned'), type: 'effectScatter', coordinateSystem: 'geo', symbolSize: 15, z: 4, rippleEffect: { scale: 3, brushType: 'stroke' }, tooltip: pointTip,
          itemStyle: { color: sevColor.critical, borderColor: '#ffd1d1', borderWidth: 1.5 },
          data: pinned.map((a) => alertPoint(a, { itemStyle: { color: sevColor[a.severity] ?? sevColor.critical, borderColor: '#ff2d2d', borderWidth: 2 } })) },
      ],
    }, { replaceMerge: ['series'] });
  }

  return {
    el,
    /** Something the map shows changed; `now`: redraw at once, else at most every DRAW_EVERY_MS. */
    changed(now = false) {
      dirty = true;
      if (now || Date.now() - drawnAt >= DRAW_EVERY_MS) draw();
    },
    /** Called every second: draws what changed once DRAW_EVERY_MS have passed. */
    tick() {
      if (dirty && Date.now() - drawnAt >= DRAW_EVERY_MS) draw();
    },
    /** The district the list is filtered to ('' none): highlighted at once. */
    select(code) {
      selected = code && /^\d{6}/.test(code) ? code.slice(0, 6) : '';
      draw();
    },
    dispose() {
      loader.stop();
      resized.disconnect();
      chart.dispose();
    },
  };
}

/** A district's tooltip lines: its name, the devices and open alerts in it. */
function districtTipLines(code, counts) {
  return [districtName(code), fill(t('wall.mapDistrictTip'), counts.get(code) ?? { devices: 0, alerts: 0 })];
}

/** Every [lng, lat] of a GeoJSON geometry's coordinates, however deeply nested. */
function positions(c) {
  return typeof c[0] === 'number' ? [c] : c.flatMap(positions);
}
