/**
 * What PostgreSQL's store has of its own (store/postgres/database.ts, migrations.ts), on a real
 * server: migrations applied once, in order, by one of several nodes opening at once, a failed
 * one rolled back whole, a newer schema refused; the statement timeout; errors that name the
 * offending value; a close that does not wait for an import left open.
 */
import pg from 'pg';
import type { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresDatabase } from '../../../store/postgres/database.js';
import { PgDevices } from '../../../store/postgres/devices.js';
import { migrate, migrations } from '../../../store/postgres/migrations.js';
import { PostgresServer, postgresPrograms } from '../../helpers/postgresServer.js';
import { device } from '../duckdb/fixtures.js';

const found = postgresPrograms();

describe.skipIf(!found.ok)(`PostgreSQL store${found.ok ? '' : ` (skipped: ${found.reason})`}`, () => {
  let server: PostgresServer;
  const opened: PostgresDatabase[] = [];
  let databases = 0;
  beforeAll(async () => { server = await PostgresServer.start(found.ok ? found.paths : {}); });
  afterAll(async () => {
    for (const db of opened) await db.close().catch(() => undefined);
    await server?.dispose();
  });

  const newDatabase = (): Promise<string> => server.createDatabase(`db_${++databases}`);
  const openAt = async (url: string, options: Partial<ConstructorParameters<typeof PostgresDatabase>[0]> = {}): Promise<PostgresDatabase> => {
    const db = new PostgresDatabase({ url, maxConnections: 4, ...options });
    opened.push(db);
    await db.open();
    return db;
  };
  /** A plain client beside the store, to look at what it wrote. */
  const inspect = async <T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const versions = (url: string): Promise<number[]> =>
    inspect(url, async (c) => (await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version));

  it('applies every migration once, in order; opening again (or three nodes at once) applies nothing', async () => {
    const url = await newDatabase();
    await Promise.all([openAt(url), openAt(url), openAt(url)]);
    const all = migrations.map((m) => m.version);
    expect(all).toEqual(Array.from({ length: migrations.length }, (_, i) => i + 1));
    expect(await versions(url)).toEqual(all);
    const db = await openAt(url);
    await db.close();
    await db.open();
    expect(await versions(url)).toEqual(all);
    expect(await inspect(url, (c) => migrate(c))).toEqual({ from: migrations.length, to: migrations.length });
  });

  it('a migration that fails is rolled back whole and named; the ones before it stay', async () => {
    const url = await newDatabase();
    await openAt(url);
    const bad = { version: migrations.length + 1, name: 'broken', statements: ['CREATE TABLE half_done (a INTEGER)', 'SELECT no_such_function()'] };
    await expect(inspect(url, (c) => migrate(c, [...migrations, bad]))).rejects.toThrow(`schema migration ${bad.version} (broken) failed`);
    expect(await versions(url)).toEqual(migrations.map((m) => m.version));
    expect(await inspect(url, async (c) => (await c.query("SELECT to_regclass('half_done') AS t")).rows[0]?.t)).toBeNull();
  });

  it('refuses a database of a newer schema than this build knows', async () => {
    const url = await newDatabase();
    await openAt(url);
    await inspect(url, (c) => c.query("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)"));
    await expect(openAt(url)).rejects.toThrow(/schema version 99, newer than this build knows/);
  });

  it('cancels a statement that runs past the timeout', async () => {
    const db = await openAt(await newDatabase(), { statementTimeoutMs: 100 });
    await expect(db.rows('SELECT pg_sleep(2)')).rejects.toThrow(/statement timeout/);
    expect(await db.rows('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('an error names the offending value, as DuckDB does', async () => {
    const devices = new PgDevices(await openAt(await newDatabase()));
    await devices.insert([device('dup-1')]);
    await expect(devices.insert([device('dup-1')])).rejects.toThrow(/duplicate key.*Key \(id\)=\(dup-1\) already exists/);
  });

  it('close() does not wait for an import left open; its writer fails after, and the next import works', async () => {
    const db = await openAt(await newDatabase());
    const devices = new PgDevices(db);
    const w = await devices.beginImport();
    await w.stage([device('left-1')], []);
    await db.close();
    await expect(w.stage([device('left-2')], [])).rejects.toThrow(/over/);
    await expect(w.commit()).rejects.toThrow(/over/);
    await w.abort();
    await db.open();
    expect(await devices.load()).toEqual([]);
    const next = await devices.beginImport();
    await next.stage([device('new-1')], []);
    await next.commit();
    expect((await devices.load()).map((d) => d.id)).toEqual(['new-1']);
  });
});
