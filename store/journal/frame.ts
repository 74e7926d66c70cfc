/**
 * The ingest journal's record format (docs/journal.md). One frame per group commit:
 *
 *   u32 LE  body length in bytes
 *   u32 LE  CRC-32 (IEEE) of the body
 *   body    UTF-8 JSON {"r": [reading...], "d": [dead letter...]}, dead letters' raw bytes in base64
 *
 * A crash can leave the last frame half written; its length or CRC then does not check out,
 * and decoding stops there. That frame's batch was never acknowledged (the PUBACK waits for
 * the fsync after the write), so nothing acknowledged is lost by dropping it.
 */
import * as zlib from 'node:zlib';
import type { DeadLetter, Reading } from '../types.js';

export const FRAME_HEADER_BYTES = 8;
/** A body larger than this is not a frame we wrote (the group commit is bounded far below it). */
export const MAX_FRAME_BODY_BYTES = 1 << 30;

export interface JournalBatch {
  readings: Reading[];
  deadLetters: DeadLetter[];
}

interface Body {
  r: Reading[];
  d: Array<Omit<DeadLetter, 'raw'> & { raw: string }>;
}

export function encodeFrame(readings: readonly Reading[], deadLetters: readonly DeadLetter[]): Buffer {
  const d = deadLetters.map((l) => ({ ...l, raw: Buffer.from(l.raw.buffer, l.raw.byteOffset, l.raw.byteLength).toString('base64') }));
  const json = JSON.stringify({ r: readings, d });
  const bodyBytes = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  frame.writeUInt32LE(bodyBytes, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  return frame;
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
    let parsed: Body;
    try {
      parsed = JSON.parse(body.toString('utf8')) as Body;
    } catch {
      break;
    }
    if (!Array.isArray(parsed.r) || !Array.isArray(parsed.d)) break;
    batches.push({ readings: parsed.r, deadLetters: parsed.d.map((l) => ({ ...l, raw: new Uint8Array(Buffer.from(l.raw, 'base64')) })) });
    at += FRAME_HEADER_BYTES + len;
  }
  return { batches, validBytes: at };
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
