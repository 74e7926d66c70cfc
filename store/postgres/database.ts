/**
 * The PostgreSQL connection pool of cluster mode's shared store (docs/cluster.md) and what
 * every PostgreSQL repository shares: reads, transactions, a connection held for a staged
 * write, and the conversions of values both ways. The repositories (devices.ts, accounts.ts,
 * ...) implement store/types.ts exactly as their DuckDB twins do (store/duckdb/).
 *
 * Unlike DuckDB there is no queue per connection here: PostgreSQL runs every connection's
 * statements in a process of its own with row locks, so the pool hands a connection to each
 * job and the server orders what conflicts. Every statement is parameterized.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResult, QueryResultRow, Submittable } from 'pg';
import { migrate } from './migrations.js';

export interface PostgresOptions {
  /** postgres://user@host:port/database */
  url: string;
  /**
   * Connections at most (default 10). Bounded: each PostgreSQL connection is a server process
   * of several MB, and N nodes share the server's max_connections (default 100).
   */
  maxConnections?: number;
  /** A statement running longer is cancelled by the server (default 30,000 ms): a stuck query fails instead of holding a connection and its locks. */
  statementTimeoutMs?: number;
  /** Waiting longer for a free connection, or to connect, fails (default 10,000 ms): an unreachable server is an error, not a hang. */
  connectTimeoutMs?: number;
  /** A connection idle inside a transaction this long is ended by the server, its locks released (default 60,000 ms): a node that stalls mid-transaction does not block the others. */
  idleInTransactionMs?: number;
  /** Told of errors of idle connections (the server restarted, the network dropped): the pool replaces them. */
  onError?: (err: Error) => void;
}

export type Row = QueryResultRow;

/** A connection in a transaction, or held: what the repositories run statements on. */
export interface Sql {
  query<R extends Row = Row>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/** A pooled connection (a transaction's): also takes streaming queries. */
export interface PooledSql extends Sql {
  /**
   * A streaming query on this connection (pg-copy-streams' COPY FROM STDIN, store/postgres/
   * readings.ts), returned as given; its errors come through the stream.
   */
  submit<Q extends Submittable>(query: Q): Q;
}

/** A connection of its own (PostgresDatabase.hold) until released, by its holder or by close(). */
export interface HeldConnection {
  sql: Sql;
  /** still held: false once released (the connection may be serving another job by then) */
  live(): boolean;
  /** back to the pool; with an error, closed instead. Once only: a second call does nothing. */
  release(broken?: Error): void;
}

/** The pool's state for /healthz and /metrics (service/health.ts postgresHealth). */
export interface PostgresStatus {
  open: boolean;
  /** connections open, idle among them, and jobs waiting for one */
  connections: number;
  idle: number;
  waiting: number;
  /** statements and connections failed since start for want of the server (not refusals it answered: answeredByServer) */
  failures: number;
  /** the last failure of a statement or of an idle connection, and when (null: none yet) */
  lastError: string | null;
  lastErrorAt: number | null;
  /** the last contact with the server failed (a statement or a connection), none succeeded since */
  failing: boolean;
}

export class PostgresDatabase {
  private pool: Pool | null = null;
  private failures = 0;
  private lastError: { message: string; at: number } | null = null;
  private failing = false;
  /** connections checked out for longer than one job (a device import): closed with the store */
  private readonly held = new Set<(broken?: Error) => void>();

  constructor(readonly options: PostgresOptions) {}

  /** Connect and bring the schema up to date (migrations.ts); a second open is a no-op. */
  async open(): Promise<void> {
    if (this.pool) return;
    const o = this.options;
    const pool = new pg.Pool({
      connectionString: o.url,
      max: o.maxConnections ?? 10,
      statement_timeout: o.statementTimeoutMs ?? 30_000,
      idle_in_transaction_session_timeout: o.idleInTransactionMs ?? 60_000,
      connectionTimeoutMillis: o.connectTimeoutMs ?? 10_000,
      application_name: 'smart-supervision',
    });
    // An idle connection that breaks emits 'error' on the pool; without a listener Node would
    // end the process over a connection the pool simply replaces.
    pool.on('error', (err) => { this.failed(err); o.onError?.(err); });
    this.pool = pool;
    try {
      const { sql, release } = await this.checkout();
      try {
        await migrate(sql);
        release();
        this.failing = false;
      } catch (err) {
        // it may still hold the migrations' advisory lock: closed, not pooled
        release(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
    } catch (err) {
      this.pool = null;
      await pool.end().catch(() => undefined);
      throw err;
    }
  }

  /** Release held connections (their staged writes are lost, as on a failed commit), then end the pool. */
  async close(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    this.pool = null;
    // pool.end() waits for every checked-out connection: a held one would keep it waiting
    for (const release of this.held) release(new Error('store closed'));
    this.held.clear();
    await pool.end();
  }

  /** Rows of one statement, on any pooled connection. */
  async rows<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
    return (await this.exec<R>(this.open_(), sql, params)).rows;
  }

  /** One statement for its count of rows changed (one statement is atomic by itself). */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.exec(this.open_(), sql, params)).rowCount ?? 0;
  }

  /**
   * One transaction on one connection: committed when `fn` resolves, rolled back when it
   * throws. `readOnly` reads take a snapshot (REPEATABLE READ), so several statements agree.
   */
  async tx<T>(fn: (c: PooledSql) => Promise<T>, mode: 'write' | 'readOnly' = 'write'): Promise<T> {
    const { sql, release } = await this.checkout();
    let broken: Error | undefined;
    try {
      await sql.query(mode === 'readOnly' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
      try {
        const result = await fn(sql);
        await sql.query('COMMIT');
        return result;
      } catch (err) {
        // a connection that cannot roll back is in no state to be pooled again
        await sql.query('ROLLBACK').catch((e: unknown) => { broken = e instanceof Error ? e : new Error(String(e)); });
        throw err;
      }
    } finally {
      release(broken);
    }
  }

  /**
   * A connection of its own until `release`, for a write staged across several jobs in the
   * connection's temporary table (a device import). Released with an error, the connection is
   * closed rather than pooled, so nothing of the session can reach the next job.
   */
  async hold(): Promise<HeldConnection> {
    const { sql, release } = await this.checkout();
    this.held.add(release);
    return {
      sql,
      live: () => this.held.has(release),
      release: (broken) => {
        this.held.delete(release);
        release(broken); // a second release (or one after close) does nothing
      },
    };
  }

  status(): PostgresStatus {
    const p = this.pool;
    return {
      open: p !== null,
      connections: p?.totalCount ?? 0,
      idle: p?.idleCount ?? 0,
      waiting: p?.waitingCount ?? 0,
      failures: this.failures,
      lastError: this.lastError?.message ?? null,
      lastErrorAt: this.lastError?.at ?? null,
      failing: this.failing,
    };
  }

  /**
   * A statement or connection failed. A refusal the server answered (a duplicate key, a bad
   * value) shows it reachable and counts as contact; the rest (no connection, the server
   * shutting down or out of resources) is counted and kept for status().
   */
  private failed(err: unknown): void {
    if (answeredByServer(err)) { this.succeeded(); return; }
    this.failures++;
    this.failing = true;
    this.lastError = { message: err instanceof Error ? err.message : String(err), at: Date.now() };
  }

  /** A statement succeeded (or was refused by the server): it answers. */
  private succeeded(): void {
    this.failing = false;
  }

  private open_(): Pool {
    if (!this.pool) throw new Error('store is not open');
    return this.pool;
  }

  private async checkout(): Promise<{ sql: PooledSql; release: (broken?: Error) => void }> {
    let client: PoolClient;
    try {
      client = await this.open_().connect();
    } catch (err) {
      this.failed(err);
      throw err;
    }
    // Between two statements a checked-out connection has no query to fail: a break then is
    // an 'error' event, which would end the process unheard. The next statement reports it.
    const onError = (): void => undefined;
    client.on('error', onError);
    let released = false;
    return {
      sql: checked(client, (err) => (err ? this.failed(err) : this.succeeded())),
      release: (broken) => {
        if (released) return;
        released = true;
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  private async exec<R extends Row>(pool: Pool, sql: string, params: unknown[]): Promise<QueryResult<R>> {
    try {
      const result = await pool.query<R>(sql, params);
      this.succeeded();
      return result;
    } catch (err) {
      this.failed(err);
      throw withDetail(err);
    }
  }
}

/**
 * The server ran the statement and refused it (SQLSTATE outside the classes of connection
 * exceptions 08, insufficient resources 53, operator intervention 57 and system errors 58).
 */
function answeredByServer(err: unknown): boolean {
  return err instanceof pg.DatabaseError && typeof err.code === 'string' && !/^(08|53|57|58)/.test(err.code);
}

/** A connection whose failed statements carry PostgreSQL's detail in their message. */
function checked(c: PoolClient, outcome: (err: unknown) => void): PooledSql {
  return {
    query: async <R extends Row>(sql: string, params?: unknown[]) => {
      try {
        const result = await c.query<R>(sql, params);
        outcome(null);
        return result;
      } catch (err) {
        outcome(err);
        throw withDetail(err);
      }
    },
    submit: (query) => c.query(query),
  };
}

/**
 * PostgreSQL puts the offending value in an error's `detail`, not its message ("duplicate key
 * value violates unique constraint" / "Key (id)=(s-2) already exists."). DuckDB names it in
 * the message, which callers pass on (DeviceRegistry.import's "nothing was imported: ...").
 */
export function withDetail(err: unknown): unknown {
  if (err instanceof pg.DatabaseError && err.detail && !err.message.includes(err.detail)) {
    err.message = `${err.message}: ${err.detail}`;
  }
  return err;
}

/**
 * `unnest($1::text[], $2::int8[], ...)`: rows from one array parameter per column, for a
 * statement that writes any number of rows (no SQL built from values, no limit of 65,535
 * parameters). Only for types from the caller's code, never from input.
 */
export function unnest(types: readonly string[]): string {
  return `unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`;
}

/**
 * An epoch-ms BIGINT from the driver (a string: int8 can exceed 2^53) as a number. Epoch ms,
 * ids and counts stay far below 2^53, where a double is exact.
 */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export { numOrNull, strOrNull } from '../rows.js';

/**
 * Epoch ms for a BIGINT parameter. DuckDB takes a fraction of a ms and rounds it (`?::BIGINT`);
 * PostgreSQL would refuse "1.5" as a bigint, so it is rounded here the same way.
 */
export function ms(v: number): number {
  return Math.round(v);
}

export function msOrNull(v: number | null): number | null {
  return v === null ? null : ms(v);
}
