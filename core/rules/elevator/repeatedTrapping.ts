/**
 * elevator.repeated_trapping: a trapped incident on the same elevator 3 times within 30 days
 * is a hazard (docs/domain.md §2: 3 trapped incidents on one elevator within 30 days make it
 * a hazard): raised major, condition ''. Later incidents within the window update
 * the open hazard alert (count + 1). Nothing resolves it automatically: the elevator needs an
 * inspection, and an operator closes the alert.
 *
 * Incidents are exactly elevator.trapped's raises. Rather than depending on the engine to
 * forward them, this rule runs the same pure detector (trappedRule) on the same readings and
 * ticks, and counts each raise it produces; so code 11 and status-timer incidents count once
 * each, and code 11 during a status-timer incident (the same incident) does not count again.
 * Its config therefore carries the detector's keys (atFloorMs, outsideDoorZoneMs,
 * ignoreModes), which must equal elevator.trapped's.
 *
 * `recordTrappedIncident` is the counter on its own: the engine may call it for an incident
 * from another source (e.g. a trapping reported by phone to 96333 and confirmed by a
 * dispatcher). It must not call it for elevator.trapped raises: those are counted already.
 *
 * Time: incidents are counted at the trapped raise's `at` (receive time or tick time).
 */
import type { Effect, RaiseAlert, Rule, RuleContext, RuleResult, Severity } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, MINUTE, withinWindow } from '../common/util.js';
import {
  TRAPPED_RULE_ID, trappedDefaults, trappedDetectorDefaults, trappedRule, type TrappedConfig, type TrappedDetectorConfig, type TrappedState,
} from './trapped.js';

export const REPEATED_TRAPPING_RULE_ID = 'elevator.repeated_trapping';

export interface RepeatedTrappingConfig extends TrappedDetectorConfig {
  /** this many incidents within windowMs are a hazard [docs/domain.md §2: 3] */
  incidents: number;
  /** [docs/domain.md §2: 30 days] */
  windowMs: number;
  severity: Severity;
}

export const repeatedTrappingDefaults: RepeatedTrappingConfig = {
  ...trappedDetectorDefaults,
  incidents: 3,
  windowMs: 30 * DAY,
  severity: 'major',
};

export interface TrappedIncident {
  at: number;
  /** the reading that raised it (null for a tick-fired or external incident) */
  seq: number | null;
}

export interface RepeatedTrappingState {
  /** the elevator.trapped detector's own state (same readings, same ticks) */
  detector: TrappedState;
  /** per elevator, its incidents within the window, oldest first */
  incidents: ShardedMap<TrappedIncident[]>;
  /** last time onTick pruned every elevator */
  prunedAt: number;
}

/** onTick prunes aged-out incidents of all elevators at most this often. */
export const PRUNE_EVERY_MS = 10 * MINUTE;

/**
 * Count one trapped incident of an elevator at `at`; raise the hazard when the incidents
 * within the window (inclusive edge) reach the threshold. Pure.
 */
export function recordTrappedIncident(
  state: RepeatedTrappingState,
  deviceId: string,
  at: number,
  cfg: RepeatedTrappingConfig = repeatedTrappingDefaults,
  seq: number | null = null,
): RuleResult<RepeatedTrappingState> {
  const list = [...(mapGet(state.incidents, deviceId) ?? []), { at, seq }]
    .filter((i) => withinWindow(at, i.at, cfg.windowMs))
    .sort((a, b) => a.at - b.at);
  const next: RepeatedTrappingState = { ...state, incidents: mapSet(state.incidents, deviceId, list) };
  if (list.length < cfg.incidents) return { state: next, effects: [] };
  const raise: RaiseAlert = {
    type: 'raise',
    rule: REPEATED_TRAPPING_RULE_ID,
    family: 'elevator',
    deviceId,
    condition: '',
    severity: cfg.severity,
    windowMs: cfg.windowMs,
    summary: `Elevator ${deviceId}: ${list.length} trapped-passenger incidents within ${Math.round(cfg.windowMs / DAY)} days (threshold ${cfg.incidents})`,
    params: { count: list.length, threshold: cfg.incidents, windowDays: cfg.windowMs / DAY, firstIncidentAt: list[0]!.at, lastIncidentAt: at },
    evidence: { seqs: list.map((i) => i.seq).filter((s): s is number => s !== null), values: { count: list.length } },
    at,
  };
  return { state: next, effects: [raise] };
}

/**
 * The detector's context, derived once per rule context and config: it was built for every
 * reading, a tenth of the bytes the alert engine allocated in the P1 heap profile.
 */
const detectorContexts = new WeakMap<RuleContext<RepeatedTrappingConfig>, { from: RepeatedTrappingConfig; ctx: RuleContext<TrappedConfig> }>();

function detectorContext(ctx: RuleContext<RepeatedTrappingConfig>): RuleContext<TrappedConfig> {
  const cached = detectorContexts.get(ctx);
  if (cached && cached.from === ctx.config) return cached.ctx;
  const derived: RuleContext<TrappedConfig> = {
    ...ctx,
    config: { ...trappedDefaults, atFloorMs: ctx.config.atFloorMs, outsideDoorZoneMs: ctx.config.outsideDoorZoneMs, ignoreModes: ctx.config.ignoreModes },
  };
  detectorContexts.set(ctx, { from: ctx.config, ctx: derived });
  return derived;
}

/** Count each elevator.trapped raise of the detector as an incident. */
function countIncidents(state: RepeatedTrappingState, detected: Effect[], cfg: RepeatedTrappingConfig): RuleResult<RepeatedTrappingState> {
  let next = state;
  const effects: Effect[] = [];
  for (const e of detected) {
    if (e.type !== 'raise' || e.rule !== TRAPPED_RULE_ID) continue;
    const r = recordTrappedIncident(next, e.deviceId, e.at, cfg, e.evidence.seqs[e.evidence.seqs.length - 1] ?? null);
    next = r.state;
    effects.push(...r.effects);
  }
  return { state: next, effects };
}

export const repeatedTrappingRule: Rule<RepeatedTrappingState, RepeatedTrappingConfig> = {
  id: REPEATED_TRAPPING_RULE_ID,
  family: 'elevator',
  channels: trappedRule.channels,
  defaults: repeatedTrappingDefaults,
  // it runs the trapped detector itself: an override of elevator.trapped's thresholds applies here too
  configFrom: trappedRule.id,
  init: () => ({ detector: trappedRule.init(), incidents: emptyMap(), prunedAt: 0 }),

  onReading(state, reading, ctx, now) {
    const d = trappedRule.onReading!(state.detector, reading, detectorContext(ctx), now);
    const next = d.state === state.detector ? state : { ...state, detector: d.state };
    return countIncidents(next, d.effects, ctx.config);
  },

  onTick(state, ctx, now) {
    const d = trappedRule.onTick!(state.detector, detectorContext(ctx), now);
    let next = d.state === state.detector ? state : { ...state, detector: d.state };
    if (now - state.prunedAt >= PRUNE_EVERY_MS) {
      const updates: Array<[string, TrappedIncident[] | undefined]> = [];
      for (const [deviceId, list] of mapEntries(next.incidents)) {
        const kept = list.filter((i) => withinWindow(now, i.at, ctx.config.windowMs));
        if (kept.length !== list.length) updates.push([deviceId, kept.length ? kept : undefined]);
      }
      next = { ...next, incidents: mapUpdate(next.incidents, updates), prunedAt: now };
    }
    return countIncidents(next, d.effects, ctx.config);
  },
};
