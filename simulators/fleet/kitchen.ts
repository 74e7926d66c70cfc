/**
 * Kitchen cameras: AI detections at a random pace, and scripted ones (scenario
 * `violation`). Pure and seeded, as all of behaviour.ts.
 */
import type { ViolationType } from '../../core/schemas/index.js';
import { heartbeat, message, round2, type Base, type OutMsg, type Step } from './messages.js';
import type { Rng } from './rng.js';

/** The observed mix of AI detections: hats, masks and clothes dominate, rats are rare. */
export const violationMix: ReadonlyArray<readonly [ViolationType, number]> = [
  ['no_chef_hat', 22], ['no_mask', 20], ['no_uniform', 10], ['no_gloves', 8], ['phone', 10],
  ['smoking', 6], ['trash_uncovered', 8], ['board_mixed', 3], ['containers_stacked', 3],
  ['raw_cooked_mixed', 3], ['stranger', 3], ['unattended_flame', 2], ['rat', 2],
];

export interface KitchenState extends Base {
  family: 'kitchen';
  storeId: string;
  area: string;
  /** mean time between detections (scenario ms); 0 = none */
  meanViolationMs: number;
  nextViolationAt: number;
  /** share of detections below the 0.4 alert threshold (the AI is not sure) */
  lowConfidenceShare: number;
}

export function violationPayload(s: KitchenState, rng: Rng, type: ViolationType, confidence: number): Record<string, unknown> {
  const x1 = round2(rng.range(0, 0.6));
  const y1 = round2(rng.range(0, 0.6));
  return {
    storeId: s.storeId, type, confidence: round2(Math.min(1, Math.max(0, confidence))), area: s.area,
    snapshotUrl: `https://cam.example/${s.id}/${s.seq + 1}.jpg`,
    bbox: [x1, y1, round2(Math.min(1, x1 + rng.range(0.05, 0.4))), round2(Math.min(1, y1 + rng.range(0.05, 0.4)))],
  };
}

export function stepKitchen(state: KitchenState, rng: Rng, now: number): Step<KitchenState> {
  const out: OutMsg[] = [];
  let s = heartbeat(state, rng, now, out);
  if (s.meanViolationMs > 0 && now >= s.nextViolationAt) {
    const type = rng.weighted(violationMix.map((m) => m[0]), violationMix.map((m) => m[1]));
    const confidence = rng.chance(s.lowConfidenceShare) ? rng.range(0.2, 0.39) : rng.range(0.45, 0.98);
    const [next, msg] = message(s, now, 'violation', violationPayload(s, rng, type, confidence));
    out.push(msg);
    s = { ...next, nextViolationAt: now + rng.exp(s.meanViolationMs) / s.timeScale };
  }
  return { state: s, messages: out };
}

/** A scripted detection (scenario `violation`). */
export function kitchenViolation(state: KitchenState, rng: Rng, now: number, type: ViolationType, confidence: number): Step<KitchenState> {
  const [s, msg] = message(state, now, 'violation', violationPayload(state, rng, type, confidence));
  return { state: s, messages: [msg] };
}
