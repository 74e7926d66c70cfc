/**
 * On-time handling statistics (docs/domain.md §5): of the alerts first seen in a period,
 * how many were acknowledged and resolved by their deadlines, per family, per district and
 * per day (China Standard Time days). Pending alerts before their deadline and alerts without
 * one (info) are counted apart and do not enter the rates.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlertOutcome } from '../../store/types.js';
import { onTime } from '../../core/alerts/deadlines.js';
import { families } from '../../core/schemas/index.js';
import { CodedError } from '../../core/codes.js';
import { ErrorBody, TimeParam, filterText } from './common.js';

const DAY = 86_400_000;
const CST_OFFSET = 8 * 3_600_000;
const MAX_ALERTS = 200_000;

export interface OnTimeCount {
  onTime: number;
  late: number;
  /** before its deadline, not yet done */
  pending: number;
  /** no such deadline (info alerts) */
  none: number;
  /** onTime / (onTime + late), null when nothing was decided */
  rate: number | null;
}

export interface OnTimeRow {
  alerts: number;
  ack: OnTimeCount;
  resolve: OnTimeCount;
}

const emptyCount = (): OnTimeCount => ({ onTime: 0, late: 0, pending: 0, none: 0, rate: null });
const emptyRow = (): OnTimeRow => ({ alerts: 0, ack: emptyCount(), resolve: emptyCount() });

function add(row: OnTimeRow, a: AlertOutcome, now: number): void {
  row.alerts += 1;
  for (const which of ['ack', 'resolve'] as const) {
    const c = row[which];
    const by = which === 'ack' ? a.deadlines.ackBy : a.deadlines.resolveBy;
    const r = onTime(a.deadlines, which, now);
    if (by === null) c.none += 1;
    else if (r === null) c.pending += 1;
    else if (r) c.onTime += 1;
    else c.late += 1;
  }
}

function finish(row: OnTimeRow): OnTimeRow {
  for (const c of [row.ack, row.resolve]) c.rate = c.onTime + c.late ? c.onTime / (c.onTime + c.late) : null;
  return row;
}

/** `YYYY-MM-DD` of the CST calendar day of `ms`. */
export const cstDay = (ms: number): string => new Date(ms + CST_OFFSET).toISOString().slice(0, 10);

/** Pure: the statistics of alerts over [from, to) as of `now`. */
export function onTimeStats(alerts: readonly AlertOutcome[], from: number, to: number, now: number) {
  const total = emptyRow();
  const byFamily = new Map<string, OnTimeRow>();
  const byDistrict = new Map<string, OnTimeRow>();
  const byDay = new Map<string, OnTimeRow>();
  // every day of the period appears, also days without alerts, so the chart has no gaps
  for (let t = from; t < to && byDay.size < 400; t += DAY) byDay.set(cstDay(t), emptyRow());
  const endDay = cstDay(to - 1);
  if (!byDay.has(endDay)) byDay.set(endDay, emptyRow());
  for (const a of alerts) {
    if (a.firstSeen < from || a.firstSeen >= to) continue;
    add(total, a, now);
    const get = (m: Map<string, OnTimeRow>, k: string) => m.get(k) ?? m.set(k, emptyRow()).get(k)!;
    add(get(byFamily, a.family), a, now);
    add(get(byDistrict, a.device.district ?? ''), a, now);
    add(get(byDay, cstDay(a.firstSeen)), a, now);
  }
  return {
    from, to,
    total: finish(total),
    byFamily: families.map((family) => ({ family, ...finish(byFamily.get(family) ?? emptyRow()) })),
    byDistrict: [...byDistrict].sort(([a], [b]) => a.localeCompare(b)).map(([district, r]) => ({ district: district || null, ...finish(r) })),
    byDay: [...byDay].sort(([a], [b]) => a.localeCompare(b)).map(([day, r]) => ({ day, ...finish(r) })),
  };
}

const Count = z.object({ onTime: z.number(), late: z.number(), pending: z.number(), none: z.number(), rate: z.number().nullable() });
const Row = z.object({ alerts: z.number(), ack: Count, resolve: Count });

export const statsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/stats/on-time', {
    schema: {
      tags: ['statistics'],
      summary: 'On-time acknowledge/resolve rates of the alerts first seen in [from, to), per family, district and CST day (default: the last 7 days)',
      querystring: z.object({
        from: TimeParam.optional(),
        to: TimeParam.optional(),
        family: z.enum(families).optional(),
        district: filterText(12).optional(),
      }),
      response: {
        200: z.object({
          from: z.number(), to: z.number(), total: Row,
          byFamily: z.array(Row.extend({ family: z.enum(families) })),
          byDistrict: z.array(Row.extend({ district: z.string().nullable() })),
          byDay: z.array(Row.extend({ day: z.string() })),
        }),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readStats'),
  }, async (req) => {
    const now = Date.now();
    const to = req.query.to ?? now;
    const from = req.query.from ?? to - 7 * DAY;
    if (from >= to) throw new CodedError('validation', 'from must be before to', [{ in: 'querystring', path: 'from', message: 'not before to' }]);
    if (to - from > 366 * DAY) throw new CodedError('validation', 'at most 366 days at a time', [{ in: 'querystring', path: 'from', message: 'period too long' }]);
    // committed state as of now (stored rows overlaid with the engine's newer versions): never waits for a checkpoint
    const engine = app.deps.engine;
    if (!engine) throw new CodedError('unavailable', 'the alert engine is not running');
    const alerts = await engine.alertOutcomes({
      from, to, limit: MAX_ALERTS,
      ...(req.query.family ? { family: req.query.family } : {}),
      ...(req.query.district ? { district: req.query.district } : {}),
    });
    return onTimeStats(alerts, from, to, now);
  });
};
