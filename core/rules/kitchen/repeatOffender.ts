/**
 * kitchen.repeat_offender: 3 or more class-1/2 violation alerts for one store within 7 days
 * flag the store for the public red/black list (红黑榜) [default, docs/domain.md §1].
 * "Class-2+" means class 2 or worse, i.e. classes 1 and 2; class 3 only feeds a periodic score.
 *
 * What counts is distinct alerts, as the operator sees them: the rule replays the engine's
 * dedupe for kitchen.violation (same camera+type within `cooldownMs` of the previous
 * detection, inclusive, updates the open alert) so a camera that reports the same smoker
 * every 10 s counts once. Detections below `minConfidence` raise no alert and do not count.
 * Both keys, and the risk classes, come from kitchen.violation's overrides (`configFrom`).
 *
 * False positives must not count against the store (docs/domain.md §1): the engine calls
 * `markFalsePositive` when an operator marks a kitchen.violation alert so; that occurrence
 * leaves the count and, if the flag no longer stands, the store is unflagged and this rule's
 * alert resolved. An alert closed by the operator (resolved or false positive) is closed for
 * the engine's dedupe too: the next detection of that camera+type opens a new alert, and
 * counts as new here (call `markClosed` on a plain resolve to keep the two in step).
 *
 * The flag is sticky: it records the occurrences that justified it and stays until a
 * false-positive marking leaves fewer than `threshold` of them (and no fresh window of
 * `threshold` exists). A flag does not lapse when the 7 days pass: taking a store off the
 * list after rectification is a decision of the bureau, not of the clock.
 *
 * Time: the reading's `receivedAt` (the platform clock), as the engine dedupes raises on
 * the raise's `at`, which kitchen.violation sets to `receivedAt`.
 */
import type { ViolationType } from '../../schemas/kitchen.js';
import type { Effect, FlagStore, RaiseAlert, ResolveAlert, Rule, RuleResult, Severity } from '../../alerts/types.js';
import { resolveReason } from '../../alerts/systemNotes.js';
import { emptyMap, mapDelete, mapEntries, mapGet, mapSet, mapUpdate, type ShardedMap } from '../common/shardedMap.js';
import { DAY, MINUTE, appendSeq, noEffects, withinWindow } from '../common/util.js';
import { VIOLATION_RULE_ID, riskClasses, violationDefaults, violationFacts, type RiskClass } from './violation.js';

export const REPEAT_OFFENDER_RULE_ID = 'kitchen.repeat_offender';

export interface RepeatOffenderConfig {
  /** this many counted alerts within windowMs flag the store [default 3] */
  threshold: number;
  /** the counting window [default 7 days] */
  windowMs: number;
  /** classes up to this one count (1 and 2: "class-2+") [default 2] */
  maxCountedClass: RiskClass;
  /** must equal kitchen.violation's: below it no alert is raised */
  minConfidence: number;
  /** must equal kitchen.violation's: a repeat within it is the same alert */
  cooldownMs: number;
  /** must equal kitchen.violation's */
  riskClasses: Record<ViolationType, RiskClass>;
  severity: Severity;
}

export const repeatOffenderDefaults: RepeatOffenderConfig = {
  threshold: 3,
  windowMs: 7 * DAY,
  maxCountedClass: 2,
  minConfidence: violationDefaults.minConfidence,
  cooldownMs: violationDefaults.cooldownMs,
  riskClasses: { ...riskClasses },
  severity: 'major',
};

/** Seqs kept per occurrence to find it from an alert: the first (the alert's opening reading) and the latest. */
export const MAX_SEQS_PER_OCCURRENCE = 20;

/** One kitchen.violation alert, as this rule replays the engine's dedupe. */
export interface Occurrence {
  /** `${deviceId}/${type}/${first seq}` */
  key: string;
  deviceId: string;
  type: ViolationType;
  firstAt: number;
  lastAt: number;
  seqs: number[];
  falsePositive: boolean;
  /** closed by an operator: a later detection is a new alert */
  closed: boolean;
}

export interface StoreFlag {
  /** the camera whose detection flagged the store: the deviceId of this rule's alert */
  deviceId: string;
  at: number;
  /** keys of the counted occurrences that justify the flag */
  basis: string[];
}

export interface StoreRecord {
  occurrences: Occurrence[];
  flag: StoreFlag | null;
}

export interface RepeatOffenderState {
  /** per store id */
  stores: ShardedMap<StoreRecord>;
  /** last time onTick pruned every store */
  prunedAt: number;
}

/** onTick prunes all stores at most this often (each reading prunes its own store). */
export const PRUNE_EVERY_MS = MINUTE;

const counts = (o: Occurrence, at: number, cfg: RepeatOffenderConfig): boolean =>
  !o.falsePositive && o.firstAt <= at && withinWindow(at, o.firstAt, cfg.windowMs);

/** Keep what can still count, can still absorb a repeat, or justifies a flag; drop the rest. */
function prune(rec: StoreRecord, at: number, cfg: RepeatOffenderConfig): StoreRecord {
  const basis = rec.flag?.basis ?? [];
  const occurrences = rec.occurrences.filter((o) =>
    withinWindow(at, o.firstAt, cfg.windowMs) || (!o.closed && withinWindow(at, o.lastAt, cfg.cooldownMs)) || basis.includes(o.key));
  return occurrences.length === rec.occurrences.length ? rec : { ...rec, occurrences };
}

const keep = (rec: StoreRecord): boolean => rec.occurrences.length > 0 || rec.flag !== null;

const setStore = (state: RepeatOffenderState, storeId: string, rec: StoreRecord): RepeatOffenderState =>
  ({ ...state, stores: keep(rec) ? mapSet(state.stores, storeId, rec) : mapDelete(state.stores, storeId) });

function raiseFor(storeId: string, flag: StoreFlag, counted: Occurrence[], cfg: RepeatOffenderConfig, at: number): RaiseAlert {
  return {
    type: 'raise',
    rule: REPEAT_OFFENDER_RULE_ID,
    family: 'kitchen',
    deviceId: flag.deviceId,
    condition: storeId,
    severity: cfg.severity,
    // later counted alerts within the window update this alert (count + 1)
    windowMs: cfg.windowMs,
    summary: `Store ${storeId}: ${counted.length} class 1-2 kitchen violations within ${Math.round(cfg.windowMs / DAY)} days (threshold ${cfg.threshold})`,
    params: { storeId, count: counted.length, threshold: cfg.threshold, windowDays: cfg.windowMs / DAY, types: [...new Set(counted.map((o) => o.type))].join(',') },
    evidence: { seqs: counted.map((o) => o.seqs[0]!), values: { storeId, count: counted.length } },
    at,
  };
}

const flagEffect = (storeId: string, flagged: boolean, count: number, at: number): FlagStore => ({ type: 'flagStore', storeId, flagged, count, at });

export const repeatOffenderRule: Rule<RepeatOffenderState, RepeatOffenderConfig> = {
  id: REPEAT_OFFENDER_RULE_ID,
  family: 'kitchen',
  channels: ['violation'],
  defaults: repeatOffenderDefaults,
  // it replays kitchen.violation's detection: an override of its minConfidence, cooldownMs or
  // riskClasses applies here too (otherwise three alerts the operators see would not flag)
  configFrom: VIOLATION_RULE_ID,
  init: () => ({ stores: emptyMap(), prunedAt: 0 }),

  onReading(state, reading, ctx) {
    const cfg = ctx.config;
    const v = violationFacts(reading, ctx);
    if (!v || v.confidence < cfg.minConfidence || v.riskClass > cfg.maxCountedClass || v.storeId === null) return noEffects(state);
    const at = reading.receivedAt;
    const storeId = v.storeId;
    const rec0 = mapGet(state.stores, storeId) ?? { occurrences: [], flag: null };

    // the engine's dedupe: the newest open occurrence of this camera+type, last seen within the cooldown
    let current: Occurrence | undefined;
    for (const o of rec0.occurrences) {
      if (o.deviceId === reading.deviceId && o.type === v.type && !o.closed && (!current || o.lastAt > current.lastAt)) current = o;
    }
    if (current && withinWindow(at, current.lastAt, cfg.cooldownMs)) {
      const cur = current;
      const updated: Occurrence = { ...cur, lastAt: Math.max(cur.lastAt, at), seqs: appendSeq(cur.seqs, reading.seq, MAX_SEQS_PER_OCCURRENCE) };
      const rec = { ...rec0, occurrences: rec0.occurrences.map((o) => (o === cur ? updated : o)) };
      return noEffects(setStore(state, storeId, rec));
    }

    const occ: Occurrence = {
      key: `${reading.deviceId}/${v.type}/${reading.seq}`,
      deviceId: reading.deviceId,
      type: v.type,
      firstAt: at,
      lastAt: at,
      seqs: [reading.seq],
      falsePositive: false,
      closed: false,
    };
    let rec = prune({ ...rec0, occurrences: [...rec0.occurrences, occ] }, at, cfg);
    const counted = rec.occurrences.filter((o) => counts(o, at, cfg));
    if (counted.length < cfg.threshold) return noEffects(setStore(state, storeId, rec));

    // flag (or refresh the flag's basis with the current window) and raise / update the alert
    const flag: StoreFlag = rec.flag
      ? { ...rec.flag, basis: counted.map((o) => o.key) }
      : { deviceId: reading.deviceId, at, basis: counted.map((o) => o.key) };
    rec = { ...rec, flag };
    return {
      state: setStore(state, storeId, rec),
      effects: [flagEffect(storeId, true, counted.length, at), raiseFor(storeId, flag, counted, cfg, at)],
    };
  },

  onTick(state, ctx, now) {
    if (now - state.prunedAt < PRUNE_EVERY_MS) return noEffects(state);
    const updates: Array<[string, StoreRecord | undefined]> = [];
    for (const [storeId, rec] of mapEntries(state.stores)) {
      const pruned = prune(rec, now, ctx.config);
      if (pruned !== rec) updates.push([storeId, keep(pruned) ? pruned : undefined]);
    }
    return noEffects({ stores: mapUpdate(state.stores, updates), prunedAt: now });
  },

  // an operator's false positive leaves the store's count (and may lift its flag); a resolve closes the occurrence
  onAlertClosed(state, e, ctx) {
    const ref = occurrenceRefFromAlert(e.alert, e.at);
    if (!ref) return noEffects(state);
    return e.falsePositive ? markFalsePositive(state, ref, ctx.config) : markClosed(state, ref);
  },
};

/**
 * Which alert an operator acted on: its store, and its occurrence key or seqs of its evidence
 * (any one that this rule kept matches: it keeps the first and the latest seqs of each alert).
 */
export interface OccurrenceRef {
  storeId: string;
  seq?: number;
  seqs?: readonly number[];
  key?: string;
  at: number;
}

function findOccurrence(rec: StoreRecord, ref: OccurrenceRef): Occurrence | undefined {
  const wanted = [...(ref.seqs ?? []), ...(ref.seq !== undefined ? [ref.seq] : [])];
  return rec.occurrences.find((o) => (ref.key !== undefined && o.key === ref.key) || o.seqs.some((s) => wanted.includes(s)));
}

/** The parts of an alert (core/alerts/alert.ts `Alert`) that identify its occurrence. */
export interface AlertLike {
  rule: string;
  params: Record<string, string | number | boolean | null>;
  device: { id: string; meta: Record<string, unknown> };
  evidence: ReadonlyArray<{ seqs: readonly number[] }>;
}

/**
 * The occurrence reference of an operator's false positive (or resolve), or null when the
 * alert is not a kitchen.violation one (camera_dark and repeat_offender alerts are kitchen
 * alerts too, but they are not detections and never counted).
 */
export function occurrenceRefFromAlert(alert: AlertLike, at: number): OccurrenceRef | null {
  if (alert.rule !== VIOLATION_RULE_ID) return null;
  const storeId = typeof alert.params['storeId'] === 'string' ? alert.params['storeId']
    : typeof alert.device.meta['storeId'] === 'string' ? alert.device.meta['storeId'] : null;
  if (storeId === null) return null;
  return { storeId, seqs: alert.evidence.flatMap((e) => e.seqs), at };
}

/**
 * An operator marked a kitchen.violation alert a false positive (core/alerts/alert.ts
 * `markFalsePositive`). Pure: returns the new state and, when the flag no longer stands, a
 * `flagStore` flagged false and a `resolve` of this rule's alert. Unknown or aged-out
 * occurrences change nothing (they no longer count anyway).
 */
export function markFalsePositive(
  state: RepeatOffenderState,
  ref: OccurrenceRef,
  cfg: RepeatOffenderConfig = repeatOffenderDefaults,
): RuleResult<RepeatOffenderState> {
  const rec0 = mapGet(state.stores, ref.storeId);
  const occ = rec0 && findOccurrence(rec0, ref);
  if (!rec0 || !occ || occ.falsePositive) return noEffects(state);
  const marked: Occurrence = { ...occ, falsePositive: true, closed: true };
  let rec: StoreRecord = { ...rec0, occurrences: rec0.occurrences.map((o) => (o === occ ? marked : o)) };
  if (!rec.flag) return noEffects(setStore(state, ref.storeId, rec));

  const flag = rec.flag;
  const basis = flag.basis.filter((k) => k !== occ.key);
  let effects: Effect[] = [];
  if (basis.length >= cfg.threshold) {
    rec = { ...rec, flag: { ...flag, basis } };
  } else {
    // the flag's own basis fell short; a fresh window of valid alerts may still justify it
    const current = rec.occurrences.filter((o) => counts(o, ref.at, cfg));
    if (current.length >= cfg.threshold) {
      rec = { ...rec, flag: { ...flag, basis: current.map((o) => o.key) } };
    } else {
      rec = { ...rec, flag: null };
      const resolve: ResolveAlert = {
        type: 'resolve', rule: REPEAT_OFFENDER_RULE_ID, deviceId: flag.deviceId, condition: ref.storeId,
        ...resolveReason('repeat_offender.lifted', { occurrence: occ.key, valid: basis.length, threshold: cfg.threshold }), at: ref.at,
      };
      effects = [flagEffect(ref.storeId, false, basis.length, ref.at), resolve];
    }
  }
  return { state: setStore(state, ref.storeId, prune(rec, ref.at, cfg)), effects };
}

/**
 * An operator resolved a kitchen.violation alert (not as a false positive). It still counts,
 * but it is closed: the engine opens a new alert for the next detection of that camera+type,
 * so this rule must count that one as new too.
 */
export function markClosed(state: RepeatOffenderState, ref: OccurrenceRef): RuleResult<RepeatOffenderState> {
  const rec = mapGet(state.stores, ref.storeId);
  const occ = rec && findOccurrence(rec, ref);
  if (!rec || !occ || occ.closed) return noEffects(state);
  return noEffects(setStore(state, ref.storeId, { ...rec, occurrences: rec.occurrences.map((o) => (o === occ ? { ...o, closed: true } : o)) }));
}
