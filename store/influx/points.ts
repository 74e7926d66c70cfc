/**
 * Stored readings -> InfluxDB line protocol (ms precision).
 *
 * - measurement: the reading's table without `r_` (one per channel; `heartbeat` is shared by
 *   every family and told apart by the `family` tag): `kitchen_violation`, `elevator_status`...
 * - tags: `device`, `family`, `district` and the device's identifying metadata (META_TAGS:
 *   storeId, stationId, registrationCode...) from the registry, plus the low-cardinality string fields of the channel
 *   (stationId, grade, type...). A channel field wins over device metadata of the same name.
 * - fields: the channel's typed columns under their SQL names (DOUBLE -> float, INTEGER and
 *   BIGINT -> integer, BOOLEAN -> boolean, other VARCHAR -> string), plus `seq` (integer, the
 *   reading's position in the local store) so that every point has at least one field and can
 *   be traced back. VictoriaMetrics drops string fields; InfluxDB keeps them.
 * - timestamp: the device's own time (`ts`), not the receive time.
 */
import { Point } from '@influxdata/influxdb-client';
import { readingTables, type Column } from '../readingTables.js';
import type { Reading } from '../types.js';

/** Device attributes that become tags. */
export interface DeviceTags {
  district: string | null;
  meta: Record<string, unknown>;
}

/** Payload fields sent as tags rather than fields: identifiers and enums, low cardinality. */
export const TAG_FIELDS: ReadonlySet<string> = new Set([
  'storeId', 'stationId', 'dispenserId', 'tankId', 'grade', 'type', 'area', 'point', 'direction', 'serviceMode', 'kind',
]);

/** Device metadata keys (core/deviceInput.ts) that become tags: identifiers and names, not addresses or phones. */
export const META_TAGS: ReadonlySet<string> = new Set([
  'storeId', 'storeName', 'cameraArea', 'stationId', 'stationName', 'registrationCode', 'rescueCode', 'userUnit', 'maintenanceUnit',
]);

export function measurementOf(r: Pick<Reading, 'family' | 'channel'>): string | null {
  const t = readingTables[r.family]?.[r.channel];
  return t ? t.table.replace(/^r_/, '') : null;
}

function columnValue(c: Column, data: Record<string, unknown>): unknown {
  const v = data[c.field];
  if (c.index !== undefined) return Array.isArray(v) ? v[c.index] : undefined;
  return v;
}

/** One reading as a Point, or null when its channel has no table (cannot happen for stored readings). */
export function toPoint(r: Reading, device: DeviceTags | undefined): Point | null {
  const t = readingTables[r.family]?.[r.channel];
  if (!t) return null;
  const p = new Point(t.table.replace(/^r_/, ''));
  if (device) {
    for (const [k, v] of Object.entries(device.meta)) {
      if (!META_TAGS.has(k)) continue;
      if ((typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isFinite(v))) p.tag(k, String(v));
    }
    if (device.district) p.tag('district', device.district);
  }
  p.tag('device', r.deviceId).tag('family', r.family);
  for (const c of t.columns) {
    const v = columnValue(c, r.data);
    if (v === undefined || v === null) continue;
    if (TAG_FIELDS.has(c.field) && typeof v === 'string') {
      if (v !== '') p.tag(c.field, v);
      continue;
    }
    switch (c.type) {
      case 'DOUBLE':
        if (typeof v === 'number' && Number.isFinite(v)) p.floatField(c.name, v);
        break;
      case 'INTEGER':
      case 'BIGINT':
        if (typeof v === 'number' && Number.isSafeInteger(v)) p.intField(c.name, v);
        break;
      case 'BOOLEAN':
        if (typeof v === 'boolean') p.booleanField(c.name, v);
        break;
      case 'VARCHAR':
        if (typeof v === 'string') p.stringField(c.name, v);
        break;
    }
  }
  p.intField('seq', r.seq);
  p.timestamp(r.ts);
  return p;
}

/** Line protocol for a batch; readings whose point cannot be built are skipped. */
export function toLines(readings: readonly Reading[], device: (id: string) => DeviceTags | undefined): string[] {
  const out: string[] = [];
  for (const r of readings) {
    const line = toPoint(r, device(r.deviceId))?.toLineProtocol();
    if (line) out.push(line);
  }
  return out;
}
