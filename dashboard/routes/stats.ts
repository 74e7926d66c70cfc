/**
 * The on-time rates (四率, core/alerts/onTime.ts; docs/rules.md, On-time rates): of the alerts
 * first seen and the 96333 cases alarmed in a period, per family, district and China Standard
 * Time day, with what is not counted shown apart; and the alerts or cases behind any figure.
 * Both also as a file (`format=csv|xlsx`, docs/api.md Table exports; the tables: exportTables.ts).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { drillDown, drillMeasures, onTimeRates, outcomes } from '../../core/alerts/onTime.js';
import type { AlertOutcome } from '../../core/alerts/onTime.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { families, type Family } from '../../core/schemas/index.js';
import { CodedError } from '../../core/codes.js';
import type { App } from '../app.js';
import { inScope, scopedDistrict } from '../../accounts/scope.js';
import { ErrorBody, TimeParam, filterText, runningEngine } from './common.js';
import { EXPORT_MAX_ROWS, itemsTable, periodName, ratesTable, tooLarge } from './exportTables.js';
import { exportFormat, sendTable } from './tableOut.js';

const DAY = 86_400_000;
const MAX_ALERTS = 200_000;
const MAX_CASES = 50_000;

const Count = z.object({
  onTime: z.number(), late: z.number(), pending: z.number(), none: z.number(),
  system: z.number().describe('done by the system, not a person: out of the rate'),
  rate: z.number().nullable().describe('onTime / (onTime + late); null when nothing was decided'),
});
const Row = z.object({
  alerts: z.number(), systemClosed: z.number().describe('closed by the system before anyone acknowledged: out of both rates'),
  falsePositives: z.number(), ack: Count, resolve: Count,
  rescue: z.object({ cases: z.number(), falseAlarms: z.number(), dispatch: Count.describe('dispatched within 5 min of the alarm'), arrival: Count.describe('arrived within the case\'s deadline') }),
});

const Period = z.object({
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  family: z.enum(families).optional(),
  district: filterText(12).optional(),
  format: exportFormat,
});

/** The period asked for (default: the 7 days before `to`, which defaults to now), checked. */
function period(q: { from?: number; to?: number }, now: number): { from: number; to: number } {
  const to = q.to ?? now;
  const from = q.from ?? to - 7 * DAY;
  if (from >= to) throw new CodedError('validation', 'from must be before to', [{ in: 'querystring', path: 'from', message: 'not before to' }]);
  if (to - from > 366 * DAY) throw new CodedError('validation', 'at most 366 days at a time', [{ in: 'querystring', path: 'from', message: 'period too long' }]);
  return { from, to };
}

/** Committed state as of now (stored rows overlaid with the engine's newer versions): never waits for a checkpoint. */
async function inputs(app: App, from: number, to: number, family: Family | undefined, district: string | undefined): Promise<{ alerts: AlertOutcome[]; cases: RescueCase[] }> {
  const engine = runningEngine(app.deps);
  const alerts = await engine.alertOutcomes({ from, to, limit: MAX_ALERTS, ...(family ? { family } : {}), ...(district ? { district } : {}) });
  // the district prefix goes into the query of cases (the case's district, else its elevator's)
  const cases = family && family !== 'elevator' ? [] : (await engine.listRescueCases({ since: from, limit: MAX_CASES, ...(district ? { district } : {}) }))
    .filter((c) => c.alarmAt < to);
  return { alerts, cases };
}

export const statsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/stats/on-time', {
    schema: {
      tags: ['statistics'],
      summary: 'On-time rates of the alerts first seen and the rescue cases alarmed in [from, to), per family, district and CST day (default: the last 7 days): '
        + 'acknowledged and resolved on time, rescue dispatched within 5 min and arrived within the deadline; closed by the system and false positives apart',
      querystring: Period,
      response: {
        200: z.union([z.object({
          from: z.number(), to: z.number(), total: Row,
          byFamily: z.array(Row.extend({ family: z.enum(families) })),
          byDistrict: z.array(Row.extend({ district: z.string().nullable() })),
          byDay: z.array(Row.extend({ day: z.string() })),
        }), z.string()]),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readStats'),
  }, async (req, reply) => {
    const now = Date.now();
    const { from, to } = period(req.query, now);
    // computed over the caller's district scope only (docs/api.md, District scope)
    const district = scopedDistrict(req.user!, req.query.district);
    const { alerts, cases } = district === false ? { alerts: [], cases: [] } : await inputs(app as unknown as App, from, to, req.query.family, district);
    const rates = onTimeRates(alerts, cases, app.deps.rescuePolicy, from, to, now);
    if (req.query.format === 'json') return rates;
    const t = ratesTable(rates);
    return sendTable(reply, req.query.format, periodName('on-time-rates', from, to), t.header, t.rows);
  });

  app.get('/stats/on-time/items', {
    schema: {
      tags: ['statistics'],
      summary: 'The alerts or rescue cases behind one figure of /stats/on-time: the same period and filters, a measure and (for a rate) an outcome; '
        + '`district` here is exact ("" for devices without one), `day` a CST day (YYYY-MM-DD)',
      querystring: Period.extend({
        measure: z.enum(drillMeasures as [string, ...string[]]),
        outcome: z.enum(outcomes as [string, ...string[]]).optional(),
        day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD').optional(),
        districtPrefix: filterText(12).optional()
          .describe('the period\'s district filter (a code prefix) for a figure that is not one district\'s, e.g. the total under a district filter'),
      }),
      response: {
        200: z.union([z.object({ kind: z.enum(['alert', 'rescueCase']), total: z.number(), ids: z.array(z.string()).describe('at most 1,000, in time order') }), z.string()]),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readStats'),
  }, async (req, reply) => {
    const now = Date.now();
    const q = req.query;
    const { from, to } = period(q, now);
    // the district filter of the period is a prefix; the drill-down names one district exactly;
    // both within the caller's district scope (docs/api.md, District scope)
    const district = scopedDistrict(req.user!, q.district || q.districtPrefix || undefined);
    const outside = district === false || (q.district !== undefined && !inScope(req.user!, q.district));
    const { alerts, cases } = outside ? { alerts: [], cases: [] } : await inputs(app as unknown as App, from, to, q.family, district);
    const r = drillDown(alerts, cases, app.deps.rescuePolicy, from, to, now, {
      measure: q.measure as never, ...(q.outcome ? { outcome: q.outcome as never } : {}), ...(q.family ? { family: q.family } : {}),
      ...(q.district !== undefined ? { district: q.district } : {}), ...(q.day ? { day: q.day } : {}),
    });
    if (q.format === 'json') return { kind: r.kind, total: r.ids.length, ids: r.ids.slice(0, 1000) };
    // the file holds every item, not the first 1,000
    if (r.ids.length > EXPORT_MAX_ROWS) throw tooLarge(r.kind === 'alert' ? 'alerts' : 'rescue cases', 'the period or the figure');
    const t = itemsTable(r.kind, r.ids, alerts, cases, app.deps.rescuePolicy, now, (id) => app.deps.registry.get(id));
    return sendTable(reply, q.format, periodName('on-time-items', from, to), t.header, t.rows);
  });
};
