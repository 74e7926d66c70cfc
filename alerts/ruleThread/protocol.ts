/**
 * What crosses between the event loop and the rules' worker thread (docs/architecture.md,
 * Threads). The worker holds the rules' states (all but the cylinder family's, whose scan reply
 * cannot wait: workerRules.ts) and a mirror of what rules may know of each device; the main
 * thread holds the alerts, cases, deadlines and checkpoints, and applies the effects.
 *
 * Committed readings cross as the journal's frame of their commit (store/journal/frame.ts),
 * copied once and transferred, and are decoded in the worker: the busy thread pays a copy per
 * commit, not a structured clone per reading. Every input is answered exactly once, in the
 * order it was sent (effects, a snapshot, a value), which is what keeps a checkpoint's rule
 * states and alerts in step (alerts/rulesCore.ts).
 */
import type { AlertClosed, DeviceInfo } from '../../core/alerts/types.js';
import type { Reading } from '../../store/types.js';
import type { SerializedError } from '../../store/worker/protocol.js';
import type { EffectGroup, StoreScoreAnswer } from '../rulesCore.js';

export interface RulesWorkerData {
  /** the rules the worker runs, by id (core/rules/index.ts allRules), in the engine's order */
  ruleIds: string[];
  overrides: Record<string, Record<string, unknown>>;
}

export type ToRules =
  | { kind: 'start'; saved: Record<string, unknown>; lastSeq: number; devices: DeviceInfo[] }
  | { kind: 'devices'; devices: DeviceInfo[] }
  /** a commit's journal frame; `now` null in a replay */
  | { kind: 'frame'; frame: Uint8Array; now: number | null }
  | { kind: 'readings'; readings: Reading[]; now: number | null }
  | { kind: 'tick'; now: number }
  | { kind: 'connection'; deviceId: string; connected: boolean; family: string; now: number }
  | { kind: 'resume'; now: number }
  | { kind: 'alertClosed'; e: AlertClosed }
  | { kind: 'snapshot' }
  | { kind: 'storeScores'; storeIds: string[]; now: number }
  /** answered with no effects: everything before it has been answered */
  | { kind: 'barrier' }
  | { kind: 'stop' };

/** The kinds of input answered (one answer each, in order); `devices` and `stop` are not. */
export type AnsweredKind = Exclude<ToRules['kind'], 'devices' | 'stop'>;

export interface RuleFailure {
  rule: string;
  error: SerializedError;
}

export type FromRules =
  | { kind: 'started' }
  | { kind: 'effects'; groups: EffectGroup[]; errors: RuleFailure[] }
  | { kind: 'snapshot'; changed: Record<string, string>; errors: RuleFailure[] }
  | { kind: 'storeScores'; value: StoreScoreAnswer }
  | { kind: 'stopped' };
