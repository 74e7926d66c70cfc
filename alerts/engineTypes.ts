/** What the alert engine tells and answers: its events, its persistence status, its pages. */
import type { Alert, TimelineEntry } from '../core/alerts/alert.js';
import type { AlertFilter, AlertKey, AlertSort } from '../core/alerts/alertQuery.js';
import type { RescueCase, RescueEvent } from '../core/alerts/rescueCase.js';
import type { BlackListEntry, ListStage } from '../core/stores/storeList.js';

export type Change = 'opened' | 'updated' | 'closed';

/** An alert change carries the record and the timeline entries it appended (a delta, not the history). */
export type EngineEvent =
  | { type: 'alert'; change: Change; alert: Alert; entries: TimelineEntry[] }
  | { type: 'rescueCase'; change: Change; rescueCase: RescueCase; events: RescueEvent[] }
  | { type: 'storeFlag'; storeId: string; flagged: boolean; count: number; at: number; stage: ListStage; entry: BlackListEntry };

/** The engine's events on the bus, each the EngineEvent of its type. */
export interface EngineEvents {
  alert: Extract<EngineEvent, { type: 'alert' }>;
  rescueCase: Extract<EngineEvent, { type: 'rescueCase' }>;
  storeFlag: Extract<EngineEvent, { type: 'storeFlag' }>;
}

export interface StoreFlag {
  storeId: string;
  /** on the black list now */
  flagged: boolean;
  count: number;
  /** the entry's last change */
  at: number;
  stage: ListStage;
}

/** The outcome of the engine's checkpoints: alerts, cases and rule state reaching the store. */
export interface EnginePersistStatus {
  ok: boolean;
  consecutiveFailures: number;
  /** failed checkpoints since start */
  failures: number;
  lastError: string | null;
  /** when the current run of failures began */
  failingSince: number | null;
  lastSavedAt: number | null;
}

/** A page of an alert list (listAlerts). */
export interface AlertPage {
  items: Alert[];
  /** the key of the last item when more follow, else null */
  next: AlertKey | null;
}

export interface AlertListQuery extends AlertFilter {
  sort: AlertSort;
  after: AlertKey | null;
  limit: number;
}

/** An alert with the newest part of its timeline (GET /api/alerts/:id). */
export interface AlertDetail extends Alert {
  timeline: TimelineEntry[];
  /** entries on the whole timeline; `timeline` holds the newest of them */
  timelineTotal: number;
}
