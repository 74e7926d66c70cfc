/**
 * The alert engine's domain vocabulary. Rules are pure functions of (rule state, input, now)
 * returning the new state and effects as data; adapters (store, MQTT, HTTP, webhooks)
 * execute the effects. Time is always passed in, so deadline and timer tests never sleep.
 *
 * Rule state must be plain JSON (records, arrays, numbers, strings; no Map/Set/Date): the
 * engine persists it so that a restart in the middle of a 90 s trapped timer or a 600 s
 * cooldown gives the same alerts as no restart.
 */
import type { Reading } from '../reading.js';
import type { Family } from '../schemas/index.js';
import type { Alert } from './alert.js';
import type { NoteParams, SystemNoteCode } from './systemNotes.js';

export type Severity = 'critical' | 'major' | 'minor' | 'info';

/** A stored reading as rules see it (ingest hands every committed reading to the engine). */
export type RuleReading = Omit<Reading, 'qos' | 'extra'>;

/** What rules may know about a device (from the registry). */
export interface DeviceInfo {
  id: string;
  family: Family;
  name: string | null;
  district: string | null;
  meta: Record<string, unknown>;
}

/** A cylinder's record (一瓶一码一档), docs/domain.md §3. Dates are epoch ms (UTC midnight). */
export interface CylinderRecord {
  code: string;
  model: string;
  mfgDate: number;
  designLifeYears: number;
  lastInspection: number | null;
  nextInspection: number | null;
  ownerStationId: string;
  /** stations this cylinder is entrusted to besides its owner */
  entrustedStationIds: string[];
  status: 'in_service' | 'scrapped' | 'lost';
  maxFillKg: number;
}

/** Evidence kept on an alert: the readings (by seq) that triggered it and key values. */
export interface Evidence {
  seqs: number[];
  snapshotUrl?: string;
  values?: Record<string, string | number | boolean | null>;
}

/**
 * Open an alert, or update the open one with the same (rule, deviceId, condition) when its
 * last occurrence is within `windowMs` (count + 1, last seen = at). Distinct conditions of
 * one rule on one device are distinct alerts.
 */
export interface RaiseAlert {
  type: 'raise';
  /** stable rule id, e.g. `kitchen.violation`, `elevator.trapped`; docs/rules.md has one row each */
  rule: string;
  family: Family;
  deviceId: string;
  /** what distinguishes conditions of one rule on one device (violation type, fault code, ...); '' when there is one */
  condition: string;
  severity: Severity;
  windowMs: number;
  /** English one-line summary; the UI builds its own text from rule + params */
  summary: string;
  params: Record<string, string | number | boolean | null>;
  evidence: Evidence;
  at: number;
  /**
   * `rectification`: the store must answer and is re-checked (class-2 kitchen detections,
   * docs/domain.md §1, Rectification): the alert's deadlines are the answer's and the
   * re-check's, and it is acknowledged by the store's answer (core/alerts/rectification.ts).
   */
  handling?: 'rectification';
}

/** Resolve the open alert of (rule, deviceId, condition) if there is one (e.g. fault 40 back to normal). */
export interface ResolveAlert {
  type: 'resolve';
  rule: string;
  deviceId: string;
  condition: string;
  /** why, as a code of core/alerts/systemNotes.ts (the auto-resolve entry's `code`), with its parameters */
  code: SystemNoteCode;
  params?: NoteParams;
  /** the same in English, rendered from the code (resolveReason), for logs and API consumers */
  reason: string;
  at: number;
}

export type ScanDecision = 'allow' | 'refuse';

/** The allow/refuse answer to a cylinder scan, sent on cylinder/{id}/scan/reply (docs/protocol.md). */
export interface ScanReply {
  type: 'scanReply';
  deviceId: string;
  msgId: string;
  cylinderCode: string;
  decision: ScanDecision;
  reasons: string[];
  at: number;
}

/** Flag (or unflag) a store on the repeat-offender list (红黑榜), docs/domain.md §1. */
export interface FlagStore {
  type: 'flagStore';
  storeId: string;
  flagged: boolean;
  count: number;
  at: number;
}

export type Effect = RaiseAlert | ResolveAlert | ScanReply | FlagStore;

export interface RuleResult<S> {
  state: S;
  effects: Effect[];
}

/** Read-only facts a rule may consult. Pure lookups over snapshots the adapter provides. */
export interface RuleContext<C> {
  /** the rule's thresholds (documented defaults, overridable by config) */
  config: C;
  device(id: string): DeviceInfo | undefined;
  cylinder(code: string): CylinderRecord | undefined;
}

export interface Rule<S, C> {
  id: string;
  family: Family;
  /** channels whose readings this rule wants; [] for clock-only rules */
  channels: readonly string[];
  defaults: C;
  /** problems of a configuration beyond its types (ALERT_OVERRIDES is checked with it at start); none when absent */
  checkConfig?(config: C): string[];
  init(): S;
  onReading?(state: S, reading: RuleReading, ctx: RuleContext<C>, now: number): RuleResult<S>;
  /** called by the engine's clock (every second or so) for timer rules */
  onTick?(state: S, ctx: RuleContext<C>, now: number): RuleResult<S>;
  /** a device's MQTT connection opened or closed */
  onConnection?(state: S, event: { deviceId: string; connected: boolean }, ctx: RuleContext<C>, now: number): RuleResult<S>;
  /**
   * The service was not listening (a start after a stop or a crash) and is back: devices could
   * not be heard meanwhile, so rules that time silence restart their clocks at `now`.
   */
  onResume?(state: S, now: number): S;
  /** An operator closed one of the alerts (resolved it, or marked it a false positive): rules that count alerts hear of it. */
  onAlertClosed?(state: S, e: AlertClosed, ctx: RuleContext<C>): RuleResult<S>;
  /** The id of a rule whose overrides this one takes first: a rule that runs another's detector keeps its thresholds equal. */
  configFrom?: string;
}

export interface AlertClosed {
  alert: Alert;
  falsePositive: boolean;
  at: number;
}
