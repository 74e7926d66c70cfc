/**
 * The plan of a simulated city: which devices exist (ids, family, metadata for the registry),
 * their initial behaviour state, and the cylinder registry (一瓶一码一档) with a configurable
 * share of expired, overdue, foreign, scrapped and lost cylinders. Pure: the same (config, seed,
 * now) gives the same city.
 */
import { defaultMaxFillKgByModel } from '../../core/cylinders/cylinderRecord.js';
import type { Family } from '../../core/schemas/index.js';
import type {
  CylinderKind, CylinderState, DeviceState, DispenserState, ElevatorState, KitchenState, Nozzle, PoolCylinder, Tank,
} from './behaviour.js';
import { seededRng, type Rng } from './rng.js';

export interface FleetConfig {
  /** namespace of every id (devices, stores, stations, cylinder codes): [A-Za-z0-9_-] */
  prefix: string;
  seed: number;
  /** >1 compresses time (every behaviour interval divided by it) */
  timeScale: number;
  heartbeatS: number;
  /** every device in this district code; unset: each in a random Hangzhou district */
  district?: string;
  kitchen: { cameras: number; stores: number; violationsPerHour: number; lowConfidenceShare: number };
  elevator: { count: number; statusS: number; minFloor: number; maxFloor: number };
  cylinder: {
    scanners: number;
    stations: number;
    cylindersPerStation: number;
    /** seconds between two scans of one scanner */
    scanS: number;
    /** `lost`: reported lost by the owner (status lost), 0 when absent */
    shares: { expired: number; overdue: number; foreign: number; scrapped: number; dueSoon: number; lost?: number };
  };
  dispenser: { stations: number; dispensersPerStation: number; nozzlesPerDispenser: number; txnPerHour: number; tankS: number };
}

export const defaultFleetConfig: FleetConfig = {
  prefix: 'sim',
  seed: 1,
  timeScale: 1,
  heartbeatS: 30,
  kitchen: { cameras: 20, stores: 8, violationsPerHour: 6, lowConfidenceShare: 0.15 },
  elevator: { count: 20, statusS: 3, minFloor: -1, maxFloor: 18 },
  cylinder: {
    scanners: 6, stations: 3, cylindersPerStation: 200, scanS: 8,
    shares: { expired: 0.03, overdue: 0.04, foreign: 0.02, scrapped: 0.01, dueSoon: 0.02 },
  },
  dispenser: { stations: 4, dispensersPerStation: 4, nozzlesPerDispenser: 2, txnPerHour: 120, tankS: 60 },
};

/** A deep partial of FleetConfig, as scenarios and flags give it. */
export type FleetOverrides = {
  [K in keyof FleetConfig]?: FleetConfig[K] extends object ? { [J in keyof FleetConfig[K]]?: FleetConfig[K][J] extends object ? Partial<FleetConfig[K][J]> : FleetConfig[K][J] } : FleetConfig[K];
};

export function mergeFleet(base: FleetConfig, ...overrides: FleetOverrides[]): FleetConfig {
  let out: FleetConfig = base;
  for (const o of overrides) {
    out = {
      ...out,
      ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.timeScale !== undefined ? { timeScale: o.timeScale } : {}),
      ...(o.heartbeatS !== undefined ? { heartbeatS: o.heartbeatS } : {}),
      ...(o.district !== undefined ? { district: o.district } : {}),
      kitchen: { ...out.kitchen, ...o.kitchen },
      elevator: { ...out.elevator, ...o.elevator },
      cylinder: { ...out.cylinder, ...o.cylinder, shares: { ...out.cylinder.shares, ...o.cylinder?.shares } },
      dispenser: { ...out.dispenser, ...o.dispenser },
    };
  }
  return out;
}

export interface DeviceSpec {
  id: string;
  family: Family;
  name: string;
  district: string;
  location: { lat: number; lng: number };
  meta: Record<string, string>;
  initial: DeviceState;
}

/** A registry row for POST /api/cylinders/import (dates as China local YYYY-MM-DD). */
export interface CylinderRow {
  code: string;
  model: string;
  mfgDate: string;
  designLifeYears: number;
  lastInspection: string;
  nextInspection: string;
  ownerStationId: string;
  status: 'in_service' | 'scrapped' | 'lost';
  maxFillKg: number;
}

export interface FleetPlan {
  config: FleetConfig;
  devices: DeviceSpec[];
  cylinders: CylinderRow[];
  /** per filling station: its scanning pool, with each cylinder's kind */
  pools: Record<string, PoolCylinder[]>;
  /** ids by family, in index order (what `elevator#0` refers to) */
  byFamily: Record<Family, string[]>;
}

/** Hangzhou districts (GB/T 2260), for realistic registry rows. */
const districts = ['330102', '330105', '330106', '330108', '330109', '330110', '330111', '330112'];
const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const DAY = 86_400_000;

/** China local date (UTC+8) of an epoch ms as YYYY-MM-DD. */
export function chinaDate(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
}

/** A district and a location; `district` fixed (a scenario's own, for coverage) or picked, the same draws either way. */
function place(rng: Rng, district?: string): { district: string; location: { lat: number; lng: number } } {
  const picked = rng.pick(districts);
  return {
    district: district ?? picked,
    location: { lat: Math.round((30.25 + rng.range(-0.08, 0.08)) * 1e5) / 1e5, lng: Math.round((120.16 + rng.range(-0.1, 0.1)) * 1e5) / 1e5 },
  };
}

export const idsOf = {
  camera: (p: string, i: number) => `${p}-cam-${pad(i + 1, 4)}`,
  store: (p: string, i: number) => `${p}-S${pad(i + 1, 4)}`,
  elevator: (p: string, i: number) => `${p}-elev-${pad(i + 1, 4)}`,
  scanner: (p: string, i: number) => `${p}-scan-${pad(i + 1, 4)}`,
  fillingStation: (p: string, i: number) => `${p}-ST${pad(i + 1, 3)}`,
  collector: (p: string, i: number) => `${p}-fuel-${pad(i + 1, 4)}`,
  fuelStation: (p: string, i: number) => `${p}-FS${pad(i + 1, 3)}`,
  cylinder: (p: string, station: number, i: number) => `${p}-LPG-${pad(station + 1, 3)}-${pad(i + 1, 6)}`,
};

function cylinderKind(rng: Rng, s: FleetConfig['cylinder']['shares']): CylinderKind {
  const r = rng.next();
  let acc = 0;
  for (const [kind, share] of [['expired', s.expired], ['overdue', s.overdue], ['foreign', s.foreign], ['scrapped', s.scrapped], ['due_soon', s.dueSoon], ['lost', s.lost ?? 0]] as const) {
    acc += share;
    if (r < acc) return kind;
  }
  return 'ok';
}

/** A registry row of the given kind, relative to `now`. */
export function cylinderRow(rng: Rng, now: number, code: string, kind: CylinderKind, owner: string): CylinderRow {
  const model = rng.weighted(['YSP15', 'YSP35.5', 'YSP12', 'YSP4.7'], [80, 10, 6, 4]);
  const yearsAgo = (y: number): number => now - y * 365.25 * DAY;
  let mfg = yearsAgo(rng.range(0.5, 6));
  let next = now + rng.int(60, 1400) * DAY;
  let status: CylinderRow['status'] = 'in_service';
  if (kind === 'expired') mfg = yearsAgo(rng.range(8.3, 11));
  if (kind === 'overdue') {
    mfg = yearsAgo(rng.range(5, 7.5));
    next = now - rng.int(10, 300) * DAY;
  }
  if (kind === 'due_soon') next = now + rng.int(3, 25) * DAY;
  if (kind === 'scrapped') status = 'scrapped';
  if (kind === 'lost') status = 'lost';
  // the last periodic inspection: 4 years before the next one, never before manufacture
  const last = Math.min(now - DAY, Math.max(mfg + DAY, next - 4 * 365 * DAY));
  return {
    code, model, mfgDate: chinaDate(mfg), designLifeYears: 8, lastInspection: chinaDate(last), nextInspection: chinaDate(next),
    ownerStationId: owner, status, maxFillKg: defaultMaxFillKgByModel[model]!,
  };
}

export function planFleet(config: FleetConfig, now: number, msgPrefix: string): FleetPlan {
  const rng = seededRng(config.seed);
  const p = config.prefix;
  const devices: DeviceSpec[] = [];
  const base = (id: string, heartbeatMs: number) => ({
    id, msgPrefix, seq: 0, heartbeatMs, nextHeartbeatAt: now + rng.range(0, heartbeatMs / config.timeScale), bootAt: now - rng.int(60, 30 * 86_400) * 1000,
    timeScale: config.timeScale,
  });
  const hb = config.heartbeatS * 1000;

  // kitchen cameras across stores
  const k = config.kitchen;
  const areas = ['hot kitchen', 'cold dishes', 'prep area', 'dishwashing', 'storeroom'];
  for (let i = 0; i < k.cameras; i++) {
    const id = idsOf.camera(p, i);
    const storeIndex = i % Math.max(1, k.stores);
    const storeId = idsOf.store(p, storeIndex);
    const meanViolationMs = k.violationsPerHour > 0 ? 3_600_000 / k.violationsPerHour : 0;
    const initial: KitchenState = {
      family: 'kitchen', ...base(id, hb), storeId, area: areas[i % areas.length]!, meanViolationMs,
      nextViolationAt: meanViolationMs ? now + rng.exp(meanViolationMs) / config.timeScale : Infinity, lowConfidenceShare: k.lowConfidenceShare,
    };
    devices.push({ id, family: 'kitchen', name: `Camera ${i + 1} (${initial.area})`, ...place(rng, config.district), meta: { storeId, storeName: `Restaurant ${storeIndex + 1}`, cameraArea: initial.area }, initial });
  }

  // elevators
  const e = config.elevator;
  for (let i = 0; i < e.count; i++) {
    const id = idsOf.elevator(p, i);
    const top = rng.int(Math.min(e.minFloor + 2, e.maxFloor), e.maxFloor);
    const floor = rng.int(e.minFloor === 0 ? 0 : e.minFloor, top);
    const initial: ElevatorState = {
      family: 'elevator', ...base(id, hb), minFloor: e.minFloor, maxFloor: top, floor: floor === 0 && e.minFloor < 0 ? 1 : floor, target: floor,
      phase: 'idle', phaseStart: now, phaseUntil: now + rng.range(0, 10_000) / config.timeScale, floorMs: rng.pick([1500, 2000, 2500]),
      ratedSpeedMps: rng.pick([1.0, 1.5, 1.75, 2.5]), statusMs: e.statusS * 1000, nextStatusAt: now + rng.range(0, e.statusS * 1000) / config.timeScale,
      serviceMode: 'normal', powerOk: true, trappedDoorZone: true,
    };
    devices.push({
      id, family: 'elevator', name: `Elevator ${i + 1}`, ...place(rng, config.district),
      meta: { registrationCode: `3110330100${pad(2015 + (i % 10), 4)}${pad(i + 1, 6)}`, rescueCode: pad(10000 + i, 5), userUnit: `Residential block ${Math.floor(i / 4) + 1}`, maintenanceUnit: 'Hangzhou Elevator Maintenance Co.', maintenancePhone: '0571-96333' },
      initial,
    });
  }

  // cylinder registry and scanners
  const c = config.cylinder;
  const cylinders: CylinderRow[] = [];
  const pools: Record<string, PoolCylinder[]> = {};
  const stations = Math.max(1, c.stations);
  for (let s = 0; s < (c.scanners > 0 ? stations : 0); s++) {
    const station = idsOf.fillingStation(p, s);
    const pool: PoolCylinder[] = [];
    for (let j = 0; j < c.cylindersPerStation; j++) {
      const code = idsOf.cylinder(p, s, j);
      const kind = cylinderKind(rng, c.shares);
      const owner = kind === 'foreign' ? (stations > 1 ? idsOf.fillingStation(p, (s + 1) % stations) : `${p}-STX`) : station;
      const row = cylinderRow(rng, now, code, kind, owner);
      cylinders.push(row);
      pool.push({ code, kind, maxFillKg: row.maxFillKg });
    }
    pools[station] = pool;
  }
  for (let i = 0; i < c.scanners; i++) {
    const id = idsOf.scanner(p, i);
    const stationId = idsOf.fillingStation(p, i % stations);
    const initial: CylinderState = {
      family: 'cylinder', ...base(id, hb), stationId, operatorId: `${p}-OP${pad(i + 1, 3)}`, pool: pools[stationId] ?? [], current: null,
      scanMs: c.scanS * 1000, nextScanAt: c.scanS > 0 ? now + rng.range(0, c.scanS * 1000) / config.timeScale : Infinity,
    };
    devices.push({ id, family: 'cylinder', name: `Scanner ${i + 1}`, ...place(rng, config.district), meta: { stationId, stationName: `Filling station ${(i % stations) + 1}` }, initial });
  }

  // fuel-station collectors
  const d = config.dispenser;
  const grades = ['92', '95', '0#diesel'];
  const priceFen: Record<string, number> = { 92: 789, 95: 841, '0#diesel': 762 };
  for (let i = 0; i < d.stations; i++) {
    const id = idsOf.collector(p, i);
    const stationId = idsOf.fuelStation(p, i);
    const tanks: Tank[] = grades.map((grade, t) => {
      const capacityCL = 3_000_000;
      return { tankId: `T-${t + 1}`, grade, capacityCL, volumeCL: Math.round(capacityCL * rng.range(0.4, 0.9)) };
    });
    const nozzles: Nozzle[] = [];
    for (let di = 0; di < d.dispensersPerStation; di++) {
      for (let n = 0; n < d.nozzlesPerDispenser; n++) {
        const tank = tanks[(di + n) % tanks.length]!;
        nozzles.push({ dispenserId: `D-${di + 1}`, nozzle: n + 1, grade: tank.grade, tankId: tank.tankId, totalizerCL: rng.int(10_000_000, 90_000_000) });
      }
    }
    const meanTxnMs = d.txnPerHour > 0 ? 3_600_000 / d.txnPerHour : 0;
    const initial: DispenserState = {
      family: 'dispenser', ...base(id, hb), stationId, nozzles, tanks, priceFen, pulsesPerL: 100, meanTxnMs,
      nextTxnAt: meanTxnMs ? now + rng.exp(meanTxnMs) / config.timeScale : Infinity, tankMs: d.tankS * 1000,
      nextTankAt: d.tankS > 0 ? now + rng.range(0, d.tankS * 1000) / config.timeScale : Infinity,
    };
    devices.push({ id, family: 'dispenser', name: `Fuel station ${i + 1} collector`, ...place(rng, config.district), meta: { stationId, stationName: `Fuel station ${i + 1}` }, initial });
  }

  const byFamily: Record<Family, string[]> = { kitchen: [], elevator: [], cylinder: [], dispenser: [] };
  for (const dev of devices) byFamily[dev.family].push(dev.id);
  return { config, devices, cylinders, pools, byFamily };
}

/** Registry rows for POST /api/devices/import (JSON). */
export function deviceImportRows(plan: FleetPlan): Array<Record<string, unknown>> {
  return plan.devices.map((d) => ({ id: d.id, family: d.family, name: d.name, district: d.district, location: d.location, meta: d.meta }));
}

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The device registry as CSV for `npm run devices -- import` or POST /api/devices/import. */
export function devicesCsv(plan: FleetPlan): string {
  const metaCols = [...new Set(plan.devices.flatMap((d) => Object.keys(d.meta)))];
  const head = ['id', 'family', 'name', 'lat', 'lng', 'district', ...metaCols];
  const rows = plan.devices.map((d) => [d.id, d.family, d.name, d.location.lat, d.location.lng, d.district, ...metaCols.map((m) => d.meta[m])].map(csvCell).join(','));
  return [head.join(','), ...rows].join('\n') + '\n';
}

/** The cylinder registry as CSV for `npm run cylinders -- import` or POST /api/cylinders/import. */
export function cylindersCsv(plan: FleetPlan): string {
  const head = ['code', 'model', 'mfgDate', 'designLifeYears', 'lastInspection', 'nextInspection', 'ownerStationId', 'entrustedStationIds', 'status', 'maxFillKg'] as const;
  const rows = plan.cylinders.map((r) => head.map((h) => csvCell(h === 'entrustedStationIds' ? '' : r[h])).join(','));
  return [head.join(','), ...rows].join('\n') + '\n';
}
