/**
 * The behaviour generators are pure and seeded: every message they emit validates against
 * the ingest schemas (property test over many generated fleets and message streams), normal
 * behaviour keeps the domain invariants the alert rules check (so a simulated city raises
 * alerts only where a scenario puts a fault), and a seed reproduces a run exactly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schemaFor, type Family } from '../../core/schemas/index.js';
import {
  dispenserTamper, dispenserTxnFault, elevatorFault, kitchenViolation, lifeCycle, releaseElevator, scanCylinder, stepDevice, trapElevator,
  type CylinderState, type DeviceState, type DispenserState, type ElevatorState, type KitchenState, type OutMsg,
} from '../../simulators/fleet/behaviour.js';
import { defaultFleetConfig, mergeFleet, planFleet } from '../../simulators/fleet/fleet.js';
import { deviceRng } from '../../simulators/fleet/rng.js';
import { parseCylinderRecord } from '../../core/cylinders/cylinderRecord.js';
import { deviceInput } from '../../core/deviceInput.js';
import { deviceImportRows } from '../../simulators/fleet/fleet.js';

const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);

function smallFleet(seed: number, timeScale = 1) {
  return mergeFleet(defaultFleetConfig, {
    seed, timeScale, heartbeatS: 5,
    kitchen: { cameras: 3, stores: 2, violationsPerHour: 3600 },
    elevator: { count: 3, statusS: 1 },
    cylinder: { scanners: 2, stations: 2, cylindersPerStation: 40, scanS: 1, shares: { expired: 0.1, overdue: 0.1, foreign: 0.1, scrapped: 0.1, dueSoon: 0.1 } },
    dispenser: { stations: 2, dispensersPerStation: 2, nozzlesPerDispenser: 2, txnPerHour: 3600, tankS: 5 },
  });
}

interface Emitted { family: Family; id: string; msg: OutMsg; state: DeviceState }

/** Run every device of a fleet through `steps` steps with the given time increments. */
function runFleet(seed: number, increments: number[], timeScale = 1): Emitted[] {
  const plan = planFleet(smallFleet(seed, timeScale), T0, 'r1');
  const out: Emitted[] = [];
  for (const d of plan.devices) {
    let state = d.initial;
    const rng = deviceRng(seed, d.id);
    let now = T0;
    for (const inc of increments) {
      now += inc;
      const r = stepDevice(state, rng, now);
      state = r.state;
      for (const msg of r.messages) out.push({ family: d.family, id: d.id, msg, state });
    }
  }
  return out;
}

function validate(family: Family, msg: OutMsg): string | null {
  const schema = schemaFor(family, msg.channel);
  if (!schema) return `no channel ${family}/${msg.channel}`;
  const r = schema.safeParse(msg.payload);
  return r.success ? null : `${family}/${msg.channel} ${JSON.stringify(msg.payload)}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
}

describe('every generated message validates against the ingest schemas', () => {
  it('normal behaviour of whole fleets (property)', () => {
    let total = 0;
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 20, maxLength: 80 }),
      fc.constantFrom(1, 10, 60),
      (seed, increments, timeScale) => {
        const emitted = runFleet(seed, increments, timeScale);
        total += emitted.length;
        for (const e of emitted) expect(validate(e.family, e.msg)).toBeNull();
        // msgIds are unique per device
        const keys = emitted.map((e) => `${e.id}/${e.msg.payload.msgId as string}`);
        expect(new Set(keys).size).toBe(keys.length);
      },
    ), { numRuns: 60 });
    expect(total).toBeGreaterThan(5_000);
  });

  it('scripted faults (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 100_000 }), (seed, dt) => {
      const plan = planFleet(smallFleet(seed), T0, 'f');
      const now = T0 + dt;
      const get = <S extends DeviceState>(f: Family) => plan.devices.find((d) => d.family === f)!.initial as S;
      const rng = deviceRng(seed, 'script');
      const msgs: Array<[Family, OutMsg]> = [];
      const k = get<KitchenState>('kitchen');
      for (const type of ['rat', 'smoking', 'no_mask'] as const) msgs.push(...kitchenViolation(k, rng, now, type, rng.next()).messages.map((m) => ['kitchen', m] as [Family, OutMsg]));
      const e = get<ElevatorState>('elevator');
      for (const by of ['code11', 'status'] as const) {
        const t = trapElevator(e, now, by, rng.chance(0.5));
        msgs.push(...t.messages.map((m) => ['elevator', m] as [Family, OutMsg]));
        msgs.push(...releaseElevator(t.state, now + 1000).messages.map((m) => ['elevator', m] as [Family, OutMsg]));
      }
      for (const code of [1, 5, 9, 12, 15, 41, 43, 47]) msgs.push(...elevatorFault(e, now, code).messages.map((m) => ['elevator', m] as [Family, OutMsg]));
      const c = get<CylinderState>('cylinder');
      for (const point of lifeCycle) msgs.push(...scanCylinder(c, rng, now, c.pool[0]!, point).messages.map((m) => ['cylinder', m] as [Family, OutMsg]));
      msgs.push(...scanCylinder(c, rng, now, c.pool[0]!, 'post_fill', 16.2).messages.map((m) => ['cylinder', m] as [Family, OutMsg]));
      const d = get<DispenserState>('dispenser');
      for (const fault of ['rollback', 'gap', 'amount', 'flow', 'pulses'] as const) msgs.push(...dispenserTxnFault(d, rng, now, fault, rng.int(0, 3)).messages.map((m) => ['dispenser', m] as [Family, OutMsg]));
      for (const kind of ['seal_open', 'board_swap', 'encoder_swap', 'self_lock', 'cover_open', 'param_change']) msgs.push(...dispenserTamper(d, now, kind).messages.map((m) => ['dispenser', m] as [Family, OutMsg]));
      for (const [family, m] of msgs) expect(validate(family, m)).toBeNull();
    }), { numRuns: 200 });
  });

  it('the registry rows the fleet imports pass the registry schemas', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
      const plan = planFleet(smallFleet(seed), T0, 'x');
      for (const row of plan.cylinders) {
        const r = parseCylinderRecord(row);
        expect(r.ok, JSON.stringify(r)).toBe(true);
      }
      for (const row of deviceImportRows(plan)) expect(deviceInput.safeParse(row).success).toBe(true);
    }), { numRuns: 50 });
  });
});

describe('normal behaviour keeps what the rules check', () => {
  const emitted = runFleet(7, Array.from({ length: 3000 }, () => 500));

  it('dispensers: totaliser = previous + volume per nozzle, amount = volume x price (half up), flow <= 1.5 L/s, pulses exact', () => {
    const last = new Map<string, number>();
    let n = 0;
    for (const e of emitted.filter((x) => x.msg.channel === 'txn')) {
      const p = e.msg.payload as { stationId: string; dispenserId: string; nozzle: number; volumeL: number; amountYuan: number; unitPrice: number; totalizerL: number; durationS: number; pulses: number; pulsesPerL: number };
      const key = `${p.stationId}/${p.dispenserId}/${p.nozzle}`;
      const prev = last.get(key);
      if (prev !== undefined) expect(Math.round(p.totalizerL * 100)).toBe(Math.round(prev * 100) + Math.round(p.volumeL * 100));
      last.set(key, p.totalizerL);
      expect(Math.round(p.amountYuan * 100)).toBe(Math.floor((Math.round(p.volumeL * 100) * Math.round(p.unitPrice * 100) + 50) / 100));
      expect(p.volumeL / p.durationS).toBeLessThanOrEqual(1.5);
      expect(Math.abs(p.pulses / p.pulsesPerL - p.volumeL)).toBeLessThan(0.001);
      n++;
    }
    expect(n).toBeGreaterThan(100);
  });

  it('tank levels fall by exactly what the nozzles sold (deliveries aside)', () => {
    const tankLevel = new Map<string, number>();
    const sold = new Map<string, number>();
    let checked = 0;
    for (const e of emitted.filter((x) => x.family === 'dispenser')) {
      const p = e.msg.payload as { stationId: string; tankId: string; volumeL: number };
      const key = `${p.stationId}/${p.tankId}`;
      if (e.msg.channel === 'txn') sold.set(key, (sold.get(key) ?? 0) + Math.round(p.volumeL * 100));
      if (e.msg.channel === 'tank') {
        const prev = tankLevel.get(key);
        const now = Math.round(p.volumeL * 100);
        if (prev !== undefined && now <= prev) { expect(prev - now).toBe(sold.get(key) ?? 0); checked++; }
        tankLevel.set(key, now);
        sold.set(key, 0);
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('elevators: trips between floors with doors opening, never a passenger behind a closed door in a stopped car', () => {
    const statuses = emitted.filter((x) => x.msg.channel === 'status').map((x) => x.msg.payload as { floor: number; moving: boolean; doorClosed: boolean; passengerPresent: boolean });
    expect(statuses.some((s) => s.moving)).toBe(true);
    expect(statuses.some((s) => !s.doorClosed)).toBe(true);
    expect(new Set(statuses.map((s) => s.floor)).size).toBeGreaterThan(3);
    expect(statuses.filter((s) => s.passengerPresent && s.doorClosed && !s.moving)).toEqual([]);
  });

  it('kitchen: the real type mix, some detections below the confidence threshold', () => {
    const v = emitted.filter((x) => x.msg.channel === 'violation').map((x) => x.msg.payload as { type: string; confidence: number });
    expect(v.length).toBeGreaterThan(100);
    const count = (t: string) => v.filter((x) => x.type === t).length;
    expect(count('no_chef_hat')).toBeGreaterThan(count('rat'));
    expect(v.some((x) => x.confidence < 0.4)).toBe(true);
  });

  it('cylinders: good ones go through the whole life cycle, bad ones stop at the refused pre-fill', () => {
    const scans = emitted.filter((x) => x.msg.channel === 'scan').map((x) => x.msg.payload as { point: string; netKg?: number });
    for (const point of lifeCycle) expect(scans.some((s) => s.point === point), point).toBe(true);
    for (const s of scans.filter((x) => x.point === 'post_fill')) expect(s.netKg).toBeLessThanOrEqual(49.5);
  });
});

describe('reproducible', () => {
  it('the same seed gives the same city and the same messages; another seed does not', () => {
    const inc = Array.from({ length: 200 }, (_, i) => 300 + (i % 7) * 100);
    expect(runFleet(42, inc).map((e) => e.msg)).toEqual(runFleet(42, inc).map((e) => e.msg));
    expect(runFleet(43, inc).map((e) => e.msg)).not.toEqual(runFleet(42, inc).map((e) => e.msg));
  });
});
