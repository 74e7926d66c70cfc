// What is behind one figure of the on-time rates (GET /api/stats/on-time/items): the alerts
// or rescue cases it counts, each opening the alert's detail or the case's report; 导出 saves them
// all (not only the first 1,000 listed) with their times and outcomes (`format=` on the same route).
import { get } from './api.js';
import { openCase } from './caseReport.js';
import { openAlert } from './alertDetail.js';
import { clear, h } from './dom.js';
import { fill, ruleName, t, tv } from './i18n.js';
import { state } from './state.js';
import { exportButtons } from './tableDownload.js';

/** The name of a figure: "5-minute dispatch rate · late", "system-closed (not counted)". */
export function figureName(q) {
  return q.outcome ? `${t(`measure.${q.measure}`)} · ${tv('outcome', q.outcome)}` : t(`measure.${q.measure}`);
}

export function drillPanel() {
  const el = h('section', { id: 'stats-drill', class: 'drill panel', 'aria-live': 'polite', hidden: true });
  let seq = 0;

  /**
   * List the items of figure `q` ({measure, outcome?}) in `where` ({label, family?, district?, day?})
   * over `period` ({from, to, family?}). `districts`: when the period is filtered by a district
   * prefix and the figure is not one district's, the exact districts it covers (the drill-down
   * names one district exactly), asked one by one and put together.
   */
  async function show(period, where, q, shown, districts = null) {
    const mine = ++seq;
    el.hidden = false;
    clear(el, h('h3', {}, `${where.label} · ${figureName(q)}: ${shown}`), h('p', { class: 'muted' }, '…'));
    const base = {
      from: String(period.from), to: String(period.to), measure: q.measure, ...(q.outcome ? { outcome: q.outcome } : {}),
      ...(where.family ?? period.family ? { family: where.family ?? period.family } : {}), ...(where.day ? { day: where.day } : {}),
    };
    const asks = where.district !== undefined ? [where.district] : districts ?? [undefined];
    // the file in one answer: a figure that is not one district's is asked with the period's prefix
    const whole = { ...base, ...(where.district !== undefined ? { district: where.district } : period.district ? { districtPrefix: period.district } : {}) };
    const file = exportButtons('drill-export', () => `/api/stats/on-time/items?${new URLSearchParams(whole)}`);
    try {
      const answers = await Promise.all(asks.map((d) => get(`/api/stats/on-time/items?${new URLSearchParams({ ...base, ...(d !== undefined ? { district: d } : {}) })}`)));
      if (mine !== seq) return;
      const kind = answers[0]?.kind ?? (['cases', 'falseAlarms', 'dispatch', 'arrival'].includes(q.measure) ? 'rescueCase' : 'alert');
      const ids = answers.flatMap((a) => a.ids);
      const total = answers.reduce((n, a) => n + a.total, 0);
      clear(el,
        h('div', { class: 'drawer-head' }, h('h3', {}, `${where.label} · ${figureName(q)}`),
          h('span', {}, total ? file : null, ' ', h('button', { onclick: () => { el.hidden = true; } }, t('detail.close')))),
        h('p', { class: 'muted', id: 'drill-total' }, fill(t(kind === 'alert' ? 'drill.alerts' : 'drill.cases'), { n: total }),
          ids.length < total ? ` ${fill(t('drill.firstN'), { n: ids.length })}` : ''),
        ids.length ? h('ul', {}, ids.map((id) => h('li', {}, item(kind, id)))) : h('p', { class: 'muted' }, t('drill.none')));
      el.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      if (mine === seq) clear(el, h('p', { class: 'error' }, `${t('err.generic')}: ${err.message}`));
    }
  }
  return { el, show };
}

function item(kind, id) {
  if (kind === 'alert') {
    const a = state.alerts.get(id);
    return h('button', { type: 'button', class: 'link', dataset: { alertId: id }, onclick: () => openAlert(id) },
      id, a ? h('span', { class: 'muted' }, ` ${ruleName(a.rule)} · ${a.device?.name ?? a.device?.id ?? ''}`) : null);
  }
  const c = state.cases.get(id);
  return h('button', { type: 'button', class: 'link', dataset: { caseId: id }, onclick: () => void openCase(id) },
    id, c ? h('span', { class: 'muted' }, ` ${c.elevator?.name ?? c.elevatorId}`) : null);
}
