// The dashboard shell: login, the header (navigation by role, live state, language switch),
// hash routes, and the /ws connection feeding the state every view reads. A session that ends
// elsewhere (an API answer 401, the live push closed with 4401) comes back to one place,
// sessionEnded(): the login screen with a message.
import { ApiError, onSessionEnded, post, session, setSession } from './api.js';
import { closeAlert } from './alertDetail.js';
import { districtName } from './districts.js';
import { forgetReports } from './caseReport.js';
import { alertList } from './alertList.js';
import { dispatchView } from './dispatch.js';
import { devicesView } from './devices.js';
import { deadLettersView } from './deadLetters.js';
import { cylindersView } from './cylinders.js';
import { storesView } from './stores.js';
import { closeDialog } from './dialog.js';
import { clear, h } from './dom.js';
import { fill, getLang, loadI18n, setLang, t, tv } from './i18n.js';
import { Live } from './live.js';
import { applyLive, emit, loadAll, resetState, state } from './state.js';
import { statsView } from './stats.js';
import { accountView, usersView } from './users.js';
import { auditView } from './audit.js';
import { wallView } from './wall.js';

const root = document.getElementById('root');
let live = null;
let teardown = null;
/** shown above the login form until the next sign-in (e.g. "your session ended") */
let loginNotice = null;

/** Views per role: dispatchers the console and elevator alerts; operators the wall and the rest; admin all. */
const navByRole = {
  admin: ['wall', 'dispatch', 'devices', 'cylinders', 'stores', 'stats', 'dead-letters', 'users', 'audit'],
  operator: ['wall', 'devices', 'cylinders', 'stores', 'stats', 'dead-letters'],
  dispatcher: ['dispatch', 'alerts', 'devices'],
};

/** Reached from the header by every role, not in the menu. */
const everyRole = ['account'];

/** What views may ask of the shell. */
const app = {
  /** Run fn (which replaces the token) with the live push held, then reconnect with the new token. */
  async replacingToken(fn) {
    const l = live;
    l?.pause();
    try { return await fn(); } finally { if (live === l) l?.resume(); }
  },
};

const views = {
  account: accountView,
  wall: wallView,
  dispatch: dispatchView,
  devices: devicesView,
  'dead-letters': deadLettersView,
  stats: statsView,
  users: usersView,
  audit: auditView,
  cylinders: cylindersView,
  stores: storesView,
  alerts: (el) => {
    const list = alertList({ fixedFamily: 'elevator' });
    clear(el, h('div', { class: 'panel' }, h('h2', {}, t('nav.alerts')), list.el));
    return () => list.dispose();
  },
};

function loginView() {
  const err = h('div', { class: 'error', id: 'login-error' });
  const notice = loginNotice ? h('div', { class: 'notice warn', id: 'login-notice', role: 'alert' }, t(loginNotice)) : null;
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
          setSession({ token: res.token, role: res.role, username: user.value.trim(), district: res.district ?? null });
          loginNotice = null;
          start();
        } catch (ex) {
          err.textContent = !(ex instanceof ApiError) || ex.code === 'bad_credentials' ? t('login.failed')
            : ex.code === 'rate_limited' ? (ex.retryAfterS ? fill(t('err.rateLimited'), { s: ex.retryAfterS }) : t('login.rateLimited'))
              : `${t('err.generic')}: ${ex.message}`;
        }
      },
    },
    h('h2', {}, t('login.title')),
    notice,
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
    // loadAll retries by itself (the wall shows "failed, retrying"), never throws
    if (msg.type === 'hello' && msg.fresh) loadAll(s.role);
    else if (msg.type === 'resync') loadAll(s.role);
    else if (msg.type === 'unauthorized') sessionEnded();
    else applyLive(msg, s.role);
  }, (on) => { state.live = on; const el = document.getElementById('live'); if (el) paintLive(el); });
  live.connect();
  if (!location.hash || location.hash === '#/login') location.hash = `#/${navByRole[s.role][0]}`;
  render();
}

/** Drop the session in this tab and show the login screen (with `notice`, a key, if given). */
function signedOut(notice) {
  live?.close();
  live = null;
  teardown?.();
  teardown = null;
  setSession(null);
  resetState();
  closeAlert();
  forgetReports();
  closeDialog();
  loginNotice = notice ?? null;
  if (location.hash !== '#/login') history.replaceState(null, '', '#/login');
  loginView();
}

/** The token was refused (ended elsewhere, expired): back to the login screen, saying why. */
function sessionEnded() {
  if (!session()) return;
  signedOut('session.ended');
}

/** Sign out: end the session at the service first; drop it here even when that fails. */
async function logout() {
  const btn = document.getElementById('logout');
  if (btn) btn.disabled = true;
  // the live push first, so its 4401 for this very session does not read as "ended elsewhere"
  live?.close();
  live = null;
  try { await post('/api/logout', {}, { ended: false }); } catch { /* ended already, or offline: drop it anyway */ }
  signedOut();
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
  const asked = location.hash.replace(/^#\//, '').split('/')[0];
  // an unknown route, or a view of another role, says so: it never silently shows another view
  const refused = asked !== '' && !allowed.includes(asked) && !everyRole.includes(asked);
  const name = asked === '' || refused ? allowed[0] : asked;
  const liveEl = h('span', { id: 'live' });
  paintLive(liveEl);
  const main = h('main', { id: refused ? 'view-unknown' : `view-${name}` });
  clear(root,
    h('header', {},
      h('h1', {}, t('app.title')),
      h('nav', {}, allowed.map((v) => h('a', { href: `#/${v}`, class: v === name ? 'active' : '', dataset: { nav: v } }, t(`nav.${v}`)))),
      liveEl,
      // a district-scoped account sees only its district (docs/api.md, District scope): say which
      h('span', { class: 'who' }, `${s.username} · ${tv('role', s.role)}`, s.district ? h('span', { class: 'tag scope', id: 'scope', title: s.district }, fill(t('scope.district'), { district: districtName(s.district) })) : null),
      h('a', { id: 'account', class: `button${name === 'account' ? ' active' : ''}`, href: '#/account' }, t('nav.account')),
      langButton(),
      h('button', { id: 'logout', onclick: () => void logout() }, t('logout'))),
    main);
  closeDialog();
  if (refused) {
    clear(main, h('div', { class: 'panel', role: 'alert', dataset: { route: asked, reason: Object.hasOwn(views, asked) ? 'forbidden' : 'unknown' } },
      h('h2', {}, fill(t(Object.hasOwn(views, asked) ? 'route.forbidden' : 'route.unknown'), { route: asked })),
      h('a', { href: `#/${allowed[0]}`, class: 'button' }, fill(t('route.back'), { view: t(`nav.${allowed[0]}`) }))));
    emit({ kind: 'view' });
    return;
  }
  const off = views[name](main, app);
  teardown = typeof off === 'function' ? off : null;
  emit({ kind: 'view' });
}

onSessionEnded(sessionEnded);
// requests of a view that were under way when the session ended: already answered by sessionEnded()
window.addEventListener('unhandledrejection', (e) => { if (e.reason instanceof ApiError && e.reason.status === 401) e.preventDefault(); });
window.addEventListener('hashchange', () => { if (session()) render(); });
await loadI18n();
start();
