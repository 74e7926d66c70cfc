/**
 * The stores' periodic scores (kitchen.store_score; docs/rules/kitchen.md) and the 双随机 draw
 * they weight (core/stores/storeDraw.ts): class-3 detections are read here, per store, instead
 * of being operator tasks (docs/domain.md §1).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { violationTypes } from '../../core/schemas/kitchen.js';
import { drawStores } from '../../core/stores/storeDraw.js';
import type { App } from '../app.js';
import { exportFormat, sendTable } from './tableOut.js';
import { ErrorBody, filterText, runningEngine } from './common.js';
import { knownStores } from './storeLists.js';
import { scopedDistrict } from '../../accounts/scope.js';

const Counts = z.partialRecord(z.enum(violationTypes), z.number());
const Score = z.object({
  storeId: z.string(), storeName: z.string().nullable(), district: z.string().nullable(),
  score: z.number().describe('100 minus the points taken off, at least 0'), deducted: z.number(), counts: Counts,
});
const District = filterText(12).regex(/^\d{0,12}$/, 'a district code or its prefix (digits)');

export const storeScoreRoutes: FastifyPluginAsyncZod = async (app) => {
  /** Every store the registry knows, scored, and stores scored that it no longer knows. */
  /** `district`: a prefix, none, or false when the caller's district scope excludes the one asked for (accounts/scope.ts). */
  const scored = async (district: string | undefined | false) => {
    const engine = runningEngine(app.deps);
    const stores = knownStores(app as unknown as App);
    const { from, to, items } = await engine.storeScores(stores.keys());
    return {
      from, to, items: items.map(({ from: _f, to: _t, ...s }) => ({ ...s, storeName: stores.get(s.storeId)?.storeName ?? null, district: stores.get(s.storeId)?.district ?? null }))
        .filter((s) => district !== false && (!district || (s.district ?? '').startsWith(district))),
    };
  };

  app.get('/stores/scores', {
    schema: {
      tags: ['stores'],
      summary: 'Every store\'s score over the period (kitchen.store_score: class-3 detections, weighted), worst first; JSON, CSV or XLSX',
      querystring: z.object({ district: District.optional(), format: exportFormat }),
      response: {
        200: z.union([
          z.object({ from: z.number(), to: z.number(), generatedAt: z.number(), items: z.array(Score) }),
          z.string(),
        ]),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readStats'),
  }, async (req, reply) => {
    // only the stores of the caller's district scope (docs/api.md, District scope)
    const { from, to, items } = await scored(scopedDistrict(req.user!, req.query.district));
    if (req.query.format !== 'json') {
      return sendTable(reply, req.query.format, 'store-scores', ['storeId', 'storeName', 'district', 'score', 'deducted', ...violationTypes],
        items.map((s) => [s.storeId, s.storeName, s.district, s.score, s.deducted, ...violationTypes.map((t) => s.counts[t] ?? 0)]));
    }
    return { from, to, generatedAt: Date.now(), items };
  });

  app.post('/stores/draw', {
    schema: {
      tags: ['stores'],
      summary: 'The 双随机 draw: `count` distinct stores, worse scores more likely; reproducible from the seed returned (give one to repeat a draw)',
      body: z.object({
        count: z.number().int().min(1).max(1000),
        seed: z.string().trim().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters').optional(),
        district: District.optional(),
      }),
      response: {
        200: z.object({
          seed: z.string(), count: z.number(), population: z.number(), generatedAt: z.number(),
          items: z.array(z.object({ storeId: z.string(), storeName: z.string().nullable(), district: z.string().nullable(), score: z.number(), weight: z.number() })),
        }),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('readStats'),
  }, async (req) => {
    // drawn among the stores of the caller's district scope only (docs/api.md, District scope)
    const population = (await scored(scopedDistrict(req.user!, req.body.district))).items;
    const seed = req.body.seed ?? randomBytes(12).toString('hex');
    const byId = new Map(population.map((s) => [s.storeId, s]));
    const items = drawStores(population, req.body.count, seed).map((d) => {
      const s = byId.get(d.storeId)!;
      return { storeId: s.storeId, storeName: s.storeName, district: s.district, score: s.score, weight: d.weight };
    });
    return { seed, count: items.length, population: population.length, generatedAt: Date.now(), items };
  });
};
