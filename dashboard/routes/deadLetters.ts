/**
 * Dead letters: every message that was not stored as a reading, with its reason (docs/protocol.md,
 * Bad input), and their replay through ingest after a registry or schema fix (docs/api.md,
 * Replaying dead letters).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TimeParam, iso, limitParam, filterText } from './common.js';
import { scopeOf } from '../../accounts/scope.js';
import { REPLAY_MAX_IDS } from '../../ingest/replay.js';

/** A dead letter's id: ingest numbers them from 1. */
const MAX_ID = 9_007_199_254_740_991;

const DeadLetterItem = z.object({
  id: z.number(), receivedAt: z.string(), deviceId: z.string().nullable(), clientId: z.string().nullable(),
  topic: z.string(), qos: z.number(), reason: z.string(), detail: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).nullable(),
  msgId: z.string().nullable(), rawSize: z.number(), rawTruncated: z.boolean(),
  raw: z.string().describe('payload as UTF-8 text when it is valid UTF-8'), rawBase64: z.string(),
  remoteAddress: z.string().nullable(),
});

const ReplayItem = z.object({
  id: z.number(),
  outcome: z.enum(['stored', 'duplicate', 'refused', 'not_found']),
  code: z.string().optional().describe('refused: the reason code a device sending these bytes would get now, or replay_no_device / replay_truncated'),
  message: z.string().optional(),
});

export const deadLetterRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/dead-letters', {
    schema: {
      tags: ['ingest'],
      summary: 'Rejected messages, newest first',
      querystring: z.object({
        deviceId: filterText(64).optional(),
        reason: filterText(64).optional(),
        since: TimeParam.optional().describe('received at or after'),
        until: TimeParam.optional().describe('received before'),
        before: z.string().trim().regex(/^\d{1,16}$/, 'expected a dead letter id').transform(Number).pipe(z.number().int().min(1).max(MAX_ID)).optional()
          .describe('the next page: nextBefore of the page before (ids below it)'),
        limit: limitParam(100, 1000),
      }),
      response: {
        200: z.object({
          items: z.array(DeadLetterItem),
          nextBefore: z.number().nullable().describe('pass as before for the next page; null on the last page'),
        }),
      },
    },
    preHandler: app.requires('readDeadLetters'),
  }, async (req) => {
    const q = req.query;
    // a district-scoped account: only those naming a registered device of its district, filtered
    // in the query (docs/api.md, District scope); those naming no known device are the admins'
    const district = scopeOf(req.user!);
    // one more than asked tells whether a next page exists without a count
    const rows = await app.deps.store.deadLetters.list({
      limit: q.limit + 1,
      ...(district !== null ? { district } : {}),
      ...(q.deviceId ? { deviceId: q.deviceId } : {}),
      ...(q.reason ? { reason: q.reason } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
    });
    const page = rows.slice(0, q.limit);
    return {
      items: page.map((d) => {
        const raw = Buffer.from(d.raw);
        return {
          ...d,
          receivedAt: iso(d.receivedAt)!,
          raw: raw.toString('utf8'),
          rawBase64: raw.toString('base64'),
          rawTruncated: raw.length < d.rawSize,
        };
      }),
      nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null,
    };
  });

  app.post('/dead-letters/replay', {
    schema: {
      tags: ['ingest'],
      summary: 'Replay dead letters through ingest (admin)',
      description: 'Each id through the path a device message takes, with the current schemas and registry: stored once, '
        + 'a duplicate when its (device, msgId) is stored already, refused with its current code (no new dead letter), '
        + `or not_found. At most ${REPLAY_MAX_IDS} ids; repeated ids are answered once. Nothing is written on the dead letter.`,
      body: z.object({
        ids: z.array(z.number().int().min(1).max(MAX_ID)).min(1).max(REPLAY_MAX_IDS),
      }).strict(),
      response: { 200: z.object({ items: z.array(ReplayItem) }) },
    },
    preHandler: app.requires('replayDeadLetters'),
  }, async (req) => {
    const user = req.user!;
    const items = await app.deps.deadLetterReplay.replay(req.body.ids, scopeOf(user));
    // the dead-letter row has no place for a replay without a schema change (ingest/replay.ts):
    // the answer, this log line and the audit entry below are its record (docs/api.md, Replaying dead letters)
    const counts: Record<string, number> = {};
    for (const i of items) counts[i.outcome] = (counts[i.outcome] ?? 0) + 1;
    req.log.info({ by: user.sub, ids: items.map((i) => i.id), outcomes: counts }, 'dead letters replayed');
    // and in the audit log: the ids (their start when many, the text is bounded) and the outcomes
    app.audit(req, 'dead_letter.replayed', items.length === 1 ? String(items[0]!.id) : null, { count: items.length, ids: items.map((i) => i.id).join(','), ...counts });
    return { items };
  });
};
