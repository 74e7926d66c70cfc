/**
 * What /healthz says about each component, from the status each part keeps. Pure functions of
 * those statuses and the time, so that every threshold is tested without waiting for it
 * (test/reliability/health.test.ts). A component that is not ok makes /healthz 503, except
 * InfluxDB, which is downstream of the store and only degrades (service/service.ts).
 */
import type { EnginePersistStatus } from '../alerts/engine.js';
import type { ClusterStatus } from '../cluster/clusterAlerts.js';
import type { CheckpointStatus } from '../store/duckdbStore.js';
import type { JournalStatus } from '../store/journal/journaledStore.js';
import type { PostgresStatus } from '../store/postgres/database.js';

export interface ComponentHealth {
  ok: boolean;
  detail?: string;
  /** while not ok: the failure's message */
  error?: string;
  /** while not ok: when it began (RFC 3339) */
  since?: string;
}

/**
 * DuckDB's CHECKPOINT folds the write-ahead log into the file. One failure is retried after the
 * next commit (at most once a second); a run of them means the WAL grows without bound and the
 * next start must replay all of it. The store is reported down after this many failed attempts
 * in a row, or after two or more failed attempts spanning this long (a quiet service retries
 * rarely: commits start the attempts).
 */
export const CHECKPOINT_FAILED_ATTEMPTS = 5;
export const CHECKPOINT_FAILING_MS = 30_000;

/**
 * The journal is reported down while its writes to DuckDB fail, while its backlog is full
 * (ingest then waits, devices are slowed), or when the oldest batch in it has waited this long
 * for DuckDB (normally 100 ms to a few seconds: a backlog that keeps growing, DuckDB hung).
 */
export const JOURNAL_STALLED_MS = 30_000;

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number): string => `${Math.round(ms / 1000)} s`;

/** Null while checkpoints succeed or have not failed long enough to count; the failure otherwise. */
export function checkpointFailure(s: CheckpointStatus, now: number): ComponentHealth | null {
  if (s.consecutiveFailures === 0 || s.failingSince === null) return null;
  const failingMs = now - s.failingSince;
  if (s.consecutiveFailures < CHECKPOINT_FAILED_ATTEMPTS && !(s.consecutiveFailures >= 2 && failingMs >= CHECKPOINT_FAILING_MS)) return null;
  return {
    ok: false,
    detail: `DuckDB CHECKPOINT failing: ${s.consecutiveFailures} attempts in a row since ${iso(s.failingSince)} (${s.lastError ?? 'unknown error'}); the write-ahead log is not folded into the file and grows`,
    error: s.lastError ?? 'unknown error',
    since: iso(s.failingSince),
  };
}

/** The alert engine can run rules but not save alerts, cases and rule state: not ok until a checkpoint succeeds. */
export function alertsHealth(p: EnginePersistStatus, active: { alerts: number; cases: number }): ComponentHealth {
  const counts = `${active.alerts} active alerts, ${active.cases} rescue cases`;
  if (p.consecutiveFailures > 0) {
    const since = p.failingSince !== null ? iso(p.failingSince) : undefined;
    return {
      ok: false,
      detail: `cannot persist alerts: ${p.consecutiveFailures} failed checkpoints in a row${since ? ` since ${since}` : ''} (${p.lastError ?? 'unknown error'}); changes are kept in memory and retried; ${counts}`,
      error: p.lastError ?? 'unknown error',
      ...(since ? { since } : {}),
    };
  }
  return { ok: true, detail: counts };
}

/** The ingest journal drains into DuckDB: down while it cannot, while full, or while its oldest batch waits too long. */
export function journalHealth(j: JournalStatus, now: number): ComponentHealth {
  const backlog = `backlog ${j.backlogRows} readings`;
  if (j.lastError) {
    const since = j.failingSince !== null ? iso(j.failingSince) : undefined;
    return {
      ok: false,
      detail: `cannot drain into DuckDB: ${j.consecutiveFailures} failed writes${since ? ` since ${since}` : ''} (${j.lastError.message}); ${j.backlogRows} readings are kept in the journal and retried`,
      error: j.lastError.message,
      ...(since ? { since } : {}),
    };
  }
  const oldest = j.oldestPendingAt;
  if (j.backlogRows >= j.maxBacklogRows) {
    return {
      ok: false,
      detail: `full: ${j.backlogRows} readings waiting for DuckDB (INGEST_JOURNAL_MAX_BACKLOG ${j.maxBacklogRows}); ingest waits`,
      error: 'journal backlog full',
      ...(oldest !== null ? { since: iso(oldest) } : {}),
    };
  }
  if (oldest !== null && now - oldest >= JOURNAL_STALLED_MS) {
    return {
      ok: false,
      detail: `not draining: the oldest batch has waited ${seconds(now - oldest)} for DuckDB; ${backlog}`,
      error: 'journal not draining',
      since: iso(oldest),
    };
  }
  return { ok: true, detail: backlog };
}

/**
 * Cluster mode's shared store: down while its last contact failed (no connection, the server
 * shutting down or out of resources) and nothing has succeeded since; refusals the server
 * answered (a duplicate key) are contact. The pool's connections in the detail.
 */
export function postgresHealth(s: PostgresStatus): ComponentHealth {
  const pool = `${s.connections} connections (${s.idle} idle), ${s.waiting} waiting`;
  if (!s.open) return { ok: false, detail: 'not open', error: 'not open' };
  if (s.failing) {
    return { ok: false, detail: `PostgreSQL unreachable: ${s.lastError ?? 'unknown error'}; ${pool}`, error: s.lastError ?? 'unknown error', ...(s.lastErrorAt !== null ? { since: iso(s.lastErrorAt) } : {}) };
  }
  return { ok: true, detail: pool };
}

/**
 * A cluster node: down while it cannot hold its slots (no ownership connection to PostgreSQL:
 * the others take them) or cannot reach Redis (readings do not reach the rules' owners, walls
 * do not hear the other nodes).
 */
export function clusterHealth(s: ClusterStatus): ComponentHealth {
  const detail = `${s.nodeId} holds ${s.held} of ${s.slots} slots; peers ${s.peers.join(', ') || 'none seen'}`;
  if (!s.redis.ok) return { ok: false, detail: `Redis unreachable: ${s.redis.lastError ?? 'unknown error'}; ${detail}`, error: s.redis.lastError ?? 'unknown error', ...(s.redis.since !== null ? { since: iso(s.redis.since) } : {}) };
  if (!s.connected) return { ok: false, detail: `no ownership connection to PostgreSQL: the other nodes take this one's slots; ${detail}`, error: 'not connected' };
  return { ok: true, detail };
}
