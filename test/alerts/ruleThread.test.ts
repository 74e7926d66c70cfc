/**
 * The rules in their worker thread (alerts/ruleThread/) against the same rules in this thread
 * (InThreadRules): fed the same inputs — committed readings as journal frames, ticks,
 * connections, operators' closes, snapshots between them — they must hand the engine the same
 * effect groups in the same order and the same changed states at each snapshot, with each
 * snapshot's `take` seeing exactly the effects of the inputs before it.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../core/alerts/alert.js';
import type { DeviceInfo } from '../../core/alerts/types.js';
import { allRules } from '../../core/rules/index.js';
import { WorkerRules } from '../../alerts/ruleThread/workerRules.js';
import { InThreadRules, type EffectGroup, type RulesCore, type RulesCoreDeps } from '../../alerts/rulesCore.js';
import { encodeFrame } from '../../store/journal/frame.js';
import { T0, cityDevices, cityReadings, readingArb } from '../helpers/ruleInputs.js';

type Step =
  | { kind: 'batch'; size: number }
  | { kind: 'tick'; afterMs: number }
  | { kind: 'connection'; device: number; connected: boolean }
  | { kind: 'closed'; falsePositive: boolean; device: number }
  | { kind: 'snapshot' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), afterMs: fc.integer({ min: 0, max: 120_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('connection' as const), device: fc.nat({ max: cityDevices.length - 1 }), connected: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('closed' as const), falsePositive: fc.boolean(), device: fc.nat({ max: 2 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

/** A kitchen alert an operator closes (the repeat-offender rule counts false positives). */
function closedAlert(device: number, at: number): Alert {
  return {
    id: `a-${device}-${at}`, key: `kitchen.violation:kitchen-${device}:no_hat`, ruleId: 'kitchen.violation', family: 'kitchen', deviceId: `kitchen-${device}`,
    severity: 'warning', status: 'resolved', title: 'no hat', detail: {}, firstSeen: at - 1000, lastSeen: at, count: 1,
  } as unknown as Alert;
}

interface Trace {
  /** every group handed over, in order (how many a call carries is not the contract: in this thread one a reading) */
  groups: EffectGroup[];
  snapshots: Array<{ changed: Record<string, unknown>; groupsBefore: number }>;
  errors: string[];
}

function deps(trace: Trace, devices: Map<string, DeviceInfo>): RulesCoreDeps {
  return {
    device: (id) => devices.get(id),
    cylinder: () => undefined,
    onEffects: (g) => { trace.groups.push(...g); },
    onRuleError: (e) => { trace.errors.push(`${e.rule}: ${e.error.message}`); },
  };
}

/** Feeds the steps; every input goes to the core the same way the engine gives it. */
async function run(core: RulesCore, trace: Trace, steps: readonly Step[], specs: Parameters<typeof cityReadings>[0]): Promise<void> {
  const { readings, payloads } = cityReadings(specs);
  await core.start({}, 0, cityDevices);
  let at = 0;
  let now = T0;
  const snapshots: Array<Promise<void>> = [];
  for (const step of steps) {
    switch (step.kind) {
      case 'batch': {
        const batch = readings.slice(at, at + step.size);
        if (!batch.length) break;
        core.readings(batch, encodeFrame(batch, [], payloads.slice(at, at + batch.length)), null);
        at += batch.length;
        now = Math.max(now, batch.at(-1)!.receivedAt);
        break;
      }
      case 'tick': now += step.afterMs; core.tick(now); break;
      case 'connection': core.connection(cityDevices[step.device]!.id, step.connected, cityDevices[step.device]!.family, now); break;
      case 'closed': core.alertClosed({ alert: closedAlert(step.device, now), falsePositive: step.falsePositive, at: now }); break;
      case 'snapshot':
        snapshots.push(core.snapshot((changed) => {
          trace.snapshots.push({ changed: Object.fromEntries(Object.entries(changed).map(([k, v]) => [k, JSON.parse(v) as unknown])), groupsBefore: trace.groups.length });
        }));
        break;
    }
  }
  await Promise.all(snapshots);
  await core.settled();
}

/** kitchen-0's detections, a second apart, from a camera that does not name its store: the rules take the registry's (device meta storeId). */
function storelessViolations(n: number): ReturnType<typeof cityReadings>['readings'] {
  const { readings } = cityReadings(Array.from({ length: n }, (_, i) => ({ channel: { family: 'kitchen' as const, channel: 'violation', key: 'kitchen/violation' }, device: 0, gapMs: 1000 * i, trappedLike: false, code: 11 as const })));
  for (const r of readings) delete r.data['storeId'];
  return readings;
}

const cores: RulesCore[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

describe('the rules in their worker thread', () => {
  it('hand over the same effects, in the same order, and the same states at each snapshot as in this thread', async () => {
    let groups = 0;
    await fc.assert(fc.asyncProperty(fc.array(readingArb, { minLength: 1, maxLength: 150 }), fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (specs, steps) => {
      const devices = new Map(cityDevices.map((d) => [d.id, d]));
      const here: Trace = { groups: [], snapshots: [], errors: [] };
      const there: Trace = { groups: [], snapshots: [], errors: [] };
      const inThread = new InThreadRules(allRules, {}, deps(here, devices));
      const worker = new WorkerRules(allRules, {}, deps(there, devices));
      cores.push(worker);
      // every reading goes in at least once: the steps' batches, then the rest
      const all: Step[] = [...steps, { kind: 'batch', size: specs.length }, { kind: 'snapshot' }];
      await run(inThread, here, all, specs);
      await run(worker, there, all, specs);
      expect(there.errors).toEqual(here.errors);
      expect(there.groups).toEqual(here.groups);
      expect(there.snapshots).toEqual(here.snapshots);
      groups += here.groups.length;
      await worker.stop();
    }), { numRuns: 12 });
    // the city raised and resolved alerts: the comparison was not of empty lists
    expect(groups).toBeGreaterThan(12);
  }, 120_000);

  it('know devices registered after the start', async () => {
    const trace: Trace = { groups: [], snapshots: [], errors: [] };
    const devices = new Map<string, DeviceInfo>();
    const worker = new WorkerRules(allRules, {}, deps(trace, devices));
    cores.push(worker);
    await worker.start({}, 0, []);
    const added = { id: 'kitchen-0', family: 'kitchen' as const, name: 'K', district: null, meta: { storeId: 'S-NEW' } };
    worker.devicesChanged([added]);
    const readings = storelessViolations(3);
    worker.readings(readings, encodeFrame(readings, []), null);
    const states = await worker.snapshot((c) => c);
    // the store score counts detections per store: the store is the one the registry gave after start
    expect(states['kitchen.store_score'] ?? '').toContain('S-NEW');
  }, 30_000);

  it('take a large registry change in slices, the event loop free between them, and evaluate later readings after all of it', async () => {
    const trace: Trace = { groups: [], snapshots: [], errors: [] };
    const worker = new WorkerRules(allRules, {}, deps(trace, new Map()));
    cores.push(worker);
    await worker.start({}, 0, []);
    // 3,500 devices, the camera that reports last among them
    const many: DeviceInfo[] = Array.from({ length: 3500 }, (_, i) => ({ id: `kitchen-x${i}`, family: 'kitchen' as const, name: null, district: null, meta: {} }));
    many.push({ id: 'kitchen-0', family: 'kitchen', name: null, district: null, meta: { storeId: 'S-LATE' } });
    let turns = 0;
    const spin = (): void => { turns++; if (turns < 1000) setImmediate(spin); };
    setImmediate(spin);
    worker.devicesChanged(many);
    const readings = storelessViolations(2);
    worker.readings(readings, encodeFrame(readings, []), null);
    const states = await worker.snapshot((c) => c);
    expect(states['kitchen.store_score'] ?? '').toContain('S-LATE');
    // four slices: the event loop ran between them
    expect(turns).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('fail every snapshot waiting and later when the worker stops, and say so once', async () => {
    const trace: Trace = { groups: [], snapshots: [], errors: [] };
    const stopped: Error[] = [];
    const worker = new WorkerRules(allRules, {}, deps(trace, new Map()), { onStopped: (e) => stopped.push(e) });
    cores.push(worker);
    await worker.start({}, 0, []);
    await worker.terminateForTest();
    await expect(worker.snapshot(() => 1)).rejects.toThrow(/rules' worker thread stopped/);
    await expect(worker.settled()).rejects.toThrow(/rules' worker thread stopped/);
    expect(stopped).toHaveLength(1);
  }, 30_000);

  it('refuse a rule that is not one of core/rules\' (a worker can only load those by id)', () => {
    const own = { ...allRules.find((r) => r.family === 'kitchen')!, id: 'kitchen.custom' };
    expect(() => new WorkerRules([own], {}, deps({ groups: [], snapshots: [], errors: [] }, new Map()))).toThrow(/kitchen.custom is not one of core\/rules/);
  });
});
