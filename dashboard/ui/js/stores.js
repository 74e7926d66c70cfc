// The store view (红黑榜, admin and operator): the black list with its steps, the red list,
// the store scores and the 双随机 draw (storeLists.js, storeScores.js). The period applies to
// the lists (GET /api/stores/lists?period=), the district (a code prefix) to the scores and the
// draw, which take it (GET /api/stores/scores?district=, POST /api/stores/draw); each export
// follows what is chosen. A district-scoped account sees its district only (the server filters).
import { clear, h, select } from './dom.js';
import { fill, t } from './i18n.js';
import { printButton } from './print.js';
import { subscribe } from './state.js';
import { blackListPanel, redListPanel } from './storeLists.js';
import { drawPanel, scoresPanel } from './storeScores.js';

/** the lists' periods, in days (the route takes 1 to 366) */
const periods = [7, 30, 90, 180, 365];
const DISTRICT = /^\d{0,12}$/;
const TYPING_MS = 300;
/** a burst of repeat-offender changes: one read of the black list */
const SOON_MS = 500;

export function storesView(root) {
  const f = { period: '30d', district: '' };
  const black = blackListPanel(f);
  const red = redListPanel(f);
  const scores = scoresPanel(f);
  const draw = drawPanel(f);

  const periodSel = select(periods.map((n) => [`${n}d`, fill(t('stores.days'), { n })]), f.period, (v) => { f.period = v; black.reload(); red.reload(); });
  periodSel.id = 'stores-period';
  const districtErr = h('span', { class: 'error small', id: 'stores-district-error', role: 'alert' });
  let typing = null;
  const district = h('input', {
    id: 'stores-district', inputmode: 'numeric', maxlength: 12, size: 10, autocomplete: 'off', placeholder: t('stores.allDistricts'),
    oninput: (e) => {
      const v = e.target.value.trim();
      clearTimeout(typing);
      // checked here first, as the route would refuse it (400)
      if (!DISTRICT.test(v)) { districtErr.textContent = t('stores.badDistrict'); return; }
      districtErr.textContent = '';
      // at once for the draw and the exports; the scores are read once the typing pauses
      f.district = v;
      typing = setTimeout(() => scores.reload(), TYPING_MS);
    },
  });

  clear(root, h('div', { class: 'stack stores-layout' },
    h('div', { class: 'panel filters', id: 'stores-filters' },
      h('label', { for: 'stores-period' }, t('stores.period')), periodSel,
      h('label', { for: 'stores-district' }, t('stores.district')), district, districtErr, printButton({ id: 'stores-print' })),
    black.el,
    h('div', { class: 'grid cols-2' }, red.el, scores.el),
    draw.el));

  // a store flagged or its flag changed by the system (kitchen.repeat_offender): read the list again
  let soon = null;
  const unsubscribe = subscribe((ev) => {
    if ((ev.kind === 'alert' && ev.alert?.rule === 'kitchen.repeat_offender') || ev.kind === 'reload') {
      soon ??= setTimeout(() => { soon = null; black.reload(); red.reload(); }, SOON_MS);
    }
  });

  black.reload();
  red.reload();
  scores.reload();
  return () => {
    unsubscribe();
    clearTimeout(typing);
    clearTimeout(soon);
    for (const p of [black, red, scores, draw]) p.dispose();
  };
}
