// A cylinder's trace (GET /api/cylinders/:code/trace; docs/rules/cylinder.md, The trace of a
// cylinder): the record as it is now, the stations in the order they first scanned it, and
// every scan oldest first with its time, station, point, operator, device, decision, reasons
// (translated by code; `lost` is its own) and the alerts the scan check raised for it, by name.
// `truncated` is said; a code neither registered nor scanned (404
// cylinder_not_found) is "not found" in words, not retried. All of it is text (dom.js).
import { get } from './api.js';
import { clear, h } from './dom.js';
import { fill, fmtTime, getLang, ruleName, t, tv } from './i18n.js';
import { loadLine } from './loadLine.js';

/** A registry date (epoch ms of the UTC midnight of the China local date) as YYYY-MM-DD. */
export const regDate = (ms) => (ms === null || ms === undefined ? '-' : new Date(ms).toISOString().slice(0, 10));

/** The panel: `el` to place, `show(code)`, `dispose()`. */
export function cylinderTrace() {
  let code = '';
  const input = h('input', { id: 'cyl-code', name: 'code', autocomplete: 'off', spellcheck: 'false', maxlength: 64, required: true });
  const out = h('div', { id: 'cyl-trace' }, h('p', { class: 'muted' }, t('cyl.pick')));
  const line = loadLine('cyl-trace-load', async () => {
    const asked = code;
    try {
      return await get(`/api/cylinders/${encodeURIComponent(asked)}/trace`);
    } catch (err) {
      // an answer, not a failure: a retry would get the same 404
      if (err?.status === 404 && err.code === 'cylinder_not_found') return { notFound: true, code: asked };
      throw err;
    }
  }, paint);

  const el = h('div', { class: 'panel', id: 'cyl-trace-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, t('cyl.traceSearch')), line.el),
    h('form', {
      class: 'filters', id: 'cyl-search',
      onsubmit: (e) => {
        e.preventDefault();
        const c = input.value.trim();
        if (!c) return;
        history.replaceState(null, '', `#/cylinders/${encodeURIComponent(c)}`);
        show(c);
      },
    }, h('label', { for: 'cyl-code' }, t('cyl.code')), input, h('button', { type: 'submit', class: 'primary', id: 'cyl-search-go' }, t('cyl.traceGo'))),
    out);

  function show(c) {
    code = c;
    input.value = c;
    clear(out);
    line.reload();
  }

  function paint(tr) {
    if (tr.notFound) {
      clear(out, h('div', { class: 'notice warn', id: 'cyl-not-found', role: 'alert', dataset: { code: tr.code } }, fill(t('cyl.notFound'), { code: tr.code })));
      return;
    }
    const r = tr.record;
    const sep = getLang() === 'zh' ? '、' : ', ';
    clear(out,
      h('h3', { id: 'cyl-trace-code' }, tr.code),
      h('h3', {}, t('cyl.record')),
      r ? h('div', { class: 'kv', id: 'cyl-record' },
        h('div', {}, t('cyl.model')), h('div', {}, r.model),
        h('div', {}, t('col.status')), h('div', { dataset: { status: r.status } }, tv('cylStatus', r.status)),
        h('div', {}, t('cyl.mfgDate')), h('div', {}, regDate(r.mfgDate)),
        h('div', {}, t('cyl.designLife')), h('div', {}, fill(t('cyl.years'), { n: r.designLifeYears })),
        h('div', {}, t('cyl.lastInspection')), h('div', {}, regDate(r.lastInspection)),
        h('div', {}, t('cyl.nextInspection')), h('div', {}, regDate(r.nextInspection)),
        h('div', {}, t('cyl.owner')), h('div', {}, r.ownerStationId),
        h('div', {}, t('cyl.entrusted')), h('div', {}, r.entrustedStationIds.join(', ') || '-'),
        h('div', {}, t('cyl.maxFill')), h('div', {}, `${r.maxFillKg} kg`))
        : h('p', { class: 'notice warn', id: 'cyl-record' }, t('cyl.noRecord')),
      h('h3', {}, t('cyl.stations')),
      tr.stations.length ? h('ol', { class: 'steps', id: 'cyl-stations' }, tr.stations.map((s) => h('li', {}, s))) : h('p', { class: 'muted' }, '-'),
      h('h3', {}, fill(t('cyl.scans'), { n: tr.scans.length })),
      tr.truncated ? h('div', { class: 'notice warn', id: 'cyl-truncated', role: 'status' }, fill(t('cyl.truncated'), { n: tr.scans.length })) : null,
      tr.scans.length ? h('div', { class: 'scroll' }, h('table', { id: 'cyl-scans' },
        h('thead', {}, h('tr', {}, ['cyl.at', 'cyl.station', 'cyl.point', 'cyl.operator', 'cyl.device', 'cyl.netKg', 'cyl.decision', 'cyl.reasons', 'cyl.alerts'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, tr.scans.map((s) => h('tr', { dataset: { seq: s.seq, decision: s.decision } },
          h('td', { class: 'nowrap', title: `${t('cyl.receivedAt')} ${fmtTime(Date.parse(s.receivedAt))}` }, fmtTime(Date.parse(s.at))),
          h('td', { dataset: { col: 'station' } }, s.stationId),
          h('td', { dataset: { col: 'point' } }, tv('point', s.point)),
          h('td', { dataset: { col: 'operator' } }, s.operatorId),
          h('td', { dataset: { col: 'device' } }, s.deviceId),
          h('td', { class: 'num' }, s.netKg ?? '-'),
          h('td', {}, h('span', { class: `tag ${s.decision === 'allow' ? 'on' : 'off'}` }, tv('decision', s.decision))),
          h('td', { dataset: { col: 'reasons' } }, s.reasons.map((x) => tv('reason', x)).join(sep) || '-'),
          // the kinds of alert the scan check raised (cylinder.refused, .flagged, .inspection_due), by name
          h('td', { dataset: { col: 'alerts' } }, s.alerts.map((a) => ruleName(a)).join(sep) || '-')))))) : h('p', { class: 'muted', id: 'cyl-no-scans' }, t('cyl.noScans')));
  }

  return { el, show, dispose: () => line.dispose() };
}
