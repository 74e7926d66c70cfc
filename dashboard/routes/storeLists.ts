/**
 * The public store lists (红黑榜, core/stores/storeList.ts; docs/rules.md, Store lists): the
 * black list's life cycle recorded by people, and both lists published as a JSON feed a
 * delivery platform can pull, or CSV / XLSX for the bureau (GET /api/stores/lists).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_NOTE_CHARS, type Alert } from '../../core/alerts/alert.js';
import type { AlertKey } from '../../core/alerts/alertQuery.js';
import { CodedError } from '../../core/codes.js';
import { onList, personStages, redList, type BlackListEntry, type KnownStore } from '../../core/stores/storeList.js';
import type { App } from '../app.js';
import { inScope } from '../../accounts/scope.js';
import { exportFormat, sendTable } from './tableOut.js';
import { ErrorBody, SystemNoteOut, runningEngine } from './common.js';

const DAY = 86_400_000;
/** class-1 and class-2 detections count against a store (docs/domain.md §1), not false positives */
const MAX_COUNTED_CLASS = 2;
const VIOLATION_RULE = 'kitchen.violation';

const Step = z.object({ stage: z.string(), at: z.number(), by: z.string(), note: z.string().optional(), ...SystemNoteOut });
const Entry = z.object({
  storeId: z.string(), storeName: z.string().nullable(), district: z.string().nullable(), stage: z.string(), flaggedAt: z.number(), count: z.number(),
  lastAlertAt: z.number(), steps: z.array(Step), updatedAt: z.number(),
});
const RedEntry = z.object({ storeId: z.string(), storeName: z.string().nullable(), district: z.string().nullable() });

/** Stores the registry knows: the kitchen cameras' store ids, with a name and district. */
export function knownStores(app: App): Map<string, KnownStore> {
  const out = new Map<string, KnownStore>();
  for (const d of app.deps.registry.list({ family: 'kitchen', limit: Number.MAX_SAFE_INTEGER, offset: 0 }).items) {
    const id = d.meta.storeId;
    if (typeof id !== 'string' || !id || out.has(id)) continue;
    out.set(id, { storeId: id, storeName: typeof d.meta.storeName === 'string' ? d.meta.storeName : null, district: d.district });
  }
  return out;
}

/** Stores with a counted violation first seen in [from, to). */
async function countedStores(app: App, from: number, to: number): Promise<Set<string>> {
  const engine = app.deps.engine!;
  const out = new Set<string>();
  let after: AlertKey | null = null;
  for (;;) {
    const page: { items: Alert[]; next: AlertKey | null } = await engine.listAlerts({ rule: VIOLATION_RULE, since: from, until: to, sort: 'firstSeen', after, limit: 1000 });
    for (const a of page.items) {
      const cls = Number(a.params.riskClass);
      const store = typeof a.params.storeId === 'string' ? a.params.storeId : a.device.meta.storeId;
      if (a.firstSeen >= from && a.status !== 'false_positive' && cls <= MAX_COUNTED_CLASS && typeof store === 'string') out.add(store);
    }
    if (!page.next) return out;
    after = page.next;
  }
}

export const storeListRoutes: FastifyPluginAsyncZod = async (app) => {
  const engine = () => runningEngine(app.deps);

  app.get('/stores/lists', {
    schema: {
      tags: ['stores'],
      summary: 'The black list (stores on it now, and those that left it in the period, with every step) or the red list (stores without a counted '
        + 'violation in the period and not on the black list), as JSON (a feed a delivery platform can pull), CSV or XLSX',
      querystring: z.object({
        kind: z.enum(['black', 'red']),
        period: z.string().regex(/^\d{1,3}d$/, 'days, e.g. 30d').default('30d').transform((s) => Number(s.slice(0, -1))).pipe(z.number().int().min(1).max(366)),
        format: exportFormat,
      }),
      response: {
        200: z.union([
          z.object({ kind: z.literal('black'), from: z.number(), to: z.number(), generatedAt: z.number(), items: z.array(Entry) }),
          z.object({ kind: z.literal('red'), from: z.number(), to: z.number(), generatedAt: z.number(), items: z.array(RedEntry) }),
          z.string(),
        ]),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req, reply) => {
    const now = Date.now();
    const from = now - req.query.period * DAY;
    // only the stores of the caller's district scope, by their kitchen cameras (docs/api.md, District scope)
    const stores = new Map([...knownStores(app as unknown as App)].filter(([, s]) => inScope(req.user!, s.district)));
    const named = (id: string) => stores.get(id) ?? { storeId: id, storeName: null, district: null };
    const all = engine().blackList().filter((e) => inScope(req.user!, named(e.storeId).district));
    if (req.query.kind === 'black') {
      const items = all.filter((e) => onList(e) || e.updatedAt >= from).map((e: BlackListEntry) => ({ ...e, storeName: named(e.storeId).storeName, district: named(e.storeId).district }));
      if (req.query.format !== 'json') {
        return sendTable(reply, req.query.format, `black-list-${req.query.period}d`, ['storeId', 'storeName', 'district', 'stage', 'flaggedAt', 'count', 'lastStep', 'lastStepBy', 'lastStepNote'],
          items.map((e) => { const last = e.steps.at(-1)!; return [e.storeId, e.storeName, e.district, e.stage, new Date(e.flaggedAt).toISOString(), e.count, new Date(last.at).toISOString(), last.by, last.note ?? null]; }));
      }
      return { kind: 'black' as const, from, to: now, generatedAt: now, items };
    }
    const items = redList([...stores.values()], await countedStores(app as unknown as App, from, now), all);
    if (req.query.format !== 'json') {
      return sendTable(reply, req.query.format, `red-list-${req.query.period}d`, ['storeId', 'storeName', 'district'], items.map((s) => [s.storeId, s.storeName, s.district]));
    }
    return { kind: 'red' as const, from, to: now, generatedAt: now, items };
  });

  app.post('/stores/:storeId/list-steps', {
    schema: {
      tags: ['stores'],
      summary: 'Record the next step of a store on the black list (notified -> rectified -> rechecked -> lifted), with a note; 409 store_list_refused otherwise',
      params: z.object({ storeId: z.string().min(1).max(64) }),
      body: z.object({ stage: z.enum(personStages), note: z.string().trim().min(1).max(MAX_NOTE_CHARS) }),
      response: { 200: Entry, 403: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('manageStoreLists'),
  }, async (req) => {
    // a store outside the caller's district scope is refused as one never listed (docs/api.md, District scope)
    if (!inScope(req.user!, knownStores(app as unknown as App).get(req.params.storeId)?.district)) {
      throw new CodedError('store_list_refused', `store ${req.params.storeId} has never been on the black list`, { reason: 'not_listed' });
    }
    const e = await engine().advanceStore(req.params.storeId, req.body.stage, req.user!.sub, req.body.note);
    app.audit(req, 'store.list_step', e.storeId, { stage: req.body.stage, note: req.body.note });
    const s = knownStores(app as unknown as App).get(e.storeId);
    return { ...e, storeName: s?.storeName ?? null, district: s?.district ?? null };
  });
};
