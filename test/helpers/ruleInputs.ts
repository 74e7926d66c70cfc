/**
 * A random city's readings for property tests of the rule runner and where it runs: a few
 * devices of each family, any channel, elevator statuses and faults varied so that the trapped
 * rules fire, each payload decoded the way ingest decodes it (so a journal frame of them
 * decodes to the same readings).
 */
import fc from 'fast-check';
import type { DeviceInfo } from '../../core/alerts/types.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { channelList, type Family } from '../../core/schemas/index.js';
import { decodePayload } from '../../ingest/decode.js';
import type { Reading } from '../../store/types.js';

export const T0 = 1_795_392_000_000;
const families: Family[] = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
export const cityDevices: DeviceInfo[] = families.flatMap((family) => [0, 1, 2].map((i) => ({ id: `${family}-${i}`, family, name: null, district: null, meta: { storeId: `S-${i % 2}` } })));

/** A reading of a random channel; elevator statuses and faults vary the fields the trapped rules read. */
export const readingArb = fc.record({
  channel: fc.constantFrom(...channelList),
  device: fc.nat({ max: 2 }),
  gapMs: fc.integer({ min: 0, max: 40_000 }),
  trappedLike: fc.boolean(),
  code: fc.constantFrom(11, 40, 3),
});

export type ReadingSpec = typeof readingArb extends fc.Arbitrary<infer T> ? T : never;

/** The readings (seq from 1, received `gapMs` apart from T0) and each one's payload bytes as sent. */
export function cityReadings(specs: readonly ReadingSpec[]): { readings: Reading[]; payloads: Uint8Array[] } {
  let at = T0;
  const payloads: Uint8Array[] = [];
  const readings = specs.map((s, i): Reading => {
    at += s.gapMs;
    const payload: Record<string, unknown> = { ...examplePayload(s.channel.family, s.channel.channel, `m-${i}`, at) };
    if (s.channel.family === 'elevator' && s.channel.channel === 'status') payload.moving = !s.trappedLike;
    if (s.channel.family === 'elevator' && s.channel.channel === 'fault') payload.code = s.code;
    const bytes = Buffer.from(JSON.stringify(payload));
    const d = decodePayload(s.channel.family, s.channel.channel, bytes, 1 << 20);
    if (!d.ok) throw new Error(`${s.channel.key}: ${d.detail}`);
    payloads.push(bytes);
    return { seq: i + 1, family: s.channel.family, channel: s.channel.channel, deviceId: `${s.channel.family}-${s.device}`, msgId: d.msgId, ts: d.ts, receivedAt: at, qos: 1, data: d.data, extra: d.extra };
  });
  return { readings, payloads };
}
