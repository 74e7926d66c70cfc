/** Readings and commits as the reading feed's tests use them (test/cluster/readingFeed.test.ts). */
import { examplePayload } from '../../core/schemas/examples.js';
import type { Reading } from '../../core/reading.js';
import type { ReadingBatch } from '../../cluster/readingFeed.js';
import { decodePayload } from '../../ingest/decode.js';
import { encodeFrame } from '../../store/journal/frame.js';

const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);

/** Readings as ingest makes them, with the bytes the device sent (the journal frame carries those). */
const payloads = new WeakMap<Reading, Buffer>();
export function reading(seq: number, deviceId: string): Reading {
  const msgId = `${deviceId}-${seq}`;
  const payload = Buffer.from(JSON.stringify({ ...examplePayload('elevator', 'status', msgId, T0 + seq), vendor: { n: seq, s: 'é' } }));
  const d = decodePayload('elevator', 'status', payload, 1 << 20);
  if (!d.ok) throw new Error(d.detail);
  const r: Reading = { seq, family: 'elevator', channel: 'status', deviceId, msgId, ts: d.ts, receivedAt: d.ts + 3, qos: 1, data: d.data, extra: d.extra };
  payloads.set(r, payload);
  return r;
}

/** A commit as `readings.stored` has it: the readings and their journal frame. */
export function committed(readings: Reading[], withFrame = true): ReadingBatch {
  return { readings, frame: withFrame ? encodeFrame(readings, [], readings.map((r) => payloads.get(r)!)) : null };
}

/** Readings routed by device: `dev-<slot>` goes to that slot; `multi` to slots 1 and 7. */
export const slotsOf = (r: Reading): number[] => (r.deviceId === 'multi' ? [1, 7] : [Number(r.deviceId.slice(4))]);

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
export const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

