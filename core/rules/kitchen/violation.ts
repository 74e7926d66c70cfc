/**
 * kitchen.violation: one AI detection from a bright-kitchen (明厨亮灶) camera raises an alert
 * when its confidence reaches the threshold, with a severity from the detection's risk class.
 *
 * - Risk classes [reg, Hubei AI bright-kitchen inspection measures]: class 1 warns at once
 *   (rat; we add unattended flame, a fire risk), class 2 needs rectification within a deadline
 *   (smoking, uncovered bin and the handling faults), class 3 feeds a periodic score (hat,
 *   mask, clothes, gloves, phone): it raises no alert here (`maxAlertClass`, default 2) but
 *   counts in kitchen.store_score. Severity: critical / major / minor (minor when class 3 is
 *   configured to raise alerts).
 * - Confidence threshold: vendors use 0.3-0.4 [practice]; ours is 0.4 [default].
 * - A repeat of the same camera+type within 600 s updates the open alert instead of opening a
 *   new one [practice: vendors suppress repeats for 600 s; default 600 s]. The engine does this
 *   from the raise's `windowMs` (condition = the violation type), so the rule keeps no state.
 *
 * The alert keeps the evidence (seq, snapshot, confidence, box, store) so an operator can
 * check it and mark a wrong detection a false positive (docs/domain.md §1).
 */
import type { KitchenViolation, ViolationType } from '../../schemas/kitchen.js';
import { violationTypes } from '../../schemas/kitchen.js';
import type { RaiseAlert, Rule, RuleContext, RuleReading, Severity } from '../../alerts/types.js';
import { MINUTE, noEffects, num, str } from '../common/util.js';

export const VIOLATION_RULE_ID = 'kitchen.violation';

export type RiskClass = 1 | 2 | 3;

/** Risk class of each detection type [reg, Hubei trial measures; unattended_flame in class 1 is ours]. */
export const riskClasses: Readonly<Record<ViolationType, RiskClass>> = {
  rat: 1,
  unattended_flame: 1,
  smoking: 2,
  trash_uncovered: 2,
  board_mixed: 2,
  containers_stacked: 2,
  raw_cooked_mixed: 2,
  stranger: 2,
  no_chef_hat: 3,
  no_mask: 3,
  no_uniform: 3,
  no_gloves: 3,
  phone: 3,
};

/** Names for the UI and docs (docs/domain.md §1). */
export const violationNames: Readonly<Record<ViolationType, { zh: string; en: string }>> = {
  rat: { zh: '老鼠', en: 'rat' },
  no_chef_hat: { zh: '未戴厨师帽', en: 'no chef hat' },
  no_mask: { zh: '未戴口罩', en: 'no mask' },
  no_uniform: { zh: '未穿工作服', en: 'no work clothes' },
  no_gloves: { zh: '未戴手套', en: 'no gloves' },
  smoking: { zh: '抽烟', en: 'smoking' },
  phone: { zh: '玩手机', en: 'phone use' },
  trash_uncovered: { zh: '垃圾桶未盖', en: 'uncovered bin' },
  unattended_flame: { zh: '动火离人', en: 'unattended flame' },
  board_mixed: { zh: '刀墩混用', en: 'mixed knives/boards' },
  containers_stacked: { zh: '盛装食品容器叠放', en: 'stacked food containers' },
  raw_cooked_mixed: { zh: '生熟混放', en: 'raw/cooked mixed' },
  stranger: { zh: '陌生人', en: 'stranger in kitchen' },
};

export interface ViolationConfig {
  /** detections below this confidence raise nothing [default 0.4; vendors 0.3-0.4] */
  minConfidence: number;
  /** a repeat of the same camera+type within this updates the open alert [default 600 s] */
  cooldownMs: number;
  /** risk class per detection type [reg, Hubei trial measures] */
  riskClasses: Record<ViolationType, RiskClass>;
  /** alert severity per risk class: class 1 warns at once, 2 needs rectification, 3 is scored */
  severityByClass: Record<`${RiskClass}`, Severity>;
  /**
   * classes up to this one raise an alert; those above feed the store's periodic score
   * (kitchen.store_score) and are not chased one by one [reg, Hubei trial measures: class 3 is
   * scored; default 2]. 3: every class raises an alert.
   */
  maxAlertClass: RiskClass;
}

export const violationDefaults: ViolationConfig = {
  minConfidence: 0.4,
  cooldownMs: 10 * MINUTE,
  riskClasses: { ...riskClasses },
  severityByClass: { 1: 'critical', 2: 'major', 3: 'minor' },
  maxAlertClass: 2,
};

/** The validated violation fields a rule uses, plus the store id (reading, else device meta). */
export interface ViolationFacts {
  type: ViolationType;
  riskClass: RiskClass;
  confidence: number;
  storeId: string | null;
  area: string | null;
  snapshotUrl: string | null;
  bbox: [number, number, number, number] | null;
}

const isViolationType = (s: string | null): s is ViolationType => s !== null && (violationTypes as readonly string[]).includes(s);

/** Read a kitchen/violation reading; null when it is not one (or a field is unusable). */
export function violationFacts(reading: RuleReading, ctx: RuleContext<{ riskClasses: Record<ViolationType, RiskClass> }>): ViolationFacts | null {
  if (reading.family !== 'kitchen' || reading.channel !== 'violation') return null;
  const data = reading.data as Partial<Omit<KitchenViolation, 'msgId' | 'ts'>> & Record<string, unknown>;
  const type = str(data, 'type');
  const confidence = num(data, 'confidence');
  if (!isViolationType(type) || confidence === null) return null;
  const metaStore = ctx.device(reading.deviceId)?.meta['storeId'];
  const bbox = Array.isArray(data.bbox) && data.bbox.length === 4 && data.bbox.every((n) => typeof n === 'number')
    ? [data.bbox[0], data.bbox[1], data.bbox[2], data.bbox[3]] as [number, number, number, number]
    : null;
  return {
    type,
    // a config that forgets a type falls back to the regulation's table
    riskClass: ctx.config.riskClasses[type] ?? riskClasses[type],
    confidence,
    storeId: str(data, 'storeId') ?? (typeof metaStore === 'string' && metaStore !== '' ? metaStore : null),
    area: str(data, 'area'),
    snapshotUrl: str(data, 'snapshotUrl'),
    bbox,
  };
}

export type ViolationState = Record<string, never>;

export const violationRule: Rule<ViolationState, ViolationConfig> = {
  id: VIOLATION_RULE_ID,
  family: 'kitchen',
  channels: ['violation'],
  defaults: violationDefaults,
  init: () => ({}),

  onReading(state, reading, ctx) {
    const cfg = ctx.config;
    const v = violationFacts(reading, ctx);
    if (!v || v.confidence < cfg.minConfidence || v.riskClass > (cfg.maxAlertClass ?? violationDefaults.maxAlertClass)) return noEffects(state);
    const severity = cfg.severityByClass[`${v.riskClass}`] ?? violationDefaults.severityByClass[`${v.riskClass}`];
    const raise: RaiseAlert = {
      type: 'raise',
      rule: VIOLATION_RULE_ID,
      family: 'kitchen',
      deviceId: reading.deviceId,
      condition: v.type,
      severity,
      windowMs: cfg.cooldownMs,
      summary: `Kitchen violation: ${violationNames[v.type].en} (class ${v.riskClass}) at store ${v.storeId ?? '?'}, confidence ${v.confidence}`,
      params: {
        type: v.type,
        riskClass: v.riskClass,
        confidence: v.confidence,
        storeId: v.storeId,
        area: v.area,
      },
      evidence: {
        seqs: [reading.seq],
        ...(v.snapshotUrl !== null ? { snapshotUrl: v.snapshotUrl } : {}),
        values: {
          confidence: v.confidence,
          storeId: v.storeId,
          // evidence values are scalars: the box as "x1,y1,x2,y2" (fractions of the frame)
          bbox: v.bbox ? v.bbox.join(',') : null,
        },
      },
      at: reading.receivedAt,
      // class 2 "must be rectified within a deadline" (docs/domain.md §1): the store answers, the bureau re-checks
      ...(v.riskClass === 2 ? { handling: 'rectification' as const } : {}),
    };
    return { state, effects: [raise] };
  },
};
