// A load that retries by itself: when it fails it waits 1 s, then 2 s, 4 s … up to 30 s, and
// tries again, reporting every state so the page can show it: `loading`, `failed` (with the
// error and `retryAt`, the moment of the next try), `ok`. A refusal that a retry cannot fix
// (400, 401: the session ended, main.js shows the login; 403) ends as `error`.
export const FIRST_RETRY_MS = 1000;
export const MAX_RETRY_MS = 30_000;

/**
 * Runs `load()` until it succeeds, then `onData(result)`; `onState(s)` on every change.
 * `stop()` cancels: no retry, no callback after it.
 */
export function retrying(load, { onData, onState }) {
  let stopped = false;
  let timer = null;
  let delay = FIRST_RETRY_MS;
  let attempt = 0;
  async function run() {
    timer = null;
    attempt += 1;
    onState({ phase: 'loading', attempt });
    let result;
    try {
      result = await load();
    } catch (err) {
      if (stopped) return;
      if ([400, 401, 403].includes(err?.status)) { onState({ phase: 'error', error: err, attempt }); return; }
      onState({ phase: 'failed', error: err, attempt, retryAt: Date.now() + delay });
      timer = setTimeout(run, delay);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
      return;
    }
    if (stopped) return;
    onData(result);
    onState({ phase: 'ok', attempt });
  }
  void run();
  return {
    stop() { stopped = true; clearTimeout(timer); },
  };
}

/** The worst of several load states: failed, then error, then loading, then ok. */
export function worstState(...states) {
  const order = ['failed', 'error', 'loading', 'idle', 'ok'];
  return states.filter(Boolean).sort((x, y) => order.indexOf(x.phase) - order.indexOf(y.phase))[0] ?? { phase: 'ok' };
}
