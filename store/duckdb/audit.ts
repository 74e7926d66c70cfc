/**
 * The audit log in DuckDB (table `audit_log`, schema 9). Written on the control connection in
 * batches (accounts/auditLog.ts gathers them off the request path), read on the reader.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { AuditEntry, AuditQuery, AuditRepository } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { auditEntryOf } from '../rows.js';
import { all } from './sql.js';

/** Rows per INSERT statement (8 parameters each). */
const ROWS_PER_STATEMENT = 250;

export class DuckDbAudit implements AuditRepository {
  /** the last id written; read from the table at the first append (one writer: the control queue) */
  private lastId: number | null = null;

  constructor(private readonly db: DuckDbDatabase) {}

  append(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
    if (!entries.length) return Promise.resolve();
    return this.db.controlTx(async (c) => {
      let id = this.lastId ?? await maxId(c);
      for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT) {
        const part = entries.slice(i, i + ROWS_PER_STATEMENT);
        const params: DuckDBValue[] = [];
        for (const e of part) {
          params.push(++id, e.at, e.actor, e.action, e.targetKind, e.targetId, e.address, e.details ? JSON.stringify(e.details) : null);
        }
        await c.run(`INSERT INTO audit_log VALUES ${part.map(() => '(?, epoch_ms(?::BIGINT), ?, ?, ?, ?, ?, ?)').join(', ')}`, params);
      }
      // only once committed: a rolled-back batch leaves its numbers free
      return id;
    }).then((id) => { this.lastId = id; });
  }

  query(q: AuditQuery): Promise<{ total: number; items: AuditEntry[] }> {
    const where: string[] = [];
    const params: DuckDBValue[] = [];
    if (q.actor !== undefined) { where.push('actor = ?'); params.push(q.actor); }
    if (q.actions?.length) { where.push(`action IN (${q.actions.map(() => '?').join(', ')})`); params.push(...q.actions); }
    if (q.targetKind !== undefined) { where.push('target_kind = ?'); params.push(q.targetKind); }
    if (q.targetId !== undefined) { where.push('target_id = ?'); params.push(q.targetId); }
    if (q.from !== undefined) { where.push('happened_at >= epoch_ms(?::BIGINT)'); params.push(q.from); }
    if (q.to !== undefined) { where.push('happened_at < epoch_ms(?::BIGINT)'); params.push(q.to); }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.db.read(async (c) => {
      const total = Number((await all(c, `SELECT count(*)::DOUBLE AS n FROM audit_log ${filter}`, params))[0]?.n ?? 0);
      const rows = total > q.offset
        ? await all(c, `SELECT id::DOUBLE AS id, epoch_ms(happened_at)::DOUBLE AS at, actor, action, target_kind, target_id, address, details
          FROM audit_log ${filter} ORDER BY id DESC LIMIT ? OFFSET ?`, [...params, q.limit, q.offset])
        : [];
      return { total, items: rows.map(auditEntryOf) };
    });
  }

  prune(before: number, keepRows: number): Promise<number> {
    return this.db.controlTx(async (c) => {
      // ids are dense and in order, so "all but the newest keepRows" is an id bound
      const r = await c.run('DELETE FROM audit_log WHERE happened_at < epoch_ms(?::BIGINT) OR id <= (SELECT coalesce(max(id), 0) FROM audit_log) - ?', [before, keepRows]);
      return r.rowsChanged;
    });
  }
}

async function maxId(c: DuckDBConnection): Promise<number> {
  return Number((await all(c, 'SELECT coalesce(max(id), 0)::DOUBLE AS m FROM audit_log'))[0]?.m ?? 0);
}
