/**
 * The rules as a slot's owner runs them (core/cluster/slotRules.ts): a random city's inputs fed
 * to one runner per slot, each over its slot's rules, raise exactly what one runner over all
 * rules raises (each effect by one slot), the feed sends each reading to the slots that
 * evaluate it and no other, and a connection event likewise. Eight slots keep it quick; the
 * routes do not depend on the count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Effect } from '../../../core/alerts/types.js';
import { slotOf } from '../../../core/cluster/slots.js';
import { rulesForSlot, slotsOfConnection, slotsOfReading } from '../../../core/cluster/slotRules.js';
import { RuleRunner } from '../../../core/ruleRunner.js';
import { allRules } from '../../../core/rules/index.js';
import { byJson, fail, inputsOf, lookup, stepArb } from './ruleCity.js';

const SLOTS = 8;

describe('rules kept to one slot', () => {
  it('the slots together raise what the whole does, each effect once, and only the slots the feed sends to', () => {
    const [steps] = fc.sample(fc.array(stepArb, { minLength: 600, maxLength: 600 }), { seed: 11, numRuns: 1 });
    const inputs = inputsOf(steps!);
    const whole = new RuleRunner(allRules, {}, lookup, fail);
    whole.load({});
    const parts = Array.from({ length: SLOTS }, (_, slot) => {
      const r = new RuleRunner(rulesForSlot(allRules, slot, SLOTS), {}, lookup, fail);
      r.load({});
      return r;
    });
    let raised = 0;
    const problems: string[] = [];
    for (const [i, input] of inputs.entries()) {
      const expected = byJson(whole.apply(input));
      raised += expected.length;
      const bySlot = parts.map((p) => [...p.apply(input)] as Effect[]);
      if (JSON.stringify(byJson(bySlot.flat())) !== JSON.stringify(expected)) problems.push(`input ${i} (${input.kind}): effects differ`);
      const active = bySlot.flatMap((e, slot) => (e.length ? [slot] : []));
      const sent = input.kind === 'reading' ? slotsOfReading(allRules, input.reading, lookup, SLOTS)
        : input.kind === 'connection' ? slotsOfConnection(allRules, input.deviceId, input.family, lookup, SLOTS) : null;
      if (sent && active.some((s) => !sent.includes(s))) problems.push(`input ${i}: a slot the feed does not send it to raised`);
    }
    expect(problems).toEqual([]);
    // the city raises enough for the comparison to say something
    expect(raised).toBeGreaterThan(50);
  });

  it('a reading no rule reads goes nowhere; one read by rules of several keys goes to each of their slots', () => {
    const heartbeat = { seq: 1, family: 'elevator' as const, channel: 'heartbeat', deviceId: 'e-0', msgId: 'm', ts: 0, receivedAt: 0, data: {} };
    expect(slotsOfReading(allRules, { ...heartbeat, channel: 'nothing-reads-this' }, lookup, SLOTS)).toEqual([]);
    const scan = { ...heartbeat, family: 'cylinder' as const, channel: 'scan', deviceId: 'c-0', data: { cylinderCode: 'LPG-1', stationId: 'ST-0', point: 'fill' } };
    const slots = slotsOfReading(allRules, scan, lookup, 256);
    // the scan rules by the code; each slot once
    expect(slots).toContain(slotOf('LPG-1'));
    expect(new Set(slots).size).toBe(slots.length);
    // a scan without a code is ignored by the scan rules and goes by its scanner
    expect(slotsOfReading(allRules, { ...scan, data: { stationId: 'ST-0', point: 'fill' } }, lookup, 256)).toContain(slotOf('c-0'));
  });
});
