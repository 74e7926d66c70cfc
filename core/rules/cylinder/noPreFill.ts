/**
 * `cylinder.no_pre_fill`: a `fill` scan at a station without a `pre_fill` check of that
 * cylinder at that station in the previous 2 h [default, docs/domain.md §3]. The pre-fill
 * check is where the registry gate (cylinder.scan_check) runs; filling without it bypasses
 * the gate.
 *
 * Window: the pre_fill's device time is at most windowMs before the fill's, inclusive
 * (exactly 2 h is still covered, 2 h + 1 ms is not), the same edge as the engine's alert
 * dedupe (common/util.ts withinWindow). A pre_fill already received whose device time reads
 * later than the fill's (two scanners with skewed clocks) counts as a check. A pre_fill that
 * was refused still counts: the check happened, and a fill after a refusal is refused and
 * alerted by cylinder.scan_check itself. One check covers every fill within its window.
 *
 * State: the latest pre_fill per (code, station), kept windowMs + lateArrivalMs of platform
 * time, at most maxTracked entries, in a sharded map (common/shardedMap.ts) so a scan
 * copies one small shard, not every entry. Major; condition = the cylinder code. Resolved
 * by the operator (an event, nothing later undoes it).
 */
import type { Rule, Severity } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, HOUR, noEffects, withinWindow } from '../common/util.js';
import { SWEEP_EVERY_MS, expiredKeys, scanOf, stateKey } from './scanWindow.js';

export interface NoPreFillConfig {
  /** the pre_fill must be at most this long before the fill [default, docs/domain.md §3: 2 h] */
  windowMs: number;
  /** pre_fill scans are remembered this much longer, for fills uploaded late [default] */
  lateArrivalMs: number;
  severity: Severity;
  /** a repeat for the same cylinder on the same scanner within this updates the open alert */
  alertWindowMs: number;
  /** bound on remembered (cylinder, station) checks [default: above a city's 162k cylinders] */
  maxTracked: number;
}

export const noPreFillDefaults: NoPreFillConfig = {
  windowMs: 2 * HOUR,
  lateArrivalMs: HOUR,
  severity: 'major',
  alertWindowMs: DAY,
  maxTracked: 200_000,
};

export interface PreFillMark {
  /** device time of the pre_fill */
  ts: number;
  seq: number;
  /** platform receive time, for retention */
  rx: number;
}

export interface NoPreFillState {
  /** by stateKey(code, stationId) */
  checks: ShardedMap<PreFillMark>;
  /** platform time of the last full sweep */
  sweptAt: number;
}

function sweep(state: NoPreFillState, clock: number, cfg: NoPreFillConfig): NoPreFillState {
  if (clock - state.sweptAt < SWEEP_EVERY_MS) return state;
  const drop = expiredKeys(mapEntries(state.checks), (m) => m.rx, clock, cfg.windowMs + cfg.lateArrivalMs, cfg.maxTracked);
  return { checks: mapUpdate(state.checks, drop.map((k) => [k, undefined] as const)), sweptAt: clock };
}

export const noPreFill: Rule<NoPreFillState, NoPreFillConfig> = {
  id: 'cylinder.no_pre_fill',
  family: 'cylinder',
  channels: ['scan'],
  defaults: noPreFillDefaults,
  init: () => ({ checks: emptyMap(), sweptAt: 0 }),

  onReading(state0, reading, ctx) {
    const cfg = ctx.config;
    const scan = scanOf(reading);
    if (!scan) return noEffects(state0);
    const state = sweep(state0, scan.rx, cfg);
    const key = stateKey(scan.code, scan.stationId);

    if (scan.point === 'pre_fill') {
      const prev = mapGet(state.checks, key);
      // keep the newest check by device time (a late upload of an older one does not replace it)
      if (prev && prev.ts > scan.ts && scan.rx - prev.rx <= cfg.windowMs + cfg.lateArrivalMs) return noEffects(state);
      return { state: { ...state, checks: mapSet(state.checks, key, { ts: scan.ts, seq: scan.seq, rx: scan.rx }) }, effects: [] };
    }
    if (scan.point !== 'fill') return noEffects(state);

    const mark = mapGet(state.checks, key);
    const retained = mark !== undefined && scan.rx - mark.rx <= cfg.windowMs + cfg.lateArrivalMs;
    if (retained && withinWindow(scan.ts, mark.ts, cfg.windowMs)) return noEffects(state);

    const lastCheckAt = retained ? mark.ts : null;
    const sinceMin = lastCheckAt === null ? null : Math.round((scan.ts - lastCheckAt) / 60_000);
    return {
      state,
      effects: [{
        type: 'raise',
        rule: noPreFill.id,
        family: 'cylinder',
        deviceId: scan.deviceId,
        condition: scan.code,
        severity: cfg.severity,
        windowMs: cfg.alertWindowMs,
        summary: lastCheckAt === null
          ? `cylinder ${scan.code} filled at station ${scan.stationId} without a pre-fill check`
          : `cylinder ${scan.code} filled at station ${scan.stationId} ${sinceMin} min after its pre-fill check (limit ${Math.round(cfg.windowMs / 60_000)} min)`,
        params: { cylinderCode: scan.code, stationId: scan.stationId, fillAt: scan.ts, lastPreFillAt: lastCheckAt, windowMs: cfg.windowMs },
        evidence: {
          seqs: retained ? [mark.seq, scan.seq] : [scan.seq],
          values: { stationId: scan.stationId, fillAt: scan.ts, lastPreFillAt: lastCheckAt, minutesSincePreFill: sinceMin },
        },
        at: scan.rx,
      }],
    };
  },

  onTick(state, ctx, now) {
    const next = sweep(state, now, ctx.config);
    return { state: next, effects: [] };
  },
};
