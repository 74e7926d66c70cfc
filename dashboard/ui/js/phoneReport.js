// The phone report (电话报警): most 96333 calls come by phone. The dispatcher names the
// elevator by the rescue code shown in the car (default), its registration code or its id,
// with the caller's phone, the floor, the passengers and a note (POST /api/rescue-cases):
// 201 opens a case, 200 `merged` joins the running case of the same incident (no second
// dispatch). A labelled form, reachable by keyboard; every text stays text.
import { ApiError, post } from './api.js';
import { h } from './dom.js';
import { fill, t } from './i18n.js';
import { putCase } from './state.js';
import { refusalText } from './rescueActions.js';

const PHONE = /^[0-9+\-() ]{3,32}$/;
const by = ['rescueCode', 'registrationCode', 'elevatorId'];

/** The form; `onCase(c, merged)` after a case was opened or joined (the console shows it). */
export function phoneReportForm(onCase) {
  const msg = h('div', { id: 'phone-msg', class: 'notice', role: 'status', 'aria-live': 'polite' });
  const say = (cls, text, code = '') => { msg.className = `notice ${cls}`; msg.dataset.code = code; msg.textContent = text; };
  const field = (name, label, attrs = {}, tag = 'input') => {
    const el = h(tag, { id: `phone-${name}`, name, autocomplete: 'off', ...attrs });
    return { el, row: h('div', { class: 'field' }, h('label', { for: el.id }, label), el) };
  };
  const kind = field('by', t('phone.by'), {}, 'select');
  for (const k of by) kind.el.append(h('option', { value: k }, t(`phone.by.${k}`)));
  const code = field('code', t('phone.by.rescueCode'), { required: true, maxlength: 64, 'aria-required': 'true' });
  kind.el.addEventListener('change', () => { code.row.firstChild.textContent = t(`phone.by.${kind.el.value}`); });
  const caller = field('callerPhone', t('rescue.callerPhone'), { type: 'tel', maxlength: 32, inputmode: 'tel' });
  const floor = field('floor', t('rescue.floor'), { maxlength: 16, placeholder: t('phone.floorHint') });
  const passengers = field('passengers', t('rescue.passengers'), { type: 'number', min: 0, max: 100, step: 1, inputmode: 'numeric' });
  const note = field('note', t('rescue.note'), { maxlength: 2000, rows: 2 }, 'textarea');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'phone-submit' }, t('phone.submit'));

  async function send(e) {
    e.preventDefault();
    const value = code.el.value.trim();
    if (!value) { say('error', fill(t('phone.codeMissing'), { by: t(`phone.by.${kind.el.value}`) }), 'validation'); code.el.focus(); return; }
    const phone = caller.el.value.trim();
    if (phone && !PHONE.test(phone)) { say('error', t('rescue.badPhone'), 'validation'); caller.el.focus(); return; }
    const n = passengers.el.value.trim();
    if (n && !(Number.isInteger(Number(n)) && Number(n) >= 0 && Number(n) <= 100)) { say('error', t('rescue.badPassengers'), 'validation'); passengers.el.focus(); return; }
    const body = {
      [kind.el.value]: value, ...(phone ? { callerPhone: phone } : {}), ...(floor.el.value.trim() ? { floor: floor.el.value.trim() } : {}),
      ...(n ? { passengers: Number(n) } : {}), ...(note.el.value.trim() ? { note: note.el.value.trim() } : {}),
    };
    submit.disabled = true;
    try {
      const res = await post('/api/rescue-cases', body);
      const { merged, ...c } = res;
      putCase(c, merged ? 'updated' : 'opened');
      say(merged ? 'warn' : 'ok', merged ? fill(t('phone.merged'), { id: c.id }) : fill(t('phone.created'), { id: c.id }), merged ? 'merged' : 'created');
      for (const f of [code, caller, floor, passengers, note]) f.el.value = '';
      code.el.focus();
      onCase?.(c, Boolean(merged));
    } catch (err) {
      const text = err instanceof ApiError && err.code === 'device_not_found'
        ? fill(t('phone.notFound'), { by: t(`phone.by.${kind.el.value}`), code: value })
        : refusalText(err);
      say('error', text, err instanceof ApiError ? err.code : 'error');
    } finally {
      submit.disabled = false;
    }
  }

  return h('form', { id: 'phone-report', class: 'phone-form', 'aria-labelledby': 'phone-title', novalidate: true, onsubmit: send },
    h('h2', { id: 'phone-title' }, t('phone.title')),
    h('div', { class: 'phone-grid' }, kind.row, code.row, caller.row, floor.row, passengers.row),
    note.row,
    h('div', { class: 'actions' }, submit),
    msg);
}
