/**
 * The device registry API (docs/protocol.md, Operator HTTP API): register one device, bulk
 * import (JSON array or CSV), list (`neverConnected=true`: the registered devices that never
 * connected), get, rotate a secret, a device's readings, and connection coverage per family
 * and district (devices/connectionState.ts coverageOf).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { csvRowToInput, deviceInput, devicePublic, type DevicePublic } from '../../core/deviceInput.js';
import { CodedError } from '../../core/codes.js';
import { families, isFamily } from '../../core/schemas/index.js';
import type { DeviceRecord, ConnectionState } from '../../store/types.js';
import { jobJsonText, jobView, type JobViewer } from '../../devices/importJobs.js';
import { connectionKind, coverageOf, registeredDevices } from '../../devices/connectionState.js';
import type { Principal } from '../../accounts/sessions.js';
import { inScope, scopeOf, scopedDistrict, type ScopedUser } from '../../accounts/scope.js';
import { ErrorBody, TimeParam, iso, limitParam, offsetParam, filterText, wholeParam } from './common.js';
import { csvRecordsSliced } from './csv.js';

const Created = z.object({ id: z.string(), family: z.enum(families), secret: z.string() });
const IdParams = z.object({ id: z.string().min(1).max(64) });

/** Rows in one import, JSON or CSV. */
const MAX_IMPORT_ROWS = 200_000;
/** A job answer with more rows (result and bad rows) than this is streamed (jobJsonText). */
const STREAM_JOB_ROWS = 5000;

const RowProblemOut = z.object({ row: z.number(), path: z.string(), message: z.string() });
const ImportJobOut = z.object({
  id: z.string(),
  status: z.enum(['queued', 'validating', 'writing', 'done', 'failed']),
  onConflict: z.enum(['error', 'skip', 'update']),
  format: z.enum(['json', 'csv']),
  total: z.number().describe('rows in the import'),
  validated: z.number().describe('rows validated so far'),
  written: z.number().describe('rows through the write phase (created, updated or skipped), in one transaction: visible only once the job is done'),
  by: z.string().describe('username of who started it'),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  error: z.object({ code: z.string(), message: z.string() }).optional().describe('why it failed: validation (see errors), unavailable (the store failed; nothing written), ...'),
  counts: z.object({ created: z.number(), updated: z.number(), skipped: z.number(), errors: z.number() }).optional().describe('once finished'),
  errors: z.array(RowProblemOut).optional().describe('every bad row (rows count from 1, a CSV header excluded); not in lists'),
  result: z.object({
    created: z.array(z.object({ id: z.string(), family: z.enum(families), secret: z.string().optional().describe('to who started the job and admins only') })),
    updated: z.array(z.string()),
    skipped: z.array(z.string()),
  }).optional().describe('when done; not in lists'),
}).describe('a device import job (devices/importJobs.ts)');

const CoverageCounts = z.object({
  registered: z.number().describe('devices in the registry now'),
  everConnected: z.number().describe('of those, connected at least once (connected now included)'),
  connectedNow: z.number().describe('of those, with an open MQTT connection now'),
  neverConnected: z.number().describe('registered - everConnected: no connection the platform has recorded (GET /api/devices?neverConnected=true lists them)'),
  coverage: z.number().nullable().describe('everConnected / registered; null when none is registered'),
  connectedNowRatio: z.number().nullable().describe('connectedNow / registered; null when none is registered'),
});

export const deviceRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry, tracker, store, importJobs } = app.deps;

  const publicView = (d: DeviceRecord): DevicePublic => toPublic(d, tracker.get(d.id));

  app.post('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'Register a device; the secret is returned here only',
      body: deviceInput,
      response: { 201: Created, 409: ErrorBody },
    },
    preHandler: app.requires('manageDevices'),
  }, async (req, reply) => {
    const { device, secret } = await registry.create(req.body);
    app.audit(req, 'device.registered', device.id, { family: device.family, district: device.district });
    return reply.code(201).send({ id: device.id, family: device.family, secret });
  });

  app.post('/devices/import', {
    schema: {
      tags: ['devices'],
      summary: 'Bulk import as a background job: a JSON array of devices, or CSV (Content-Type text/csv) with columns id,family,name,lat,lng,district and metadata keys; at most 200,000 rows. All or nothing.',
      description: 'Answers 202 with the job (Location: its URL) once the body is read and, for CSV, parsed; the rows are validated and written in the background. '
        + 'Follow it with GET /api/devices/import/jobs/{id}?wait=30 or the importJob events of /ws. The job ends done, with the result as the synchronous import gave it '
        + '(the secrets of created devices, shown to whoever started it and to admins while the job is kept), or failed, with every bad row in errors and nothing written. One job runs at a time; up to 4 more wait in order (then 409 import_running).',
      querystring: z.object({ onConflict: z.enum(['error', 'skip', 'update']).default('error') }),
      body: z.union([z.array(z.unknown()).max(MAX_IMPORT_ROWS), z.string()]),
      response: { 202: ImportJobOut, 400: ErrorBody, 409: ErrorBody },
    },
    preHandler: app.requires('manageDevices'),
  }, async (req, reply) => {
    // refuse before a CSV is parsed, and again once it is (another may have started meanwhile)
    importJobs.assertIdle();
    const csv = typeof req.body === 'string';
    const rows = typeof req.body === 'string' ? await csvRecordsSliced(req.body, MAX_IMPORT_ROWS, csvRowToInput) : req.body;
    const job = importJobs.start(rows, req.query.onConflict, req.user!.sub, csv ? 'csv' : 'json');
    // its end is recorded too, with the counts (accounts/auditLog.ts auditImportJobs)
    app.audit(req, 'device.import_started', job.id, { rows: job.total, format: job.format, onConflict: job.onConflict });
    return reply.code(202).header('location', `/api/devices/import/jobs/${job.id}`).send(jobView(job, { detail: true, viewer: viewerOf(req.user!) }));
  });

  app.get('/devices/import/jobs', {
    schema: {
      tags: ['devices'],
      summary: 'Device import jobs kept in memory (the running one and the last finished ones), newest first, as counts (no rows, no secrets)',
      response: { 200: z.object({ items: z.array(ImportJobOut) }) },
    },
    preHandler: app.requires('readDevices'),
  }, async () => ({ items: importJobs.list().map((j) => jobView(j, { detail: false })) }));

  app.get('/devices/import/jobs/:id', {
    schema: {
      tags: ['devices'],
      summary: 'One device import job: progress, then the result (secrets only for who started it and admins) or the errors',
      params: z.object({ id: z.string().min(1).max(64) }),
      querystring: z.object({ wait: wholeParam(0, 60).default(0).describe('seconds to wait for the job to finish before answering (0-60)') }),
      response: { 200: ImportJobOut, 404: ErrorBody },
    },
    preHandler: app.requires('readDevices'),
  }, async (req, reply) => {
    if (!importJobs.get(req.params.id)) throw new CodedError('not_found', `no import job ${req.params.id} (finished jobs are kept for a while only)`);
    await importJobs.waitFor(req.params.id, req.query.wait * 1000);
    const job = importJobs.get(req.params.id);
    if (!job) throw new CodedError('not_found', `no import job ${req.params.id} (finished jobs are kept for a while only)`);
    // a district-scoped account gets the counts only: the rows name devices of every district
    const view = scopeOf(req.user!) === null ? jobView(job, { detail: true, viewer: viewerOf(req.user!) }) : jobView(job, { detail: false });
    // a large result or list of bad rows goes out a slice at a time (the same JSON), not in one stall
    const rows = (view.result ? view.result.created.length + view.result.updated.length + view.result.skipped.length : 0) + (view.errors?.length ?? 0);
    // (a stream is sent as it is: the type says what its text is)
    if (rows > STREAM_JOB_ROWS) return reply.type('application/json; charset=utf-8').send(Readable.from(jobJsonText(view)) as unknown as typeof view);
    return view;
  });

  app.get('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'List devices with their connection state',
      querystring: z.object({
        family: z.enum(families).optional(),
        district: filterText(12).optional(),
        q: filterText(64).optional(),
        neverConnected: z.enum(['true', 'false']).optional()
          .describe('true: only devices that never connected (createdAt is when they were registered); false: only devices that connected at least once'),
        limit: limitParam(100, 10_000),
        offset: offsetParam,
      }),
      response: { 200: z.object({ total: z.number(), items: z.array(devicePublic) }) },
    },
    preHandler: app.requires('readDevices'),
  }, async (req) => {
    const { limit, offset, neverConnected } = req.query;
    const district = scopedDistrict(req.user!, req.query.district);
    if (district === false) return { total: 0, items: [] };
    const filter = {
      ...(req.query.family ? { family: req.query.family } : {}),
      ...(district ? { district } : {}),
      ...(req.query.q ? { q: req.query.q } : {}),
    };
    if (neverConnected === undefined) {
      const { total, items } = registry.list({ limit, offset, ...filter });
      return { total, items: items.map(publicView) };
    }
    // the same classification as the coverage counts, so the list's total is their neverConnected
    const never = neverConnected === 'true';
    const matches = registry.list({ limit: Number.MAX_SAFE_INTEGER, offset: 0, ...filter }).items
      .filter((d) => (connectionKind(tracker.get(d.id)) === 'never') === never);
    return { total: matches.length, items: matches.slice(offset, offset + limit).map(publicView) };
  });

  app.get('/devices/coverage', {
    schema: {
      tags: ['devices'],
      summary: 'Connection coverage of the devices registered now: registered, ever connected, connected now, never connected, '
        + 'coverage (ever connected / registered) and connectedNowRatio (connected now / registered), in total, per family and per district',
      description: 'family filters exactly, district by code prefix (as in GET /api/devices). byFamily has every family, byDistrict every district '
        + 'code with a counted device (exact code; null for devices without one). The devices behind neverConnected: GET /api/devices?neverConnected=true '
        + 'with the same filters. A device with the id "coverage" is read through GET /api/devices?q=coverage.',
      querystring: z.object({
        family: z.enum(families).optional(),
        district: filterText(12).optional(),
      }),
      response: {
        200: z.object({
          at: z.string().describe('when it was counted'),
          total: CoverageCounts,
          byFamily: z.array(CoverageCounts.extend({ family: z.enum(families) })),
          byDistrict: z.array(CoverageCounts.extend({ district: z.string().nullable() })),
        }),
      },
    },
    preHandler: app.requires('readDevices'),
  }, async (req) => {
    const { family } = req.query;
    const district = scopedDistrict(req.user!, req.query.district);
    const devices = district === false ? [] : registeredDevices(registry);
    const report = coverageOf(devices, (id) => tracker.get(id), { ...(family ? { family } : {}), ...(district ? { district } : {}) });
    return { at: iso(Date.now())!, ...report };
  });

  app.get('/devices/:id', {
    schema: { tags: ['devices'], summary: 'One device', params: IdParams, response: { 200: devicePublic, 404: ErrorBody } },
    preHandler: app.requires('readDevices'),
  }, async (req) => publicView(mustGet(req.params.id, req.user!)));

  app.post('/devices/:id/secret', {
    schema: {
      tags: ['devices'],
      summary: 'Issue a new secret; the old one stops working (connected sessions stay until they reconnect)',
      params: IdParams,
      response: { 200: Created, 404: ErrorBody },
    },
    preHandler: app.requires('manageDevices'),
  }, async (req) => {
    const d = mustGet(req.params.id, req.user!);
    const secret = await registry.rotateSecret(d.id);
    app.audit(req, 'device.secret_rotated', d.id);
    return { id: d.id, family: d.family, secret };
  });

  app.get('/devices/:id/readings', {
    schema: {
      tags: ['devices'],
      summary: 'Stored readings of a device, newest last',
      params: IdParams,
      querystring: z.object({
        channel: filterText(32).optional(),
        from: TimeParam.optional(),
        to: TimeParam.optional(),
        limit: limitParam(100, 10_000),
      }),
      response: {
        200: z.object({
          deviceId: z.string(),
          family: z.enum(families),
          items: z.array(z.object({
            seq: z.number(), channel: z.string(), msgId: z.string(), ts: z.string(), receivedAt: z.string(),
            data: z.record(z.string(), z.unknown()), extra: z.record(z.string(), z.unknown()).nullable(),
          })),
        }),
        404: ErrorBody,
      },
    },
    preHandler: app.requires('readReadings'),
  }, async (req) => {
    const d = mustGet(req.params.id, req.user!);
    const { channel, from, to, limit } = req.query;
    if (channel !== undefined && !isChannelOf(d.family, channel)) {
      throw new CodedError('validation', `${d.family} devices have no channel "${channel}"`, [{ in: 'querystring', path: 'channel', message: 'unknown channel' }]);
    }
    const rows = await store.readings.query({
      deviceId: d.id, family: d.family, limit,
      ...(channel ? { channel } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
    });
    return {
      deviceId: d.id,
      family: d.family,
      items: rows.map((r) => ({ ...r, ts: iso(r.ts)!, receivedAt: iso(r.receivedAt)! })),
    };
  });

  /** A device outside the caller's district scope is answered as an unknown one (docs/api.md, District scope). */
  function mustGet(id: string, user: ScopedUser): DeviceRecord {
    const d = registry.get(id);
    if (!d || !inScope(user, d.district)) throw new CodedError('device_not_found', `no device ${id}`);
    return d;
  }
};

function isChannelOf(family: string, channel: string): boolean {
  return isFamily(family) && channel !== 'error' && ['heartbeat', ...channelNames[family]].includes(channel);
}

const channelNames: Record<(typeof families)[number], string[]> = {
  kitchen: ['violation'],
  elevator: ['status', 'fault'],
  cylinder: ['scan'],
  dispenser: ['txn', 'tank', 'tamper'],
};

function viewerOf(p: Principal): JobViewer {
  return { username: p.sub, role: p.role };
}

function toPublic(d: DeviceRecord, s: ConnectionState | undefined): DevicePublic {
  return {
    id: d.id,
    family: d.family,
    name: d.name,
    location: d.location,
    district: d.district,
    meta: d.meta,
    createdAt: iso(d.createdAt)!,
    updatedAt: iso(d.updatedAt)!,
    connection: {
      connected: s?.connected ?? false,
      lastSeen: iso(s?.lastSeen ?? null),
      lastConnectedAt: iso(s?.lastConnectedAt ?? null),
      lastDisconnectedAt: iso(s?.lastDisconnectedAt ?? null),
    },
  };
}
