/**
 * The audit log in PostgreSQL, with the semantics of store/duckdb/audit.ts: entries numbered
 * densely in order after the last stored id, read newest first with the total that matches,
 * pruned by age and by rows.
 *
 * DuckDB keeps the last id in memory (one writer, the control queue). In cluster mode every
 * node appends, so here each batch reads the last id under a table lock held to its commit:
 * appends from all nodes queue one after the other and the numbers stay dense (a rolled-back
 * batch leaves its numbers free, as in DuckDB), while reads go on (EXCLUSIVE mode blocks only
 * writers). A sequence would not do: it leaves gaps, and prune counts rows by ids.
 */
import { auditEntryOf } from '../rows.js';
import type { AuditEntry, AuditQuery, AuditRepository } from '../types.js';
import { ms, num, unnest, type PostgresDatabase } from './database.js';

const ENTRY_COLUMNS = 'id, happened_at, actor, action, target_kind, target_id, address, details';

export class PgAudit implements AuditRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async append(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
    if (!entries.length) return;
    await this.db.tx(async (c) => {
      await c.query('LOCK TABLE audit_log IN EXCLUSIVE MODE');
      const last = num((await c.query('SELECT coalesce(max(id), 0) AS m FROM audit_log')).rows[0]?.m ?? 0);
      await c.query(`INSERT INTO audit_log (${ENTRY_COLUMNS}) SELECT * FROM ${unnest(['int8', 'int8', 'text', 'text', 'text', 'text', 'text', 'text'])}`, [
        entries.map((_, i) => last + i + 1), entries.map((e) => ms(e.at)), entries.map((e) => e.actor), entries.map((e) => e.action),
        entries.map((e) => e.targetKind), entries.map((e) => e.targetId), entries.map((e) => e.address),
        entries.map((e) => (e.details ? JSON.stringify(e.details) : null)),
      ]);
    });
  }

  query(q: AuditQuery): Promise<{ total: number; items: AuditEntry[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    /** The placeholder of a new parameter: the SQL holds only `$n`, never a value. */
    const param = (v: unknown): string => `$${params.push(v)}`;
    if (q.actor !== undefined) where.push(`actor = ${param(q.actor)}`);
    if (q.actions?.length) where.push(`action = ANY(${param([...q.actions])}::text[])`);
    if (q.targetKind !== undefined) where.push(`target_kind = ${param(q.targetKind)}`);
    if (q.targetId !== undefined) where.push(`target_id = ${param(q.targetId)}`);
    if (q.from !== undefined) where.push(`happened_at >= ${param(ms(q.from))}`);
    if (q.to !== undefined) where.push(`happened_at < ${param(ms(q.to))}`);
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // one snapshot: the total and the page agree while other nodes append
    return this.db.tx(async (c) => {
      const total = num((await c.query(`SELECT count(*) AS n FROM audit_log ${filter}`, params)).rows[0]?.n ?? 0);
      const rows = total > q.offset
        ? (await c.query(`SELECT id, happened_at AS at, actor, action, target_kind, target_id, address, details FROM audit_log ${filter} ORDER BY id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, q.limit, q.offset])).rows
        : [];
      return { total, items: rows.map(auditEntryOf) };
    }, 'readOnly');
  }

  prune(before: number, keepRows: number): Promise<number> {
    // ids are dense and in order, so "all but the newest keepRows" is an id bound
    return this.db.run('DELETE FROM audit_log WHERE happened_at < $1 OR id <= (SELECT coalesce(max(id), 0) FROM audit_log) - $2', [ms(before), keepRows]);
  }
}
