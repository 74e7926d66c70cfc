/**
 * The device registry API (PROTOCOL.md): register one device, bulk import (JSON array or
 * CSV), list, get, rotate a secret, and a device's readings.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { csvRowToInput, deviceInput, devicePublic, type DevicePublic } from '../../broker/deviceInput.js';
import { CodedError } from '../../service/codes.js';
import { families, isFamily } from '../../ingest/schemas/index.js';
import type { DeviceRecord, ConnectionState } from '../../store/types.js';
import { ErrorBody, TimeParam, iso, limitParam, offsetParam, filterText } from './common.js';
import { csvRecords } from './csv.js';

const Created = z.object({ id: z.string(), family: z.enum(families), secret: z.string() });
const IdParams = z.object({ id: z.string().min(1).max(64) });

export const deviceRoutes: FastifyPluginAsyncZod = async (app) => {
  const { registry, tracker, store } = app.deps;

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
    return reply.code(201).send({ id: device.id, family: device.family, secret });
  });

  app.post('/devices/import', {
    schema: {
      tags: ['devices'],
      summary: 'Bulk import: a JSON array of devices, or CSV (Content-Type text/csv) with columns id,family,name,lat,lng,district and metadata keys. All or nothing.',
      querystring: z.object({ onConflict: z.enum(['error', 'skip', 'update']).default('error') }),
      body: z.union([z.array(z.unknown()).max(200_000), z.string()]),
      response: {
        200: z.object({ created: z.array(Created), updated: z.array(z.string()), skipped: z.array(z.string()) }),
        400: ErrorBody,
      },
    },
    preHandler: app.requires('manageDevices'),
  }, async (req) => {
    const rows = typeof req.body === 'string' ? csvRows(req.body) : req.body;
    return registry.import(rows, req.query.onConflict);
  });

  app.get('/devices', {
    schema: {
      tags: ['devices'],
      summary: 'List devices with their connection state',
      querystring: z.object({
        family: z.enum(families).optional(),
        district: filterText(12).optional(),
        q: filterText(64).optional(),
        limit: limitParam(100, 10_000),
        offset: offsetParam,
      }),
      response: { 200: z.object({ total: z.number(), items: z.array(devicePublic) }) },
    },
    preHandler: app.requires('readDevices'),
  }, async (req) => {
    const { total, items } = registry.list({
      limit: req.query.limit,
      offset: req.query.offset,
      ...(req.query.family ? { family: req.query.family } : {}),
      ...(req.query.district ? { district: req.query.district } : {}),
      ...(req.query.q ? { q: req.query.q } : {}),
    });
    return { total, items: items.map(publicView) };
  });

  app.get('/devices/:id', {
    schema: { tags: ['devices'], summary: 'One device', params: IdParams, response: { 200: devicePublic, 404: ErrorBody } },
    preHandler: app.requires('readDevices'),
  }, async (req) => publicView(mustGet(req.params.id)));

  app.post('/devices/:id/secret', {
    schema: {
      tags: ['devices'],
      summary: 'Issue a new secret; the old one stops working (connected sessions stay until they reconnect)',
      params: IdParams,
      response: { 200: Created, 404: ErrorBody },
    },
    preHandler: app.requires('manageDevices'),
  }, async (req) => {
    const d = mustGet(req.params.id);
    return { id: d.id, family: d.family, secret: await registry.rotateSecret(d.id) };
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
    const d = mustGet(req.params.id);
    const { channel, from, to, limit } = req.query;
    if (channel !== undefined && !isChannelOf(d.family, channel)) {
      throw new CodedError('validation', `${d.family} devices have no channel "${channel}"`, [{ in: 'querystring', path: 'channel', message: 'unknown channel' }]);
    }
    const rows = await store.queryReadings({
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

  function mustGet(id: string): DeviceRecord {
    const d = registry.get(id);
    if (!d) throw new CodedError('device_not_found', `no device ${id}`);
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

function csvRows(text: string): Array<Record<string, unknown>> {
  return csvRecords(text).map(csvRowToInput);
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
