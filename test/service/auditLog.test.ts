/**
 * The audit log's recorder (accounts/auditLog.ts) over a fake repository: `record` never waits
 * for the store, entries are written in batches and in order, a list sees everything recorded
 * before it, a failing store keeps them for a retry with memory bounded, details are bounded
 * and never hold a secret (core/audit.ts); the retention settings are validated.
 */
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../../accounts/auditLog.js';
import { boundedDetails, boundedText } from '../../core/audit.js';
import { loadConfig } from '../../service/config.js';
import type { AuditEntry, AuditQuery, AuditRepository } from '../../store/types.js';

/** A repository in memory that counts its calls and fails while `failing`. */
function fakeRepo() {
  const rows: AuditEntry[] = [];
  const repo = {
    failing: false,
    appends: 0,
    pruned: [] as Array<[number, number]>,
    rows,
    append(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
      repo.appends++;
      if (repo.failing) return Promise.reject(new Error('disk full'));
      for (const e of entries) rows.push({ ...e, id: rows.length + 1 });
      return Promise.resolve();
    },
    query(q: AuditQuery) {
      const items = rows.filter((e) => !q.actions || q.actions.includes(e.action)).reverse();
      return Promise.resolve({ total: items.length, items: items.slice(q.offset, q.offset + q.limit) });
    },
    prune(before: number, keepRows: number) {
      repo.pruned.push([before, keepRows]);
      return Promise.resolve(0);
    },
  } satisfies AuditRepository & Record<string, unknown>;
  return repo;
}

const errors: string[] = [];
const onError = (_err: unknown, what: string) => { errors.push(what); };

describe('AuditLog', () => {
  it('records without touching the store, then writes the moment\'s entries in one batch; a list sees them all', async () => {
    const repo = fakeRepo();
    const log = new AuditLog({ audit: repo }, { retentionDays: 365, maxRows: 1000, flushMs: 60_000 }, onError, () => 42);
    for (let i = 0; i < 5; i++) log.record({ action: 'alert.ack', actor: 'op1', targetId: `a-${i}`, address: '127.0.0.1', details: { note: 'ok' } });
    expect(repo.appends).toBe(0);
    const { total, items } = await log.list({ limit: 10, offset: 0 });
    expect(repo.appends).toBe(1);
    expect(total).toBe(5);
    expect(items[0]).toEqual({ id: 5, at: 42, actor: 'op1', action: 'alert.ack', targetKind: 'alert', targetId: 'a-4', address: '127.0.0.1', details: { note: 'ok' } });
    await log.stop();
  });

  it('writes on its own a moment later, and at once past a batch', async () => {
    const repo = fakeRepo();
    const log = new AuditLog({ audit: repo }, { retentionDays: 365, maxRows: 1000, flushMs: 10 }, onError);
    log.record({ action: 'auth.logout', actor: 'op1', targetId: 'op1', address: null });
    await new Promise((r) => setTimeout(r, 50));
    expect(repo.rows).toHaveLength(1);
    await log.stop();
  });

  it('keeps entries while the store fails (in order, the oldest dropped past maxPending) and writes them once it recovers', async () => {
    const repo = fakeRepo();
    errors.length = 0;
    const log = new AuditLog({ audit: repo }, { retentionDays: 365, maxRows: 1000, flushMs: 60_000, maxPending: 3 }, onError);
    repo.failing = true;
    for (let i = 0; i < 2; i++) log.record({ action: 'user.created', actor: 'admin', targetId: `u${i}`, address: null });
    await log.flush();
    expect(errors[0]).toMatch(/writing 2 audit entries failed/);
    for (let i = 2; i < 5; i++) log.record({ action: 'user.created', actor: 'admin', targetId: `u${i}`, address: null });
    expect(log.dropped).toBe(2);
    repo.failing = false;
    await log.stop();
    expect(repo.rows.map((e) => e.targetId)).toEqual(['u2', 'u3', 'u4']);
  });

  it('prunes at start by the retention: days before now, and the row bound', async () => {
    const repo = fakeRepo();
    const log = new AuditLog({ audit: repo }, { retentionDays: 30, maxRows: 5000 }, onError, () => 100 * 86_400_000);
    await log.start();
    expect(repo.pruned).toEqual([[70 * 86_400_000, 5000]]);
    await log.stop();
  });

  it('bounds what it keeps: ids and usernames cut, control characters gone, no secret-named detail, texts and details bounded', () => {
    const repo = fakeRepo();
    const log = new AuditLog({ audit: repo }, { retentionDays: 365, maxRows: 1000 }, onError);
    log.record({ action: 'auth.login_refused', actor: null, targetId: `x\u0000y${'z'.repeat(500)}`, address: '::1', details: { password: 'hunter2', newPassword: 'x', secret: 's', token: 't', reason: 'bad_credentials' } });
    void log.flush();
    expect(boundedText('a\nb')).toBe('a b');
    expect(boundedText('x'.repeat(300))).toHaveLength(200);
    expect(boundedDetails({ password: 'p', note: 'n'.repeat(1000), n: Number.NaN, gone: undefined })).toEqual({ note: `${'n'.repeat(199)}…` });
    expect(boundedDetails({})).toBeNull();
    expect(Object.keys(boundedDetails(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])))!)).toHaveLength(12);
    return log.stop().then(() => {
      const e = repo.rows[0]!;
      expect(e.targetId).toHaveLength(128);
      expect(e.targetId!.startsWith('x y')).toBe(true);
      expect(e.details).toEqual({ reason: 'bad_credentials' });
      expect(JSON.stringify(e)).not.toContain('hunter2');
    });
  });
});

describe('retention settings', () => {
  it('default 365 days and 1,000,000 rows; validated', () => {
    expect(loadConfig({}).audit).toEqual({ retentionDays: 365, maxRows: 1_000_000 });
    expect(loadConfig({ AUDIT_RETENTION_DAYS: '180', AUDIT_MAX_ROWS: '5000' }).audit).toEqual({ retentionDays: 180, maxRows: 5000 });
    for (const [name, bad] of [['AUDIT_RETENTION_DAYS', '0'], ['AUDIT_RETENTION_DAYS', '1.5'], ['AUDIT_RETENTION_DAYS', 'forever'], ['AUDIT_MAX_ROWS', '10'], ['AUDIT_MAX_ROWS', '-1']] as const) {
      expect(() => loadConfig({ [name]: bad }), `${name}=${bad}`).toThrow(new RegExp(name));
    }
  });
});
