/**
 * Which rule key decides where a rule's input is evaluated in cluster mode (docs/cluster.md,
 * Next): the node owning `slotOf(routing key)` evaluates that rule for that input, and holds
 * the entries of the rule's state whose keys route to the same slot. Pure: a table per rule id.
 *
 * The routing key is not always the state key. A state key must route to the slot its
 * readings route to (that is what lets a node decide with its slots' state alone), so:
 * - a state key that is the routing key (a device id, a store id) routes as itself;
 * - a `stateKey(...)` tuple (JSON of its parts) whose first part is the routing key routes
 *   by that part: stateKey(code, station) and stateKey(code) by the cylinder code,
 *   stateKey(station, tank) and stateKey(station, dispenser, nozzle) by the station;
 * - a device id kept by a rule routed by something the registry knows of the device
 *   (kitchen.camera_dark by the camera's store, dispenser.offline by the collector's station)
 *   routes through the same registry lookup its readings use, so both land in one slot.
 *
 * Where a reading lacks the field its rule routes by, the rule ignores the reading (it keeps
 * nothing for it) and the reading routes by its device, so it is still evaluated once.
 *
 * Ticks concern every key: each owner ticks the part of the state it holds (`TICK_ROUTE`).
 * Connection events carry only the device: they route as the device's state key does. An
 * operator closing an alert reaches the rules that count alerts (kitchen.repeat_offender) at
 * the slot of the store the alert was counted under.
 */
import type { AlertClosed, DeviceInfo, RuleReading } from '../alerts/types.js';
import { allRules } from '../rules/index.js';
import { occurrenceRefFromAlert } from '../rules/kitchen/repeatOffender.js';

/** The registry as routing sees it (the engine's lookup; a snapshot in tests). */
export interface DeviceLookup {
  device(id: string): DeviceInfo | undefined;
}

/** How one rule's inputs and state keys route. */
export interface RuleRoute {
  /** the routing key of a reading this rule reads */
  reading(reading: RuleReading, lookup: DeviceLookup): string;
  /** the routing key of a connection event of the device; absent: the rule takes no connection events */
  connection?(deviceId: string, lookup: DeviceLookup): string;
  /** the routing key of an operator closing an alert (Rule.onAlertClosed); absent: the rule has no such hook */
  alertClosed?(e: AlertClosed): string;
  /**
   * every ShardedMap in the rule's state, by its path (dotted for nested objects), and how
   * its keys route; a rule without one keeps no per-key state
   */
  maps: Readonly<Record<string, (mapKey: string, lookup: DeviceLookup) => string>>;
}

/** Ticks run on every slot's part of the state: each owner ticks its own. */
export const TICK_ROUTE = 'every slot' as const;

const text = (data: Record<string, unknown>, key: string): string | null => {
  const v = data[key];
  return typeof v === 'string' ? v : null;
};

/** A string from the device's registry meta, empty strings read as absent (as kitchen.violation reads storeId). */
function metaOf(lookup: DeviceLookup, deviceId: string, key: string): string | null {
  const v = lookup.device(deviceId)?.meta[key];
  return typeof v === 'string' && v !== '' ? v : null;
}

const byDevice = (r: RuleReading): string => r.deviceId;
const asItself = (key: string): string => key;

/** The first part of a stateKey(...) tuple; a key that is not one routes as itself (it would be a bug, and still lands somewhere stable). */
export function firstPart(mapKey: string): string {
  try {
    const parts: unknown = JSON.parse(mapKey);
    if (Array.isArray(parts) && parts.length > 0) return String(parts[0]);
  } catch {
    // not JSON: fall through
  }
  return mapKey;
}

/** A camera's store for kitchen.camera_dark: its registry storeId, else itself (an unassigned camera is its own group). */
const storeOfCamera = (deviceId: string, lookup: DeviceLookup): string => metaOf(lookup, deviceId, 'storeId') ?? deviceId;

/** A collector's station for dispenser.offline: its registry stationId, else itself. */
const stationOfCollector = (deviceId: string, lookup: DeviceLookup): string => metaOf(lookup, deviceId, 'stationId') ?? deviceId;

/**
 * The store of a violation as kitchen.violation's `violationFacts` reads it: the payload's
 * storeId (even an empty one), else the camera's registry storeId; else the camera (the store
 * rules ignore such a reading, kitchen.violation alerts on it by camera).
 */
function storeOfViolation(r: RuleReading, lookup: DeviceLookup): string {
  return text(r.data, 'storeId') ?? metaOf(lookup, r.deviceId, 'storeId') ?? r.deviceId;
}

/** The payload's station (txn, tank, tamper); a reading without one is ignored by the rules and routes by its device. */
const stationOfPayload = (r: RuleReading): string => text(r.data, 'stationId') ?? r.deviceId;

/** The scanned cylinder code; a scan without one is ignored by the scan rules and routes by its device. */
const codeOfScan = (r: RuleReading): string => text(r.data, 'cylinderCode') ?? r.deviceId;

const elevatorByDevice = (maps: RuleRoute['maps']): RuleRoute => ({ reading: byDevice, maps });
const offlineByDevice: RuleRoute = { reading: byDevice, connection: asItself, maps: { devices: asItself } };
const dispenserStateless: RuleRoute = { reading: stationOfPayload, maps: {} };

/**
 * The table. Rule ids are plain strings in `allRules` (Rule<S, C>), so the compiler cannot
 * see a rule added there without an entry here: `routeTableGaps` finds it, the test `every
 * rule of allRules has a route` fails on it, and `routeOf` throws for it rather than letting
 * its inputs land in some slot. `satisfies` keeps these ids literal, so ruleStateSlots.ts's
 * table must name exactly these (a compile error otherwise).
 */
export const ruleRoutes = {
  'kitchen.violation': { reading: storeOfViolation, maps: {} },
  'kitchen.repeat_offender': {
    reading: storeOfViolation,
    // the store the closed violation alert counted under (the rule looks it up the same way); an alert without one changes nothing
    alertClosed: (e) => occurrenceRefFromAlert(e.alert, e.at)?.storeId ?? e.alert.device.id,
    maps: { stores: asItself },
  },
  'kitchen.store_score': { reading: storeOfViolation, maps: { stores: asItself } },
  'kitchen.camera_dark': {
    reading: (r, lookup) => storeOfCamera(r.deviceId, lookup),
    connection: storeOfCamera,
    maps: { devices: storeOfCamera },
  },
  'elevator.fault': elevatorByDevice({ open: asItself }),
  'elevator.trapped': elevatorByDevice({ cars: asItself }),
  'elevator.repeated_trapping': elevatorByDevice({ 'detector.cars': asItself, incidents: asItself }),
  'elevator.offline': offlineByDevice,
  'cylinder.scan_check': { reading: codeOfScan, maps: {} },
  'cylinder.no_pre_fill': { reading: codeOfScan, maps: { checks: firstPart } },
  'cylinder.cloned_code': { reading: codeOfScan, maps: { codes: firstPart } },
  'cylinder.offline': offlineByDevice,
  'dispenser.amount_mismatch': dispenserStateless,
  'dispenser.totalizer': { reading: stationOfPayload, maps: { nozzles: firstPart } },
  'dispenser.flow': dispenserStateless,
  'dispenser.pulses': dispenserStateless,
  'dispenser.tamper': dispenserStateless,
  'dispenser.tank_reconciliation': { reading: stationOfPayload, maps: { tanks: firstPart } },
  'dispenser.offline': {
    reading: (r, lookup) => stationOfCollector(r.deviceId, lookup),
    connection: stationOfCollector,
    maps: { devices: stationOfCollector },
  },
} as const satisfies Record<string, RuleRoute>;

export type RoutedRuleId = keyof typeof ruleRoutes;

/** The route of a rule; throws for a rule without one (added to allRules but not here). */
export function routeOf(ruleId: string): RuleRoute {
  if (!Object.hasOwn(ruleRoutes, ruleId)) throw new Error(`no cluster route for rule ${ruleId}: add it to core/cluster/ruleRouting.ts`);
  return ruleRoutes[ruleId as RoutedRuleId];
}

/** Rules of allRules without a route, and routes without a rule (both empty when the table is complete). */
export function routeTableGaps(): { unrouted: string[]; unknown: string[] } {
  const ids = new Set(allRules.map((r) => r.id));
  return {
    unrouted: [...ids].filter((id) => !Object.hasOwn(ruleRoutes, id)),
    unknown: Object.keys(ruleRoutes).filter((id) => !ids.has(id)),
  };
}

export function routeOfReading(ruleId: string, reading: RuleReading, lookup: DeviceLookup): string {
  return routeOf(ruleId).reading(reading, lookup);
}

/** The routing key of a connection event for a rule, or null when the rule takes none. */
export function routeOfConnection(ruleId: string, deviceId: string, lookup: DeviceLookup): string | null {
  const route = routeOf(ruleId);
  return route.connection ? route.connection(deviceId, lookup) : null;
}

/** The routing key of an operator closing an alert, for a rule with onAlertClosed; null for the others. */
export function routeOfAlertClosed(ruleId: string, e: AlertClosed): string | null {
  const route: RuleRoute = routeOf(ruleId);
  return route.alertClosed ? route.alertClosed(e) : null;
}

/** The routing key of a key of the ShardedMap at `mapPath` in the rule's state. */
export function routeOfStateKey(ruleId: string, mapKey: string, lookup: DeviceLookup, mapPath?: string): string {
  const maps = routeOf(ruleId).maps as Record<string, (k: string, l: DeviceLookup) => string>;
  const paths = Object.keys(maps);
  const path = mapPath ?? paths[0];
  if (path === undefined || !Object.hasOwn(maps, path)) throw new Error(`rule ${ruleId} has no state map ${mapPath ?? ''}`);
  return maps[path]!(mapKey, lookup);
}
