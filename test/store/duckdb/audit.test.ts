/**
 * The audit log in DuckDB (store/duckdb/audit.ts, schema 9): appended in batches and numbered
 * in order across reopens, filtered and paged newest first with the total, pruned by age and by
 * rows; a data directory of schema 8 is upgraded to an empty log, its users kept.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../../store/duckdbStore.js';
import { migrations } from '../../../store/migrations.js';
import type { AuditEntry } from '../../../store/types.js';
import { T0, freshStore, tempFile } from './fixtures.js';

type New = Omit<AuditEntry, 'id'>;
const entry = (over: Partial<New> = {}): New => ({
  at: T0, actor: 'admin', action: 'user.disabled', targetKind: 'user', targetId: 'bob', address: '127.0.0.1', details: null, ...over,
});

describe('audit repository', () => {
  it('numbers entries in order, across batches and a reopen; reads them newest first with details', async () => {
    const file = tempFile();
    const s = new DuckDbStore(file);
    await s.open();
    await s.audit.append([entry({ at: T0 }), entry({ at: T0 + 1, action: 'user.enabled', details: { note: '复核后启用', n: 2, ok: true, none: null } })]);
    await s.audit.append([entry({ at: T0 + 2, actor: null, action: 'auth.login_refused', targetId: 'mallory', address: '10.0.0.9' })]);
    await s.close();
    const again = await freshStore(file);
    await again.audit.append([entry({ at: T0 + 3, action: 'user.deleted' })]);
    const { total, items } = await again.audit.query({ limit: 10, offset: 0 });
    expect(total).toBe(4);
    expect(items.map((e) => [e.id, e.action])).toEqual([[4, 'user.deleted'], [3, 'auth.login_refused'], [2, 'user.enabled'], [1, 'user.disabled']]);
    expect(items[1]).toEqual({ id: 3, at: T0 + 2, actor: null, action: 'auth.login_refused', targetKind: 'user', targetId: 'mallory', address: '10.0.0.9', details: null });
    expect(items[2]!.details).toEqual({ note: '复核后启用', n: 2, ok: true, none: null });
  });

  it.each([
    ['actor', { actor: 'op1' }, [3]],
    ['one action', { actions: ['alert.ack'] }, [3, 1]],
    ['several actions', { actions: ['alert.ack', 'device.registered'] }, [4, 3, 1]],
    ['target kind', { targetKind: 'device' }, [4]],
    ['target id', { targetId: 'a-1' }, [3, 1]],
    ['from (inclusive)', { from: T0 + 2000 }, [4, 3]],
    ['to (exclusive)', { to: T0 + 2000 }, [2, 1]],
    ['nothing matches', { actor: 'nobody' }, []],
  ] as const)('filters by %s', async (_name, filter, ids) => {
    const s = await freshStore();
    await s.audit.append([
      entry({ at: T0, action: 'alert.ack', targetKind: 'alert', targetId: 'a-1' }),
      entry({ at: T0 + 1000, action: 'user.created', targetId: 'op1' }),
      entry({ at: T0 + 2000, actor: 'op1', action: 'alert.ack', targetKind: 'alert', targetId: 'a-1' }),
      entry({ at: T0 + 3000, action: 'device.registered', targetKind: 'device', targetId: 'cam-1' }),
    ]);
    const { total, items } = await s.audit.query({ ...filter, limit: 10, offset: 0 });
    expect(items.map((e) => e.id)).toEqual(ids);
    expect(total).toBe(ids.length);
  });

  it('pages by offset with the whole total; past the end an empty page', async () => {
    const s = await freshStore();
    await s.audit.append(Array.from({ length: 600 }, (_, i) => entry({ at: T0 + i, targetId: `u${i}` })));
    const first = await s.audit.query({ limit: 250, offset: 0 });
    const last = await s.audit.query({ limit: 250, offset: 500 });
    expect([first.total, first.items.length, first.items[0]!.id, first.items.at(-1)!.id]).toEqual([600, 250, 600, 351]);
    expect([last.total, last.items.length, last.items.at(-1)!.id]).toEqual([600, 100, 1]);
    expect(await s.audit.query({ limit: 10, offset: 600 })).toEqual({ total: 600, items: [] });
  });

  it('prunes what is older than the retention, then all but the newest rows; numbering goes on', async () => {
    const s = await freshStore();
    await s.audit.append(Array.from({ length: 10 }, (_, i) => entry({ at: T0 + i * 1000 })));
    expect(await s.audit.prune(T0 + 3000, 100)).toBe(3);
    expect((await s.audit.query({ limit: 100, offset: 0 })).items.map((e) => e.id)).toEqual([10, 9, 8, 7, 6, 5, 4]);
    expect(await s.audit.prune(0, 2)).toBe(5);
    await s.audit.append([entry({ at: T0 + 20_000 })]);
    expect((await s.audit.query({ limit: 100, offset: 0 })).items.map((e) => e.id)).toEqual([11, 10, 9]);
    expect(await s.audit.prune(0, 100)).toBe(0);
  });
});

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
