// The store scores and the 双随机 draw of the store view (docs/rules/kitchen.md, The store score
// and the draw): every store's score over the scoring period, worst first, with its counts per
// violation type in words (GET /api/stores/scores, with its CSV / XLSX export), and the draw
// (POST /api/stores/draw {count, seed?, district?}), which shows the stores drawn and the seed,
// so the draw can be published and repeated by anyone with the same seed. Both follow the
// chosen district (`f.district`, a code prefix). Store names are text (dom.js).
import { get, post } from './api.js';
import { districtName } from './districts.js';
import { clear, h } from './dom.js';
import { fill, fmtTime, getLang, t, tv } from './i18n.js';
import { loadLine } from './loadLine.js';
import { storeCell } from './storeLists.js';
import { exportButtons } from './tableDownload.js';

const MAX_DRAW = 1000;
const scoresPath = (f) => `/api/stores/scores${f.district ? `?district=${encodeURIComponent(f.district)}` : ''}`;

/** "no mask ×2, phone use ×1": most first. */
function countsText(counts) {
  const sep = getLang() === 'zh' ? '、' : ', ';
  return Object.entries(counts).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([type, n]) => `${tv('violation', type)} ×${n}`).join(sep);
}

/** The scores panel over `f.district`. */
export function scoresPanel(f) {
  const body = h('tbody');
  const span = h('p', { class: 'muted small', id: 'stores-scores-period' });
  const line = loadLine('stores-scores-load', () => get(scoresPath(f)), (res) => {
    span.textContent = fill(t('stores.scoresPeriod'), { from: fmtTime(res.from), to: fmtTime(res.to) });
    clear(body, res.items.length ? res.items.map((s) => h('tr', { dataset: { store: s.storeId, score: s.score } },
      storeCell(s), h('td', { title: s.district ?? '' }, districtName(s.district) || '-'),
      h('td', { class: 'num score' }, s.score), h('td', { class: 'num' }, s.deducted),
      h('td', { dataset: { col: 'counts' } }, countsText(s.counts) || '-')))
      : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, t('stores.noneScored'))));
  });
  const el = h('section', { class: 'panel', id: 'stores-scores', 'aria-label': t('stores.scores') },
    h('div', { class: 'panel-head' }, h('h2', {}, t('stores.scores')), line.el, exportButtons('stores-scores-export', () => scoresPath(f))),
    span,
    h('div', { class: 'scroll' }, h('table', { id: 'stores-scores-table' },
      h('thead', {}, h('tr', {}, ['stores.store', 'col.district', 'stores.score', 'stores.deducted', 'stores.counts'].map((k) => h('th', {}, t(k))))),
      body)));
  return { el, reload: () => line.reload(), dispose: () => line.dispose() };
}

/** The draw panel: how many, an optional seed, among the stores of `f.district`. */
export function drawPanel(f) {
  const count = h('input', { id: 'draw-count', type: 'number', min: 1, max: MAX_DRAW, step: 1, value: '5', inputmode: 'numeric' });
  const seed = h('input', { id: 'draw-seed', autocomplete: 'off', spellcheck: 'false', maxlength: 200, size: 30, placeholder: t('stores.seedAuto') });
  const msg = h('div', { class: 'notice', id: 'draw-msg', role: 'status', 'aria-live': 'polite' });
  const out = h('div', { id: 'draw-result' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'draw-go' }, t('stores.drawGo'));

  async function draw() {
    const n = Number(count.value);
    msg.className = 'notice';
    msg.textContent = '';
    if (!Number.isInteger(n) || n < 1 || n > MAX_DRAW) { msg.className = 'notice error'; msg.textContent = t('stores.drawBadCount'); return; }
    const body = { count: n, ...(seed.value.trim() ? { seed: seed.value.trim() } : {}), ...(f.district ? { district: f.district } : {}) };
    go.disabled = true;
    try {
      paint(await post('/api/stores/draw', body), f.district);
    } catch (err) {
      if (err?.status !== 401) { msg.className = 'notice error'; msg.dataset.code = err?.code ?? ''; msg.textContent = `${t('err.generic')}: ${err?.message ?? err}`; }
    } finally { go.disabled = false; }
  }

  function paint(r, district) {
    clear(out,
      h('div', { class: 'kv draw-head' },
        h('div', {}, t('stores.seed')), h('div', {}, h('code', { id: 'draw-seed-out' }, r.seed)),
        h('div', {}, t('stores.drawn')), h('div', { id: 'draw-summary' }, fill(t('stores.drawSummary'), { count: r.count, population: r.population })),
        h('div', {}, t('col.district')), h('div', {}, districtName(district) || t('stores.allDistricts')),
        h('div', {}, t('stores.drawnAt')), h('div', {}, fmtTime(r.generatedAt))),
      h('p', { class: 'muted small' }, t('stores.seedHint')),
      h('div', { class: 'actions' }, h('button', {
        type: 'button', class: 'small', id: 'draw-reuse',
        // the same seed, count and district repeat the same draw (POST /api/stores/draw)
        onclick: () => { seed.value = r.seed; count.value = String(r.count); },
      }, t('stores.reuseSeed'))),
      r.items.length ? h('table', { id: 'draw-table' },
        h('thead', {}, h('tr', {}, ['stores.order', 'stores.store', 'col.district', 'stores.score', 'stores.weight'].map((k) => h('th', {}, t(k))))),
        h('tbody', {}, r.items.map((s, i) => h('tr', { dataset: { store: s.storeId } },
          h('td', { class: 'num' }, i + 1), storeCell(s), h('td', { title: s.district ?? '' }, districtName(s.district) || '-'), h('td', { class: 'num' }, s.score), h('td', { class: 'num' }, +s.weight.toFixed(3))))))
        : h('p', { class: 'muted' }, t('stores.noneScored')));
  }

  // novalidate: the count is checked by draw() and said in words, not by the browser's own bubble
  const el = h('form', { class: 'panel', id: 'stores-draw', 'aria-label': t('stores.draw'), novalidate: true, onsubmit: (e) => { e.preventDefault(); void draw(); } },
    h('h2', {}, t('stores.draw')),
    h('p', { class: 'muted small' }, t('stores.drawHint')),
    h('div', { class: 'filters' },
      h('label', { for: 'draw-count' }, t('stores.drawCount')), count,
      h('label', { for: 'draw-seed' }, t('stores.seed')), seed,
      go),
    msg, out);
  return { el, dispose() {} };
}
