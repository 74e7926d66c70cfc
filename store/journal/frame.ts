/**
 * The ingest journal's record format (docs/journal.md). One frame per group commit:
 *
 *   u32 LE  body length in bytes
 *   u32 LE  CRC-32 (IEEE) of the body
 *   body    (below)
 *
 * The body is binary, first byte 0x01:
 *
 *   u8      0x01
 *   u32 LE  number of readings, then for each:
 *     f64 LE  seq, receivedAt, ts
 *     u8      qos
 *     u8      kind: 0 = the device's payload as received, 1 = JSON {"data", "extra"}
 *     str     family, channel, deviceId, msgId   (each u32 LE byte length + UTF-8)
 *     str     the payload (kind 0) or the JSON (kind 1)
 *   str     the dead letters as a JSON array, their raw bytes in base64
 *
 * Kind 0 is why the body is binary: the payload bytes are copied as they came, so journaling
 * a reading costs a copy instead of a JSON.stringify on the busy thread (P1 profile: the JSON
 * frame was 9 % of the service's time). Replay decodes them again with ingest's decoder,
 * which is deterministic. Should a newer version's schema refuse a payload an older one
 * accepted, the reading is still replayed: its fields all go to `data` (nothing acknowledged
 * is dropped). Kind 1 is for readings whose payload the caller did not pass.
 *
 * A body starting with `{` is the first format (JSON {"r": [...], "d": [...]}), still read.
 *
 * A crash can leave the last frame half written; its length or CRC then does not check out,
 * and decoding stops there. That frame's batch was never acknowledged (the PUBACK waits for
 * the fsync after the write), so nothing acknowledged is lost by dropping it.
 */
import * as zlib from 'node:zlib';
import { decodePayload } from '../../ingest/decode.js';
import type { Family } from '../../core/schemas/index.js';
import type { DeadLetter, Reading } from '../types.js';

export const FRAME_HEADER_BYTES = 8;
/** A body larger than this is not a frame we wrote (the group commit is bounded far below it). */
export const MAX_FRAME_BODY_BYTES = 1 << 30;

const BINARY = 0x01;
const JSON_BODY = 0x7b; // '{'
const KIND_PAYLOAD = 0;
const KIND_JSON = 1;
/** seq, receivedAt, ts, qos, kind, and six string lengths */
const READING_FIXED_BYTES = 8 * 3 + 1 + 1 + 4 * 6;

export interface JournalBatch {
  readings: Reading[];
  deadLetters: DeadLetter[];
}

type JsonDeadLetter = Omit<DeadLetter, 'raw'> & { raw: string };

export function encodeFrame(readings: readonly Reading[], deadLetters: readonly DeadLetter[], payloads?: readonly Uint8Array[]): Buffer {
  const letters = deadLetters.length ? JSON.stringify(deadLetters.map(jsonDeadLetter)) : '[]';
  const bodies: Array<Uint8Array | string> = new Array(readings.length);
  // an upper bound: UTF-8 takes at most 3 bytes per UTF-16 unit
  let capacity = 1 + 4 + 4 + 3 * letters.length;
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const raw = payloads?.[i];
    const body = raw ?? JSON.stringify({ data: r.data, extra: r.extra });
    bodies[i] = body;
    capacity += READING_FIXED_BYTES + 3 * (r.family.length + r.channel.length + r.deviceId.length + r.msgId.length)
      + (typeof body === 'string' ? 3 * body.length : body.length);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + capacity);
  let at = FRAME_HEADER_BYTES;
  frame[at++] = BINARY;
  at = frame.writeUInt32LE(readings.length, at);
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    const body = bodies[i]!;
    at = frame.writeDoubleLE(r.seq, at);
    at = frame.writeDoubleLE(r.receivedAt, at);
    at = frame.writeDoubleLE(r.ts, at);
    frame[at++] = r.qos;
    frame[at++] = typeof body === 'string' ? KIND_JSON : KIND_PAYLOAD;
    at = putString(frame, at, r.family);
    at = putString(frame, at, r.channel);
    at = putString(frame, at, r.deviceId);
    at = putString(frame, at, r.msgId);
    if (typeof body === 'string') {
      at = putString(frame, at, body);
    } else {
      at = frame.writeUInt32LE(body.length, at);
      frame.set(body, at);
      at += body.length;
    }
  }
  at = putString(frame, at, letters);
  frame.writeUInt32LE(at - FRAME_HEADER_BYTES, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES, at)), 4);
  return frame.subarray(0, at);
}

function putString(buf: Buffer, at: number, s: string): number {
  // Short ASCII strings (ids, names) are copied here: a call into Buffer.write per string was
  // half of encodeFrame's time in the P1 profile.
  if (s.length <= 64) {
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[at + 4 + i] = c;
    }
    if (i === s.length) {
      buf.writeUInt32LE(i, at);
      return at + 4 + i;
    }
  }
  const n = buf.write(s, at + 4, 'utf8');
  buf.writeUInt32LE(n, at);
  return at + 4 + n;
}

function jsonDeadLetter(l: DeadLetter): JsonDeadLetter {
  return { ...l, raw: Buffer.from(l.raw.buffer, l.raw.byteOffset, l.raw.byteLength).toString('base64') };
}

export interface Decoded {
  batches: JournalBatch[];
  /** bytes of whole, intact frames from the start */
  validBytes: number;
}

/** Decode frames from the start of `buf` up to the end or the first frame that does not check out. */
export function decodeFrames(buf: Uint8Array): Decoded {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const batches: JournalBatch[] = [];
  let at = 0;
  while (b.length - at >= FRAME_HEADER_BYTES) {
    const len = b.readUInt32LE(at);
    if (len > MAX_FRAME_BODY_BYTES || b.length - at - FRAME_HEADER_BYTES < len) break;
    const body = b.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + len);
    if (crc32(body) !== b.readUInt32LE(at + 4)) break;
    const batch = decodeBody(body);
    if (!batch) break;
    batches.push(batch);
    at += FRAME_HEADER_BYTES + len;
  }
  return { batches, validBytes: at };
}

/** A body whose CRC checks out but which does not parse is treated like a torn frame: null. */
function decodeBody(body: Buffer): JournalBatch | null {
  try {
    if (body[0] === BINARY) return decodeBinary(body);
    if (body[0] === JSON_BODY) return decodeJson(body);
  } catch {
    // fall through
  }
  return null;
}

function decodeBinary(body: Buffer): JournalBatch {
  const cursor = { at: 1 };
  const count = body.readUInt32LE(cursor.at);
  cursor.at += 4;
  const readings: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const seq = body.readDoubleLE(cursor.at);
    const receivedAt = body.readDoubleLE(cursor.at + 8);
    const ts = body.readDoubleLE(cursor.at + 16);
    const qos = body[cursor.at + 24]!;
    const kind = body[cursor.at + 25]!;
    cursor.at += 26;
    const family = getString(body, cursor) as Family;
    const channel = getString(body, cursor);
    const deviceId = getString(body, cursor);
    const msgId = getString(body, cursor);
    const bytes = getBytes(body, cursor);
    const fields = kind === KIND_PAYLOAD ? payloadFields(family, channel, bytes)
      : kind === KIND_JSON ? JSON.parse(bytes.toString('utf8')) as Pick<Reading, 'data' | 'extra'>
        : null;
    if (!fields) throw new Error(`unknown reading kind ${kind}`);
    readings.push({ seq, family, channel, deviceId, msgId, ts, receivedAt, qos, data: fields.data, extra: fields.extra });
  }
  const letters = JSON.parse(getString(body, cursor)) as JsonDeadLetter[];
  if (cursor.at !== body.length || !Array.isArray(letters)) throw new Error('frame body has trailing bytes');
  return { readings, deadLetters: letters.map(fromJsonDeadLetter) };
}

/** data and extra from the payload, as ingest decoded it when the reading came in. */
function payloadFields(family: Family, channel: string, payload: Buffer): Pick<Reading, 'data' | 'extra'> {
  const d = decodePayload(family, channel, payload, Infinity);
  if (d.ok) return { data: d.data, extra: d.extra };
  // accepted and acknowledged by the version that wrote the journal: keep every field
  const text = payload.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const { msgId: _m, ts: _t, ...data } = parsed as Record<string, unknown>;
      return { data, extra: null };
    }
  } catch {
    // kept whole below
  }
  return { data: {}, extra: text };
}

function decodeJson(body: Buffer): JournalBatch {
  const parsed = JSON.parse(body.toString('utf8')) as { r: Reading[]; d: JsonDeadLetter[] };
  if (!Array.isArray(parsed.r) || !Array.isArray(parsed.d)) throw new Error('not a journal body');
  return { readings: parsed.r, deadLetters: parsed.d.map(fromJsonDeadLetter) };
}

function fromJsonDeadLetter(l: JsonDeadLetter): DeadLetter {
  return { ...l, raw: new Uint8Array(Buffer.from(l.raw, 'base64')) };
}

function getBytes(body: Buffer, cursor: { at: number }): Buffer {
  const n = body.readUInt32LE(cursor.at);
  const start = cursor.at + 4;
  if (start + n > body.length) throw new RangeError('string runs past the frame');
  cursor.at = start + n;
  return body.subarray(start, start + n);
}

function getString(body: Buffer, cursor: { at: number }): string {
  return getBytes(body, cursor).toString('utf8');
}

/** CRC-32 (IEEE 802.3), as zlib computes it; Node before 20.15 has no zlib.crc32. */
export const crc32: (data: Uint8Array) => number = typeof (zlib as { crc32?: unknown }).crc32 === 'function'
  ? (data) => (zlib as unknown as { crc32(d: Uint8Array): number }).crc32(data)
  : crc32Table;

let table: Uint32Array | null = null;

export function crc32Table(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
