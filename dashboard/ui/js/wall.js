// The operators' wall, laid out for one screen (1920x1080, 1600x900) without page scrolling:
// the banner of critical and overdue alerts with the audible alarm, the clock (China time) and
// the counts, the live alert list (alertList.js: pinned on top, paged, updated in place), the
// map of the city's districts with the devices and open alerts (wallMap.js; a click on a district
// filters the list), the connection coverage (coverage.js) and the domain panels. Only what
// changed is redrawn.
import { alarm, MUTE_MS } from './alarm.js';
import { openAlert } from './alertDetail.js';
import { alertList } from './alertList.js';
import { isAlarming, isPinned, isOverdue } from './alertOrder.js';
import { coveragePanel } from './coverage.js';
import { clear, h } from './dom.js';
import { conditionLabel, fill, fmtDuration, getLang, ruleName, t, tv } from './i18n.js';
import { stepRecord } from './rescueActions.js';
import { loadDevices, state, subscribe } from './state.js';
import { wallMap } from './wallMap.js';

const families = ['kitchen', 'elevator', 'cylinder', 'dispenser'];

/** Text set only when it changed (no DOM mutation, no screen-reader announcement otherwise). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** A rescue case past its dispatch deadline undispatched, or its arrival deadline with nobody there. */
export function rescueOverdue(c, now) {
  const d = c.deadlines ?? {};
  if (d.dispatchBy && now >= d.dispatchBy && !stepRecord(c, 'dispatched')) return 'dispatch';
  if (d.arrivalBy && now >= d.arrivalBy && !stepRecord(c, 'arrived')) return 'arrival';
  return null;
}

const clockFormats = {};
function clockText(now) {
  const lang = getLang();
  const f = clockFormats[lang] ??= {
    time: new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit' }),
    date: new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short' }),
  };
  return { time: f.time.format(new Date(now)), date: f.date.format(new Date(now)) };
}

export function wallView(root) {
  document.body.classList.add('wall-mode');

  // ---- banner: how many critical / overdue alerts, the oldest one; rescue cases past a deadline
  // the count is announced (role=alert) when it changes; the oldest's running time is not
  const bannerCount = h('b', { id: 'banner-count', role: 'alert' });
  const bannerOldest = h('button', { class: 'link', id: 'banner-oldest', onclick: () => { if (bannerOldest.dataset.id) openAlert(bannerOldest.dataset.id); } });
  const bannerRescue = h('span', { id: 'banner-rescue' });
  const banner = h('div', { class: 'wall-banner', id: 'wall-banner', role: 'region', 'aria-label': t('banner.label'), hidden: true },
    h('span', { class: 'banner-icon', 'aria-hidden': 'true' }, '⚠'), bannerCount,
    h('span', { class: 'banner-oldest' }, `${t('banner.oldest')} `, bannerOldest), bannerRescue);

  // ---- clock, counts, sound
  const clockTime = h('span', { class: 'time' });
  const clockDate = h('span', { class: 'date' });
  const clock = h('div', { class: 'panel wall-clock', id: 'wall-clock', 'aria-label': t('wall.clock') }, clockTime, clockDate, h('span', { class: 'tz' }, t('wall.cst')));
  const kpiN = {};
  const kpi = (key, label, attrs = {}) => {
    kpiN[key] = h('div', { class: 'n', ...attrs }, '-');
    return h('div', { class: 'panel kpi', dataset: families.includes(key) ? { family: key } : {} }, h('div', { class: 'l' }, label), kpiN[key]);
  };
  const kpis = h('div', { class: 'kpis', id: 'kpis' },
    families.map((f) => kpi(f, `${t('wall.today')} · ${tv('family', f)}`)),
    kpi('open', t('wall.open'), { id: 'kpi-open' }),
    kpi('devices', t('wall.devices')));
  const soundHint = h('button', { class: 'sound-hint', id: 'sound-enable', hidden: true, onclick: () => alarm.enable() }, t('sound.enable'));
  const muteBtn = h('button', { id: 'sound-mute', onclick: () => { if (alarm.mutedLeft(Date.now())) alarm.unmute(); else alarm.mute(Date.now()); paintSound(); } });
  const soundState = h('span', { class: 'sound-state', id: 'sound-state' });
  const sound = h('div', { class: 'panel wall-sound', id: 'wall-sound' }, soundState, muteBtn, soundHint);

  // ---- list, map, domain panels
  // a district clicked on the map filters the list; one typed into the list's filter is highlighted on the map
  const list = alertList({ onDistrict: (code) => map.select(code) });
  const map = wallMap({ onDistrict: (code) => list.setDistrict(code) });
  const coverage = coveragePanel();
  const domains = h('div', { class: 'domains' });
  clear(root,
    banner,
    h('div', { class: 'wall-top' }, clock, kpis, sound),
    h('div', { class: 'wall-body' },
      h('section', { class: 'panel list-panel' }, h('h2', {}, t('wall.alerts')), list.el),
      h('div', { class: 'wall-side' },
        map.el,
        coverage.el,
        domains)));

  function paintClock(now) {
    const c = clockText(now);
    setText(clockTime, c.time);
    setText(clockDate, c.date);
  }

  function renderKpis() {
    const s = state.stats;
    for (const f of families) setText(kpiN[f], s ? String(s.today[f]) : '-');
    setText(kpiN.open, s ? String(s.open) : '-');
    setText(kpiN.devices, s ? `${s.connectedDevices}/${s.devices}` : '-');
  }

  function paintBanner(now) {
    const pinned = [...state.alerts.values()].filter((a) => isPinned(a, now));
    const rescue = [...state.cases.values()].filter((c) => rescueOverdue(c, now));
    banner.hidden = pinned.length === 0 && rescue.length === 0;
    alarm.set(pinned.some((a) => isAlarming(a, now)));
    if (banner.hidden) return;
    const open = pinned.filter((a) => a.status === 'open').length;
    const critical = pinned.filter((a) => a.severity === 'critical').length;
    setText(bannerCount, pinned.length ? fill(t('banner.count'), { n: pinned.length, critical, overdue: pinned.length - critical, open }) : '');
    const oldest = pinned.reduce((o, a) => (!o || a.firstSeen < o.firstSeen ? a : o), null);
    bannerOldest.parentElement.hidden = !oldest;
    if (oldest) {
      bannerOldest.dataset.id = oldest.id;
      setText(bannerOldest, [
        `${ruleName(oldest.rule)} ${conditionLabel(oldest)}`.trim(),
        oldest.device?.name ?? oldest.device?.id,
        fill(t('banner.ago'), { d: fmtDuration(now - oldest.firstSeen) }),
        isOverdue(oldest, now) ? t('deadline.overdue') : null,
      ].filter(Boolean).join(' · '));
    }
    setText(bannerRescue, rescue.length ? fill(t('banner.rescue'), { n: rescue.length }) : '');
  }

  function paintSound() {
    const now = Date.now();
    const left = alarm.mutedLeft(now);
    const sound = alarm.sound();
    soundHint.hidden = sound !== 'blocked';
    setText(muteBtn, left ? fill(t('sound.muted'), { left: fmtDuration(left) }) : fill(t('sound.mute'), { min: MUTE_MS / 60_000 }));
    muteBtn.classList.toggle('on', left > 0);
    muteBtn.title = left ? t('sound.unmute') : '';
    soundState.dataset.state = sound === 'unsupported' ? 'unsupported' : !alarm.ringing ? 'quiet' : left ? 'muted' : sound === 'on' ? 'ringing' : 'blocked';
    setText(soundState, t(`sound.state.${soundState.dataset.state}`));
  }

  let domainsDrawn = '';
  function renderDomains() {
    const s = state.stats;
    const now = Date.now();
    const trapped = [...state.cases.values()].sort((a, b) => a.alarmAt - b.alarmAt);
    const late = trapped.map((c) => rescueOverdue(c, now));
    const key = JSON.stringify([getLang(), s?.kitchenViolationsByType, s?.trappedNow, s?.cylinderRefusalsToday, s?.dispenserAnomalies,
      trapped.map((c, i) => [c.id, c.elevatorId, c.status, late[i]])]);
    if (key === domainsDrawn) return;
    domainsDrawn = key;
    const rows = (obj, label) => {
      const entries = Object.entries(obj ?? {}).sort((a, b) => b[1] - a[1]);
      return entries.length ? h('div', { class: 'bars' }, entries.map(([k, n]) => h('div', {}, h('span', {}, label(k)), h('b', {}, n)))) : h('p', { class: 'muted' }, t('wall.none'));
    };
    clear(domains,
      h('div', { class: 'panel' }, h('h2', {}, t('wall.kitchenByType')), rows(s?.kitchenViolationsByType, (k) => tv('violation', k))),
      h('div', { class: 'panel', id: 'wall-trapped' }, h('h2', {}, t('wall.trappedNow')), h('div', { class: trapped.length ? 'big alarm' : 'big' }, s ? s.trappedNow : trapped.length),
        trapped.map((c, i) => h('div', { class: late[i] ? 'case-line late' : 'case-line muted', dataset: { case: c.id } },
          `${c.elevatorId} · ${tv('step', c.status)}`, late[i] ? ` · ${t(`rescue.late.${late[i]}`)}` : ''))),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.cylinderRefusals')), h('div', { class: 'big' }, s ? s.cylinderRefusalsToday : '-')),
      h('div', { class: 'panel' }, h('h2', {}, t('wall.dispenserAnomalies')), rows(s?.dispenserAnomalies, (k) => ruleName(k))));
  }

  function second() {
    const now = Date.now();
    paintClock(now);
    paintBanner(now);
    alarm.tick(now);
    paintSound();
    map.tick();
  }

  let bannerTimer = null;
  const unsubscribe = subscribe((ev) => {
    if (ev.kind === 'stats') { renderKpis(); renderDomains(); return; }
    if (ev.kind === 'case' || ev.kind === 'reload') renderDomains();
    if (ev.kind === 'alert' || ev.kind === 'reload' || ev.kind === 'absorbed' || ev.kind === 'devices') {
      map.changed(ev.kind !== 'alert');
    }
    // a new critical alert shows on the banner and sounds at once, whatever the list is doing
    bannerTimer ??= setTimeout(() => { bannerTimer = null; const n = Date.now(); paintBanner(n); alarm.tick(n); paintSound(); }, 100);
  });
  const stopSound = alarm.watch(paintSound);
  const ticker = setInterval(second, 1000);
  renderKpis();
  renderDomains();
  second();
  void loadDevices().catch(() => {});
  return () => {
    unsubscribe();
    stopSound();
    clearInterval(ticker);
    clearTimeout(bannerTimer);
    alarm.set(false);
    list.dispose();
    coverage.dispose();
    map.dispose();
    document.body.classList.remove('wall-mode');
  };
}
