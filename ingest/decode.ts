/**
 * Payload decoding: bytes -> validated reading fields, or a coded failure with field-level
 * detail. Pure: no I/O, so every bad-input case is table-tested.
 */
import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import type { DeviceCode } from '../core/codes.js';
import { compileObjectFastParse, FAIL, type LiftedOut, type ObjectFastParse } from '../core/schemas/fastParse.js';
import { channelList, schemaFor, type Family } from '../core/schemas/index.js';

export interface Issue {
  path: string;
  message: string;
}

export type Decoded =
  | { ok: true; msgId: string; ts: number; data: Record<string, unknown>; extra: string | null }
  | { ok: false; reason: DeviceCode; detail: string; issues: Issue[] | null; msgId: string | null };

const MAX_ISSUES = 20;

/**
 * Per channel, the fast path compiled from its zod schema at load (core/schemas/fastParse.ts):
 * it accepts exactly what zod accepts, with the same output, and hands anything else to zod,
 * which words every rejection. msgId and ts come out apart from the channel's fields.
 */
const fastParsers = new Map<z.ZodType, ObjectFastParse | null>(channelList.map((c) => {
  const schema = schemaFor(c.family, c.channel)!;
  return [schema, compileObjectFastParse(schema, ['msgId', 'ts'])];
}));
/** Written by the fast path, read at once: decoding is synchronous, so one is enough. */
const lifted: LiftedOut = { lifted: [undefined, undefined], present: 0 };

export function decodePayload(family: Family, channel: string, payload: Uint8Array, maxPayloadBytes: number): Decoded {
  if (payload.length > maxPayloadBytes) {
    return fail('too_large', `payload is ${payload.length} bytes; the limit is ${maxPayloadBytes}`, null);
  }
  const schema = schemaFor(family, channel);
  if (!schema) return fail('unknown_channel', `${family} devices have no channel "${channel}"`, null);
  if (!isUtf8(payload)) return fail('invalid_json', 'payload is not valid UTF-8', null);

  let parsed: unknown;
  try {
    // one JSON.parse per message; the broker's payloads are Buffers already (no view needed)
    const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    parsed = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    return fail('invalid_json', `payload is not JSON: ${(e as Error).message}`, null);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('invalid_json', `payload must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`, null);
  }
  return decodeObject(family, channel, parsed as Record<string, unknown>);
}

/**
 * Validate a parsed JSON object against its channel's schema. `fast: false` skips the
 * compiled path and uses zod alone (the tests prove both give the same answers).
 */
export function decodeObject(family: Family, channel: string, raw: Record<string, unknown>, fast = true): Decoded {
  const schema = schemaFor(family, channel);
  if (!schema) return fail('unknown_channel', `${family} devices have no channel "${channel}"`, null);
  const fp = fast ? fastParsers.get(schema) : null;
  if (fp) {
    const data = fp(raw, lifted);
    if (data !== FAIL) {
      const msgId = lifted.lifted[0] as string;
      const ts = lifted.lifted[1] as number;
      // every key of the input is a schema key: nothing to keep (the common case, no key list)
      if (countKeys(raw) === lifted.present) return { ok: true, msgId, ts, data, extra: null };
      try {
        return { ok: true, msgId, ts, data, extra: extraFields(schema, raw) };
      } catch (e) {
        return fail('invalid_json', `unknown fields could not be kept: ${(e as Error).message}`, msgId);
      }
    }
  }
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

/** Enumerable keys of a parsed JSON object, counted without building a list. */
function countKeys(raw: Record<string, unknown>): number {
  let n = 0;
  for (const _k in raw) n++;
  return n;
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
