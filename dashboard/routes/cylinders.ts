/**
 * The cylinder registry (一瓶一码一档): bulk import of CSV or JSON (all or nothing), list and
 * get. The scan check reads this registry when a filling station scans a code. The trace of a
 * code: every scan of it at every station, each with its decision (cylinders/cylinderRegistry.ts).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ruleOverrides } from '../../core/alerts/policy.js';
import { CodedError } from '../../core/codes.js';
import { allRules } from '../../core/rules/index.js';
import { checkReasons, scanCheck, type ScanCheckConfig } from '../../core/rules/cylinder/index.js';
import { ruleConfig } from '../../core/ruleRunner.js';
import { scanPoints } from '../../core/schemas/index.js';
import { ErrorBody, limitParam, offsetParam, filterText, iso, TimeParam } from './common.js';
import { csvRecords } from './csv.js';
import { atStation } from '../../cylinders/cylinderRegistry.js';
import { stationsInScope } from '../districts.js';

const CylinderOut = z.object({
  code: z.string(), model: z.string(), mfgDate: z.number(), designLifeYears: z.number(), lastInspection: z.number().nullable(),
  nextInspection: z.number().nullable(), ownerStationId: z.string(), entrustedStationIds: z.array(z.string()),
  status: z.enum(['in_service', 'scrapped', 'lost']), maxFillKg: z.number(),
}).describe('dates are epoch ms of the UTC midnight of the China local date');

const TraceScanOut = z.object({
  seq: z.number(), at: z.string().describe('when it was scanned (device time)'), receivedAt: z.string(),
  deviceId: z.string(), msgId: z.string(), stationId: z.string(), point: z.enum(scanPoints), operatorId: z.string(), netKg: z.number().nullable(),
  decision: z.enum(['allow', 'refuse']),
  reasons: z.array(z.enum(checkReasons)).describe('every reason that applied; lost is its own'),
  alerts: z.array(z.string()).describe('the alerts the scan check raised for it'),
  recordFrom: z.string().nullable().describe('when the record version it was judged by was written (1970-01-01: registered before versions were kept); null: not registered then'),
});

const TraceOut = z.object({
  code: z.string(),
  record: CylinderOut.nullable(),
  stations: z.array(z.string()).describe('stations that scanned it, in the order of their first scan'),
  scans: z.array(TraceScanOut).describe('oldest first'),
  truncated: z.boolean().describe('older scans exist beyond limit'),
});

export const cylinderRoutes: FastifyPluginAsyncZod = async (app) => {
  // the scan check's configuration, as the engine runs it (ALERT_OVERRIDES), for the trace's decisions
  const scanCheckConfig: ScanCheckConfig = ruleConfig(scanCheck, ruleOverrides(allRules, app.deps.config.alerts.overrides)[scanCheck.id] as Partial<ScanCheckConfig> | undefined);
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
  }, async (req) => {
    const rows = typeof req.body === 'string' ? csvRecords(req.body) : req.body;
    const result = await registry().import(rows, req.query.onConflict);
    app.audit(req, 'cylinder.imported', null, { ...result, rows: rows.length, format: typeof req.body === 'string' ? 'csv' : 'json', onConflict: req.query.onConflict });
    return result;
  });

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
  }, async (req) => {
    // a district-scoped account: the cylinders of the stations with a scanner there, in the query (docs/api.md, District scope)
    const stations = stationsInScope(app.deps.registry, req.user!);
    return registry().list({
      limit: req.query.limit, offset: req.query.offset, ...(stations ? { stations } : {}),
      ...(req.query.stationId ? { stationId: req.query.stationId } : {}), ...(req.query.status ? { status: req.query.status } : {}), ...(req.query.q ? { q: req.query.q } : {}),
    });
  });

  app.get('/cylinders/:code', {
    schema: { tags: ['cylinders'], summary: 'One cylinder record', params: z.object({ code: z.string().min(1).max(64) }), response: { 200: CylinderOut, 404: ErrorBody } },
    preHandler: app.requires('readCylinders'),
  }, async (req) => {
    const c = registry().get(req.params.code);
    const stations = stationsInScope(app.deps.registry, req.user!);
    // outside the caller's district scope: as if unknown (docs/api.md, District scope)
    if (!c || (stations && !atStation(c, stations))) throw new CodedError('cylinder_not_found', `no cylinder ${req.params.code}`);
    return c;
  });

  app.get('/cylinders/:code/trace', {
    schema: {
      tags: ['cylinders'],
      summary: 'The trace of a cylinder: every scan of its code at every station and point (station, point, operator, decision, time), newest `limit`, oldest first',
      params: z.object({ code: z.string().min(1).max(64) }),
      querystring: z.object({ from: TimeParam.optional(), to: TimeParam.optional(), limit: limitParam(1000, 10_000) }),
      response: { 200: TraceOut, 400: ErrorBody, 404: ErrorBody },
    },
    preHandler: app.requires('readCylinders'),
  }, async (req) => {
    const { from, to, limit } = req.query;
    if (from !== undefined && to !== undefined && from > to) throw new CodedError('validation', 'from must not be after to', [{ path: 'from', message: 'after to' }]);
    const t = await registry().trace(req.params.code, { from, to, limit }, scanCheckConfig);
    // a district-scoped account traces the cylinders of its stations (the record's), or, for a code
    // not registered, one scanned at its stations; else as if unknown (docs/api.md, District scope)
    const stations = stationsInScope(app.deps.registry, req.user!);
    const seen = !stations || (t?.record ? atStation(t.record, stations) : !!t?.stations.some((s) => stations.has(s)));
    if (!t || !seen) throw new CodedError('cylinder_not_found', `no cylinder ${req.params.code}: neither registered nor ever scanned`);
    return {
      ...t,
      scans: t.scans.map((e) => ({
        seq: e.seq, at: iso(e.ts)!, receivedAt: iso(e.receivedAt)!, deviceId: e.deviceId, msgId: e.msgId, stationId: e.stationId, point: e.point,
        operatorId: e.operatorId, netKg: e.netKg, decision: e.decision, reasons: e.reasons, alerts: e.alerts, recordFrom: iso(e.recordFrom),
      })),
    };
  });
};
