/**
 * 96333 elevator rescue cases (docs/rules.md, Rescue cases; docs/dashboard.md, Dispatcher
 * console): the list and one case with elapsed times and deadlines, each step recorded by the
 * signed-in dispatcher, and a phone report opening a case (most 96333 calls come by phone).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { elapsed, rescueDeadlines, type RescueCase } from '../../core/alerts/rescueCase.js';
import { CodedError } from '../../core/codes.js';
import { elevatorCard } from '../rescueView.js';
import { inScope, scopeOf, type ScopedUser } from '../../accounts/scope.js';
import { rescueCaseDistrict } from '../districts.js';
import { ErrorBody, MAX_TIME_MS, TimeParam, filterText, limitParam, runningEngine } from './common.js';

const CaseOut = z.looseObject({
  id: z.string(), elevatorId: z.string(), alertId: z.string(), status: z.string(), alarmAt: z.number(),
  source: z.enum(['device', 'phone']).optional().describe('absent on cases from before it was kept: the device'),
  steps: z.array(z.looseObject({ step: z.string(), at: z.number(), by: z.string() })),
  elapsed: z.looseObject({ sinceAlarm: z.number() }),
  deadlines: z.looseObject({ dispatchBy: z.number(), arrivalBy: z.number() }),
  elevator: z.looseObject({ name: z.string().nullable(), district: z.string().nullable() }).nullable()
    .describe('the elevator as registered now: name, district, address, rescue and registration codes, maintenance unit and phone'),
}).describe('A rescue case; times are epoch milliseconds');

const IdParams = z.object({ id: z.string().min(1).max(64) });
const text = (max: number) => z.string().trim().min(1).max(max).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');
const code = text(64);
const phone = z.string().trim().regex(/^[0-9+\-() ]{3,32}$/, 'a phone number: digits, +, -, (), spaces');

const StepDetailsIn = z.strictObject({
  unit: text(128).optional().describe('the maintenance unit dispatched'),
  technician: text(64).optional(),
  phone: phone.optional(),
  passengersReleased: z.number().int().min(0).max(100).optional(),
  injuries: text(500).optional(),
});

const PhoneReportIn = z.strictObject({
  elevatorId: code.optional(),
  registrationCode: code.optional().describe('注册代码: the device meta key registrationCode'),
  rescueCode: code.optional().describe('the 96333 identification code shown in the car: the device meta key rescueCode'),
  callerPhone: phone.optional(),
  floor: text(16).optional().describe('as the caller says it: B1, 12, 12-13'),
  passengers: z.number().int().min(0).max(100).optional(),
  note: text(2000).optional(),
}).refine((b) => [b.elevatorId, b.registrationCode, b.rescueCode].filter((x) => x !== undefined).length === 1, {
  message: 'name the elevator by exactly one of elevatorId, registrationCode, rescueCode',
});

export const rescueRoutes: FastifyPluginAsyncZod = async (app) => {
  const engine = () => runningEngine(app.deps);
  const withTimes = (c: RescueCase, now: number): z.output<typeof CaseOut> => ({
    ...c, elapsed: elapsed(c, now), deadlines: rescueDeadlines(c, app.deps.rescuePolicy), elevator: elevatorCard(app.deps.registry.get(c.elevatorId)),
  }) as unknown as z.output<typeof CaseOut>;
  /** A case outside the caller's district scope is answered as an unknown id (docs/api.md, District scope). */
  const mustSee = (user: ScopedUser, c: RescueCase): RescueCase => {
    if (!inScope(user, rescueCaseDistrict(app.deps.registry, c))) throw new CodedError('rescue_case_not_found', `no rescue case ${c.id}`);
    return c;
  };

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
    // the scope goes into the query of stored cases, so the page is never cut short by it
    const district = scopeOf(req.user!);
    let items = q.scope === 'active'
      ? engine().activeRescueCases().filter((c) => inScope(req.user!, rescueCaseDistrict(app.deps.registry, c)))
      : await engine().listRescueCases({
        limit: q.limit, ...(q.elevatorId ? { elevatorId: q.elevatorId } : {}), ...(q.since !== undefined ? { since: q.since } : {}), ...(district !== null ? { district } : {}),
      });
    if (q.elevatorId) items = items.filter((c) => c.elevatorId === q.elevatorId);
    items = [...items].sort((a, b) => b.alarmAt - a.alarmAt).slice(0, q.limit);
    return { items: items.map((c) => withTimes(c, now)) };
  });

  app.get('/rescue-cases/:id', {
    schema: { tags: ['rescue'], summary: 'One rescue case with every step', params: IdParams, response: { 200: CaseOut, 404: ErrorBody } },
    preHandler: app.requires('readAlerts'),
  }, async (req) => withTimes(mustSee(req.user!, await engine().getRescueCase(req.params.id)), Date.now()));

  app.post('/rescue-cases', {
    schema: {
      tags: ['rescue'],
      summary: 'A trapping reported by phone: opens the trapped alert and its case (source phone, the same deadlines as a terminal\'s alarm), '
        + 'or joins the running case of the same incident (200, merged: no second dispatch). Name the elevator by its id, registration code or rescue code.',
      body: PhoneReportIn,
      response: { 200: CaseOut.extend({ merged: z.literal(true) }), 201: CaseOut.extend({ merged: z.literal(false) }), 400: ErrorBody, 404: ErrorBody },
    },
    preHandler: app.requires('recordRescueSteps'),
  }, async (req, reply) => {
    const b = req.body;
    const registry = app.deps.registry;
    const device = b.elevatorId !== undefined ? registry.get(b.elevatorId)
      : b.rescueCode !== undefined ? registry.findElevator('rescueCode', b.rescueCode) : registry.findElevator('registrationCode', b.registrationCode!);
    // an elevator outside the caller's district scope is answered as an unknown one
    if (!device || !inScope(req.user!, device.district)) {
      throw new CodedError('device_not_found', 'no elevator with that ' + (b.elevatorId !== undefined ? 'id' : b.rescueCode !== undefined ? 'rescue code' : 'registration code'));
    }
    if (device.family !== 'elevator') throw new CodedError('validation', `device ${device.id} is not an elevator`, [{ in: 'body', path: 'elevatorId', message: 'not an elevator' }]);
    const report = {
      ...(b.callerPhone ? { callerPhone: b.callerPhone } : {}), ...(b.floor ? { floor: b.floor } : {}),
      ...(b.passengers !== undefined ? { passengers: b.passengers } : {}), ...(b.note ? { note: b.note } : {}),
    };
    const { rescueCase, merged } = await engine().reportTrapping(device.id, report, req.user!.sub);
    app.audit(req, 'rescue.reported', rescueCase.id, { elevatorId: device.id, merged });
    reply.code(merged ? 200 : 201);
    return { ...withTimes(rescueCase, Date.now()), merged } as never;
  });

  app.post('/rescue-cases/:id/escalations/:level/ack', {
    schema: {
      tags: ['rescue'],
      summary: 'Acknowledge an escalation of a case (a breach escalated to a duty leader or the bureau): its repeated notifications stop',
      params: IdParams.extend({ level: z.string().regex(/^\d{1,2}$/).transform(Number) }),
      response: { 200: CaseOut, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('recordRescueSteps'),
  }, async (req) => {
    mustSee(req.user!, await engine().getRescueCase(req.params.id));
    const c = await engine().acknowledgeEscalation(req.params.id, req.params.level, req.user!.sub);
    app.audit(req, 'rescue.escalation_ack', c.id, { level: req.params.level });
    return withTimes(c, Date.now());
  });

  app.post('/rescue-cases/:id/steps', {
    schema: {
      tags: ['rescue'],
      summary: 'Record a step (dispatched, acknowledged, arrived, released, followed_up, closed, false_alarm) by the signed-in dispatcher. '
        + 'The dispatch, arrival and release cannot be skipped; a false alarm and a step after its deadline need a reason (note); '
        + 'the dispatch acknowledges the case\'s trapped alert, the end of the case resolves it. Refusals: 409 rescue_step_refused with details.reason.',
      params: IdParams,
      body: z.object({
        step: z.enum(['dispatched', 'acknowledged', 'arrived', 'released', 'followed_up', 'closed', 'false_alarm']),
        at: z.union([z.number().int().min(0).max(MAX_TIME_MS), TimeParam]).optional().describe('when it happened, if earlier than now: epoch ms or RFC 3339'),
        note: z.string().trim().max(2000).optional().describe('the reason (false alarm, late step) or a remark'),
        details: StepDetailsIn.optional(),
      }),
      response: { 200: CaseOut, 404: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('recordRescueSteps'),
  }, async (req) => {
    const b = req.body;
    mustSee(req.user!, await engine().getRescueCase(req.params.id));
    const c = await engine().recordRescueStep(req.params.id, b.step, req.user!.sub, {
      ...(b.at !== undefined ? { at: b.at } : {}), ...(b.note ? { note: b.note } : {}), ...(b.details ? { details: b.details } : {}),
    });
    app.audit(req, 'rescue.step', c.id, { step: b.step, at: b.at !== undefined ? new Date(b.at).toISOString() : undefined, note: b.note });
    return withTimes(c, Date.now());
  });
};
