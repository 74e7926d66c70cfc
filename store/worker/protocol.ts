/**
 * What crosses between the event loop and the store's worker thread (docs/architecture.md,
 * Threads). The worker owns the DuckDB file; the main thread holds a proxy of the same
 * repositories (workerStore.ts). Every call is a message with an id, answered once.
 *
 * Readings cross as journal frames (store/journal/frame.ts), one ArrayBuffer transferred per
 * batch: no per-reading structured clone on the busy thread, and the frame is already encoded
 * for the journal. Everything else (alerts, devices, users, queries and their answers) is
 * structured-cloned: it is the control plane, a few calls a second.
 */
import type { CheckpointStatus } from '../duckdb/database.js';
import type { Store } from '../types.js';

/** The repositories a worker serves, and the methods each may be asked (nothing else is called). */
export const REPOSITORY_METHODS = {
  readings: ['lastSequences', 'recentMessageKeys', 'query', 'count', 'history', 'after'],
  deadLetters: ['list', 'count'],
  devices: ['insert', 'update', 'load', 'saveConnectionStates', 'loadConnectionStates'],
  accounts: ['getUser', 'listUsers', 'insertUser', 'updateUser', 'deleteUser', 'loadSessions', 'insertSession', 'deleteSessions'],
  alerts: ['saveCheckpoint', 'loadEngineState', 'loadActive', 'query', 'get', 'timeline', 'outcomes', 'loadActiveCases', 'queryCases', 'getCase'],
  cylinders: ['upsert', 'load', 'versions', 'scans'],
  settings: ['get', 'set'],
  audit: ['append', 'query', 'prune'],
} as const satisfies { [R in Exclude<keyof Store, 'open' | 'close'>]: ReadonlyArray<keyof Store[R]> };

export type RepositoryName = keyof typeof REPOSITORY_METHODS;

/** The store's own operations beside its repositories (DuckDbStore's). */
export const STORE_METHODS = ['maintainReadings', 'memoryBytes'] as const;

/** The steps of a device import's writer (DeviceImportWriter), by the handle beginImport gave. */
export const IMPORT_METHODS = ['stage', 'commit', 'abort'] as const;

export type Request =
  | { kind: 'call'; id: number; repo: RepositoryName; method: string; args: unknown[] }
  | { kind: 'store'; id: number; method: (typeof STORE_METHODS)[number]; args: unknown[] }
  /** readings and dead letters as journal frames, decoded in the worker */
  | { kind: 'frames'; id: number; frames: Uint8Array }
  | { kind: 'beginImport'; id: number }
  | { kind: 'import'; id: number; handle: number; method: (typeof IMPORT_METHODS)[number]; args: unknown[] }
  | { kind: 'close'; id: number }
  /** no answer: abandon the history step in progress */
  | { kind: 'interrupt' }
  /** tests only, when the worker was started with seams: make CHECKPOINT fail with this message, or work again (null) */
  | { kind: 'seam'; id: number; checkpointError: string | null; options: { checkpointWalBytes?: number; checkpointRetryMs?: number } }
  /** tests only, with seams: close DuckDB, then end the thread with this exit code, answering nothing */
  | { kind: 'exitSeam'; code: number };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** own enumerable properties such as `code` */
  props: Record<string, unknown>;
}

export type Reply =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: SerializedError };

/** What the store reports by itself, sent after every answer that changed it and every second. */
export interface StoreStatus {
  checkpoint: CheckpointStatus;
  runs: Array<{ base: string; runs: number; rows: number }>;
}

export type WorkerMessage =
  | Reply
  | { kind: 'ready'; status: StoreStatus }
  | { kind: 'openFailed'; error: SerializedError }
  | { kind: 'status'; status: StoreStatus };

export interface WorkerData {
  file: string;
  options: { memoryLimit?: string; threads?: number };
  /** accept `seam` requests (tests of failures inside the worker) */
  seams: boolean;
}

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), props: {} };
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) props[k] = v;
  }
  return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}), props };
}

/** The error as the caller would have seen it in one thread: message, name, code and the worker's stack. */
export function reviveError(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  Object.assign(err, e.props);
  return err;
}
