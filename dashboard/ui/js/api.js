// The HTTP API with the signed-in user's token (kept per browser tab).
import { errorText } from './errorText.js';

const KEY = 'session';

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY) ?? 'null'); } catch { return null; }
}

export function setSession(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s)); else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  /** `message`: in the UI's language (errorText.js); `serverMessage`: the service's own words */
  constructor(status, code, message, retryAfterS = null, details = null) {
    super(errorText(code, { message, details }));
    this.serverMessage = message;
    this.status = status;
    this.code = code;
    /** seconds from Retry-After (429 rate_limited), else null */
    this.retryAfterS = retryAfterS;
    /** the error's `details` (invalid fields, a refusal's `reason`), else null */
    this.details = details;
  }
}

/** What to do when the token is refused (401): main.js sends the user back to the login screen. */
let sessionEnded = () => {};
export function onSessionEnded(fn) { sessionEnded = fn; }

/**
 * One API call. A 401 for the token we sent (logged out, disabled, deleted, re-passworded or
 * expired elsewhere) ends the session here: `sessionEnded` runs, then the error is thrown.
 * `bad_credentials` is a wrong password in the body (login, own password change), not the
 * token; an answer for a token that has since been replaced (own password change) is ignored;
 * `{ ended: false }` skips it (logout itself).
 */
export async function api(method, path, body, { ended = true } = {}) {
  const s = session();
  const res = await fetch(path, {
    method,
    headers: { ...(s ? { authorization: `Bearer ${s.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let data = text;
  if (text && res.headers.get('content-type')?.includes('json')) { try { data = JSON.parse(text); } catch { /* keep the text */ } }
  if (!res.ok) {
    const code = data?.error?.code ?? 'error';
    const retry = Number(res.headers.get('retry-after') ?? data?.error?.details?.retryAfterS);
    const err = new ApiError(res.status, code, data?.error?.message ?? String(res.status), Number.isFinite(retry) && retry > 0 ? Math.ceil(retry) : null,
      data?.error?.details ?? null);
    if (res.status === 401 && ended && s && code !== 'bad_credentials' && session()?.token === s.token) sessionEnded();
    throw err;
  }
  return res.status === 204 ? null : data;
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}, opts) => api('POST', path, body, opts);
export const patch = (path, body) => api('PATCH', path, body);
export const del = (path) => api('DELETE', path);
