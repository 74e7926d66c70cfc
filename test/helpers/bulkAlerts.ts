/**
 * Many closed alerts at once for the export tests, as the engine's checkpoint stores them (the
 * columns and the record as JSON), made by DuckDB in one statement: through the checkpoint's
 * own INSERTs 50,000 rows take a minute on a shared machine. It reaches into the DuckDB store in
 * this thread: a suite using it starts its service with `DUCKDB_WORKER: 'false'` (ignored where
 * that setting does not exist). On cluster mode's PostgreSQL (the API suites' second run) the
 * same rows are made by one statement there.
 */
import type { Alert } from '../../core/alerts/alert.js';
import type { DuckDbDatabase } from '../../store/duckdb/database.js';
import type { TestService } from './service.js';

/**
 * `count` resolved kitchen alerts `<prefix>-000000` … of device `bulk-cam` in `district`, the
 * i-th first seen (and last seen, updated) at `t0 + i` ms.
 */
export async function insertBulkAlerts(ts: TestService, count: number, t0: number, district: string, prefix = 'bulk'): Promise<void> {
  const deadlines = { ackBy: null, resolveBy: null, ackWarnAt: null, resolveWarnAt: null, acknowledgedAt: null, resolvedAt: t0, ackWarned: false, ackBreached: false,
    resolveWarned: false, resolveBreached: false, reminders: 0, nextReminderAt: null, escalation: 0 };
  const doc: Alert = {
    id: '@ID@', family: 'kitchen', rule: 'kitchen.violation', condition: 'rat', severity: 'info', status: 'resolved', summary: 'bulk',
    params: {}, device: { id: 'bulk-cam', name: null, district, location: null, meta: {} }, evidence: [], assignee: null, count: 1,
    firstSeen: -1, lastSeen: -1, windowMs: 0, deadlines, events: 1, notes: 0, closedBy: 'system', updatedAt: -1,
  };
  const shared = ts.service.shared;
  if (shared) {
    const id = `format('%s-%s', $1::text, lpad(i::text, 6, '0'))`;
    await shared.db.run(`INSERT INTO alerts (id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, resolved_at, closed_by)
      SELECT ${id}, 'kitchen', 'kitchen.violation', 'info', 'resolved', 'bulk-cam', $2, $3::bigint + i, $3::bigint + i, $3::bigint + i,
        replace(replace($4, '@ID@', ${id}), '-1', ($3::bigint + i)::text), $3, 'system'
      FROM generate_series(0, $5::int - 1) AS t(i)`, [prefix, district, t0, JSON.stringify(doc), count]);
    return;
  }
  const db = (ts.service.store.alerts as unknown as { db?: DuckDbDatabase }).db;
  if (!db) throw new Error('insertBulkAlerts needs the DuckDB store in this thread: start the service with DUCKDB_WORKER: \'false\'');
  await db.controlTx((c) => c.run(`INSERT INTO alerts (id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, resolved_at, closed_by)
    SELECT printf(?, i), 'kitchen', 'kitchen.violation', 'info', 'resolved', 'bulk-cam', ?, epoch_ms(?::BIGINT + i), epoch_ms(?::BIGINT + i),
      epoch_ms(?::BIGINT + i), replace(replace(?, '@ID@', printf(?, i)), '-1', CAST(?::BIGINT + i AS VARCHAR)), epoch_ms(?::BIGINT), 'system'
    FROM range(${count}) t(i)`, [`${prefix}-%06d`, district, t0, t0, t0, JSON.stringify(doc), `${prefix}-%06d`, t0, t0]));
}
