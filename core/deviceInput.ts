/**
 * What an operator may say about a device when registering it (docs/protocol.md
 * `POST /api/devices`), one schema per family for the metadata. Used by the API, the bulk
 * import (JSON and CSV) and the CLI.
 */
import { z } from 'zod';
import { DeviceId, families } from './schemas/index.js';

const text = (max = 128) => z.string().trim().min(1).max(max);

export const deviceMeta = {
  kitchen: z.strictObject({
    storeId: text(64).optional(),
    storeName: text().optional(),
    address: text(256).optional(),
    cameraArea: text().optional(),
    /** who the store-contact gateway reaches for a rectification request (a phone, or the gateway's own id) */
    storeContact: text(64).optional(),
  }),
  elevator: z.strictObject({
    registrationCode: text(64).optional(),
    rescueCode: text(32).optional(),
    address: text(256).optional(),
    userUnit: text().optional(),
    maintenanceUnit: text().optional(),
    maintenancePhone: text(32).optional(),
    /** per-elevator arrival deadline override (docs/domain.md §2: 30 min city, 60 min elsewhere) */
    arrivalDeadlineMin: z.coerce.number().int().min(5).max(240).optional(),
  }),
  cylinder: z.strictObject({
    stationId: text(64).optional(),
    stationName: text().optional(),
  }),
  dispenser: z.strictObject({
    stationId: text(64).optional(),
    stationName: text().optional(),
  }),
} as const;

/** Every metadata key of any family (CSV columns beyond the common ones). */
export const metaKeys = [...new Set(Object.values(deviceMeta).flatMap((s) => Object.keys(s.shape)))];

/** GB/T 2260 administrative division code: 6 digits, or 9/12 for township/village level. */
export const DistrictCode = z.string().regex(/^\d{6}(\d{3}(\d{3})?)?$/, 'district must be a 6, 9 or 12 digit division code (GB/T 2260), e.g. 330106');

export const Location = z.strictObject({
  lat: z.coerce.number().min(-90).max(90),
  lng: z.coerce.number().min(-180).max(180),
});

export const deviceInput = z.strictObject({
  id: DeviceId,
  family: z.enum(families),
  name: text().optional(),
  location: Location.optional(),
  district: DistrictCode.optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
}).superRefine((d, ctx) => {
  const r = deviceMeta[d.family].safeParse(d.meta ?? {});
  if (!r.success) {
    for (const issue of r.error.issues) {
      ctx.addIssue({
        code: 'custom',
        path: ['meta', ...issue.path],
        message: issue.code === 'unrecognized_keys'
          ? `${issue.message}; ${d.family} devices take: ${Object.keys(deviceMeta[d.family].shape).join(', ')}`
          : issue.message,
      });
    }
  }
}).transform((d) => ({ ...d, meta: deviceMeta[d.family].parse(d.meta ?? {}) as Record<string, unknown> }));

export type DeviceInput = z.output<typeof deviceInput>;

/** A device as the API shows it: never the secret or its hash. */
export const devicePublic = z.object({
  id: z.string(),
  family: z.enum(families),
  name: z.string().nullable(),
  location: z.object({ lat: z.number(), lng: z.number() }).nullable(),
  district: z.string().nullable(),
  meta: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
  connection: z.object({
    connected: z.boolean(),
    lastSeen: z.string().nullable(),
    lastConnectedAt: z.string().nullable(),
    lastDisconnectedAt: z.string().nullable(),
  }),
});
export type DevicePublic = z.output<typeof devicePublic>;

/**
 * CSV rows -> device inputs. Columns: id, family, name, lat, lng, district and any metadata
 * key (storeId, registrationCode, maintenanceUnit, stationId, ...). Empty cells are absent.
 */
export const csvCommonColumns = ['id', 'family', 'name', 'lat', 'lng', 'district'] as const;

export function csvRowToInput(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const [col, rawValue] of Object.entries(row)) {
    const value = rawValue.trim();
    if (value === '') continue;
    if (col === 'lat' || col === 'lng') {
      (out.location ??= {}) as Record<string, unknown>;
      (out.location as Record<string, unknown>)[col] = value;
    } else if ((csvCommonColumns as readonly string[]).includes(col)) {
      out[col] = value;
    } else {
      meta[col] = value;
    }
  }
  if (Object.keys(meta).length) out.meta = meta;
  return out;
}
