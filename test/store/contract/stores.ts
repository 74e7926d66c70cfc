/**
 * The stores the contract suites run against (harness.ts): DuckDB, a new file in a temp dir per
 * suite (fixtures.ts closes and removes them after the file), and PostgreSQL, a new database
 * per suite on a real server started for the test file (test/helpers/postgresServer.ts).
 */
import { afterAll, beforeAll, describe } from 'vitest';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import { PostgresDatabase } from '../../../store/postgres/database.js';
import { PostgresServer, postgresPrograms } from '../../helpers/postgresServer.js';
import { freshStore, tempFile } from '../duckdb/fixtures.js';
import type { Open, Opened } from './harness.js';

/** A repository of a new DuckDB store in a temp dir. */
export function duckDbStores<R>(pick: (s: DuckDbStore) => R): Open<R> {
  const openAt = async (file: string): Promise<Opened<R>> => {
    // freshStore's stores are closed after the file too: closing twice is harmless
    const s = await freshStore(file);
    return { repo: pick(s), close: () => s.close(), reopen: () => openAt(file) };
  };
  return () => openAt(tempFile());
}

/**
 * A repository over a new PostgreSQL database. Call inside the describe that needs it (it
 * registers that describe's hooks): the server starts before its tests and is removed after,
 * so a describe skipped for want of PostgreSQL starts nothing.
 */
export function postgresStores<R>(programs: Record<string, string>, make: (db: PostgresDatabase) => R): Open<R> {
  let server: PostgresServer | null = null;
  const open = new Set<PostgresDatabase>();
  let databases = 0;
  beforeAll(async () => { server = await PostgresServer.start(programs); });
  afterAll(async () => {
    for (const db of open) await db.close().catch(() => undefined);
    await server?.dispose();
  });
  const openAt = async (url: string): Promise<Opened<R>> => {
    // a few connections: the suites run one statement at a time, many servers share the machine
    const db = new PostgresDatabase({ url, maxConnections: 4 });
    await db.open();
    open.add(db);
    return {
      repo: make(db),
      close: async () => { open.delete(db); await db.close(); },
      reopen: () => openAt(url),
    };
  };
  return async () => {
    if (!server) throw new Error('the PostgreSQL server is not started (postgresStores outside a describe?)');
    return openAt(await server.createDatabase(`suite_${++databases}`));
  };
}

/**
 * Run a contract against PostgreSQL: skipped, with the reason, where initdb and pg_ctl are
 * missing (a failure instead under REQUIRE_EXTERNAL=1: test/helpers/external.ts).
 */
export function onPostgres<R>(make: (db: PostgresDatabase) => R, contract: (store: string, open: Open<R>) => void): void {
  const found = postgresPrograms();
  describe.skipIf(!found.ok)(`PostgreSQL${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
    contract('PostgreSQL', postgresStores(found.ok ? found.paths : {}, make));
  });
}
