/**
 * The audit log in DuckDB (store/duckdb/audit.ts, schema 9): the contract every store keeps
 * (test/store/contract/audit.ts: appended in batches and numbered in order across reopens,
 * filtered and paged newest first with the total, pruned by age and by rows), and DuckDB's own
 * upgrade: a data directory of schema 8 gets an empty log, its users kept.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { migrations } from '../../../store/migrations.js';
import { auditContract, entry } from '../contract/audit.js';
import { duckDbStores } from '../contract/stores.js';
import { T0, freshStore, tempFile } from './fixtures.js';

auditContract('DuckDB', duckDbStores((s) => s.audit));

describe('schema 9', () => {
  it('upgrades a data directory of schema 8: users kept, an empty audit log that takes entries', async () => {
    expect(migrations.length).toBeGreaterThanOrEqual(9);
    const file = tempFile();
    mkdirSync(path.dirname(file), { recursive: true });
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const [i, statements] of migrations.slice(0, 8).entries()) {
      for (const sql of statements) if (typeof sql === 'string') await c.run(sql);
      await c.run('INSERT INTO schema_version VALUES (?)', [i + 1]);
    }
    await c.run(`INSERT INTO users VALUES ('old-op', 'operator', 'scrypt$h', make_timestamp(${T0}::BIGINT * 1000), false, '330106')`);
    c.closeSync();
    db.closeSync();

    const s = await freshStore(file);
    expect(await s.accounts.getUser('old-op')).toMatchObject({ role: 'operator', district: '330106' });
    expect(await s.audit.query({ limit: 10, offset: 0 })).toEqual({ total: 0, items: [] });
    await s.audit.append([entry()]);
    expect((await s.audit.query({ limit: 10, offset: 0 })).items.map((e) => e.id)).toEqual([1]);
    await s.close();
    const check = await DuckDBInstance.create(file);
    const cc = await check.connect();
    try {
      expect((await cc.runAndReadAll('SELECT max(version)::INTEGER AS v FROM schema_version')).getRowObjectsJS()).toEqual([{ v: migrations.length }]);
    } finally {
      cc.closeSync();
      check.closeSync();
    }
  });
});
