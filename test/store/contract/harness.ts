/**
 * "One suite, two stores": a contract suite (devices.ts, accounts.ts, ...) states what a
 * repository of store/types.ts does, and runs against every store that opens one. Each suite
 * opens its own, empty (a new DuckDB file, a new PostgreSQL database); `reopen` opens the same
 * data again after `close`, as a restart would.
 */
export interface Opened<R> {
  repo: R;
  close(): Promise<void>;
  /** The same data, opened anew (after close). */
  reopen(): Promise<Opened<R>>;
}

/** Opens a new, empty store and gives one of its repositories. */
export type Open<R> = () => Promise<Opened<R>>;
