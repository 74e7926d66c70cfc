/**
 * The alert engine runs each committed batch of readings with transient rule state
 * (withTransientMaps, core/rules/common/shardedMap.ts): every rule, fed a random city's
 * readings in batches that way, must give exactly the states and effects it gives one reading
 * at a time with every state copied, and no state handed out at the end of a batch may change
 * afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../../core/alerts/types.js';
import { withTransientMaps } from '../../../core/rules/common/shardedMap.js';
import { allRules } from '../../../core/rules/index.js';
import { RuleRunner } from '../../../core/ruleRunner.js';
import { cityDevices as devices, cityReadings, readingArb } from '../../helpers/ruleInputs.js';

function runner(): RuleRunner {
  const r = new RuleRunner(allRules, {}, { device: (id) => devices.find((d) => d.id === id), cylinder: () => undefined }, (e) => { throw e.error; });
  r.load({});
  return r;
}

describe('transient batches in the rule runner', () => {
  it('give the states and effects of one reading at a time, and leave earlier batches\' states as they were', () => {
    fc.assert(fc.property(fc.array(readingArb, { minLength: 1, maxLength: 200 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (specs, sizes) => {
      const { readings } = cityReadings(specs);
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
