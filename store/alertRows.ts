/**
 * Alert rows read back as records, the same for both stores (store/duckdb/alerts.ts,
 * store/postgres/alerts.ts): each store's query names its columns as these expect, times as
 * epoch ms (a BIGINT may come as a string or a number). `text` reads a text column: DuckDB
 * keeps strings as they were given; PostgreSQL decodes the ones it had to store encoded
 * (store/postgres/text.ts).
 */
import type { Alert, TimelineAction, TimelineEntry } from '../core/alerts/alert.js';
import type { RescueCase } from '../core/alerts/rescueCase.js';
import type { NoteParams } from '../core/alerts/systemNotes.js';
import type { Family } from '../core/schemas/index.js';
import { numOrNull } from './rows.js';
import type { AlertOutcome } from './types.js';

type Row = Record<string, unknown>;
type Text = (v: unknown) => string;

/** Column `doc`: the alert record as JSON text. */
export const alertOf = (r: Row): Alert => JSON.parse(String(r.doc)) as Alert;

/** Column `doc`: the rescue case as JSON text. */
export const rescueCaseOf = (r: Row): RescueCase => JSON.parse(String(r.doc)) as RescueCase;

/** Columns: n, at (epoch ms), actor, action, note, code, params (JSON text); a NULL leaves its field out. */
export function timelineEntryOf(r: Row, text: Text = String): TimelineEntry {
  return {
    n: Number(r.n), at: Number(r.at), by: text(r.actor), action: String(r.action) as TimelineAction,
    ...(r.note === null ? {} : { note: text(r.note) }),
    ...(r.code === null ? {} : { code: text(r.code) }),
    ...(r.params === null ? {} : { params: JSON.parse(String(r.params)) as NoteParams }),
  };
}

/**
 * Columns: id, family, rule, severity, status, device_id, district, closed_by, and the times
 * first_seen, ack_by, resolve_by, acknowledged_at, resolved_at (epoch ms).
 */
export function alertOutcomeOf(r: Row, text: Text = String): AlertOutcome {
  const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : text(v));
  return {
    id: text(r.id), family: String(r.family) as Family, rule: text(r.rule), severity: String(r.severity) as Alert['severity'],
    status: String(r.status) as Alert['status'], firstSeen: Number(r.first_seen),
    device: { id: text(r.device_id), district: textOrNull(r.district) }, closedBy: textOrNull(r.closed_by),
    deadlines: { ackBy: numOrNull(r.ack_by), resolveBy: numOrNull(r.resolve_by), acknowledgedAt: numOrNull(r.acknowledged_at), resolvedAt: numOrNull(r.resolved_at) },
  };
}
