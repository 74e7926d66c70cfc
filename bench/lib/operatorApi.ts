/**
 * The operator HTTP API as bench:api (P7) reaches it: requests timed to the last byte of the
 * answer, the engine's alert count and the components down as /healthz reports them, and the
 * paged walk of the open alerts following `nextCursor`.
 */

const REQUEST_TIMEOUT_MS = 60_000;

export class Api {
  constructor(readonly base: string, private readonly token: string) {}

  /** One request, timed from the call to the last byte of the answer. */
  async timed(pathAndQuery: string): Promise<{ ms: number; status: number; body: Buffer }> {
    const t0 = performance.now();
    const res = await fetch(`${this.base}${pathAndQuery}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = Buffer.from(await res.arrayBuffer());
    return { ms: performance.now() - t0, status: res.status, body };
  }

  async getJson<T>(pathAndQuery: string): Promise<T> {
    const r = await this.timed(pathAndQuery);
    if (r.status !== 200) throw new Error(`GET ${pathAndQuery}: ${r.status} ${r.body.toString().slice(0, 200)}`);
    return JSON.parse(r.body.toString()) as T;
  }

  async post(pathAndQuery: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.base}${pathAndQuery}`, {
      method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: res.status, text: await res.text() };
  }
}

/** The engine's count of open and acknowledged alerts, as /healthz reports it. */
export async function activeAlerts(base: string): Promise<number> {
  const h = await (await fetch(`${base}/healthz`)).json() as { components?: { alerts?: { detail?: string } } };
  const m = /(\d+) active alerts/.exec(h.components?.alerts?.detail ?? '');
  if (!m) throw new Error(`/healthz has no alert count: ${JSON.stringify(h)}`);
  return Number(m[1]);
}

/** The components /healthz reports down, with their error (empty while it answers 200). */
export async function healthProblems(base: string): Promise<string[]> {
  const res = await fetch(`${base}/healthz`);
  if (res.ok) return [];
  const h = await res.json() as { components?: Record<string, { ok: boolean; error?: string; detail?: string; since?: string }> };
  return Object.entries(h.components ?? {}).filter(([, c]) => !c.ok).map(([name, c]) => `${name} down${c.since ? ` since ${c.since}` : ''}: ${(c.error ?? c.detail ?? '').split('\n')[0]!.slice(0, 200)}`);
}

export interface AlertItem { id: string; severity: string; device: { id: string }; timeline?: unknown[] }
export interface AlertPage { items: AlertItem[]; nextCursor?: string | null }

export const LIST = '/api/alerts?status=open,acknowledged&limit=500';

/** Follow `nextCursor` from the first page; a build without it answers one page. */
export async function walk(api: Api, onPage: (ms: number, bytes: number) => void, maxPages = 10_000): Promise<{ pages: number; items: AlertItem[]; cursorApi: boolean }> {
  const items: AlertItem[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let cursorApi = false;
  const seen = new Set<string>();
  do {
    const r = await api.timed(cursor === null ? LIST : `${LIST}&cursor=${encodeURIComponent(cursor)}`);
    if (r.status !== 200) throw new Error(`alert page ${pages + 1}: ${r.status} ${r.body.toString().slice(0, 200)}`);
    onPage(r.ms, r.body.length);
    pages++;
    const page = JSON.parse(r.body.toString()) as AlertPage;
    items.push(...page.items);
    if ('nextCursor' in page) cursorApi = true;
    cursor = typeof page.nextCursor === 'string' && page.nextCursor !== '' ? page.nextCursor : null;
    if (cursor !== null && seen.has(cursor)) throw new Error(`nextCursor ${cursor} came back twice`);
    if (cursor !== null) seen.add(cursor);
  } while (cursor !== null && pages < maxPages);
  return { pages, items, cursorApi };
}
