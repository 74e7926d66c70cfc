// A modal confirmation built with dom.js (text only, no HTML), for the destructive actions of
// the users page and the steps of a 96333 rescue case: it names what is about to happen, may
// ask for fields (a new password; a step's time, details and reason) or for a word to be
// typed (deleting your own account), and resolves with the field values, or null when
// cancelled (button, Escape, a click beside it). Every text comes from the caller.
import { h } from './dom.js';

let open = null;

/**
 * @typedef {object} Field
 * @property {string} name
 * @property {string} label
 * @property {string} [type]          an input type, or 'textarea'
 * @property {string} [autocomplete]
 * @property {boolean} [optional]     not required (fields are required unless said so)
 * @property {string} [value]         the initial value
 * @property {string | Node} [hint]   a line under the field (the caller may keep the node and rewrite it)
 * @property {Record<string, string | number>} [attrs]  more attributes: min, max, step, maxlength, inputmode, placeholder
 * @property {boolean} [focus]        takes the focus when the dialog opens (default: the first field)
 */

/**
 * @param {object} o
 * @param {string} o.title
 * @param {Array<string | Node>} o.lines  what happens, one paragraph each
 * @param {string} o.confirmLabel
 * @param {string} [o.cancelLabel]  none: the confirm button only (a dialog that informs, e.g. the wall's list of never-connected devices)
 * @param {boolean} [o.danger]     the confirm button in the danger colour
 * @param {string} [o.id]          the overlay's id (default `confirm`)
 * @param {Field[]} [o.fields]
 * @param {{label: string, value: string}} [o.typeToConfirm]  confirm stays disabled until `value` is typed
 * @param {(values: Record<string, string>) => string | null} [o.validate]  an error text, or null
 * @param {(values: Record<string, string>, els: Record<string, HTMLElement>) => void} [o.onInput]  after each change of a field
 * @param {(values: Record<string, string>) => Promise<string | null>} [o.submit]  run on confirm with the dialog still open:
 *   an error text keeps it open and shows the text; null closes it (resolving with the values)
 * @returns {Promise<Record<string, string> | null>}
 */
export function confirmDialog(o) {
  closeDialog();
  return new Promise((resolve) => {
    const inputs = (o.fields ?? []).map((f) => {
      const id = `confirm-${f.name}`;
      const hint = f.hint === undefined ? null : h('div', { class: 'hint muted', id: `${id}-hint` }, f.hint);
      const common = {
        name: f.name, id, autocomplete: f.autocomplete ?? 'off', required: !f.optional, 'aria-describedby': hint ? hint.id : undefined, ...(f.attrs ?? {}),
      };
      const el = f.type === 'textarea' ? h('textarea', { ...common, rows: 3 }) : h('input', { ...common, type: f.type ?? 'text' });
      if (f.value !== undefined) el.value = f.value;
      return { ...f, el, hint, labelEl: h('label', { for: id }, f.label) };
    });
    const els = Object.fromEntries(inputs.flatMap((f) => [[f.name, f.el], [`${f.name}:label`, f.labelEl]]));
    const typed = o.typeToConfirm ? h('input', { name: 'typed', id: 'confirm-typed', autocomplete: 'off', spellcheck: 'false' }) : null;
    const err = h('div', { class: 'error', role: 'alert', id: 'confirm-error' });
    const ok = h('button', { type: 'submit', class: o.danger ? 'danger' : 'primary', dataset: { confirm: 'ok' } }, o.confirmLabel);
    const cancel = o.cancelLabel === undefined ? null : h('button', { type: 'button', dataset: { confirm: 'cancel' }, onclick: () => done(null) }, o.cancelLabel);
    const sync = () => { if (typed) ok.disabled = typed.value.trim() !== o.typeToConfirm.value; };
    const values = () => Object.fromEntries(inputs.map((f) => [f.name, f.el.value]));
    typed?.addEventListener('input', sync);
    sync();
    let busy = false;
    const form = h('form', {
      class: 'modal panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-error', novalidate: true,
      oninput: () => o.onInput?.(values(), els),
      onsubmit: async (e) => {
        e.preventDefault();
        if (ok.disabled || busy) return;
        const v = values();
        const problem = o.validate?.(v) ?? null;
        if (problem) { err.textContent = problem; return; }
        err.textContent = '';
        if (o.submit) {
          busy = true;
          ok.disabled = true;
          let refused = null;
          try { refused = await o.submit(v); } finally { busy = false; ok.disabled = false; sync(); }
          if (refused) { err.textContent = refused; return; }
        }
        done(v);
      },
    },
    h('h2', { id: 'confirm-title' }, o.title),
    (o.lines ?? []).map((l) => h('p', {}, l)),
    inputs.map((f) => [f.labelEl, f.el, f.hint]),
    typed ? [h('label', { for: 'confirm-typed' }, o.typeToConfirm.label), typed] : null,
    err,
    h('div', { class: 'actions end' }, cancel, ok));
    const overlay = h('div', { class: 'modal-overlay', id: o.id ?? 'confirm', onclick: (e) => { if (e.target === overlay) done(null); } }, form);
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
    o.onInput?.(values(), els);
    // the safe choice has the focus unless there is something to type
    (inputs.find((f) => f.focus)?.el ?? inputs[0]?.el ?? typed ?? cancel ?? ok).focus();
  });
}

/** Close the open dialog as cancelled (the session ended, the view changed). */
export function closeDialog() {
  open?.done(null);
}
