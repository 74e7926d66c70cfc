/**
 * Which store the service runs on: the embedded DuckDB (the default: in its worker thread, or
 * in this one with DUCKDB_WORKER=false) or cluster mode's shared PostgreSQL (docs/cluster.md).
 * Either way the ingest journal, when on, wraps it (service/service.ts).
 */
import type { Logger } from 'pino';
import { DuckDbStore, type EmbeddedStore } from '../store/duckdbStore.js';
import { PostgresStore } from '../store/postgresStore.js';
import type { Store } from '../store/types.js';
import { WorkerStore } from '../store/worker/workerStore.js';
import type { Config } from './config.js';

/** The shared store of cluster mode: its URL and this node's name. */
export interface SharedStoreChoice {
  url: string;
  nodeId: string;
}

export interface Stores {
  /** what the journal (when on) wraps */
  store: Store;
  /** the embedded store, for what only DuckDB has (history runs, its checkpoints and memory); null in cluster mode */
  duckdb: EmbeddedStore | null;
  /** the shared PostgreSQL store; null on the embedded default */
  shared: PostgresStore | null;
}

export function chooseStores(config: Config, log: Logger, shared: SharedStoreChoice | null, storeSeams: boolean): Stores {
  if (shared) {
    const pgLog = log.child({ component: 'postgres' });
    const store = new PostgresStore({
      url: shared.url,
      nodeId: shared.nodeId,
      // an idle connection that broke: the pool replaces it; the next statement on it would have failed anyway
      onError: (err) => pgLog.warn({ err }, 'a pooled PostgreSQL connection failed; it is replaced'),
    });
    return { store, duckdb: null, shared: store };
  }
  const duckdbOptions = { memoryLimit: config.duckdb.memoryLimit, ...(config.duckdb.threads ? { threads: config.duckdb.threads } : {}) };
  const duckdb = config.duckdb.worker
    ? new WorkerStore(config.dbPath, {
      ...duckdbOptions, seams: storeSeams,
      // every later call fails; the journal keeps the readings and /healthz reports the failing writes
      onStopped: (err) => log.fatal({ err, component: 'store' }, 'DuckDB\'s worker thread stopped: the store answers nothing until the service is restarted'),
    })
    : new DuckDbStore(config.dbPath, duckdbOptions);
  return { store: duckdb, duckdb, shared: null };
}
