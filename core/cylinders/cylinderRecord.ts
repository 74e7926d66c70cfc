/**
 * One row of the cylinder registry (一瓶一码一档, docs/domain.md §3), as imported from CSV or
 * JSON, validated and normalised into the `CylinderRecord` the rules read.
 *
 * Accepted input, per field (CSV cells are strings; JSON may use numbers and arrays):
 * - `code`: 1-64 characters, trimmed. The code printed on the cylinder.
 * - `model`: e.g. `YSP15`, `YSP35.5`, `YSP118-II`. Normalised: upper case, spaces removed,
 *   `YSP-15` -> `YSP15`, `Ⅱ` -> `II`.
 * - `mfgDate` (required), `lastInspection`, `nextInspection` (optional; empty = unknown):
 *   `YYYY-MM-DD` (a China local date), an RFC 3339 date-time with offset (its China local
 *   date is kept), or integer epoch ms (JSON; same rule). Stored as the UTC midnight of the
 *   date (calendar.ts).
 * - `designLifeYears`: whole years 1-50; default 8 when absent [reg, GB 5842-2006: 8-year
 *   design life for cylinders made to it].
 * - `ownerStationId` (required), `entrustedStationIds`: a JSON array of ids, or one string
 *   of ids separated by `;` (CSV). Empty entries and duplicates are dropped.
 * - `status`: `in_service` | `scrapped` | `lost` (case-insensitive).
 * - `maxFillKg`: kg, > 0 and <= 200; when absent, the model's default from
 *   `defaultMaxFillKgByModel`; a model without a default must give it.
 * Unknown columns are ignored. Every problem is reported against its field.
 */
import { z } from 'zod';
import type { CylinderRecord } from '../alerts/types.js';
import { CHINA_UTC_OFFSET_MINUTES, localDate } from './calendar.js';

/** [reg, GB 5842-2006] design service life of LPG steel cylinders made to it. */
export const DEFAULT_DESIGN_LIFE_YEARS = 8;

/**
 * Maximum fill mass (kg) by model, used when a row has no `maxFillKg`.
 * - YSP15: 14.5 kg [reg, docs/domain.md §3: YSP15 14.5 +/- 0.5 kg]; older series named
 *   by nominal fill mass (GB 5842-1996 `YSP-15`).
 * - GB 5842-2006 series, named by nominal water volume in litres: the maximum fill is
 *   0.42 kg of LPG per litre of volume [reg, GB 5842-2006 model table as commonly summarised;
 *   GB 5842-2023 now writes it into the model, e.g. `YSP118/49.5`]: YSP4.7 1.9 kg, YSP12
 *   5.0 kg, YSP26.2 11.0 kg, YSP35.5 14.9 kg, YSP118 and YSP118-II 49.5 kg.
 * Any other model must carry its own `maxFillKg`.
 */
export const defaultMaxFillKgByModel: Readonly<Record<string, number>> = Object.freeze({
  YSP15: 14.5,
  'YSP4.7': 1.9,
  YSP12: 5.0,
  'YSP26.2': 11.0,
  'YSP35.5': 14.9,
  YSP118: 49.5,
  'YSP118-II': 49.5,
});

export const cylinderStatuses = ['in_service', 'scrapped', 'lost'] as const;

/** Columns of the CSV import, in the documented order. */
export const cylinderRecordColumns = [
  'code', 'model', 'mfgDate', 'designLifeYears', 'lastInspection', 'nextInspection', 'ownerStationId', 'entrustedStationIds', 'status', 'maxFillKg',
] as const;

export function normalizeModel(raw: string): string {
  return raw.trim().toUpperCase().replace(/\s+/g, '').replace(/Ⅱ/g, 'II').replace(/^YSP-(?=\d)/, 'YSP');
}

const MIN_YEAR = 1950;
const MAX_YEAR = 2100;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
// RFC 3339 date-time: seconds required, fraction optional, offset required
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE_HELP = 'expected a date YYYY-MM-DD, an RFC 3339 date-time with offset, or epoch ms';

function realDate(y: number, m: number, d: number): number | null {
  if (y < MIN_YEAR || y >= MAX_YEAR) return null;
  const ms = Date.UTC(y, m - 1, d);
  const back = new Date(ms);
  return back.getUTCFullYear() === y && back.getUTCMonth() === m - 1 && back.getUTCDate() === d ? ms : null;
}

/** A record date (UTC midnight of the China local date), or an error message. */
export function parseRecordDate(value: unknown): number | { error: string } {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { error: `${DATE_HELP}; got a non-integer number` };
    // 1e11 ms is March 1973; a smaller number is almost surely epoch seconds (a common mistake)
    if (value < 1e11) return { error: `${value} is not epoch ms (epoch seconds?); ${DATE_HELP}` };
    const date = localDate(value, CHINA_UTC_OFFSET_MINUTES);
    const y = new Date(date).getUTCFullYear();
    if (y < MIN_YEAR || y >= MAX_YEAR) return { error: `year must be ${MIN_YEAR}-${MAX_YEAR - 1} (epoch ms, not seconds)` };
    return date;
  }
  if (typeof value !== 'string') return { error: DATE_HELP };
  const s = value.trim();
  const d = DATE_RE.exec(s);
  if (d) {
    const ms = realDate(Number(d[1]), Number(d[2]), Number(d[3]));
    return ms === null ? { error: `${s} is not a calendar date from ${MIN_YEAR} to ${MAX_YEAR - 1}` } : ms;
  }
  const t = DATETIME_RE.exec(s);
  if (t) {
    if (realDate(Number(t[1]), Number(t[2]), Number(t[3])) === null || Number(t[4]) > 23 || Number(t[5]) > 59 || Number(t[6]) > 59) {
      return { error: `${s} is not a valid date-time` };
    }
    const instant = Date.parse(s);
    if (!Number.isFinite(instant)) return { error: `${s} is not a valid date-time` };
    return localDate(instant, CHINA_UTC_OFFSET_MINUTES);
  }
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}/.test(s)) return { error: `${s}: a date-time needs seconds and an offset (Z or +08:00); or give the date YYYY-MM-DD` };
  return { error: `${DATE_HELP}; got ${JSON.stringify(s.slice(0, 40))}` };
}

/** CSV cells and JSON values: trimmed strings, '' and null read as absent. */
function blank(v: unknown): unknown {
  if (v === null) return undefined;
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  return v;
}

const required = (what: string) => (iss: { input: unknown }) => (iss.input === undefined ? 'required' : what);

function text(max: number) {
  return z.preprocess(blank, z.string({ error: required('must be a string') }).max(max, `at most ${max} characters`));
}

/** An optional number; CSV cells are parsed as decimal numbers, anything else is reported as such. */
function optionalNumber(what: string, inner: (n: z.ZodNumber) => z.ZodNumber) {
  return z.preprocess((v) => {
    const b = blank(v);
    return typeof b === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(b) ? Number(b) : b;
  }, inner(z.number({ error: `must be ${what}` })).optional());
}

function dateValue(v: unknown, ctx: z.RefinementCtx): number {
  const r = parseRecordDate(v);
  if (typeof r === 'number') return r;
  ctx.addIssue({ code: 'custom', message: r.error });
  return z.NEVER;
}

const requiredDate = z.preprocess(blank, z.unknown()).transform((v, ctx): number => {
  if (v !== undefined) return dateValue(v, ctx);
  ctx.addIssue({ code: 'custom', message: 'required' });
  return z.NEVER;
});

/** absent, empty or null: unknown (null) */
const optionalDate = z.preprocess(blank, z.unknown()).transform((v, ctx): number | null => (v === undefined ? null : dateValue(v, ctx)));

const stationList = z.preprocess((v) => {
  const b = blank(v);
  if (b === undefined) return [];
  if (typeof b === 'string') return b.split(';').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(b)) return b.map((s) => (typeof s === 'string' ? s.trim() : s)).filter((s) => s !== '');
  return b;
}, z.array(z.string({ error: 'each station id must be a string' }).max(64, 'each station id: at most 64 characters'), {
  error: 'expected station ids separated by ";" or a JSON array of strings',
}).max(100, 'at most 100 entrusted stations')).transform((ids) => [...new Set(ids)]);

const rowSchema = z.object({
  code: text(64),
  model: text(32).transform(normalizeModel),
  mfgDate: requiredDate,
  designLifeYears: optionalNumber('a whole number of years', (n) => n.int('must be a whole number of years').min(1, 'at least 1').max(50, 'at most 50')),
  lastInspection: optionalDate,
  nextInspection: optionalDate,
  ownerStationId: text(64),
  entrustedStationIds: stationList,
  status: z.preprocess((v) => (typeof blank(v) === 'string' ? (blank(v) as string).toLowerCase() : blank(v)),
    z.enum(cylinderStatuses, { error: (iss) => (iss.input === undefined ? 'required' : `must be one of ${cylinderStatuses.join(', ')}`) })),
  maxFillKg: optionalNumber('a number of kg', (n) => n.gt(0, 'must be above 0 kg').max(200, 'at most 200 kg')),
}).superRefine((r, ctx) => {
  if (r.lastInspection !== null && r.lastInspection < r.mfgDate) {
    ctx.addIssue({ code: 'custom', path: ['lastInspection'], message: 'is before mfgDate' });
  }
  if (r.nextInspection !== null && r.nextInspection <= r.mfgDate) {
    ctx.addIssue({ code: 'custom', path: ['nextInspection'], message: 'must be after mfgDate' });
  }
  if (r.nextInspection !== null && r.lastInspection !== null && r.nextInspection <= r.lastInspection) {
    ctx.addIssue({ code: 'custom', path: ['nextInspection'], message: 'must be after lastInspection' });
  }
  if (r.maxFillKg === undefined && !Object.hasOwn(defaultMaxFillKgByModel, r.model)) {
    ctx.addIssue({
      code: 'custom', path: ['maxFillKg'],
      message: `required for model ${r.model} (defaults exist for ${Object.keys(defaultMaxFillKgByModel).join(', ')})`,
    });
  }
}).transform((r): CylinderRecord => ({
  code: r.code,
  model: r.model,
  mfgDate: r.mfgDate,
  designLifeYears: r.designLifeYears ?? DEFAULT_DESIGN_LIFE_YEARS,
  lastInspection: r.lastInspection,
  nextInspection: r.nextInspection,
  ownerStationId: r.ownerStationId,
  entrustedStationIds: r.entrustedStationIds,
  status: r.status,
  maxFillKg: r.maxFillKg ?? defaultMaxFillKgByModel[r.model]!,
}));

/** The registry row schema: input a CSV row object or a JSON object, output a CylinderRecord. */
export const cylinderRecord: z.ZodType<CylinderRecord, unknown> = rowSchema;

export interface FieldError {
  /** the field (column) name, '' for the row as a whole */
  field: string;
  message: string;
}

export type CylinderRecordResult = { ok: true; record: CylinderRecord } | { ok: false; errors: FieldError[] };

/** Validate one row; errors name their field, in column order, e.g. `{field: 'mfgDate', message: 'required'}`. */
export function parseCylinderRecord(row: unknown): CylinderRecordResult {
  const r = rowSchema.safeParse(row);
  if (r.success) return { ok: true, record: r.data };
  const order = (f: string): number => {
    const i = (cylinderRecordColumns as readonly string[]).indexOf(f);
    return i < 0 ? cylinderRecordColumns.length : i;
  };
  const errors = r.error.issues.map((i) => ({
    field: i.path.length > 0 ? String(i.path[0]) : '',
    message: i.path.length === 0 && i.code === 'invalid_type' ? 'expected an object with the registry columns' : i.message,
  }));
  return { ok: false, errors: errors.sort((a, b) => order(a.field) - order(b.field)) };
}

/** `field: message; field: message`, for import reports. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
}
