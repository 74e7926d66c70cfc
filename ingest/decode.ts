/**
 * Payload decoding: bytes -> validated reading fields, or a coded failure with field-level
 * detail. Pure: no I/O, so every bad-input case is table-tested.
 */
import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import type { DeviceCode } from '../service/codes.js';
import { schemaFor, type Family } from './schemas/index.js';

export interface Issue {
  path: string;
  message: string;
}

export type Decoded =
  | { ok: true; msgId: string; ts: number; data: Record<string, unknown>; extra: string | null }
  | { ok: false; reason: DeviceCode; detail: string; issues: Issue[] | null; msgId: string | null };

const MAX_ISSUES = 20;

export function decodePayload(family: Family, channel: string, payload: Uint8Array, maxPayloadBytes: number): Decoded {
  if (payload.length > maxPayloadBytes) {
    return fail('too_large', `payload is ${payload.length} bytes; the limit is ${maxPayloadBytes}`, null);
  }
  const schema = schemaFor(family, channel);
  if (!schema) return fail('unknown_channel', `${family} devices have no channel "${channel}"`, null);
  if (!isUtf8(payload)) return fail('invalid_json', 'payload is not valid UTF-8', null);

  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch (e) {
    return fail('invalid_json', `payload is not JSON: ${(e as Error).message}`, null);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('invalid_json', `payload must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`, null);
  }
  const raw = parsed as Record<string, unknown>;
  const msgId = typeof raw.msgId === 'string' && raw.msgId.length > 0 && raw.msgId.length <= 64 ? raw.msgId : null;

  const result = schema.safeParse(raw);
  if (!result.success) return schemaFailure(result.error, msgId);

  const data = result.data as Record<string, unknown>;
  const { msgId: id, ts, ...fields } = data as { msgId: string; ts: number } & Record<string, unknown>;
  let extra: string | null;
  try {
    extra = extraFields(schema, raw);
  } catch (e) {
    // JSON.stringify recurses: unknown fields nested a few thousand levels deep overflow the stack
    return fail('invalid_json', `unknown fields could not be kept: ${(e as Error).message}`, msgId);
  }
  return { ok: true, msgId: id, ts, data: fields, extra };
}

function fail(reason: DeviceCode, detail: string, msgId: string | null): Decoded {
  return { ok: false, reason, detail, issues: null, msgId };
}

function schemaFailure(error: z.ZodError, msgId: string | null): Decoded {
  const issues = error.issues.slice(0, MAX_ISSUES).map((i) => ({
    path: i.path.length ? i.path.map(String).join('.') : '(root)',
    message: i.message,
  }));
  const more = error.issues.length > MAX_ISSUES ? ` (+${error.issues.length - MAX_ISSUES} more)` : '';
  return { ok: false, reason: 'schema', detail: issues.map((i) => `${i.path}: ${i.message}`).join('; ') + more, issues, msgId };
}

/**
 * Fields the schema does not name are kept, not dropped (the device contract may grow ahead
 * of the platform), as JSON text. Keys like `__proto__` are copied onto a null-prototype
 * object so they stay plain data.
 */
function extraFields(schema: z.ZodType, raw: Record<string, unknown>): string | null {
  const shape = knownKeys(schema);
  let extra: Record<string, unknown> | null = null;
  for (const key of Object.keys(raw)) {
    if (shape.has(key)) continue;
    const depth = nestingDepth(raw[key], MAX_EXTRA_DEPTH);
    if (depth > MAX_EXTRA_DEPTH) throw new Error(`field ${key} is nested more than ${MAX_EXTRA_DEPTH} levels deep`);
    extra ??= Object.create(null) as Record<string, unknown>;
    extra[key] = raw[key];
  }
  return extra ? JSON.stringify(extra) : null;
}

/** Kept fields must come back out through the API, whose JSON writer recurses: bound the depth. */
const MAX_EXTRA_DEPTH = 32;

/** Depth of nested arrays/objects, counted with an explicit stack; stops once past `limit`. */
function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

const shapeCache = new WeakMap<object, Set<string>>();

function knownKeys(schema: z.ZodType): Set<string> {
  let keys = shapeCache.get(schema);
  if (!keys) {
    // zod 4: object schemas (and their refinements) expose `.shape`; unwrap pipes if any
    const s = schema as unknown as { shape?: Record<string, unknown>; _zod?: { def?: { in?: unknown; schema?: unknown } } };
    const shape = s.shape ?? (s._zod?.def?.in as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
    keys = new Set(Object.keys(shape));
    shapeCache.set(schema, keys);
  }
  return keys;
}
