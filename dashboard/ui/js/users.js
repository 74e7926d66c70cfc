// Users (admin): list and create, through GET/POST /api/users.
import { get, post } from './api.js';
import { clear, h, select, toast } from './dom.js';
import { fmtTime, t, tv } from './i18n.js';

export function usersView(root) {
  const body = h('tbody');
  const form = { username: '', password: '', role: 'operator' };
  clear(root, h('div', { class: 'grid', style: 'grid-template-columns: 1fr 1fr' },
    h('div', { class: 'panel' }, h('h2', {}, t('users.title')), h('table', {}, h('thead', {}, h('tr', {}, ['login.username', 'users.role', 'users.created'].map((k) => h('th', {}, t(k))))), body)),
    h('form', { class: 'panel login', style: 'margin:0', onsubmit: (e) => { e.preventDefault(); void create(); } },
      h('h2', {}, t('users.create')),
      h('label', {}, t('login.username')), h('input', { required: true, oninput: (e) => { form.username = e.target.value; } }),
      h('label', {}, t('login.password')), h('input', { type: 'password', required: true, oninput: (e) => { form.password = e.target.value; } }),
      h('label', {}, t('users.role')), select(['operator', 'dispatcher', 'admin'].map((r) => [r, tv('role', r)]), form.role, (v) => { form.role = v; }),
      h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit' }, t('users.create'))))));
  async function load() {
    const res = await get('/api/users');
    clear(body, res.items.map((u) => h('tr', {}, h('td', {}, u.username), h('td', {}, tv('role', u.role)), h('td', {}, fmtTime(Date.parse(u.createdAt))))));
  }
  async function create() {
    try {
      await post('/api/users', form);
      toast(`${t('users.done')}: ${form.username}`);
      void load();
    } catch (err) { toast(err.message); }
  }
  void load();
}
