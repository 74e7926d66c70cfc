/**
 * Alerts, 96333 rescue cases and the repeat-offender flag list (PROTOCOL.md Operator HTTP
 * API, minimum: GET /api/alerts, GET /api/alerts/:id, ack, resolve; plus assign, note and
 * false positive). Actions are persisted before the answer, and fan out to every client.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../../alerts/domain/alert.js';
import type { RescueCase } from '../../alerts/domain/rescueCase.js';
import { elapsed, rescueDeadlines } from '../../alerts/domain/rescueCase.js';
import { CodedError } from '../../service/codes.js';
import { families } from '../../ingest/schemas/index.js';
import { mayHandle } from '../roles.js';
import { ErrorBody, TimeParam, limitParam, filterText } from './common.js';

const statuses = ['open', 'acknowledged', 'resolved', 'false_positive'] as const;
const severities = ['critical', 'major', 'minor', 'info'] as const;

const AlertOut = z.looseObject({
  id: z.string(), family: z.enum(families), rule: z.string(), condition: z.string(), severity: z.enum(severities),
  status: z.enum(statuses), summary: z.string(), assignee: z.string().nullable(), count: z.number(),
  firstSeen: z.number(), lastSeen: z.number(),
  device: z.looseObject({ id: z.string() }),
  deadlines: z.looseObject({ ackBy: z.number().nullable(), resolveBy: z.number().nullable() }),
  timeline: z.array(z.looseObject({ at: z.number(), by: z.string(), action: z.string() })),
}).describe('An alert; times are epoch milliseconds');

const CaseOut = z.looseObject({
  id: z.string(), elevatorId: z.string(), alertId: z.string(), status: z.string(), alarmAt: z.number(),
  steps: z.array(z.looseObject({ step: z.string(), at: z.number(), by: z.string() })),
  elapsed: z.looseObject({ sinceAlarm: z.number() }),
  deadlines: z.looseObject({ dispatchBy: z.number(), arrivalBy: z.number() }),
});

/** Alert has no index signature; the loose schema documents the shape without re-listing it. */
const alertOut = (a: Alert): z.output<typeof AlertOut> => a as unknown as z.output<typeof AlertOut>;

const IdParams = z.object({ id: z.string().min(1).max(64) });
const NoteBody = z.object({ note: z.string().trim().min(1).max(2000).optional() }).default({});

export const alertRoutes: FastifyPluginAsyncZod = async (app) => {
  const engine = () => {
    const e = app.deps.engine;
    if (!e) throw new CodedError('unavailable', 'the alert engine is not running');
    return e;
  };
  const rescueRule = app.deps.rescueRule;

  app.get('/alerts', {
    schema: {
      tags: ['alerts'],
      summary: 'Alerts, newest first. status may repeat or be comma-separated (default: all)',
      querystring: z.object({
        status: z.string().optional().transform((s, ctx) => {
          if (!s) return undefined;
          const list = s.split(',').map((x) => x.trim()).filter(Boolean);
          for (const x of list) if (!(statuses as readonly string[]).includes(x)) ctx.addIssue({ code: 'custom', message: `unknown status ${x}; one of ${statuses.join(', ')}` });
          return list as Array<(typeof statuses)[number]>;
        }),
        family: z.enum(families).optional(),
        severity: z.enum(severities).optional(),
        rule: filterText(64).optional(),
        deviceId: filterText(64).optional(),
        district: filterText(12).optional(),
        since: TimeParam.optional(),
        limit: limitParam(100, 5000),
      }),
      response: { 200: z.object({ items: z.array(AlertOut) }) },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req) => {
    const q = req.query;
    // the store lags the engine by at most one checkpoint: write it out first
    await engine().checkpoint();
    const items = await app.deps.store.queryAlerts({
      limit: q.limit,
      ...(q.status ? { status: q.status } : {}),
      ...(q.family ? { family: q.family } : {}),
      ...(q.severity ? { severity: q.severity } : {}),
      ...(q.rule ? { rule: q.rule } : {}),
      ...(q.deviceId ? { deviceId: q.deviceId } : {}),
      ...(q.district ? { district: q.district } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    });
    return { items: items.map(alertOut) };
  });

  app.get('/alerts/:id', {
    schema: { tags: ['alerts'], summary: 'One alert with its timeline and evidence', params: IdParams, response: { 200: AlertOut, 404: ErrorBody } },
    preHandler: app.requires('readAlerts'),
  }, async (req) => alertOut(await engine().getAlert(req.params.id)));

  const action = (path: string, act: 'ack' | 'resolve' | 'note' | 'false_positive', summary: string, body: z.ZodType = NoteBody) => {
    app.post(`/alerts/:id/${path}`, {
      schema: { tags: ['alerts'], summary, params: IdParams, body, response: { 200: AlertOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } },
      preHandler: app.requires('handleAlerts'),
    }, async (req) => {
      const alert = await engine().getAlert(req.params.id);
      if (!mayHandle(req.user!.role, alert.rule, rescueRule)) {
        throw new CodedError('forbidden', req.user!.role === 'dispatcher' ? 'dispatchers handle elevator rescue alerts' : '96333 rescue alerts are handled by dispatchers');
      }
      const b = (req.body ?? {}) as { note?: string; assignee?: string };
      return alertOut(await engine().act(alert.id, act, req.user!.sub, { ...(b.note ? { note: b.note } : {}) }));
    });
  };
  action('ack', 'ack', 'Acknowledge an alert');
  action('resolve', 'resolve', 'Resolve an alert (acknowledges it too when still open)');
  action('note', 'note', 'Add a note to the timeline', z.object({ note: z.string().trim().min(1).max(2000) }));
  action('false-positive', 'false_positive', 'Mark a kitchen detection a false positive; it no longer counts against the store');

  app.post('/alerts/:id/assign', {
    schema: {
      tags: ['alerts'], summary: 'Assign an alert to a person or unit', params: IdParams,
      body: z.object({ assignee: z.string().trim().min(1).max(128), note: z.string().trim().max(2000).optional() }),
      response: { 200: AlertOut, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('handleAlerts'),
  }, async (req) => {
    const alert = await engine().getAlert(req.params.id);
    if (!mayHandle(req.user!.role, alert.rule, rescueRule)) throw new CodedError('forbidden', `role ${req.user!.role} does not handle ${alert.rule} alerts`);
    return alertOut(await engine().act(alert.id, 'assign', req.user!.sub, { assignee: req.body.assignee, ...(req.body.note ? { note: req.body.note } : {}) }));
  });

  const withTimes = (c: RescueCase, now: number): z.output<typeof CaseOut> => ({
    ...c, elapsed: elapsed(c, now), deadlines: rescueDeadlines(c, app.deps.rescuePolicy),
  }) as unknown as z.output<typeof CaseOut>;

  app.get('/rescue-cases', {
    schema: {
      tags: ['rescue'],
      summary: '96333 rescue cases with elapsed times and deadlines; active ones by default',
      querystring: z.object({ scope: z.enum(['active', 'all']).default('active'), elevatorId: filterText(64).optional(), since: TimeParam.optional(), limit: limitParam(100, 1000) }),
      response: { 200: z.object({ items: z.array(CaseOut) }) },
    },
    preHandler: app.requires('readAlerts'),
  }, async (req) => {
    const now = Date.now();
    const q = req.query;
    let items = q.scope === 'active'
      ? engine().activeRescueCases()
      : (await engine().checkpoint(), await app.deps.store.queryRescueCases({ limit: q.limit, ...(q.elevatorId ? { elevatorId: q.elevatorId } : {}), ...(q.since !== undefined ? { since: q.since } : {}) }));
    if (q.elevatorId) items = items.filter((c) => c.elevatorId === q.elevatorId);
    items = [...items].sort((a, b) => b.alarmAt - a.alarmAt).slice(0, q.limit);
    return { items: items.map((c) => withTimes(c, now)) };
  });

  app.get('/rescue-cases/:id', {
    schema: { tags: ['rescue'], summary: 'One rescue case with every step', params: IdParams, response: { 200: CaseOut, 404: ErrorBody } },
    preHandler: app.requires('readAlerts'),
  }, async (req) => withTimes(await engine().getRescueCase(req.params.id), Date.now()));

  app.post('/rescue-cases/:id/steps', {
    schema: {
      tags: ['rescue'],
      summary: 'Record a step (dispatched, acknowledged, arrived, released, followed_up, closed, false_alarm) by the signed-in dispatcher',
      params: IdParams,
      body: z.object({
        step: z.enum(['dispatched', 'acknowledged', 'arrived', 'released', 'followed_up', 'closed', 'false_alarm']),
        at: TimeParam.optional().describe('when it happened, if earlier than now'),
        note: z.string().trim().max(2000).optional(),
      }),
      response: { 200: CaseOut, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('recordRescueSteps'),
  }, async (req) => {
    const c = await engine().recordRescueStep(req.params.id, req.body.step as never, req.user!.sub, req.body.at, req.body.note);
    return withTimes(c, Date.now());
  });

  app.get('/stores/flagged', {
    schema: {
      tags: ['alerts'],
      summary: 'Repeat-offender stores (红黑榜): 3+ class-2+ alerts within 7 days, false positives excluded',
      response: { 200: z.object({ items: z.array(z.object({ storeId: z.string(), flagged: z.boolean(), count: z.number(), at: z.number() })) }) },
    },
    preHandler: app.requires('readAlerts'),
  }, async () => ({ items: engine().storeFlags() }));
};
