/**
 * The cylinder registry (一瓶一码一档): bulk import of CSV or JSON (all or nothing), list and
 * get. The scan check reads this registry when a filling station scans a code.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CodedError } from '../../core/codes.js';
import { ErrorBody, limitParam, offsetParam, filterText } from './common.js';
import { csvRecords } from './csv.js';

const CylinderOut = z.object({
  code: z.string(), model: z.string(), mfgDate: z.number(), designLifeYears: z.number(), lastInspection: z.number().nullable(),
  nextInspection: z.number().nullable(), ownerStationId: z.string(), entrustedStationIds: z.array(z.string()),
  status: z.enum(['in_service', 'scrapped', 'lost']), maxFillKg: z.number(),
}).describe('dates are epoch ms of the UTC midnight of the China local date');

export const cylinderRoutes: FastifyPluginAsyncZod = async (app) => {
  const registry = () => {
    const r = app.deps.cylinders;
    if (!r) throw new CodedError('unavailable', 'the cylinder registry is not running');
    return r;
  };

  app.post('/cylinders/import', {
    schema: {
      tags: ['cylinders'],
      summary: 'Import cylinder records: a JSON array, or CSV (text/csv) with columns code,model,mfgDate,designLifeYears,lastInspection,nextInspection,ownerStationId,entrustedStationIds,status,maxFillKg. All or nothing.',
      querystring: z.object({ onConflict: z.enum(['error', 'skip', 'update']).default('error') }),
      body: z.union([z.array(z.unknown()).max(500_000), z.string()]),
      response: { 200: z.object({ created: z.number(), updated: z.number(), skipped: z.number() }), 400: ErrorBody },
    },
    preHandler: app.requires('manageCylinders'),
  }, async (req) => registry().import(typeof req.body === 'string' ? csvRecords(req.body) : req.body, req.query.onConflict));

  app.get('/cylinders', {
    schema: {
      tags: ['cylinders'],
      summary: 'List cylinders',
      querystring: z.object({
        stationId: filterText(64).optional(), status: z.enum(['in_service', 'scrapped', 'lost']).optional(), q: filterText(64).optional(),
        limit: limitParam(100, 10_000), offset: offsetParam,
      }),
      response: { 200: z.object({ total: z.number(), items: z.array(CylinderOut) }) },
    },
    preHandler: app.requires('readCylinders'),
  }, async (req) => registry().list({ limit: req.query.limit, offset: req.query.offset, ...(req.query.stationId ? { stationId: req.query.stationId } : {}), ...(req.query.status ? { status: req.query.status } : {}), ...(req.query.q ? { q: req.query.q } : {}) }));

  app.get('/cylinders/:code', {
    schema: { tags: ['cylinders'], summary: 'One cylinder record', params: z.object({ code: z.string().min(1).max(64) }), response: { 200: CylinderOut, 404: ErrorBody } },
    preHandler: app.requires('readCylinders'),
  }, async (req) => {
    const c = registry().get(req.params.code);
    if (!c) throw new CodedError('cylinder_not_found', `no cylinder ${req.params.code}`);
    return c;
  });
};
