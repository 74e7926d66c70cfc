/** Dead letters: every message that was not stored as a reading, with its reason (docs/protocol.md, Bad input). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TimeParam, iso, limitParam, filterText } from './common.js';
import { scopeOf } from '../../accounts/scope.js';

export const deadLetterRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/dead-letters', {
    schema: {
      tags: ['ingest'],
      summary: 'Rejected messages, newest first',
      querystring: z.object({
        deviceId: filterText(64).optional(),
        reason: filterText(64).optional(),
        since: TimeParam.optional(),
        limit: limitParam(100, 1000),
      }),
      response: {
        200: z.object({
          items: z.array(z.object({
            id: z.number(), receivedAt: z.string(), deviceId: z.string().nullable(), clientId: z.string().nullable(),
            topic: z.string(), qos: z.number(), reason: z.string(), detail: z.string(),
            issues: z.array(z.object({ path: z.string(), message: z.string() })).nullable(),
            msgId: z.string().nullable(), rawSize: z.number(), rawTruncated: z.boolean(),
            raw: z.string().describe('payload as UTF-8 text when it is valid UTF-8'), rawBase64: z.string(),
            remoteAddress: z.string().nullable(),
          })),
        }),
      },
    },
    preHandler: app.requires('readDeadLetters'),
  }, async (req) => {
    const q = req.query;
    // a district-scoped account: only those naming a registered device of its district, filtered
    // in the query (docs/api.md, District scope); those naming no known device are the admins'
    const district = scopeOf(req.user!);
    const rows = await app.deps.store.deadLetters.list({
      limit: q.limit,
      ...(district !== null ? { district } : {}),
      ...(q.deviceId ? { deviceId: q.deviceId } : {}),
      ...(q.reason ? { reason: q.reason } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
    });
    return {
      items: rows.map((d) => {
        const raw = Buffer.from(d.raw);
        return {
          ...d,
          receivedAt: iso(d.receivedAt)!,
          raw: raw.toString('utf8'),
          rawBase64: raw.toString('base64'),
          rawTruncated: raw.length < d.rawSize,
        };
      }),
    };
  });
};
