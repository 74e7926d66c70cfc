// A modal confirmation built with dom.js (text only, no HTML), for the destructive actions of
// the users page: it names what is about to happen, may ask for fields (a new password) or
// for a word to be typed (deleting your own account), and resolves with the field values, or
// null when cancelled (button, Escape, a click beside it). Every text comes from the caller.
import { h } from './dom.js';

let open = null;

/**
 * @param {object} o
 * @param {string} o.title
 * @param {string[]} o.lines       what happens, one paragraph each
 * @param {string} o.confirmLabel
 * @param {string} o.cancelLabel
 * @param {boolean} [o.danger]     the confirm button in the danger colour
 * @param {Array<{name: string, label: string, type?: string, autocomplete?: string}>} [o.fields]
 * @param {{label: string, value: string}} [o.typeToConfirm]  confirm stays disabled until `value` is typed
 * @param {(values: Record<string, string>) => string | null} [o.validate]  an error text, or null
 * @returns {Promise<Record<string, string> | null>}
 */
export function confirmDialog(o) {
  closeDialog();
  return new Promise((resolve) => {
    const inputs = (o.fields ?? []).map((f) => ({
      ...f,
      el: h('input', { name: f.name, id: `confirm-${f.name}`, type: f.type ?? 'text', autocomplete: f.autocomplete ?? 'off', required: true }),
    }));
    const typed = o.typeToConfirm ? h('input', { name: 'typed', id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false' }) : null;
    const err = h('div', { class: 'error', role: 'alert', id: 'confirm-error' });
    const ok = h('button', { type: 'submit', class: o.danger ? 'danger' : 'primary', dataset: { confirm: 'ok' } }, o.confirmLabel);
    const cancel = h('button', { type: 'button', dataset: { confirm: 'cancel' }, onclick: () => done(null) }, o.cancelLabel);
    const sync = () => { if (typed) ok.disabled = typed.value.trim() !== o.typeToConfirm.value; };
    typed?.addEventListener('input', sync);
    sync();
    const form = h('form', {
      class: 'modal panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'confirm-title', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        if (ok.disabled) return;
        const values = Object.fromEntries(inputs.map((f) => [f.name, f.el.value]));
        const problem = o.validate?.(values) ?? null;
        if (problem) { err.textContent = problem; return; }
        done(values);
      },
    },
    h('h2', { id: 'confirm-title' }, o.title),
    (o.lines ?? []).map((l) => h('p', {}, l)),
    inputs.map((f) => [h('label', { for: f.el.id }, f.label), f.el]),
    typed ? [h('label', { for: 'confirm-typed' }, o.typeToConfirm.label), typed] : null,
    err,
    h('div', { class: 'actions end' }, cancel, ok));
    const overlay = h('div', { class: 'modal-overlay', id: 'confirm', onclick: (e) => { if (e.target === overlay) done(null); } }, form);
    const onKey = (e) => { if (e.key === 'Escape') done(null); };
    function done(v) {
      if (open !== entry) return;
      open = null;
      document.removeEventListener('keydown', onKey, true);
      overlay.remove();
      resolve(v);
    }
    const entry = { done };
    open = entry;
    document.addEventListener('keydown', onKey, true);
    document.body.append(overlay);
    // the safe choice has the focus unless there is something to type
    (inputs[0]?.el ?? typed ?? cancel).focus();
  });
}

/** Close the open dialog as cancelled (the session ended, the view changed). */
export function closeDialog() {
  open?.done(null);
}
