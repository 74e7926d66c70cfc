// Exports (导出 CSV / XLSX) of the routes with `format=csv|xlsx` (dashboard/routes/tableOut.ts).
// Those routes answer only with the Authorization header, which a plain link cannot send, so
// the file is fetched with the tab's token (as api.js sends it) and handed to the browser as a
// Blob behind a temporary object URL, under the name the service gave it.
import { ApiError, get, session } from './api.js';
import { h, toast } from './dom.js';
import { t } from './i18n.js';

/** How long the object URL lives after the click (the browser has started the download by then). */
const REVOKE_MS = 60_000;

/** Fetch `path` (a route's URL with `format=`) and save it; throws an ApiError when refused. */
export async function downloadTable(path) {
  const s = session();
  const res = await fetch(path, { headers: s ? { authorization: `Bearer ${s.token}` } : {} });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not JSON: the status says enough */ }
    // a refused token: let api.js decide whether the session ended (it shows the login screen then)
    if (res.status === 401) await get('/api/me').catch(() => {});
    throw new ApiError(res.status, body?.error?.code ?? 'error', body?.error?.message ?? String(res.status), null, body?.error?.details ?? null);
  }
  const blob = await res.blob();
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'export';
  const url = URL.createObjectURL(blob);
  const a = h('a', { download: name, hidden: true });
  // set directly: h() keeps only http(s) URLs, and this blob: URL is our own file, not page data
  a.href = url;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), REVOKE_MS);
  return name;
}

/**
 * 导出 CSV / 导出 XLSX buttons for a table; `path()` is the route with its current query
 * (period, district …), read at the click so the export follows the filters shown.
 * `id` prefixes the buttons' ids (`<id>-csv`, `<id>-xlsx`).
 */
export function exportButtons(id, path) {
  const button = (format, label) => {
    const b = h('button', {
      type: 'button', class: 'small', id: `${id}-${format}`, dataset: { export: format },
      onclick: async () => {
        b.disabled = true;
        try {
          const base = path();
          await downloadTable(`${base}${base.includes('?') ? '&' : '?'}format=${format}`);
        } catch (err) {
          if (err?.status !== 401) toast(`${t('tableExport.failed')}: ${err?.message ?? err}`);
        } finally { b.disabled = false; }
      },
    }, label);
    return b;
  };
  return h('span', { class: 'export-buttons' }, button('csv', t('tableExport.csv')), button('xlsx', t('tableExport.xlsx')));
}
