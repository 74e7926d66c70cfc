/**
 * `dispenser.tank_reconciliation`: per tank and calendar day, the fuel that left the tank
 * (tank gauge) against the fuel the nozzles drawing from it metered, difference above 0.5 %
 * [default, docs/domain.md §4]. Tank drop > metered: fuel left unmetered (a nozzle not
 * reporting, a leak, theft). Metered > tank drop: the dispensers register more than they
 * deliver, i.e. customers are short-changed, the cheat this platform exists to catch.
 *
 * Method, per (stationId, tankId), one day at a time, in arrival order:
 * - Tank drop = first tank reading of the day - last tank reading + deliveries.
 * - Deliveries: a run of consecutive rising tank readings whose total rise is at least
 *   deliveryMinRiseL is a delivery (a tanker unloading). Its volume is the rise plus the
 *   nozzle volume metered during those rising steps (sales go on during an unloading, so the
 *   level rises by less than was delivered). Smaller rises (gauge jitter, thermal expansion)
 *   are left in first - last, where they cancel. Without delivery notes in the protocol this
 *   is the best estimate; what happens during an unloading is not checked.
 * - Metered volume = sum of volumeL of transactions with this stationId and tankId received
 *   between the first and the last tank reading of the day (a running sum snapshotted at
 *   every tank reading), so both sides cover exactly the same interval; transactions
 *   before the first or after the last reading of the day are in neither.
 * - difference = |tank drop - metered|; alert when difference > maxDifferencePct % of the
 *   metered volume and difference > minDifferenceL (below ~10 L a tank gauge cannot tell:
 *   +/-1 mm of level is 5-20 L in a 30 m3 tank) [default]. Exactly 0.5 % is allowed. With
 *   nothing metered, any drop above minDifferenceL raises.
 * - A day with fewer than 2 tank readings is not evaluated (no gauge data; the offline rule
 *   covers a silent collector).
 *
 * The day: the China local date (utcOffsetMinutes) of the platform receive time. The method
 * relies on arrival order anyway, and a collector's clock set back a day must not be able to
 * switch the check off. The day is evaluated on the first reading (tank or transaction) of
 * the next day, or by the clock closeGraceMs after midnight; a reading of a day that is
 * already closed is ignored.
 *
 * The period: a day [default]; periodMs makes it shorter, for stations that reconcile per
 * shift (8 h) and for compressed-time scenarios and demos (seconds). It must divide a day, so
 * the periods start at local midnight every day. "Day" below means the period.
 *
 * Major; condition = `tankId/YYYY-MM-DD` (a shorter period: `tankId/YYYY-MM-DDTHH:MM`, its
 * local start, with `:SS` when it is not whole minutes). State: one open day per tank
 * (sharded map, common/shardedMap.ts), dropped when evaluated, and the period they were opened
 * with: after a restart with another periodMs the open days are evaluated at once with their
 * own period (neither lost nor kept open under the wrong calendar). Resolved by the operator.
 */
import type { RaiseAlert, Rule, RuleReading, Severity } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, MINUTE, noEffects, num, str } from '../common/util.js';
import { exceeds, milli, stateKey, txnOf } from './txn.js';

export interface TankReconciliationConfig {
  /** local calendar for "the day": China, UTC+8 [default] */
  utcOffsetMinutes: number;
  /** the reconciliation period: a day [default]; shorter ones (a shift, or seconds for a scenario) must divide a day */
  periodMs: number;
  /** |tank drop - metered| above this percentage of the metered volume raises [default, docs/domain.md §4: 0.5 %] */
  maxDifferencePct: number;
  /** ... and above this many litres, the gauge's resolution [default] */
  minDifferenceL: number;
  /** a run of rising tank readings of at least this is a delivery [default; tankers unload thousands of litres] */
  deliveryMinRiseL: number;
  /** the clock closes a quiet tank's day this long after local midnight, for messages in flight [default] */
  closeGraceMs: number;
  severity: Severity;
  alertWindowMs: number;
}

export const tankReconciliationDefaults: TankReconciliationConfig = {
  utcOffsetMinutes: 480,
  periodMs: DAY,
  maxDifferencePct: 0.5,
  minDifferenceL: 10,
  deliveryMinRiseL: 500,
  closeGraceMs: 5 * MINUTE,
  severity: 'major',
  alertWindowMs: DAY,
};

export interface TankPoint {
  /** tank volume, mL */
  ml: number;
  /** device time */
  ts: number;
  seq: number;
  /** metered mL of the day received before this reading */
  cumMl: number;
}

export interface TankDay {
  /** local day number: whole days (periods) since 1970-01-01 in the configured local time */
  day: number;
  stationId: string;
  tankId: string;
  /** device of the latest tank reading (the alert's device) */
  deviceId: string | null;
  /** running sum of metered mL this day, in arrival order */
  cumMl: number;
  txns: number;
  first: TankPoint | null;
  last: TankPoint | null;
  readings: number;
  deliveredMl: number;
  deliveries: number;
  /** the current run of rising readings: its rise and the metered volume during it */
  runRiseMl: number;
  runMeteredMl: number;
}

export interface TankReconciliationState {
  /** by stateKey(stationId, tankId) */
  tanks: ShardedMap<TankDay>;
  /** the earliest open day (null: none), so a tick before it can close looks at nothing */
  earliestDay: number | null;
  /** periodMs the open days were counted in; absent: a day (states saved before periodMs) */
  periodMs?: number;
}

const offsetMs = (cfg: TankReconciliationConfig): number => cfg.utcOffsetMinutes * MINUTE;
const dayOf = (instant: number, cfg: TankReconciliationConfig): number => Math.floor((instant + offsetMs(cfg)) / cfg.periodMs);
/** the instant the local day (period) ends: the next local midnight, or the next period's start */
const dayEnd = (day: number, cfg: TankReconciliationConfig): number => (day + 1) * cfg.periodMs - offsetMs(cfg);
/** YYYY-MM-DD; for a shorter period its local start, YYYY-MM-DDTHH:MM(:SS) */
function dayLabel(day: number, cfg: TankReconciliationConfig): string {
  const start = new Date(day * cfg.periodMs).toISOString();
  return start.slice(0, cfg.periodMs === DAY ? 10 : cfg.periodMs % MINUTE === 0 ? 16 : 19);
}

function checkConfig(cfg: TankReconciliationConfig): string[] {
  const p = cfg.periodMs;
  return Number.isInteger(p) && p >= 1000 && p <= DAY && DAY % p === 0
    ? []
    : [`periodMs: ${p} must be whole milliseconds from 1000 to ${DAY} (a day) that divide a day, so the periods start at local midnight (e.g. 28800000 for 8 h shifts)`];
}

function fresh(day: number, stationId: string, tankId: string): TankDay {
  return {
    day, stationId, tankId, deviceId: null, cumMl: 0, txns: 0, first: null, last: null, readings: 0,
    deliveredMl: 0, deliveries: 0, runRiseMl: 0, runMeteredMl: 0,
  };
}

/** End the current rising run: a delivery when it rose enough, else nothing. */
function closeRun(d: TankDay, cfg: TankReconciliationConfig): TankDay {
  if (d.runRiseMl === 0 && d.runMeteredMl === 0) return d;
  const delivery = d.runRiseMl >= milli(cfg.deliveryMinRiseL);
  return {
    ...d,
    deliveredMl: d.deliveredMl + (delivery ? d.runRiseMl + d.runMeteredMl : 0),
    deliveries: d.deliveries + (delivery ? 1 : 0),
    runRiseMl: 0,
    runMeteredMl: 0,
  };
}

export interface DayBalance {
  tankDropMl: number;
  meteredMl: number;
  differenceMl: number;
  deliveredMl: number;
  deliveries: number;
}

/** The day's balance, or null with fewer than 2 tank readings. */
export function balanceOf(day: TankDay, cfg: TankReconciliationConfig): DayBalance | null {
  const d = closeRun(day, cfg);
  if (d.readings < 2 || !d.first || !d.last) return null;
  const tankDropMl = d.first.ml - d.last.ml + d.deliveredMl;
  const meteredMl = d.last.cumMl - d.first.cumMl;
  return { tankDropMl, meteredMl, differenceMl: tankDropMl - meteredMl, deliveredMl: d.deliveredMl, deliveries: d.deliveries };
}

function evaluate(d: TankDay, cfg: TankReconciliationConfig, at: number): RaiseAlert | null {
  const b = balanceOf(d, cfg);
  if (!b || d.deviceId === null) return null;
  const diff = Math.abs(b.differenceMl);
  if (diff <= milli(cfg.minDifferenceL)) return null;
  const pct = b.meteredMl > 0 ? (diff / b.meteredMl) * 100 : null;
  if (pct !== null && !exceeds(pct, cfg.maxDifferencePct)) return null;
  const label = dayLabel(d.day, cfg);
  const L = (ml: number): number => ml / 1000;
  const values = {
    stationId: d.stationId, tankId: d.tankId, day: label,
    tankDropL: L(b.tankDropMl), meteredL: L(b.meteredMl), differenceL: L(b.differenceMl),
    differencePct: pct === null ? null : Math.round(pct * 1000) / 1000, maxDifferencePct: cfg.maxDifferencePct,
    firstL: L(d.first!.ml), lastL: L(d.last!.ml), deliveredL: L(b.deliveredMl), deliveries: b.deliveries,
    tankReadings: d.readings, transactions: d.txns,
  };
  return {
    type: 'raise',
    rule: tankReconciliation.id,
    family: 'dispenser',
    deviceId: d.deviceId,
    condition: `${d.tankId}/${label}`,
    severity: cfg.severity,
    windowMs: cfg.alertWindowMs,
    summary: `tank ${d.tankId} at station ${d.stationId} ${cfg.periodMs === DAY ? 'on' : 'in the period from'} ${label}: tank drop ${values.tankDropL} L vs metered ${values.meteredL} L`
      + ` (difference ${values.differenceL} L${pct === null ? '' : `, ${values.differencePct} %`})`,
    params: values,
    evidence: { seqs: [d.first!.seq, d.last!.seq], values },
    at,
  };
}

/**
 * Open days counted with another periodMs (saved before the operator changed it) are
 * evaluated now with their own period and dropped; the state then counts in cfg.periodMs.
 */
function adoptPeriod(state: TankReconciliationState, cfg: TankReconciliationConfig, now: number): { state: TankReconciliationState; effects: RaiseAlert[] } {
  const was = state.periodMs ?? DAY;
  if (was === cfg.periodMs) return { state, effects: [] };
  const effects: RaiseAlert[] = [];
  for (const [, d] of mapEntries(state.tanks)) {
    const alert = evaluate(d, { ...cfg, periodMs: was }, now);
    if (alert) effects.push(alert);
  }
  return { state: { tanks: emptyMap(), earliestDay: null, periodMs: cfg.periodMs }, effects };
}

type Input =
  | { kind: 'tank'; stationId: string; tankId: string; ml: number }
  | { kind: 'txn'; stationId: string; tankId: string; ml: number };

function inputOf(reading: RuleReading): Input | null {
  if (reading.channel === 'tank') {
    const stationId = str(reading.data, 'stationId');
    const tankId = str(reading.data, 'tankId');
    const volumeL = num(reading.data, 'volumeL');
    return stationId === null || tankId === null || volumeL === null ? null : { kind: 'tank', stationId, tankId, ml: milli(volumeL) };
  }
  if (reading.channel === 'txn') {
    const t = txnOf(reading);
    return !t || t.tankId === null ? null : { kind: 'txn', stationId: t.stationId, tankId: t.tankId, ml: milli(t.volumeL) };
  }
  return null;
}

export const tankReconciliation: Rule<TankReconciliationState, TankReconciliationConfig> = {
  id: 'dispenser.tank_reconciliation',
  family: 'dispenser',
  channels: ['tank', 'txn'],
  defaults: tankReconciliationDefaults,
  checkConfig,
  init: () => ({ tanks: emptyMap(), earliestDay: null }),

  onReading(current, reading, ctx, now) {
    const cfg = ctx.config;
    const input = inputOf(reading);
    if (!input) return noEffects(current);
    const adopted = adoptPeriod(current, cfg, now);
    const state = adopted.state;
    const effects = [...adopted.effects];
    const key = stateKey(input.stationId, input.tankId);
    const day = dayOf(reading.receivedAt, cfg);
    let d = mapGet(state.tanks, key);
    if (d && d.day < day) {
      // the first reading of a new day closes the previous one
      const alert = evaluate(d, cfg, reading.receivedAt);
      if (alert) effects.push(alert);
      d = undefined;
    }
    if (d && d.day > day) return adopted;
    // a day the clock has already closed (this reading was processed late) is not reopened
    // (nor is the previous day closed here: it stays for the clock)
    if (!d && now >= dayEnd(day, cfg) + cfg.closeGraceMs) return adopted;
    d ??= fresh(day, input.stationId, input.tankId);

    if (input.kind === 'txn') {
      d = { ...d, cumMl: d.cumMl + input.ml, txns: d.txns + 1 };
    } else {
      const point: TankPoint = { ml: input.ml, ts: reading.ts, seq: reading.seq, cumMl: d.cumMl };
      if (!d.last) {
        d = { ...d, first: point, last: point, readings: 1 };
      } else {
        const rise = point.ml - d.last.ml;
        const metered = point.cumMl - d.last.cumMl;
        d = rise > 0 ? { ...d, runRiseMl: d.runRiseMl + rise, runMeteredMl: d.runMeteredMl + metered } : closeRun(d, cfg);
        d = { ...d, last: point, readings: d.readings + 1 };
      }
      d = { ...d, deviceId: reading.deviceId };
    }
    const earliestDay = state.earliestDay === null ? d.day : Math.min(state.earliestDay, d.day);
    return { state: { ...state, tanks: mapSet(state.tanks, key, d), earliestDay }, effects };
  },

  onTick(current, ctx, now) {
    const cfg = ctx.config;
    const adopted = adoptPeriod(current, cfg, now);
    const { state, effects } = adopted;
    if (state.earliestDay === null || now < dayEnd(state.earliestDay, cfg) + cfg.closeGraceMs) return adopted;
    const closed: Array<readonly [string, undefined]> = [];
    let earliestDay: number | null = null;
    for (const [key, d] of mapEntries(state.tanks)) {
      if (now < dayEnd(d.day, cfg) + cfg.closeGraceMs) {
        earliestDay = earliestDay === null ? d.day : Math.min(earliestDay, d.day);
        continue;
      }
      const alert = evaluate(d, cfg, now);
      if (alert) effects.push(alert);
      closed.push([key, undefined]);
    }
    return { state: { ...state, tanks: mapUpdate(state.tanks, closed), earliestDay }, effects };
  },
};
