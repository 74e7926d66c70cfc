/**
 * The store interface: everything the service persists goes through this, a repository per
 * aggregate, so the DuckDB default can be swapped or wrapped (the journal wraps the readings;
 * the InfluxDB forwarder reads them by position).
 * Times are epoch milliseconds throughout.
 */
import type { Alert, TimelineEntry } from '../core/alerts/alert.js';
import type { AlertFilter, AlertKey, AlertSort } from '../core/alerts/alertQuery.js';
import type { RescueCase, RescueStatus } from '../core/alerts/rescueCase.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import type { CylinderVersion, ScanQuery, StoredScan } from '../core/cylinders/trace.js';
import type { Role } from '../core/roles.js';
import type { Family } from '../core/schemas/index.js';

import type { AlertOutcome } from '../core/alerts/onTime.js';
import type { Reading } from '../core/reading.js';

export type { Reading };

export interface StoredReading {
  seq: number;
  channel: string;
  msgId: string;
  ts: number;
  receivedAt: number;
  data: Record<string, unknown>;
  extra: Record<string, unknown> | null;
}

export interface DeadLetter {
  id: number;
  receivedAt: number;
  deviceId: string | null;
  clientId: string | null;
  topic: string;
  qos: number;
  reason: string;
  detail: string;
  /** field-level problems: [{path, message}] */
  issues: Array<{ path: string; message: string }> | null;
  msgId: string | null;
  /** raw payload bytes, possibly truncated to DEAD_LETTER_RAW_MAX_BYTES */
  raw: Uint8Array;
  rawSize: number;
  remoteAddress: string | null;
}

export interface Location {
  lat: number;
  lng: number;
}

export interface DeviceRecord {
  id: string;
  family: Family;
  name: string | null;
  location: Location | null;
  district: string | null;
  meta: Record<string, unknown>;
  /** hex SHA-256 of the device secret; the secret itself is never stored */
  secretHash: string;
  createdAt: number;
  updatedAt: number;
}

export interface ConnectionState {
  deviceId: string;
  connected: boolean;
  lastSeen: number | null;
  lastConnectedAt: number | null;
  lastDisconnectedAt: number | null;
  remoteAddress: string | null;
}

export interface UserRecord {
  username: string;
  role: Role;
  passwordHash: string;
  createdAt: number;
  /** a disabled user cannot log in and holds no session */
  disabled: boolean;
  /** GB/T 2260 code prefix the user sees and handles (accounts/scope.ts); null: the whole city; always null for admins */
  district: string | null;
}

/** A bearer token's session, stored by the token's SHA-256 (never the token itself). */
export interface SessionRecord {
  tokenHash: string;
  username: string;
  createdAt: number;
  expiresAt: number;
}

export interface ReadingQuery {
  deviceId: string;
  family: Family;
  /** one channel, or every channel of the family */
  channel?: string;
  from?: number;
  to?: number;
  limit: number;
}

/** Downsampled history of one numeric field (dashboard device view). */
export interface HistoryQuery {
  deviceId: string;
  family: Family;
  channel: string;
  /** payload field name, e.g. speedMps */
  field: string;
  from: number;
  to: number;
  /** bucket width in ms */
  bucketMs: number;
}

export interface HistoryBucket {
  /** bucket start, epoch ms */
  t: number;
  min: number;
  max: number;
  avg: number;
  n: number;
}

export interface DeadLetterQuery {
  deviceId?: string;
  /** only dead letters naming a registered device whose district has this prefix (a scoped account's) */
  district?: string;
  reason?: string;
  since?: number;
  /** received before (exclusive) */
  until?: number;
  /** ids below this one (keyset paging, newest first) */
  before?: number;
  /** only these ids (a replay's selection) */
  ids?: readonly number[];
  limit: number;
}

export interface DeviceQuery {
  family?: Family;
  district?: string;
  /** substring match on id or name */
  q?: string;
  limit: number;
  offset: number;
}

/** Alerts matching a filter, in a sort's order, after a key (keyset paging: alertQuery.ts). */
export interface AlertQuery extends AlertFilter {
  /** default lastSeen */
  sort?: AlertSort;
  /** the last key of the page before */
  after?: AlertKey | null;
  limit: number;
}

/** What the on-time rates need of an alert (core/alerts/onTime.ts). */
export type { AlertOutcome };

export interface AlertOutcomeQuery {
  /** first seen in [from, to) */
  from: number;
  to: number;
  family?: Family;
  /** district code prefix */
  district?: string;
  limit: number;
}

export interface RescueCaseQuery {
  status?: RescueStatus[];
  elevatorId?: string;
  /** district prefix: the case's, else its elevator's as registered now (accounts/scope.ts caseDistrict) */
  district?: string;
  since?: number;
  /** alarmed before (exclusive) */
  until?: number;
  limit: number;
}

/**
 * What the alert engine persists together, in one transaction: rule states up to reading
 * `lastSeq`, and every alert and rescue case changed since the last checkpoint. After a
 * crash the engine replays the stored readings after `lastSeq`.
 */
export interface EngineCheckpoint {
  lastSeq: number;
  /** rule id -> state as JSON text (serialised when the checkpoint is cut, so it matches lastSeq) */
  ruleStates: Record<string, string>;
  /** changed alert records, written in place */
  alerts: readonly Alert[];
  /** timeline entries appended since the last checkpoint, as rows of their own */
  timeline: ReadonlyArray<{ alertId: string; entry: TimelineEntry }>;
  cases: readonly RescueCase[];
}

/**
 * A bulk device write in steps (DeviceRegistry.import): rows are staged a chunk at a time,
 * then written in one transaction by `commit`. Nothing is visible, or written, before it;
 * after a failed commit or an `abort` nothing is.
 */
export interface DeviceImportWriter {
  /** New devices, and changed ones: of those only name, location, district, meta and updatedAt are written. */
  stage(created: readonly DeviceRecord[], updated: readonly DeviceRecord[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * The ingest batch and everything read back by position: readings, and the dead letters of the
 * same group commit (one durable transaction). The ingest journal wraps this repository and
 * the dead letters' reads, nothing else (store/journal/journaledStore.ts).
 */
export interface ReadingRepository {
  /**
   * Write readings and dead letters in one durable transaction (group commit). `payloads`, when
   * given, holds each reading's payload as the device sent it (same index): a store may keep
   * those bytes instead of re-encoding the reading (the ingest journal does). The journal
   * resolves with the frame it wrote (store/journal/frame.ts), which the rules' worker takes
   * as it is (alerts/ruleThread/); other stores resolve with nothing.
   */
  appendBatch(readings: readonly Reading[], deadLetters: readonly DeadLetter[], payloads?: readonly Uint8Array[]): Promise<Uint8Array | void>;
  /**
   * The same as appendBatch, given as the journal's frames of those batches
   * (store/journal/frame.ts): a store in another thread takes them as they are
   * (store/worker/). Optional: the journal uses it when the store has it.
   */
  appendFrames?(frames: readonly Uint8Array[]): Promise<void>;
  /** The highest reading seq and dead-letter id stored, to continue numbering after a restart. */
  lastSequences(): Promise<{ readingSeq: number; deadLetterId: number }>;
  /** (deviceId, msgId) of readings received at or after `since`, newest first, at most `max`. */
  recentMessageKeys(since: number, max: number): Promise<Array<[string, string]>>;
  query(q: ReadingQuery): Promise<StoredReading[]>;
  count(): Promise<number>;
  /** min/max/avg per time bucket of one numeric field; optional for stores that cannot aggregate */
  history?(q: HistoryQuery): Promise<HistoryBucket[]>;
  /** Readings with seq > `after`, in seq order, at most `limit` (the engine's replay, the InfluxDB forwarder). */
  after(after: number, limit: number): Promise<Reading[]>;
}

export interface DeadLetterRepository {
  list(q: DeadLetterQuery): Promise<DeadLetter[]>;
  count(): Promise<number>;
}

export interface DeviceRepository {
  insert(devices: readonly DeviceRecord[]): Promise<void>;
  update(device: DeviceRecord): Promise<void>;
  /** Start a staged bulk write of devices (one at a time per store). */
  beginImport(): Promise<DeviceImportWriter>;
  load(): Promise<DeviceRecord[]>;
  saveConnectionStates(states: readonly ConnectionState[]): Promise<void>;
  loadConnectionStates(): Promise<ConnectionState[]>;
}

export interface AccountRepository {
  getUser(username: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  insertUser(user: UserRecord): Promise<void>;
  /** Change a user's role, password hash, disabled flag or district; false when there is no such user. */
  updateUser(username: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled' | 'district'>>): Promise<boolean>;
  /** Delete a user and every session of theirs; false when there is no such user. */
  deleteUser(username: string): Promise<boolean>;
  loadSessions(): Promise<SessionRecord[]>;
  insertSession(session: SessionRecord): Promise<void>;
  deleteSessions(tokenHashes: readonly string[]): Promise<void>;
}

/** Alerts with their timelines, rescue cases and the engine's rule states: checkpointed together. */
export interface AlertRepository {
  saveCheckpoint(cp: EngineCheckpoint): Promise<void>;
  loadEngineState(): Promise<{ lastSeq: number; ruleStates: Record<string, unknown> } | null>;
  loadActive(): Promise<Alert[]>;
  query(q: AlertQuery): Promise<Alert[]>;
  get(id: string): Promise<Alert | null>;
  /** The newest `limit` entries of an alert's timeline with n < `before` (all when absent), in n order. */
  timeline(alertId: string, limit: number, before?: number): Promise<TimelineEntry[]>;
  /** The alerts first seen in a period, as the on-time statistics need them. */
  outcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]>;
  loadActiveCases(): Promise<RescueCase[]>;
  queryCases(q: RescueCaseQuery): Promise<RescueCase[]>;
  getCase(id: string): Promise<RescueCase | null>;
}

/** The cylinder registry, the versions of its records, and the scans of a code (its trace). */
export interface CylinderRepository {
  /** Write records (one transaction); a record that differs from the stored one also becomes a version from `at` (default: now). */
  upsert(records: readonly CylinderRecord[], at?: number): Promise<void>;
  load(): Promise<CylinderRecord[]>;
  /** Every version of one code's record, oldest first. */
  versions(code: string): Promise<CylinderVersion[]>;
  /**
   * The scans of one code by every device, hot and device-clustered history alike: the newest
   * `limit` with device time in [from, to], oldest first; `more` when older ones were left out.
   */
  scans(q: ScanQuery): Promise<{ scans: StoredScan[]; more: boolean }>;
}

/** One entry of the audit log (docs/security.md, Audit log); `action` is a code of core/audit.ts. */
export interface AuditEntry {
  id: number;
  at: number;
  /** username; null when nobody was signed in (a refused login) or the service acted */
  actor: string | null;
  action: string;
  targetKind: string | null;
  targetId: string | null;
  /** the client's address, when a request did it */
  address: string | null;
  /** small and flat, never a secret (core/audit.ts boundedDetails) */
  details: Record<string, string | number | boolean | null> | null;
}

export interface AuditQuery {
  actor?: string;
  /** any of these actions */
  actions?: readonly string[];
  targetKind?: string;
  targetId?: string;
  /** at in [from, to) */
  from?: number;
  to?: number;
  limit: number;
  offset: number;
}

/** The audit log: appended in batches, read newest first, bounded by age and rows. */
export interface AuditRepository {
  /** Write entries in one transaction, numbering them after the last stored id, in order. */
  append(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void>;
  /** Entries matching the filters, newest first, with how many match in all. */
  query(q: AuditQuery): Promise<{ total: number; items: AuditEntry[] }>;
  /** Delete entries older than `before` and all but the newest `keepRows`; how many went. */
  prune(before: number, keepRows: number): Promise<number>;
}

export interface SettingRepository {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
}

/** Everything the service persists, a repository per aggregate; open and close own the files. */
export interface Store {
  open(): Promise<void>;
  close(): Promise<void>;
  readonly readings: ReadingRepository;
  readonly deadLetters: DeadLetterRepository;
  readonly devices: DeviceRepository;
  readonly accounts: AccountRepository;
  readonly alerts: AlertRepository;
  readonly cylinders: CylinderRepository;
  readonly settings: SettingRepository;
  readonly audit: AuditRepository;
}
