/**
 * The alert engine runs each committed batch of readings with transient rule state
 * (withTransientMaps, core/rules/common/shardedMap.ts): every rule, fed a random city's
 * readings in batches that way, must give exactly the states and effects it gives one reading
 * at a time with every state copied, and no state handed out at the end of a batch may change
 * afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceInfo, Effect, RuleReading } from '../../../core/alerts/types.js';
import { withTransientMaps } from '../../../core/rules/common/shardedMap.js';
import { allRules } from '../../../core/rules/index.js';
import { RuleRunner } from '../../../core/ruleRunner.js';
import { decodePayload } from '../../../ingest/decode.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import { channelList, type Family } from '../../../core/schemas/index.js';

const T0 = 1_795_392_000_000;
const families: Family[] = ['kitchen', 'elevator', 'cylinder', 'dispenser'];
const devices: DeviceInfo[] = families.flatMap((family) => [0, 1, 2].map((i) => ({ id: `${family}-${i}`, family, name: null, district: null, meta: { storeId: `S-${i % 2}` } })));

function runner(): RuleRunner {
  const r = new RuleRunner(allRules, {}, { device: (id) => devices.find((d) => d.id === id), cylinder: () => undefined }, (e) => { throw e.error; });
  r.load({});
  return r;
}

/** A reading of a random channel; elevator statuses and faults vary the fields the trapped rules read. */
const readingArb = fc.record({
  channel: fc.constantFrom(...channelList),
  device: fc.nat({ max: 2 }),
  gapMs: fc.integer({ min: 0, max: 40_000 }),
  trappedLike: fc.boolean(),
  code: fc.constantFrom(11, 40, 3),
});

type Spec = typeof readingArb extends fc.Arbitrary<infer T> ? T : never;

function toReadings(specs: Spec[]): RuleReading[] {
  let at = T0;
  return specs.map((s, i) => {
    at += s.gapMs;
    const payload: Record<string, unknown> = { ...examplePayload(s.channel.family, s.channel.channel, `m-${i}`, at) };
    if (s.channel.family === 'elevator' && s.channel.channel === 'status') payload.moving = !s.trappedLike;
    if (s.channel.family === 'elevator' && s.channel.channel === 'fault') payload.code = s.code;
    const d = decodePayload(s.channel.family, s.channel.channel, Buffer.from(JSON.stringify(payload)), 1 << 20);
    if (!d.ok) throw new Error(`${s.channel.key}: ${d.detail}`);
    return { seq: i + 1, family: s.channel.family, channel: s.channel.channel, deviceId: `${s.channel.family}-${s.device}`, msgId: d.msgId, ts: d.ts, receivedAt: at, data: d.data };
  });
}

describe('transient batches in the rule runner', () => {
  it('give the states and effects of one reading at a time, and leave earlier batches\' states as they were', () => {
    fc.assert(fc.property(fc.array(readingArb, { minLength: 1, maxLength: 200 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (specs, sizes) => {
      const readings = toReadings(specs);
      const plain = runner();
      const batched = runner();
      const handedOut: Array<[unknown, string]> = [];
      let at = 0;
      for (let b = 0; at < readings.length; b++) {
        const batch = readings.slice(at, at + sizes[b % sizes.length]!);
        at += batch.length;
        const expected: Effect[] = [];
        for (const r of batch) expected.push(...plain.reading(r, r.receivedAt));
        const got: Effect[] = [];
        withTransientMaps(() => { for (const r of batch) got.push(...batched.reading(r, r.receivedAt)); });
        expect(got).toEqual(expected);
        expect(JSON.stringify(batched.states)).toBe(JSON.stringify(plain.states));
        // a tick between batches, outside any batch, as the engine's timer runs it
        const now = batch.at(-1)!.receivedAt + 1_000;
        expect(batched.tick(now)).toEqual(plain.tick(now));
        handedOut.push([batched.states, JSON.stringify(batched.states)]);
        batched.states = { ...batched.states };
      }
      for (const [states, json] of handedOut) expect(JSON.stringify(states)).toBe(json);
    }), { numRuns: 60 });
  });
});
