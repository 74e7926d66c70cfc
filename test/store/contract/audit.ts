/**
 * The audit log's contract (store/types.ts AuditRepository), for every store: appended in
 * batches and numbered in order across reopens, filtered and paged newest first with the
 * total, pruned by age and by rows.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditRepository } from '../../../store/types.js';
import { T0 } from '../duckdb/fixtures.js';
import type { Open } from './harness.js';

type New = Omit<AuditEntry, 'id'>;
export const entry = (over: Partial<New> = {}): New => ({
  at: T0, actor: 'admin', action: 'user.disabled', targetKind: 'user', targetId: 'bob', address: '127.0.0.1', details: null, ...over,
});

export function auditContract(store: string, open: Open<AuditRepository>): void {
  describe(`audit repository (${store})`, () => {
    it('numbers entries in order, across batches and a reopen; reads them newest first with details', async () => {
      const s = await open();
      await s.repo.append([entry({ at: T0 }), entry({ at: T0 + 1, action: 'user.enabled', details: { note: '复核后启用', n: 2, ok: true, none: null } })]);
      await s.repo.append([entry({ at: T0 + 2, actor: null, action: 'auth.login_refused', targetId: 'mallory', address: '10.0.0.9' })]);
      await s.close();
      const again = (await s.reopen()).repo;
      await again.append([entry({ at: T0 + 3, action: 'user.deleted' })]);
      const { total, items } = await again.query({ limit: 10, offset: 0 });
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
      const s = (await open()).repo;
      await s.append([
        entry({ at: T0, action: 'alert.ack', targetKind: 'alert', targetId: 'a-1' }),
        entry({ at: T0 + 1000, action: 'user.created', targetId: 'op1' }),
        entry({ at: T0 + 2000, actor: 'op1', action: 'alert.ack', targetKind: 'alert', targetId: 'a-1' }),
        entry({ at: T0 + 3000, action: 'device.registered', targetKind: 'device', targetId: 'cam-1' }),
      ]);
      const { total, items } = await s.query({ ...filter, limit: 10, offset: 0 });
      expect(items.map((e) => e.id)).toEqual(ids);
      expect(total).toBe(ids.length);
    });

    it('pages by offset with the whole total; past the end an empty page', async () => {
      const s = (await open()).repo;
      await s.append(Array.from({ length: 600 }, (_, i) => entry({ at: T0 + i, targetId: `u${i}` })));
      const first = await s.query({ limit: 250, offset: 0 });
      const last = await s.query({ limit: 250, offset: 500 });
      expect([first.total, first.items.length, first.items[0]!.id, first.items.at(-1)!.id]).toEqual([600, 250, 600, 351]);
      expect([last.total, last.items.length, last.items.at(-1)!.id]).toEqual([600, 100, 1]);
      expect(await s.query({ limit: 10, offset: 600 })).toEqual({ total: 600, items: [] });
    });

    it('prunes what is older than the retention, then all but the newest rows; numbering goes on', async () => {
      const s = (await open()).repo;
      await s.append(Array.from({ length: 10 }, (_, i) => entry({ at: T0 + i * 1000 })));
      expect(await s.prune(T0 + 3000, 100)).toBe(3);
      expect((await s.query({ limit: 100, offset: 0 })).items.map((e) => e.id)).toEqual([10, 9, 8, 7, 6, 5, 4]);
      expect(await s.prune(0, 2)).toBe(5);
      await s.append([entry({ at: T0 + 20_000 })]);
      expect((await s.query({ limit: 100, offset: 0 })).items.map((e) => e.id)).toEqual([11, 10, 9]);
      expect(await s.prune(0, 100)).toBe(0);
    });

    it('two batches at once are numbered one after the other, without a gap or a duplicate', async () => {
      const s = (await open()).repo;
      await Promise.all([
        s.append(Array.from({ length: 50 }, (_, i) => entry({ at: T0 + i, targetId: `a${i}` }))),
        s.append(Array.from({ length: 50 }, (_, i) => entry({ at: T0 + i, targetId: `b${i}` }))),
      ]);
      const { total, items } = await s.query({ limit: 200, offset: 0 });
      expect(total).toBe(100);
      expect(items.map((e) => e.id)).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
      // each batch kept its order inside its run of numbers
      const ofBatch = (p: string): number[] => items.filter((e) => e.targetId!.startsWith(p)).map((e) => Number(e.targetId!.slice(1)));
      for (const p of ['a', 'b']) expect(ofBatch(p)).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
    });
  });
}
