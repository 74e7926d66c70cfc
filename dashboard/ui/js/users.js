// Accounts. The users page (admin): every user's role, district scope and state, create, change
// role, set the district, disable / enable, set a new password, generate one (shown once), delete
// (GET/POST /api/users, PATCH/DELETE /api/users/:username, POST /api/users/:username/password);
// the actions that end the user's sessions ask first, naming the user. And "change my password"
// for every role (POST /api/me/password), which replaces this tab's token.
import { ApiError, del, get, patch, post, session, setSession } from './api.js';
import { confirmDialog } from './dialog.js';
import { districtName } from './districts.js';
import { clear, h, select } from './dom.js';
import { fill, fmtTime, t, tv } from './i18n.js';

const roles = ['operator', 'dispatcher', 'admin'];
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;
/** a district scope: a GB/T 2260 code prefix (docs/api.md, District scope); empty: the whole city */
const DISTRICT = /^\d{2,12}$/;

/** A district field's problem for a role (admins take none), or null. */
function districtProblem(district, role) {
  if (district && !DISTRICT.test(district)) return t('users.badDistrict');
  if (district && role === 'admin') return t('users.adminScope');
  return null;
}

/** A new password's problem (length, repeat), or null. */
function passwordProblem(pw, repeat) {
  if (pw.length < MIN_PASSWORD) return t('account.tooShort');
  if (pw.length > MAX_PASSWORD) return t('account.tooLong');
  if (repeat !== undefined && pw !== repeat) return t('account.mismatch');
  return null;
}

/** The API's refusal in words, by its code; `user` names the account it was about. */
export function errorText(err, user = '') {
  if (!(err instanceof ApiError)) return `${t('err.generic')}: ${err?.message ?? err}`;
  switch (err.code) {
    case 'rate_limited': return err.retryAfterS ? fill(t('err.rateLimited'), { s: err.retryAfterS }) : t('login.rateLimited');
    case 'bad_credentials': return t('account.wrongCurrent');
    case 'last_admin': return fill(t('users.lastAdmin'), { user });
    case 'user_not_found': return fill(t('users.notFound'), { user });
    case 'user_exists': return fill(t('users.exists'), { user });
    case 'admin_scope': return t('users.adminScope');
    case 'forbidden': return `${t('err.forbidden')}: ${err.message}`;
    default: return `${t('err.generic')}: ${err.message}`;
  }
}

/** A message line (error or success) that a view rewrites in place. */
function notice(id) {
  const el = h('div', { id, class: 'notice', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    ok(text) { el.className = 'notice ok'; el.textContent = text; },
    error(text, code) { el.className = 'notice error'; el.dataset.code = code ?? ''; el.textContent = text; },
    clear() { el.className = 'notice'; el.dataset.code = ''; el.textContent = ''; },
  };
}

export function usersView(root) {
  const me = session()?.username;
  const body = h('tbody');
  const msg = notice('users-msg');
  const form = { username: '', password: '', role: 'operator', district: '' };
  const formMsg = notice('create-msg');
  const nameInput = h('input', { id: 'new-username', name: 'username', autocomplete: 'off', required: true, oninput: (e) => { form.username = e.target.value; } });
  const passInput = h('input', { id: 'new-password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, oninput: (e) => { form.password = e.target.value; } });
  const districtInput = h('input', { id: 'new-district', name: 'district', inputmode: 'numeric', maxlength: 12, autocomplete: 'off', placeholder: t('users.wholeCity'), oninput: (e) => { form.district = e.target.value.trim(); } });
  clear(root, h('div', { class: 'grid users-layout' },
    h('div', { class: 'panel' },
      h('h2', {}, t('users.title')),
      msg.el,
      h('table', { class: 'users' },
        h('thead', {}, h('tr', {}, ['login.username', 'users.role', 'users.district', 'users.status', 'users.created', 'users.actions'].map((k) => h('th', {}, t(k))))),
        body)),
    h('form', { class: 'panel form', id: 'create-user', onsubmit: (e) => { e.preventDefault(); void create(); } },
      h('h2', {}, t('users.create')),
      h('label', { for: 'new-username' }, t('login.username')), nameInput,
      h('label', { for: 'new-password' }, t('account.new')), passInput,
      h('label', {}, t('users.role')), select(roles.map((r) => [r, tv('role', r)]), form.role, (v) => { form.role = v; }),
      h('label', { for: 'new-district' }, t('users.districtLabel')), districtInput,
      h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, t('users.create'))),
      formMsg.el)));

  let alive = true;
  async function load() {
    try {
      const res = await get('/api/users');
      if (!alive) return;
      clear(body, res.items.map(row));
    } catch (err) { if (alive) msg.error(errorText(err), err.code); }
  }

  function row(u) {
    const self = u.username === me;
    const roleSel = select(roles.map((r) => [r, tv('role', r)]), u.role, (v) => { void changeRole(u, v, roleSel); });
    roleSel.dataset.act = 'role';
    roleSel.setAttribute('aria-label', `${t('users.role')}: ${u.username}`);
    return h('tr', { dataset: { user: u.username, disabled: String(u.disabled), district: u.district ?? '' }, class: u.disabled ? 'is-disabled' : '' },
      h('td', {}, h('span', { class: 'uname' }, u.username), self ? h('span', { class: 'tag you' }, t('users.you')) : null),
      h('td', {}, roleSel),
      h('td', { class: 'nowrap' }, h('span', { class: u.district ? 'district' : 'muted', ...(u.district ? { title: u.district } : {}) }, u.district ? districtName(u.district) : t('users.wholeCity'))),
      h('td', {}, h('span', { class: `tag ${u.disabled ? 'off' : 'on'}` }, t(u.disabled ? 'users.disabled' : 'users.enabled'))),
      h('td', { class: 'muted nowrap' }, fmtTime(Date.parse(u.createdAt))),
      h('td', {}, h('div', { class: 'row-actions' },
        u.disabled
          ? h('button', { type: 'button', dataset: { act: 'enable' }, onclick: () => void enable(u) }, t('users.enable'))
          : h('button', { type: 'button', dataset: { act: 'disable' }, onclick: () => void disable(u) }, t('users.disable')),
        // admins see the whole city (docs/api.md, District scope): no district to set
        u.role === 'admin' ? null : h('button', { type: 'button', dataset: { act: 'district' }, onclick: () => void setDistrict(u) }, t('users.setDistrict')),
        h('button', { type: 'button', dataset: { act: 'password' }, onclick: () => void setPassword(u) }, t('users.setPassword')),
        // your own: change it on the account page (a generated one would be lost with the session it ends)
        self ? null : h('button', { type: 'button', dataset: { act: 'reset' }, onclick: () => void resetPassword(u) }, t('users.resetPassword')),
        h('button', { type: 'button', class: 'danger-outline', dataset: { act: 'delete' }, onclick: () => void remove(u) }, t('users.delete')))));
  }

  /** Run one change; show its outcome by the API's code and reload the list. */
  async function run(u, call, done) {
    msg.clear();
    try {
      await call();
      msg.ok(done);
    } catch (err) {
      msg.error(errorText(err, u.username), err.code);
    }
    void load();
  }

  /** Your own account: say so, and have the username typed, so it is never done by a slip. */
  const selfGuard = (u) => (u.username === me
    ? { lines: [t('users.selfWarning')], typeToConfirm: { label: fill(t('users.typeToConfirm'), { user: u.username }), value: u.username } }
    : { lines: [] });

  /** A new role ends the user's sessions (no screen or MQTT subscription goes on under the old one): asked first. */
  async function changeRole(u, role, sel) {
    const self = u.username === me;
    const ok = await confirmDialog({
      title: self ? t('users.confirmRoleTitle') : fill(t('users.confirmRoleOtherTitle'), { user: u.username }),
      lines: self ? [fill(t('users.confirmRole'), { role: tv('role', role) }), t('users.selfWarning')]
        : [fill(t('users.confirmRoleOther'), { user: u.username, role: tv('role', role) })],
      confirmLabel: t('users.changeRole'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (!ok) { sel.value = u.role; return; }
    await run(u, () => patch(`/api/users/${encodeURIComponent(u.username)}`, { role }), fill(t('users.roleDone'), { user: u.username, role: tv('role', role) }));
  }

  async function disable(u) {
    const g = selfGuard(u);
    const ok = await confirmDialog({
      title: fill(t('users.confirmDisableTitle'), { user: u.username }),
      lines: [fill(t('users.confirmDisable'), { user: u.username }), ...g.lines], typeToConfirm: g.typeToConfirm,
      confirmLabel: t('users.disable'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (ok) await run(u, () => patch(`/api/users/${encodeURIComponent(u.username)}`, { disabled: true }), fill(t('users.disabledDone'), { user: u.username }));
  }

  const enable = (u) => run(u, () => patch(`/api/users/${encodeURIComponent(u.username)}`, { disabled: false }), fill(t('users.enabledDone'), { user: u.username }));

  async function setPassword(u) {
    const g = selfGuard(u);
    const values = await confirmDialog({
      title: fill(t('users.confirmPasswordTitle'), { user: u.username }),
      lines: [fill(t('users.confirmPassword'), { user: u.username }), ...g.lines], typeToConfirm: g.typeToConfirm,
      fields: [
        { name: 'password', label: t('account.new'), type: 'password', autocomplete: 'new-password' },
        { name: 'repeat', label: t('account.repeat'), type: 'password', autocomplete: 'new-password' },
      ],
      validate: (v) => passwordProblem(v.password, v.repeat),
      confirmLabel: t('users.setPassword'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (values) await run(u, () => patch(`/api/users/${encodeURIComponent(u.username)}`, { password: values.password }), fill(t('users.passwordDone'), { user: u.username }));
  }

  /**
   * A generated password (POST /api/users/:username/password without one): the service answers
   * it once, shown here in a dialog to be handed over; the list reloads after it is closed.
   */
  async function resetPassword(u) {
    const ok = await confirmDialog({
      title: fill(t('users.confirmResetTitle'), { user: u.username }), lines: [fill(t('users.confirmReset'), { user: u.username })],
      confirmLabel: t('users.resetPassword'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (!ok) return;
    msg.clear();
    let res;
    try {
      res = await post(`/api/users/${encodeURIComponent(u.username)}/password`, {});
    } catch (err) {
      msg.error(errorText(err, u.username), err.code);
      void load();
      return;
    }
    msg.ok(fill(t('users.passwordDone'), { user: u.username }));
    await confirmDialog({
      id: 'generated-password', title: fill(t('users.generatedTitle'), { user: u.username }),
      lines: [h('code', { class: 'secret', id: 'generated-password-value' }, res.password), t('users.generatedHint')],
      confirmLabel: t('users.generatedClose'),
    });
    void load();
  }

  /** A new district (or none: the whole city); the user's sessions end, so none goes on under the old scope. */
  async function setDistrict(u) {
    // (never your own: only admins manage users, and admins take no district)
    const values = await confirmDialog({
      title: fill(t('users.confirmDistrictTitle'), { user: u.username }),
      lines: [fill(t('users.confirmDistrict'), { user: u.username })],
      fields: [{ name: 'district', label: t('users.districtLabel'), optional: true, value: u.district ?? '', attrs: { inputmode: 'numeric', maxlength: 12, placeholder: t('users.wholeCity') } }],
      validate: (v) => districtProblem(v.district.trim(), u.role),
      confirmLabel: t('users.setDistrict'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (!values) return;
    const district = values.district.trim() || null;
    await run(u, () => patch(`/api/users/${encodeURIComponent(u.username)}`, { district }),
      district ? fill(t('users.districtDone'), { user: u.username, district: districtName(district) === district ? district : `${district}（${districtName(district)}）` })
        : fill(t('users.districtCleared'), { user: u.username }));
  }

  async function remove(u) {
    const g = selfGuard(u);
    const ok = await confirmDialog({
      title: fill(t('users.confirmDeleteTitle'), { user: u.username }),
      lines: [fill(t('users.confirmDelete'), { user: u.username }), ...g.lines], typeToConfirm: g.typeToConfirm,
      confirmLabel: t('users.delete'), cancelLabel: t('do.cancel'), danger: true,
    });
    if (ok) await run(u, () => del(`/api/users/${encodeURIComponent(u.username)}`), fill(t('users.deletedDone'), { user: u.username }));
  }

  async function create() {
    const username = form.username.trim();
    formMsg.clear();
    if (!USERNAME.test(username)) { formMsg.error(t('users.badName'), 'validation'); return; }
    const problem = passwordProblem(form.password) ?? districtProblem(form.district, form.role);
    if (problem) { formMsg.error(problem, 'validation'); return; }
    try {
      await post('/api/users', { ...form, username, district: form.district || null });
      formMsg.ok(fill(t('users.createdDone'), { user: username }));
      nameInput.value = ''; passInput.value = ''; districtInput.value = '';
      form.username = ''; form.password = ''; form.district = '';
      void load();
    } catch (err) { formMsg.error(errorText(err, username), err.code); }
  }

  void load();
  return () => { alive = false; };
}

/**
 * Change my password (every role). The service ends every session of the user, this one
 * too, and answers with a new token, which this tab keeps; `app.replacingToken` holds the live
 * push meanwhile, so the old token's 4401 does not send the user to the login screen.
 */
export function accountView(root, app) {
  const s = session();
  const msg = notice('password-msg');
  const field = (id, label, autocomplete) => {
    const el = h('input', { id, name: id, type: 'password', autocomplete, required: true });
    return { el, nodes: [h('label', { for: id }, label), el] };
  };
  const current = field('pw-current', t('account.current'), 'current-password');
  const next = field('pw-new', t('account.new'), 'new-password');
  const repeat = field('pw-repeat', t('account.repeat'), 'new-password');
  const submit = h('button', { class: 'primary', type: 'submit' }, t('account.submit'));
  clear(root, h('form', {
    class: 'panel form narrow', id: 'change-password', novalidate: true,
    onsubmit: (e) => { e.preventDefault(); void change(); },
  },
  h('h2', {}, t('account.title')),
  h('p', { class: 'muted' }, `${t('account.signedInAs')} `, h('b', {}, s?.username ?? ''), ` · ${tv('role', s?.role ?? '')}`),
  // for password managers: which account this form is about
  h('input', { type: 'text', name: 'username', autocomplete: 'username', value: s?.username ?? '', hidden: true, readonly: true }),
  current.nodes, next.nodes, repeat.nodes,
  h('p', { class: 'muted small' }, t('account.hint')),
  h('div', { class: 'actions' }, submit),
  msg.el));

  async function change() {
    msg.clear();
    if (!current.el.value) { msg.error(t('account.needCurrent'), 'validation'); current.el.focus(); return; }
    const problem = passwordProblem(next.el.value, repeat.el.value);
    if (problem) { msg.error(problem, 'validation'); next.el.focus(); return; }
    submit.disabled = true;
    try {
      await app.replacingToken(async () => {
        const res = await post('/api/me/password', { currentPassword: current.el.value, newPassword: next.el.value });
        const now = session();
        if (now) setSession({ ...now, token: res.token, role: res.role, district: res.district ?? null });
      });
      for (const f of [current, next, repeat]) f.el.value = '';
      msg.ok(t('account.done'));
    } catch (err) {
      msg.error(errorText(err), err.code);
    } finally {
      submit.disabled = false;
    }
  }
}
