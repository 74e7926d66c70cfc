/**
 * Scenario files (YAML or JSON, validated by zod): a fleet, the alert thresholds the
 * scenario needs, faults scripted at given times, and the alerts (store-list entries,
 * connection coverage) it expects. See docs/simulators.md for every field and step kind.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DistrictCode } from '../../core/deviceInput.js';
import { scanPoints, tamperKinds, violationTypes, families, type Family } from '../../core/schemas/index.js';
import { listStages } from '../../core/stores/storeList.js';
import type { FleetOverrides, FleetPlan } from './fleet.js';

const num = z.number().finite();
const share = num.min(0).max(1);
/** `elevator#0` (the first elevator of the fleet) or a literal device id */
const deviceRef = z.string().min(1).max(64);
const at = num.min(0);
const cylinderRef = z.union([
  z.enum(['ok', 'due_soon', 'expired', 'overdue', 'foreign', 'scrapped', 'lost', 'unregistered']),
  z.strictObject({ code: z.string().min(1).max(64) }),
]);

const fleetSchema = z.strictObject({
  heartbeatS: num.positive().optional(),
  /** every device in this district code (else each one in a random Hangzhou district): coverage expectations count it */
  district: DistrictCode.optional(),
  kitchen: z.strictObject({ cameras: z.number().int().min(0).optional(), stores: z.number().int().min(1).optional(), violationsPerHour: num.min(0).optional(), lowConfidenceShare: share.optional() }).optional(),
  elevator: z.strictObject({ count: z.number().int().min(0).optional(), statusS: num.positive().optional(), minFloor: z.number().int().min(-5).optional(), maxFloor: z.number().int().max(200).optional() }).optional(),
  cylinder: z.strictObject({
    scanners: z.number().int().min(0).optional(), stations: z.number().int().min(1).optional(), cylindersPerStation: z.number().int().min(0).optional(), scanS: num.min(0).optional(),
    shares: z.strictObject({ expired: share.optional(), overdue: share.optional(), foreign: share.optional(), scrapped: share.optional(), dueSoon: share.optional(), lost: share.optional() }).optional(),
  }).optional(),
  dispenser: z.strictObject({ stations: z.number().int().min(0).optional(), dispensersPerStation: z.number().int().min(1).optional(), nozzlesPerDispenser: z.number().int().min(1).max(8).optional(), txnPerHour: num.min(0).optional(), tankS: num.min(0).optional() }).optional(),
});

const step = z.discriminatedUnion('do', [
  z.strictObject({ at, do: z.literal('violation'), device: deviceRef, type: z.enum(violationTypes), confidence: share.default(0.9), count: z.number().int().min(1).max(1000).default(1), everyS: num.min(0).default(0) }),
  z.strictObject({ at, do: z.literal('trap'), device: deviceRef, by: z.enum(['code11', 'status']), doorZone: z.boolean().default(true) }),
  z.strictObject({ at, do: z.literal('release'), device: deviceRef }),
  z.strictObject({ at, do: z.literal('fault'), device: deviceRef, code: z.number().int(), detail: z.string().max(200).optional() }),
  z.strictObject({ at, do: z.literal('scan'), device: deviceRef, cylinder: cylinderRef, point: z.enum(scanPoints), netKg: num.min(0).optional() }),
  z.strictObject({ at, do: z.literal('lifecycle'), device: deviceRef, cylinder: cylinderRef.default('ok') }),
  z.strictObject({ at, do: z.literal('clonedScan'), devices: z.tuple([deviceRef, deviceRef]), cylinder: cylinderRef.default('ok'), point: z.enum(scanPoints).default('pre_fill') }),
  z.strictObject({ at, do: z.literal('fillWithoutPreFill'), device: deviceRef, cylinder: cylinderRef.default('ok') }),
  z.strictObject({ at, do: z.literal('overfill'), device: deviceRef, cylinder: cylinderRef.default('ok'), extraKg: num.positive().default(1.2) }),
  z.strictObject({ at, do: z.literal('txnFault'), device: deviceRef, fault: z.enum(['rollback', 'gap', 'amount', 'flow', 'pulses']), nozzle: z.number().int().min(0).default(0) }),
  z.strictObject({ at, do: z.literal('tamper'), device: deviceRef, kind: z.enum(tamperKinds), dispenser: z.string().min(1).max(64).optional() }),
  z.strictObject({ at, do: z.literal('tankLeak'), device: deviceRef, litres: num.positive(), tank: z.number().int().min(0).default(0) }),
  z.strictObject({ at, do: z.literal('silence'), device: deviceRef, forS: num.positive().optional() }),
  z.strictObject({ at, do: z.literal('offline'), device: deviceRef, forS: num.positive().optional() }),
  z.strictObject({ at, do: z.literal('online'), device: deviceRef }),
  z.strictObject({ at, do: z.literal('disconnect'), share, family: z.enum(families).optional(), forS: num.positive().optional() }),
  z.strictObject({ at, do: z.literal('badPayloads'), device: deviceRef, count: z.number().int().min(1).max(10_000).default(10), kind: z.enum(['invalid_json', 'schema', 'unknown_channel', 'mixed']).default('mixed') }),
]);
export type ScenarioStep = z.output<typeof step>;
export const stepKinds = step.options.map((o) => o.shape.do.value);

/** Expectations that are not alert counts (docs/simulators.md, Expectations): the 红黑榜's entries, connection coverage counts. */
const storeListRule = 'storeList';
const coverageRule = 'deviceCoverage';
const scoreRule = 'storeScore';
const coverageCount = z.number().int().min(0).optional();

const expectation = z.strictObject({
  /**
   * an alert rule id (docs/rules.md), `deadLetters` for rejected messages, `cylinderTrace` for the scans of a cylinder's trace,
   * `storeList` for the entries of the 红黑榜 (GET /api/stores/lists), `deviceCoverage` for connection coverage (GET /api/devices/coverage)
   */
  rule: z.string().regex(/^([a-z]+\.[a-z_]+|deadLetters|cylinderTrace|storeList|deviceCoverage|storeScore)$/, 'a rule id such as elevator.trapped, deadLetters, cylinderTrace, storeList, deviceCoverage or storeScore'),
  device: deviceRef.optional(),
  min: z.number().int().min(0).default(1),
  max: z.number().int().min(0).optional(),
  severity: z.enum(['critical', 'major', 'minor', 'info']).optional(),
  /** count only the cylinder alerts whose condition (`code|reason+reason`), or the trace scans whose reasons, name it */
  reason: z.string().regex(/^[a-z_]+$/).optional(),
  /** cylinderTrace: the cylinder (GET /api/cylinders/:code/trace) */
  cylinder: z.strictObject({ code: z.string().min(1).max(64) }).optional(),
  /** cylinderTrace: how many stations its counted scans must be at */
  stations: z.number().int().min(1).optional(),
  /** storeList: which list (black: on it now or left it in the period; red: clean in the period) */
  list: z.enum(['black', 'red']).optional(),
  /** storeList: one store of the fleet, `store#0` (kitchen camera i is in store i mod stores) or its id; without it every store of the fleet */
  store: z.string().min(1).max(64).optional(),
  /** storeList black: count only the entries at this stage */
  stage: z.enum(listStages).optional(),
  /** alerts: count only those handled by rectification (true: class-2 kitchen detections) or only the others (false) */
  rectification: z.boolean().optional(),
  /** storeScore: the score `store` must have now (GET /api/stores/scores), exactly */
  score: z.number().min(0).max(100).optional(),
  /** deviceCoverage: one family (without it all of them), and the counts it must have, each exactly */
  family: z.enum(families).optional(),
  registered: coverageCount,
  everConnected: coverageCount,
  connectedNow: coverageCount,
  neverConnected: coverageCount,
}).refine((e) => e.max === undefined || e.max >= e.min, { message: 'max must be >= min', path: ['max'] })
  .refine((e) => (e.rule === 'cylinderTrace') === (e.cylinder !== undefined), { message: 'cylinder is needed by cylinderTrace and only there', path: ['cylinder'] })
  .refine((e) => e.stations === undefined || e.rule === 'cylinderTrace', { message: 'stations is for cylinderTrace', path: ['stations'] })
  .refine((e) => (e.rule === storeListRule) === (e.list !== undefined), { message: 'list (black or red) is needed by storeList and only there', path: ['list'] })
  .refine((e) => e.store === undefined || e.rule === storeListRule || e.rule === scoreRule, { message: 'store is for storeList and storeScore', path: ['store'] })
  .refine((e) => (e.rule === scoreRule) === (e.score !== undefined) && (e.rule !== scoreRule || e.store !== undefined),
    { message: 'storeScore needs store and score, and only it has a score', path: ['score'] })
  .refine((e) => e.rectification === undefined || /^[a-z]+\./.test(e.rule), { message: 'rectification is for alert rules', path: ['rectification'] })
  .refine((e) => e.stage === undefined || e.list === 'black', { message: 'stage is for storeList with list: black', path: ['stage'] })
  .refine((e) => e.family === undefined || e.rule === coverageRule, { message: 'family is for deviceCoverage', path: ['family'] })
  .refine((e) => (e.rule === coverageRule) === [e.registered, e.everConnected, e.connectedNow, e.neverConnected].some((n) => n !== undefined),
    { message: 'deviceCoverage needs at least one of registered, everConnected, connectedNow, neverConnected; only it has them', path: ['registered'] })
  .refine((e) => (e.rule !== storeListRule && e.rule !== coverageRule && e.rule !== scoreRule) || (e.device === undefined && e.severity === undefined && e.reason === undefined),
    { message: 'storeList, deviceCoverage and storeScore take no device, severity or reason', path: ['rule'] });
export type Expectation = z.output<typeof expectation>;

export const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  description: z.string().min(1),
  /** the rules of docs/domain.md §1-§4 this scenario exercises */
  rules: z.array(z.string()).default([]),
  /** what the service needs: ALERT_OVERRIDES (an object) and ALERT_TICK_MS */
  service: z.strictObject({
    alertOverrides: z.strictObject({ rules: z.record(z.string(), z.record(z.string(), z.unknown())).optional(), deadlines: z.record(z.string(), z.unknown()).optional(), rescue: z.record(z.string(), z.unknown()).optional() }).optional(),
    alertTickMs: z.number().int().positive().optional(),
  }).default({}),
  fleet: fleetSchema.default({}),
  /** devices registered but never connected (unless an `online` step connects them): what connection coverage counts */
  neverConnect: z.array(deviceRef).default([]),
  durationS: num.positive().max(7 * 86_400),
  /** after the script: how long --verify waits for the expected alerts to appear */
  settleS: num.min(0).max(600).default(5),
  steps: z.array(step).default([]),
  expect: z.array(expectation).default([]),
}).superRefine((s, ctx) => {
  s.steps.forEach((st, i) => {
    if (st.at > s.durationS) ctx.addIssue({ code: 'custom', path: ['steps', i, 'at'], message: `at ${st.at} s is after durationS ${s.durationS}` });
  });
  // coverage is read per district (GET /api/devices/coverage?district=): in a district of the fleet's own, no other device counts
  s.expect.forEach((e, i) => {
    if (e.rule === coverageRule && !s.fleet.district) ctx.addIssue({ code: 'custom', path: ['expect', i, 'rule'], message: 'deviceCoverage needs fleet.district (a district code only this fleet uses)' });
  });
});
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioFleet = z.output<typeof fleetSchema>;

export class ScenarioError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid scenario\n  ${problems.join('\n  ')}`);
    this.name = 'ScenarioError';
  }
}

function pathText(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out || '(root)';
}

/** Validate parsed scenario data; problems name the field, e.g. `steps[2].by: ...`. */
export function parseScenario(data: unknown, file = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(data);
  if (!r.success) {
    throw new ScenarioError(file, r.error.issues.map((i) => {
      let msg = i.message;
      if (i.code === 'invalid_union' && (i as { note?: string }).note === 'No matching discriminator') msg = `unknown step kind; one of ${stepKinds.join(', ')}`;
      return `${pathText(i.path)}: ${msg}`;
    }));
  }
  return r.data;
}

export function loadScenarioText(text: string, file: string): Scenario {
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (e) {
    throw new ScenarioError(file, [`not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`]);
  }
  return parseScenario(data, file);
}

/** simulators/scenarios/, also when running from dist/ (the files are not compiled). */
export const scenariosDir = [new URL('../scenarios/', import.meta.url), new URL('../../../simulators/scenarios/', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((d) => existsSync(d)) ?? fileURLToPath(new URL('../scenarios/', import.meta.url));

/** The shipped scenario files (simulators/scenarios/*.yaml), by name. */
export function shippedScenarios(dir = scenariosDir): Array<{ name: string; file: string }> {
  return readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => ({ name: f.replace(/\.(ya?ml|json)$/, ''), file: path.join(dir, f) }));
}

/** A file path, or the name of a shipped scenario. */
export function loadScenario(ref: string): { scenario: Scenario; file: string } {
  const shipped = shippedScenarios().find((s) => s.name === ref);
  const file = shipped ? shipped.file : ref;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const names = shippedScenarios().map((s) => s.name).join(', ');
    throw new ScenarioError(file, [`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (shipped scenarios: ${names})`]);
  }
  return { scenario: loadScenarioText(text, file), file };
}

export function fleetOverridesOf(s: Scenario): FleetOverrides {
  return s.fleet as FleetOverrides;
}

/** `elevator#0` -> the fleet's first elevator id; a literal id is returned as is if it is in the fleet. */
export function resolveDevice(plan: FleetPlan, ref: string, where: string, family?: Family): string {
  const m = /^(kitchen|elevator|cylinder|dispenser)#(\d+)$/.exec(ref);
  if (m) {
    const fam = m[1] as Family;
    const ids = plan.byFamily[fam];
    const i = Number(m[2]);
    if (i >= ids.length) throw new ScenarioError('scenario', [`${where}: ${ref} but the fleet has ${ids.length} ${fam} device(s)`]);
    if (family && fam !== family) throw new ScenarioError('scenario', [`${where}: ${ref} is a ${fam} device; this step needs a ${family} device`]);
    return ids[i]!;
  }
  const d = plan.devices.find((x) => x.id === ref);
  if (!d) throw new ScenarioError('scenario', [`${where}: no device ${ref} in the fleet (use e.g. elevator#0)`]);
  if (family && d.family !== family) throw new ScenarioError('scenario', [`${where}: ${ref} is a ${d.family} device; this step needs a ${family} device`]);
  return ref;
}

/** The fleet's stores (its kitchen cameras' `storeId`), in index order: what `store#0` refers to. */
export function fleetStores(plan: FleetPlan): string[] {
  return [...new Set(plan.devices.flatMap((d) => (d.family === 'kitchen' && d.meta.storeId ? [d.meta.storeId] : [])))];
}

/** `store#1` -> the fleet's second store id; a literal store id is returned as is if a camera of the fleet is in it. */
export function resolveStore(plan: FleetPlan, ref: string, where: string): string {
  const stores = fleetStores(plan);
  const m = /^store#(\d+)$/.exec(ref);
  if (m) {
    const id = stores[Number(m[1])];
    if (id === undefined) throw new ScenarioError('scenario', [`${where}: ${ref} but the fleet has ${stores.length} store(s) with a camera`]);
    return id;
  }
  if (!stores.includes(ref)) throw new ScenarioError('scenario', [`${where}: no store ${ref} in the fleet (use e.g. store#0)`]);
  return ref;
}

/** The device ids of `neverConnect`. */
export function neverConnectIds(s: Scenario, plan: FleetPlan): Set<string> {
  return new Set(s.neverConnect.map((ref, i) => resolveDevice(plan, ref, `neverConnect[${i}]`)));
}

/** The family a step's device must be, for the checks before a run. */
export const stepFamily: Partial<Record<ScenarioStep['do'], Family>> = {
  violation: 'kitchen', trap: 'elevator', release: 'elevator', fault: 'elevator', scan: 'cylinder', lifecycle: 'cylinder', fillWithoutPreFill: 'cylinder',
  overfill: 'cylinder', clonedScan: 'cylinder', txnFault: 'dispenser', tamper: 'dispenser', tankLeak: 'dispenser',
};

/** Check every device reference against the planned fleet before anything connects. */
export function checkReferences(s: Scenario, plan: FleetPlan, file: string): void {
  const problems: string[] = [];
  const tryRef = (ref: string, where: string, family?: Family): void => {
    try {
      resolveDevice(plan, ref, where, family);
    } catch (e) {
      problems.push(...(e as ScenarioError).problems);
    }
  };
  s.steps.forEach((st, i) => {
    if ('device' in st) tryRef(st.device, `steps[${i}].device`, stepFamily[st.do]);
    if (st.do === 'clonedScan') {
      st.devices.forEach((d, j) => tryRef(d, `steps[${i}].devices[${j}]`, 'cylinder'));
    }
  });
  s.expect.forEach((e, i) => { if (e.device) tryRef(e.device, `expect[${i}].device`); });
  s.neverConnect.forEach((ref, i) => tryRef(ref, `neverConnect[${i}]`));
  s.expect.forEach((e, i) => {
    if (!e.store) return;
    try {
      resolveStore(plan, e.store, `expect[${i}].store`);
    } catch (err) {
      problems.push(...(err as ScenarioError).problems);
    }
  });
  if (problems.length) throw new ScenarioError(file, problems);
}

/** ALERT_OVERRIDES / ALERT_TICK_MS lines a scenario needs, for the operator to start the service with. */
export function serviceSettings(s: Scenario): Record<string, string> {
  const out: Record<string, string> = {};
  if (s.service.alertOverrides && Object.keys(s.service.alertOverrides).length) out.ALERT_OVERRIDES = JSON.stringify(s.service.alertOverrides);
  if (s.service.alertTickMs) out.ALERT_TICK_MS = String(s.service.alertTickMs);
  return out;
}

/**
 * Merge the service needs of several scenarios (one service for all of them, as the tests
 * and `npm run demo` do). Two scenarios wanting different values for one threshold is an error.
 */
export function mergeServiceSettings(list: Scenario[]): { alertOverrides: Record<string, Record<string, Record<string, unknown>>>; alertTickMs?: number } {
  const merged: Record<string, Record<string, Record<string, unknown>>> = {};
  let tick: number | undefined;
  for (const s of list) {
    const o = (s.service.alertOverrides ?? {}) as Record<string, Record<string, unknown>>;
    for (const [section, entries] of Object.entries(o)) {
      const into = (merged[section] ??= {});
      for (const [key, value] of Object.entries(entries)) {
        if (section === 'rules') {
          const rule = (into[key] ??= {});
          for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
            if (k in rule && JSON.stringify(rule[k]) !== JSON.stringify(v)) throw new Error(`scenario ${s.name}: rules.${key}.${k} = ${JSON.stringify(v)} conflicts with ${JSON.stringify(rule[k])}`);
            rule[k] = v;
          }
        } else {
          if (key in into && JSON.stringify(into[key]) !== JSON.stringify(value)) throw new Error(`scenario ${s.name}: ${section}.${key} conflicts`);
          into[key] = value as Record<string, unknown>;
        }
      }
    }
    if (s.service.alertTickMs) tick = Math.min(tick ?? Infinity, s.service.alertTickMs);
  }
  return { alertOverrides: merged, ...(tick ? { alertTickMs: tick } : {}) };
}
