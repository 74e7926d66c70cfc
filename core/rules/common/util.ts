/**
 * Small pure helpers shared by the rules: the one definition of "within a window" (so every
 * rule counts the way the engine dedupes alerts), typed access to a validated reading's data,
 * and the shared kinds of rule.
 */
import type { Effect, Rule, RuleResult } from '../../alerts/types.js';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * Is `at` within `windowMs` after `since`? Inclusive at the edge, exactly like the engine's
 * dedupe (`repeats` in core/alerts/alert.ts: `raise.at - a.lastSeen <= raise.windowMs`):
 * a repeat 600 000 ms after the last one still updates the open alert, 600 001 ms opens a new
 * one. Rules that count alerts (kitchen.repeat_offender) or incidents use the same edge so
 * their counts agree with what the operator sees.
 */
export function withinWindow(at: number, since: number, windowMs: number): boolean {
  return at - since <= windowMs;
}

/** Has a timer started at `since` run for `thresholdMs` by `at`? Fires at the threshold (>=). */
export function reached(at: number, since: number, thresholdMs: number): boolean {
  return at - since >= thresholdMs;
}

export function noEffects<S>(state: S): RuleResult<S> {
  return { state, effects: [] };
}

export function result<S>(state: S, effects: Effect[]): RuleResult<S> {
  return { state, effects };
}

/** Any rule, whatever its state and config; the same as core/ruleRunner.ts's, for the family indexes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRule = Rule<any, any>;

// Readings reach rules after schema validation (core/schemas), so these accessors only
// narrow `unknown` for the compiler; a wrong type reads as null and the rule skips it.
export function str(data: Record<string, unknown>, key: string): string | null {
  const v = data[key];
  return typeof v === 'string' ? v : null;
}

export function num(data: Record<string, unknown>, key: string): number | null {
  const v = data[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function bool(data: Record<string, unknown>, key: string): boolean | null {
  const v = data[key];
  return typeof v === 'boolean' ? v : null;
}

/** Keep the first seq (the one that opened an alert) and the most recent ones, at most `max`. */
export function appendSeq(seqs: readonly number[], seq: number, max: number): number[] {
  if (seqs.includes(seq)) return [...seqs];
  const next = [...seqs, seq];
  return next.length <= max ? next : [next[0]!, ...next.slice(next.length - (max - 1))];
}
