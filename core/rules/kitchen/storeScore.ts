/**
 * kitchen.store_score: the detections that are not chased one by one (class 3 by default: hat,
 * mask, clothes, gloves, phone) count into a per-store score over a period, a week by default
 * [reg, Hubei trial measures: class 3 "counted into a periodic score"; docs/domain.md §1]. The
 * score is what the bureau reads on the store and what weights the 双随机 draw
 * (core/stores/storeDraw.ts); no operator task is made of it.
 *
 * - Counted: a detection of a scored class (above kitchen.violation's `maxAlertClass`) at or
 *   above `minConfidence`, at most once per camera and type within `cooldownMs` of the previous
 *   detection (the same dedupe kitchen.violation applies to its alerts), so a camera that sees
 *   the same bare head every 10 s counts once per 10 minutes of it.
 * - Score: 100 minus the sum over types of `weights[type]` x counted detections, floored at 0;
 *   a store without a counted detection scores 100.
 * - Period: the last `periodDays` whole days in China Standard Time (UTC+8, no daylight saving),
 *   today included, so a score read at 09:00 and at 17:00 covers the same days.
 *
 * State: per store, counts per day and type (at most `periodDays` days), and per camera+type
 * the time of the last detection (for the dedupe; dropped once older than the cooldown).
 */
import type { ViolationType } from '../../schemas/kitchen.js';
import { violationTypes } from '../../schemas/kitchen.js';
import type { Rule } from '../../alerts/types.js';
import { emptyMap, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, HOUR, MINUTE, noEffects, withinWindow } from '../common/util.js';
import { VIOLATION_RULE_ID, riskClasses, violationDefaults, violationFacts, type RiskClass } from './violation.js';

export const STORE_SCORE_RULE_ID = 'kitchen.store_score';

/** The score of a store without a counted detection. */
export const FULL_SCORE = 100;
/** China Standard Time: the day a detection falls on (docs/domain.md §1, "a week"). */
const CST_OFFSET_MS = 8 * HOUR;

export interface StoreScoreConfig {
  /** whole CST days counted, today included [default 7: "a week"] */
  periodDays: number;
  /** points one counted detection of a type takes off [default 1 each] */
  weights: Record<ViolationType, number>;
  /** must equal kitchen.violation's: classes above it are scored */
  maxAlertClass: RiskClass;
  /** must equal kitchen.violation's */
  minConfidence: number;
  /** must equal kitchen.violation's: a repeat within it counts once */
  cooldownMs: number;
  /** must equal kitchen.violation's */
  riskClasses: Record<ViolationType, RiskClass>;
}

export const storeScoreDefaults: StoreScoreConfig = {
  periodDays: 7,
  weights: Object.fromEntries(violationTypes.map((t) => [t, 1])) as Record<ViolationType, number>,
  maxAlertClass: violationDefaults.maxAlertClass,
  minConfidence: violationDefaults.minConfidence,
  cooldownMs: violationDefaults.cooldownMs,
  riskClasses: { ...riskClasses },
};

export interface ScoreRecord {
  /** CST day number -> counted detections per type */
  days: Record<string, Partial<Record<ViolationType, number>>>;
  /** `${deviceId}/${type}` -> the last detection (counted or absorbed by the dedupe) */
  last: Record<string, number>;
}

export interface StoreScoreState {
  stores: ShardedMap<ScoreRecord>;
  prunedAt: number;
}

export interface StoreScore {
  storeId: string;
  score: number;
  /** counted detections in the period, per type (types without any left out) */
  counts: Partial<Record<ViolationType, number>>;
  /** points taken off (before the floor at 0) */
  deducted: number;
  /** the period: [from, to) in platform milliseconds */
  from: number;
  to: number;
}

/** The CST day a platform time falls on. */
export const cstDay = (at: number): number => Math.floor((at + CST_OFFSET_MS) / DAY);
/** The platform time a CST day starts. */
export const cstDayStart = (day: number): number => day * DAY - CST_OFFSET_MS;

const PRUNE_EVERY_MS = MINUTE;

function prune(rec: ScoreRecord, now: number, cfg: StoreScoreConfig): ScoreRecord {
  const first = cstDay(now) - cfg.periodDays + 1;
  const days = Object.fromEntries(Object.entries(rec.days).filter(([d]) => Number(d) >= first));
  const last = Object.fromEntries(Object.entries(rec.last).filter(([, at]) => withinWindow(now, at, cfg.cooldownMs)));
  return { days, last };
}

const empty = (rec: ScoreRecord): boolean => Object.keys(rec.days).length === 0 && Object.keys(rec.last).length === 0;

export const storeScoreRule: Rule<StoreScoreState, StoreScoreConfig> = {
  id: STORE_SCORE_RULE_ID,
  family: 'kitchen',
  channels: ['violation'],
  defaults: storeScoreDefaults,
  // the same detection as kitchen.violation: its overrides of the shared keys apply here too
  configFrom: VIOLATION_RULE_ID,
  init: () => ({ stores: emptyMap(), prunedAt: 0 }),

  onReading(state, reading, ctx) {
    const cfg = ctx.config;
    const v = violationFacts(reading, ctx);
    if (!v || v.storeId === null || v.confidence < cfg.minConfidence || v.riskClass <= cfg.maxAlertClass) return noEffects(state);
    const at = reading.receivedAt;
    const rec0 = prune(mapGet(state.stores, v.storeId) ?? { days: {}, last: {} }, at, cfg);
    const key = `${reading.deviceId}/${v.type}`;
    const prev = rec0.last[key];
    const repeat = prev !== undefined && prev <= at && withinWindow(at, prev, cfg.cooldownMs);
    const last = { ...rec0.last, [key]: Math.max(prev ?? at, at) };
    if (repeat) return noEffects({ ...state, stores: mapSet(state.stores, v.storeId, { ...rec0, last }) });
    const day = String(cstDay(at));
    const counts = rec0.days[day] ?? {};
    const days = { ...rec0.days, [day]: { ...counts, [v.type]: (counts[v.type] ?? 0) + 1 } };
    return noEffects({ ...state, stores: mapSet(state.stores, v.storeId, { days, last }) });
  },

  onTick(state, ctx, now) {
    if (now - state.prunedAt < PRUNE_EVERY_MS) return noEffects(state);
    const updates: Array<[string, ScoreRecord | undefined]> = [];
    for (const [storeId, rec] of mapEntries(state.stores)) {
      const pruned = prune(rec, now, ctx.config);
      if (empty(pruned)) updates.push([storeId, undefined]);
      else if (JSON.stringify(pruned) !== JSON.stringify(rec)) updates.push([storeId, pruned]);
    }
    return noEffects({ stores: updates.length ? mapUpdate(state.stores, updates) : state.stores, prunedAt: now });
  },
};

/**
 * The scores of `storeIds` (and of every store the state holds) at `now`, worst first, then by
 * store id. Pure: what GET /api/stores/scores answers.
 */
/** The period a score read at `now` covers: [from, to), whole CST days, today included. */
export function scorePeriod(cfg: Pick<StoreScoreConfig, 'periodDays'>, now: number): { from: number; to: number } {
  const today = cstDay(now);
  return { from: cstDayStart(today - cfg.periodDays + 1), to: cstDayStart(today + 1) };
}

export function storeScores(state: StoreScoreState | undefined, cfg: StoreScoreConfig, now: number, storeIds: Iterable<string> = []): StoreScore[] {
  const today = cstDay(now);
  const firstDay = today - cfg.periodDays + 1;
  const { from, to } = scorePeriod(cfg, now);
  const ids = new Set(storeIds);
  if (state) for (const [id] of mapEntries(state.stores)) ids.add(id);
  const out: StoreScore[] = [];
  for (const storeId of ids) {
    const rec = state ? mapGet(state.stores, storeId) : undefined;
    const counts: Partial<Record<ViolationType, number>> = {};
    for (const [d, byType] of Object.entries(rec?.days ?? {})) {
      const day = Number(d);
      if (day < firstDay || day > today) continue;
      for (const [t, n] of Object.entries(byType) as Array<[ViolationType, number]>) counts[t] = (counts[t] ?? 0) + n;
    }
    const deducted = (Object.entries(counts) as Array<[ViolationType, number]>)
      .reduce((sum, [t, n]) => sum + (cfg.weights[t] ?? storeScoreDefaults.weights[t]) * n, 0);
    out.push({ storeId, score: Math.max(0, FULL_SCORE - deducted), counts, deducted, from, to });
  }
  return out.sort((a, b) => a.score - b.score || (a.storeId < b.storeId ? -1 : a.storeId > b.storeId ? 1 : 0));
}
