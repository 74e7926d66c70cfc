// The dashboard shell: login, the header (navigation by role, live state, language switch),
// hash routes, and the /ws connection feeding the state every view reads.
import { ApiError, post, session, setSession } from './api.js';
import { closeAlert } from './alertDetail.js';
import { alertList } from './alertList.js';
import { dispatchView } from './dispatch.js';
import { devicesView } from './devices.js';
import { clear, h } from './dom.js';
import { getLang, loadI18n, setLang, t, tv } from './i18n.js';
import { Live } from './live.js';
import { applyLive, emit, loadAll, state, subscribe } from './state.js';
import { statsView } from './stats.js';
import { usersView } from './users.js';
import { wallView } from './wall.js';

const root = document.getElementById('root');
let live = null;
let teardown = null;

/** Views per role: dispatchers the console and elevator alerts; operators the wall and the rest; admin all. */
const navByRole = {
  admin: ['wall', 'dispatch', 'devices', 'stats', 'users'],
  operator: ['wall', 'devices', 'stats'],
  dispatcher: ['dispatch', 'alerts', 'devices'],
};

const views = {
  wall: wallView,
  dispatch: dispatchView,
  devices: devicesView,
  stats: statsView,
  users: usersView,
  alerts: (el) => {
    const list = alertList({ fixedFamily: 'elevator' });
    clear(el, h('div', { class: 'panel' }, h('h2', {}, t('nav.alerts')), list.el));
    return subscribe(() => list.render());
  },
};

function loginView() {
  const err = h('div', { class: 'error', id: 'login-error' });
  const user = h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true });
  clear(root,
    h('header', {}, h('h1', {}, t('app.title')), h('nav'), langButton()),
    h('form', {
      class: 'panel login', id: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const res = await post('/api/login', { username: user.value.trim(), password: pass.value });
          setSession({ token: res.token, role: res.role, username: user.value.trim() });
          start();
        } catch (ex) {
          err.textContent = ex instanceof ApiError && ex.code === 'rate_limited' ? t('login.rateLimited') : t('login.failed');
        }
      },
    },
    h('h2', {}, t('login.title')),
    h('label', { for: 'username' }, t('login.username')), user,
    h('label', { for: 'password' }, t('login.password')), pass,
    h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, t('login.submit'))),
    err));
}

function langButton() {
  return h('button', { id: 'lang', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); render(); } }, t('app.lang'));
}

function start() {
  const s = session();
  if (!s) { loginView(); return; }
  live?.close();
  live = new Live((msg) => {
    if (msg.type === 'hello' && msg.fresh) void loadAll(s.role).catch(() => {});
    else if (msg.type === 'resync') void loadAll(s.role).catch(() => {});
    else if (msg.type === 'unauthorized') logout();
    else applyLive(msg, s.role);
  }, (on) => { state.live = on; const el = document.getElementById('live'); if (el) paintLive(el); });
  live.connect();
  if (!location.hash || location.hash === '#/login') location.hash = `#/${navByRole[s.role][0]}`;
  render();
}

function logout() {
  live?.close();
  live = null;
  setSession(null);
  state.alerts.clear();
  state.cases.clear();
  closeAlert();
  location.hash = '#/login';
  loginView();
}

function paintLive(el) {
  el.className = `live${state.live ? ' on' : ''}`;
  el.textContent = state.live ? t('live.connected') : t('live.disconnected');
}

function render() {
  const s = session();
  if (!s) { loginView(); return; }
  teardown?.();
  teardown = null;
  const allowed = navByRole[s.role] ?? [];
  let name = location.hash.replace(/^#\//, '').split('/')[0];
  if (!allowed.includes(name)) name = allowed[0];
  const liveEl = h('span', { id: 'live' });
  paintLive(liveEl);
  const main = h('main', { id: `view-${name}` });
  clear(root,
    h('header', {},
      h('h1', {}, t('app.title')),
      h('nav', {}, allowed.map((v) => h('a', { href: `#/${v}`, class: v === name ? 'active' : '', dataset: { nav: v } }, t(`nav.${v}`)))),
      liveEl,
      h('span', { class: 'who' }, `${s.username} · ${tv('role', s.role)}`),
      langButton(),
      h('button', { id: 'logout', onclick: logout }, t('logout'))),
    main);
  const off = views[name](main);
  teardown = typeof off === 'function' ? off : null;
  emit({ kind: 'view' });
}

window.addEventListener('hashchange', () => { if (session()) render(); });
await loadI18n();
start();
