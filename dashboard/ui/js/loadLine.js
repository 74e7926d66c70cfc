// A view's "loading / failed, retrying in N s" line, as the wall shows it (retry.js): a read
// that fails is retried after 1, 2, 4 … 30 s until it succeeds; a refusal a retry cannot fix
// (400, 403) says so with its message; a 401 ends the session (api.js). Used by the cylinder
// and store views, each panel with its own line.
import { h } from './dom.js';
import { fill, t } from './i18n.js';
import { retrying } from './retry.js';

/**
 * `load()` is read (again) on `reload()`, its answer handed to `onData`; `el` is the line to
 * place. `dispose()` stops the retries and the countdown.
 */
export function loadLine(id, load, onData) {
  const el = h('span', { class: 'load-state', id, role: 'status', 'aria-live': 'polite' });
  let state = { phase: 'idle' };
  let run = null;
  const paint = () => {
    const s = state;
    el.dataset.state = s.phase;
    const text = s.phase === 'loading' ? t('load.loading')
      : s.phase === 'failed' ? fill(t('load.failed'), { s: Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) })
        : s.phase === 'error' ? `${t('load.failedShort')}: ${s.error?.message ?? ''}` : '';
    if (el.textContent !== text) el.textContent = text;
  };
  // the countdown of "retrying in N s"
  const tick = setInterval(() => { if (state.phase === 'failed') paint(); }, 1000);
  return {
    el,
    reload() {
      run?.stop();
      run = retrying(load, { onData, onState: (s) => { state = s; paint(); } });
    },
    dispose() { run?.stop(); clearInterval(tick); },
  };
}
