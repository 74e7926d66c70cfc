// Dead letters (#/dead-letters; admins and operators, docs/dashboard.md, Dead letters): the
// messages ingest refused, newest first, a page at a time (GET /api/dead-letters, `before` =
// the page's `nextBefore`), filtered by device, reason and time range; the reason by its code's
// name; a row's detail with the raw payload as text or hex (deadLetterPayload.js). Admins tick
// rows and replay them (POST /api/dead-letters/replay), each row then showing its outcome.
// Everything a device sent (ids, topics, payloads, details) is a text node (dom.js).
import { ApiError, get, post, session } from './api.js';
import { payloadBlock } from './deadLetterPayload.js';
import { clear, h, select } from './dom.js';
import { fill, fmtTime, parseCstInput, t, tv } from './i18n.js';
import { printButton } from './print.js';

/** The reasons a dead letter is written with (core/codes.ts, scope device); the filter offers these. */
export const deadLetterReasons = ['invalid_json', 'schema', 'too_large', 'packet_too_large', 'unknown_channel', 'unknown_device', 'topic_invalid', 'topic_not_allowed'];
const PAGE = 50;
/** the API's bound on one replay (docs/api.md, Replaying dead letters) */
const REPLAY_MAX = 500;

const reasonName = (code) => tv('dlReason', code);

/** The API's refusal in words (a 401 has ended the session already, api.js). */
function errorText(err) {
  if (err instanceof ApiError && err.code === 'forbidden') return `${t('err.forbidden')}: ${err.message}`;
  return `${t('err.generic')}: ${err?.message ?? err}`;
}

export function deadLettersView(root) {
  const admin = session()?.role === 'admin';
  const q = { deviceId: '', reason: '', since: '', until: '' };
  /** `before` of each page shown so far (the first: none), for going back */
  let cursors = [null];
  let nextBefore = null;
  let items = [];
  let openId = null;
  const selected = new Set();
  /** id -> the replay outcome last answered for it */
  const outcomes = new Map();

  const body = h('tbody');
  const pageInfo = h('span', { class: 'muted', id: 'dl-page' });
  const state = h('div', { class: 'notice', id: 'dl-state', role: 'status' });
  const prev = h('button', { id: 'dl-prev', onclick: () => { cursors.pop(); void load(); } }, t('dl.prev'));
  const next = h('button', { id: 'dl-next', onclick: () => { cursors.push(nextBefore); void load(); } }, t('dl.next'));
  const detail = h('div', { class: 'panel', id: 'dl-detail' }, h('p', { class: 'muted' }, t('dl.pick')));
  const result = h('div', { id: 'dl-replay-result', class: 'notice', role: 'status', 'aria-live': 'polite' });
  const count = h('span', { class: 'muted', id: 'dl-selected' });
  const replayBtn = admin ? h('button', { class: 'primary', id: 'dl-replay', onclick: () => void replay() }, t('dl.replay')) : null;
  const allBox = admin ? h('input', { type: 'checkbox', id: 'dl-all', 'aria-label': t('dl.selectAll'), onchange: (e) => {
    for (const d of items) { if (e.target.checked) selected.add(d.id); else selected.delete(d.id); }
    paintRows();
  } }) : null;

  const deviceInput = h('input', { id: 'dl-device', placeholder: t('dl.deviceId'), maxlength: 64 });
  const sinceInput = h('input', { id: 'dl-since', type: 'datetime-local', step: 1, 'aria-label': t('dl.since'), title: t('dl.since') });
  const untilInput = h('input', { id: 'dl-until', type: 'datetime-local', step: 1, 'aria-label': t('dl.until'), title: t('dl.until') });
  const reasonSelect = select(deadLetterReasons.map((r) => [r, `${reasonName(r)} (${r})`]), '', (v) => { q.reason = v; apply(); }, `${t('dl.reason')}: ${t('filter.all')}`);
  reasonSelect.id = 'dl-reason';
  const form = h('form', { class: 'filters', id: 'dl-filters', onsubmit: (e) => { e.preventDefault(); apply(); } },
    deviceInput, reasonSelect,
    h('label', { for: 'dl-since', class: 'muted' }, t('dl.since')), sinceInput,
    h('label', { for: 'dl-until', class: 'muted' }, t('dl.until')), untilInput,
    h('button', { type: 'submit', id: 'dl-search' }, t('dl.search')),
    printButton({ id: 'dl-print' }));

  const head = ['dl.col.time', 'dl.col.device', 'dl.col.topic', 'dl.col.reason', 'dl.col.msgId', 'dl.col.size'].map((k) => h('th', {}, t(k)));
  clear(root, h('div', { class: 'split dl-layout' },
    h('div', { class: 'panel' },
      h('h2', {}, t('dl.title')),
      form, state,
      admin ? h('div', { class: 'actions' }, replayBtn, count, h('span', { class: 'muted' }, t('dl.replayHint'))) : null,
      result,
      h('div', { class: 'scroll' }, h('table', { id: 'dl-table' }, h('thead', {}, h('tr', {}, admin ? h('th', {}, allBox) : null, head, h('th', {}))), body)),
      h('div', { class: 'actions' }, prev, pageInfo, next)),
    detail));

  function apply() {
    const since = sinceInput.value ? parseCstInput(sinceInput.value) : null;
    const until = untilInput.value ? parseCstInput(untilInput.value) : null;
    if (Number.isNaN(since) || Number.isNaN(until)) { showState('error', t('dl.badTime')); return; }
    Object.assign(q, { deviceId: deviceInput.value.trim(), since: since ?? '', until: until ?? '' });
    cursors = [null];
    void load();
  }

  function showState(kind, text) {
    state.className = kind ? `notice ${kind}` : 'notice';
    state.dataset.state = kind ?? '';
    state.textContent = text ?? '';
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    const before = cursors[cursors.length - 1];
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const k of ['deviceId', 'reason', 'since', 'until']) if (q[k] !== '') params.set(k, String(q[k]));
    if (before !== null) params.set('before', String(before));
    showState('warn', t('dl.loading'));
    let res;
    try {
      res = await get(`/api/dead-letters?${params}`);
    } catch (err) {
      if (mine === seq) showState('error', errorText(err));
      return;
    }
    if (mine !== seq) return;
    showState(null);
    items = res.items;
    nextBefore = res.nextBefore;
    selected.clear();
    paintRows();
  }

  function paintRows() {
    prev.disabled = cursors.length <= 1;
    next.disabled = nextBefore === null;
    pageInfo.textContent = fill(t('dl.page'), { n: cursors.length });
    if (allBox) allBox.checked = items.length > 0 && items.every((d) => selected.has(d.id));
    if (count) count.textContent = fill(t('dl.selected'), { n: selected.size });
    if (replayBtn) replayBtn.disabled = selected.size === 0;
    clear(body, items.length ? items.map(row) : h('tr', {}, h('td', { colspan: admin ? 8 : 7, class: 'muted', id: 'dl-empty' }, t('dl.empty'))));
  }

  function row(d) {
    const out = outcomes.get(d.id);
    const box = admin ? h('input', { type: 'checkbox', 'aria-label': fill(t('dl.selectOne'), { id: d.id }), checked: selected.has(d.id), onclick: (e) => e.stopPropagation(), onchange: (e) => {
      if (e.target.checked) selected.add(d.id); else selected.delete(d.id);
      paintRows();
    } }) : null;
    return h('tr', { class: `alert-row${d.id === openId ? ' active' : ''}`, dataset: { id: String(d.id) }, onclick: () => show(d) },
      admin ? h('td', {}, box) : null,
      h('td', { class: 'cd' }, fmtTime(Date.parse(d.receivedAt))),
      h('td', {}, d.deviceId ?? '-'),
      h('td', { class: 'dl-topic' }, d.topic || '-'),
      h('td', { title: d.reason }, reasonName(d.reason)),
      h('td', {}, d.msgId ?? '-'),
      h('td', { class: 'num' }, fill(t('dl.bytes'), { n: d.rawSize })),
      h('td', { class: 'dl-outcome' }, out ? outcomeTag(out) : null));
  }

  function outcomeTag(o) {
    return h('span', { class: `st dl-${o.outcome}`, dataset: { outcome: o.outcome, code: o.code ?? '' }, title: o.message ?? '' },
      tv('dlOutcome', o.outcome), o.code ? `: ${reasonName(o.code)}` : '');
  }

  function show(d) {
    openId = d.id;
    for (const tr of body.children) tr.classList.toggle('active', tr.dataset.id === String(d.id));
    const kv = (k, v) => [h('div', {}, t(k)), h('div', {}, v)];
    clear(detail,
      h('h2', {}, `${t('dl.detail')} #${d.id}`),
      h('div', { class: 'kv' },
        kv('dl.col.time', fmtTime(Date.parse(d.receivedAt))),
        kv('dl.col.device', d.deviceId ?? '-'),
        kv('dl.client', d.clientId ?? '-'),
        kv('dl.col.topic', d.topic || '-'),
        kv('dl.qos', String(d.qos)),
        kv('dl.col.reason', h('span', {}, reasonName(d.reason), h('span', { class: 'muted' }, ` (${d.reason})`))),
        kv('dl.detailText', d.detail),
        kv('dl.col.msgId', d.msgId ?? '-'),
        kv('dl.remote', d.remoteAddress ?? '-'),
        outcomes.has(d.id) ? kv('dl.outcome', [outcomeTag(outcomes.get(d.id)), h('div', { class: 'muted' }, outcomes.get(d.id).message ?? '')]) : null),
      d.issues?.length ? [h('h3', {}, t('dl.issues')), h('table', {}, h('tbody', {}, d.issues.map((i) => h('tr', {}, h('td', {}, i.path), h('td', {}, i.message)))))] : null,
      h('h3', {}, t('dl.payload')),
      payloadBlock(d));
  }

  async function replay() {
    const ids = [...selected];
    if (!ids.length) return;
    if (ids.length > REPLAY_MAX) { showResult('error', fill(t('dl.tooMany'), { n: REPLAY_MAX })); return; }
    replayBtn.disabled = true;
    showResult('warn', t('dl.replaying'));
    try {
      const res = await post('/api/dead-letters/replay', { ids });
      const tally = { stored: 0, duplicate: 0, refused: 0, not_found: 0 };
      for (const o of res.items) { outcomes.set(o.id, o); tally[o.outcome]++; }
      showResult(tally.refused || tally.not_found ? 'warn' : 'ok', fill(t('dl.replayDone'), tally));
      selected.clear();
      paintRows();
      const open = items.find((d) => d.id === openId);
      if (open) show(open);
    } catch (err) {
      showResult('error', errorText(err));
      replayBtn.disabled = selected.size === 0;
    }
  }

  function showResult(kind, text) {
    result.className = `notice ${kind}`;
    result.dataset.state = kind;
    result.textContent = text;
  }

  paintRows();
  void load();
}
