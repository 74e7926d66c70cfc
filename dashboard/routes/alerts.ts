/**
 * Alerts and the repeat-offender flag list (rescue cases: rescue.ts) (docs/protocol.md, Operator HTTP
 * API, minimum: GET /api/alerts, GET /api/alerts/:id, ack, resolve; plus assign, note and
 * false positive). Actions are persisted before the answer, and fan out to every client.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_NOTE_CHARS, type Alert } from '../../core/alerts/alert.js';
import { alertSorts, alertStatuses as statuses, keyLength, type AlertKey, type AlertSort } from '../../core/alerts/alertQuery.js';
import type { AlertDetail } from '../../alerts/engine.js';
import { CodedError } from '../../core/codes.js';
import { families } from '../../core/schemas/index.js';
import { mayHandle } from '../../core/roles.js';
import { inScope, scopedDistrict, type ScopedUser } from '../../accounts/scope.js';
import { storesInScope } from '../districts.js';
import { ErrorBody, SystemNoteOut, TimeParam, limitParam, filterText, wholeParam, runningEngine } from './common.js';

const severities = ['critical', 'major', 'minor', 'info'] as const;

const AlertOut = z.looseObject({
  id: z.string(), family: z.enum(families), rule: z.string(), condition: z.string(), severity: z.enum(severities),
  status: z.enum(statuses), summary: z.string(), assignee: z.string().nullable(), count: z.number(),
  firstSeen: z.number(), lastSeen: z.number(),
  device: z.looseObject({ id: z.string() }),
  deadlines: z.looseObject({ ackBy: z.number().nullable(), resolveBy: z.number().nullable() }),
  events: z.number().describe('entries on its timeline'),
  notes: z.number().describe('entries written by people (notes, assignments); at most 1,000 per alert'),
  closedBy: z.string().nullable().optional().describe('who closed it; `system` when the engine did (a device back to normal)'),
  rescueCaseId: z.string().nullable().optional().describe('the 96333 rescue case of a trapped-passenger alert'),
  rectification: z.object({ round: z.number(), answeredAt: z.number().nullable() }).nullable().optional()
    .describe('a class-2 kitchen detection the store rectifies: ackBy is the answer\'s deadline, resolveBy the re-check\'s (docs/rules/kitchen.md)'),
}).describe('An alert record (without its timeline); times are epoch milliseconds');

const TimelineOut = z.array(z.object({
  n: z.number().describe('position on the timeline, from 0'), at: z.number(), by: z.string(), action: z.string(),
  note: z.string().optional().describe('a person\'s note, or the English text of a system note'),
  ...SystemNoteOut,
}));

const AlertDetailOut = AlertOut.extend({
  timeline: TimelineOut.describe('the newest entries (at most 200), oldest first; older ones: GET /api/alerts/{id}/timeline?before='),
  timelineTotal: z.number(),
}).describe('An alert with the newest part of its timeline; times are epoch milliseconds');

/** A comma-separated list of enum values in a query (`status=open,acknowledged`); the alert export reads the same (exports.ts). */
const enumList = <T extends string>(values: readonly T[]) => z.string().max(200).optional().transform((s, ctx) => {
  if (!s) return undefined;
  const list = s.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of list) if (!(values as readonly string[]).includes(x)) ctx.addIssue({ code: 'custom', message: `unknown value ${x}; one of ${values.join(', ')}` });
  return list as T[];
});

/** The filters of an alert list, also those of its export (exports.ts). */
export const alertFilters = {
  status: enumList(statuses),
  family: z.enum(families).optional(),
  severity: enumList(severities),
  rule: filterText(64).optional(),
  deviceId: filterText(64).optional(),
  district: filterText(12).optional(),
  since: TimeParam.optional().describe('last seen at or after'),
  until: TimeParam.optional().describe('first seen before'),
};

/**
 * The cursor of an alert list: the sort and the last item's key, as base64url JSON. Opaque to
 * clients; checked like any input (a forged one is a 400, never a query of its own making).
 */
export const encodeCursor = (sort: AlertSort, key: AlertKey): string => Buffer.from(JSON.stringify([sort, ...key])).toString('base64url');

export function decodeCursor(cursor: string, sort: AlertSort): AlertKey | null {
  let v: unknown;
  try { v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')); } catch { return null; }
  if (!Array.isArray(v) || v.length !== keyLength[sort] + 2 || v[0] !== sort) return null;
  const nums = v.slice(1, -1);
  const id = v.at(-1);
  if (!nums.every((x) => typeof x === 'number' && Number.isSafeInteger(x)) || typeof id !== 'string' || id.length > 64) return null;
  return [...(nums as number[]), id];
}

/** Alert has no index signature; the loose schema documents the shape without re-listing it. */
const alertOut = (a: Alert): z.output<typeof AlertOut> => a as unknown as z.output<typeof AlertOut>;
const detailOut = (a: AlertDetail): z.output<typeof AlertDetailOut> => a as unknown as z.output<typeof AlertDetailOut>;

const IdParams = z.object({ id: z.string().min(1).max(64) });

/**
 * An alert outside the caller's district scope is answered as the engine answers an unknown id
 * (docs/api.md, District scope): a scoped account learns nothing of another district's alerts.
 */
function inCallersScope<T extends Alert>(user: ScopedUser, a: T): T {
  if (!inScope(user, a.device.district)) throw new CodedError('alert_not_found', `no alert ${a.id}`);
  return a;
}
const NoteBody = z.object({ note: z.string().trim().min(1).max(MAX_NOTE_CHARS).optional() }).default({});

export const alertRoutes: FastifyPluginAsyncZod = async (app) => {
  const engine = () => runningEngine(app.deps);
  const rescueRule = app.deps.rescueRule;

  app.get('/alerts', {
    schema: {
      tags: ['alerts'],
      summary: 'Alerts, one page at a time: filter by status, severity (comma-separated lists), family, district prefix, rule, device and time; '
        + 'sort lastSeen (default, latest activity first), firstSeen (newest first) or priority (severity, then the deadline due, then newest); '
        + 'pass nextCursor back as cursor for the next page (null: no more). Reads what is committed now, never waits for the store.',
      querystring: z.object({
        ...alertFilters,
        sort: z.enum(alertSorts).default('lastSeen'),
        cursor: z.string().max(512).regex(/^[A-Za-z0-9_-]+$/, 'a cursor from nextCursor').optional(),
        limit: limitParam(100, 5000),
      }),
      response: { 200: z.object({ items: z.array(AlertOut), nextCursor: z.string().nullable() }), 400: ErrorBody },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req) => {
    const q = req.query;
    const after = q.cursor === undefined ? null : decodeCursor(q.cursor, q.sort);
    if (q.cursor !== undefined && !after) {
      throw new CodedError('validation', 'the cursor is not one this list gave (or was given for another sort)', [{ in: 'querystring', path: 'cursor', message: 'not a cursor of this sort' }]);
    }
    // the scope goes into the query, so a page is never cut short by a filter after the limit
    const district = scopedDistrict(req.user!, q.district);
    if (district === false) return { items: [], nextCursor: null };
    const page = await engine().listAlerts({
      sort: q.sort, after, limit: q.limit,
      ...(q.status ? { status: q.status } : {}),
      ...(q.family ? { family: q.family } : {}),
      ...(q.severity ? { severity: q.severity } : {}),
      ...(q.rule ? { rule: q.rule } : {}),
      ...(q.deviceId ? { deviceId: q.deviceId } : {}),
      ...(district ? { district } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
    });
    return { items: page.items.map(alertOut), nextCursor: page.next ? encodeCursor(q.sort, page.next) : null };
  });

  app.get('/alerts/:id', {
    schema: { tags: ['alerts'], summary: 'One alert with its evidence and the newest 200 entries of its timeline', params: IdParams, response: { 200: AlertDetailOut, 404: ErrorBody } },
    preHandler: app.requires('readAlerts'),
  }, async (req) => detailOut(inCallersScope(req.user!, await engine().alertDetail(req.params.id))));

  app.get('/alerts/:id/timeline', {
    schema: {
      tags: ['alerts'],
      summary: 'Older timeline entries: the newest `limit` entries before position `before`, oldest first',
      params: IdParams,
      querystring: z.object({ before: wholeParam(0, 100_000_000).optional(), limit: limitParam(200, 1000) }),
      response: { 200: z.object({ items: TimelineOut, total: z.number() }), 404: ErrorBody },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req) => {
    const d = inCallersScope(req.user!, await engine().alertDetail(req.params.id, req.query.limit, req.query.before));
    return { items: d.timeline, total: d.timelineTotal };
  });

  const action = (path: string, act: 'ack' | 'resolve' | 'note' | 'false_positive', summary: string, body: z.ZodType = NoteBody) => {
    app.post(`/alerts/:id/${path}`, {
      schema: { tags: ['alerts'], summary: `${summary}; answers the alert with the newest 20 timeline entries`, params: IdParams, body, response: { 200: AlertDetailOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } },
      preHandler: app.requires('handleAlerts'),
    }, async (req) => {
      const alert = inCallersScope(req.user!, await engine().getAlert(req.params.id));
      if (!mayHandle(req.user!.role, alert.rule, rescueRule)) {
        throw new CodedError('forbidden', req.user!.role === 'dispatcher' ? 'dispatchers handle elevator rescue alerts' : '96333 rescue alerts are handled by dispatchers');
      }
      const b = (req.body ?? {}) as { note?: string; assignee?: string };
      const done = await engine().act(alert.id, act, req.user!.sub, { ...(b.note ? { note: b.note } : {}) });
      app.audit(req, `alert.${act}`, alert.id, { rule: alert.rule, note: b.note });
      return detailOut(done);
    });
  };
  action('ack', 'ack', 'Acknowledge an alert');
  action('resolve', 'resolve', 'Resolve an alert (acknowledges it too when still open)');
  action('note', 'note', 'Add a note to the timeline (at most 2,000 characters; 1,000 notes and assignments per alert, then 409 note_limit)', z.object({ note: z.string().trim().min(1).max(MAX_NOTE_CHARS) }));
  action('false-positive', 'false_positive', 'Mark a kitchen detection a false positive; it no longer counts against the store');

  // rectification of a class-2 kitchen detection (core/alerts/rectification.ts): the store's answer, the bureau's re-check
  const NoteRequired = z.string().trim().min(1).max(MAX_NOTE_CHARS);
  const rectify = (path: string, summary: string, body: z.ZodType, kind: (b: { passed?: boolean }) => 'answer' | 'recheck_passed' | 'recheck_failed') => {
    app.post(`/alerts/:id/${path}`, {
      schema: { tags: ['alerts'], summary, params: IdParams, body, response: { 200: AlertDetailOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } },
      preHandler: app.requires('handleAlerts'),
    }, async (req) => {
      const alert = inCallersScope(req.user!, await engine().getAlert(req.params.id));
      if (!mayHandle(req.user!.role, alert.rule, rescueRule)) throw new CodedError('forbidden', `role ${req.user!.role} does not handle ${alert.rule} alerts`);
      const b = req.body as { note: string; passed?: boolean };
      const done = await engine().rectify(alert.id, kind(b), req.user!.sub, b.note);
      app.audit(req, kind(b) === 'answer' ? 'alert.store_answer' : 'alert.recheck', alert.id, { rule: alert.rule, passed: b.passed, note: b.note });
      return detailOut(done);
    });
  };
  rectify('store-answer', 'Record the store\'s answer to a class-2 detection (what it did, who answered): acknowledges it; 409 alert_conflict with the reason otherwise',
    z.object({ note: NoteRequired }), () => 'answer');
  rectify('recheck', 'Record the bureau\'s re-check after the store answered: passed resolves the alert, failed starts another round (answer within 2 h, re-check 72 h on)',
    z.object({ passed: z.boolean(), note: NoteRequired }), (b) => (b.passed ? 'recheck_passed' : 'recheck_failed'));

  app.post('/alerts/:id/assign', {
    schema: {
      tags: ['alerts'], summary: 'Assign an alert to a person or unit', params: IdParams,
      body: z.object({ assignee: z.string().trim().min(1).max(128), note: z.string().trim().max(MAX_NOTE_CHARS).optional() }),
      response: { 200: AlertDetailOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('handleAlerts'),
  }, async (req) => {
    const alert = inCallersScope(req.user!, await engine().getAlert(req.params.id));
    if (!mayHandle(req.user!.role, alert.rule, rescueRule)) throw new CodedError('forbidden', `role ${req.user!.role} does not handle ${alert.rule} alerts`);
    const done = await engine().act(alert.id, 'assign', req.user!.sub, { assignee: req.body.assignee, ...(req.body.note ? { note: req.body.note } : {}) });
    app.audit(req, 'alert.assign', alert.id, { rule: alert.rule, assignee: req.body.assignee, note: req.body.note });
    return detailOut(done);
  });

  app.get('/stores/flagged', {
    schema: {
      tags: ['alerts'],
      summary: 'Repeat-offender stores (红黑榜): 3+ class-2+ alerts within 7 days, false positives excluded',
      response: { 200: z.object({ items: z.array(z.object({ storeId: z.string(), flagged: z.boolean(), count: z.number(), at: z.number() })) }) },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req) => {
    const stores = storesInScope(app.deps.registry, req.user!);
    return { items: engine().storeFlags().filter((f) => !stores || stores.has(f.storeId)) };
  });
};
