/**
 * A device's history of one numeric field, downsampled in the store (DuckDB time_bucket with
 * min/max/avg per bucket), so a week of 10-second readings is a few hundred points, not
 * 60 000 (docs/dashboard.md, Routes).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { families, type Family } from '../../core/schemas/index.js';
import { CodedError } from '../../core/codes.js';
import { readingTables } from '../../store/readingTables.js';
import { inScope } from '../../accounts/scope.js';
import { ErrorBody, TimeParam, wholeParam } from './common.js';

const DAY = 86_400_000;

/** Numeric payload fields per family and channel (booleans count as 0/1). */
export function numericFields(): Record<Family, Record<string, string[]>> {
  const out = {} as Record<Family, Record<string, string[]>>;
  for (const f of families) {
    out[f] = {};
    for (const [channel, t] of Object.entries(readingTables[f])) {
      const fields = [...new Set(t.columns.filter((c) => c.type !== 'VARCHAR' && c.index === undefined).map((c) => c.field))];
      if (fields.length) out[f][channel] = fields;
    }
  }
  return out;
}

export const historyRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry, store } = app.deps;
  const fieldsByFamily = numericFields();

  app.get('/history-fields', {
    schema: {
      tags: ['devices'],
      summary: 'Numeric fields that have a history chart, per family and channel',
      response: { 200: z.record(z.string(), z.record(z.string(), z.array(z.string()))) },
    },
    preHandler: app.requires('readReadings'),
  }, async () => fieldsByFamily);

  app.get('/devices/:id/history', {
    schema: {
      tags: ['devices'],
      summary: 'min/max/avg of one numeric field per time bucket (server-side downsampling); default the last 24 h in 500 buckets',
      params: z.object({ id: z.string().min(1).max(64) }),
      querystring: z.object({
        channel: z.string().max(32),
        field: z.string().max(64),
        from: TimeParam.optional(),
        to: TimeParam.optional(),
        buckets: wholeParam(1, 2000).default(500),
      }),
      response: {
        200: z.object({
          deviceId: z.string(), channel: z.string(), field: z.string(), from: z.number(), to: z.number(), bucketMs: z.number(),
          points: z.array(z.object({ t: z.number(), min: z.number(), max: z.number(), avg: z.number(), n: z.number() })),
        }),
        400: ErrorBody,
        404: ErrorBody,
      },
    },
    preHandler: app.requires('readReadings'),
  }, async (req) => {
    const d = registry.get(req.params.id);
    // outside the caller's district scope: as if unknown (docs/api.md, District scope)
    if (!d || !inScope(req.user!, d.district)) throw new CodedError('device_not_found', `no device ${req.params.id}`);
    const { channel, field, buckets } = req.query;
    // own keys only: a channel named __proto__ or constructor is no channel
    const fields = Object.hasOwn(fieldsByFamily[d.family], channel) ? fieldsByFamily[d.family][channel] : undefined;
    if (!fields) {
      throw new CodedError('validation', `${d.family} devices have no numeric channel "${channel}"; one of ${Object.keys(fieldsByFamily[d.family]).join(', ')}`,
        [{ in: 'querystring', path: 'channel', message: 'unknown channel' }]);
    }
    if (!fields.includes(field)) {
      throw new CodedError('validation', `${d.family}/${channel} has no numeric field "${field}"; one of ${fields.join(', ')}`,
        [{ in: 'querystring', path: 'field', message: 'unknown field' }]);
    }
    const to = req.query.to ?? Date.now();
    const from = req.query.from ?? to - DAY;
    if (from >= to) throw new CodedError('validation', 'from must be before to', [{ in: 'querystring', path: 'from', message: 'not before to' }]);
    if (to - from > 366 * DAY) throw new CodedError('validation', 'at most 366 days at a time', [{ in: 'querystring', path: 'from', message: 'period too long' }]);
    if (!store.readings.history) throw new CodedError('unavailable', 'this store cannot aggregate readings');
    // whole seconds, so bucket edges are easy to read
    const bucketMs = Math.max(1000, Math.ceil((to - from) / buckets / 1000) * 1000);
    const points = await store.readings.history({ deviceId: d.id, family: d.family, channel, field, from, to, bucketMs });
    return { deviceId: d.id, channel, field, from, to, bucketMs, points };
  });
};
