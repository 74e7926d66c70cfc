/**
 * Reading a row back as a record, the same for every store (DuckDB's and PostgreSQL's drivers
 * both give plain objects by column name; a BIGINT may come as a string or a number). Each
 * store's query names its columns as these expect.
 */
import type { AuditEntry, ConnectionState } from './types.js';

type Row = Record<string, unknown>;

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** Columns: id, at (epoch ms), actor, action, target_kind, target_id, address, details (JSON text). */
export function auditEntryOf(r: Row): AuditEntry {
  return {
    id: Number(r.id),
    at: numOrNull(r.at) ?? 0,
    actor: strOrNull(r.actor),
    action: String(r.action),
    targetKind: strOrNull(r.target_kind),
    targetId: strOrNull(r.target_id),
    address: strOrNull(r.address),
    details: r.details ? JSON.parse(String(r.details)) as AuditEntry['details'] : null,
  };
}

/** Columns: device_id, connected, last_seen, last_connected_at, last_disconnected_at (epoch ms), remote_address. */
export function connectionStateOf(r: Row): ConnectionState {
  return {
    deviceId: String(r.device_id),
    connected: Boolean(r.connected),
    lastSeen: numOrNull(r.last_seen),
    lastConnectedAt: numOrNull(r.last_connected_at),
    lastDisconnectedAt: numOrNull(r.last_disconnected_at),
    remoteAddress: strOrNull(r.remote_address),
  };
}
