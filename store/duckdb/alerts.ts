/**
 * Alerts with their timelines, rescue cases and the engine's rule states in DuckDB: the engine's
 * checkpoint writes them in one transaction; the operators' reads use the records connection.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { Alert, TimelineEntry } from '../../core/alerts/alert.js';
import type { AlertFilter, AlertSort } from '../../core/alerts/alertQuery.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { alertOf, alertOutcomeOf, rescueCaseOf, timelineEntryOf } from '../alertRows.js';
import type { AlertOutcome, AlertOutcomeQuery, AlertQuery, AlertRepository, EngineCheckpoint, RescueCaseQuery } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { all, placeholders } from './sql.js';

/** Timeline rows per INSERT statement in a checkpoint. */
const TIMELINE_ROWS_PER_INSERT = 200;
/** Alert records per INSERT into the staging table in a checkpoint. */
const ALERT_ROWS_PER_INSERT = 100;
/** A timeline row: a system note's code and its parameters (JSON) since schema 10. */
const TIMELINE_COLUMNS = 'alert_id, n, happened_at, actor, action, note, code, params';
const ALERT_COLUMNS = 'id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, ack_by, resolve_by, acknowledged_at, resolved_at, closed_by';

export class DuckDbAlerts implements AlertRepository {
  constructor(private readonly db: DuckDbDatabase) {}

  saveCheckpoint(cp: EngineCheckpoint): Promise<void> {
    return this.db.controlTx(async (c) => {
      const state = await c.prepare('INSERT OR REPLACE INTO engine_state (key, value) VALUES (?, ?)');
      state.bind(['lastSeq', String(cp.lastSeq)]);
      await state.run();
      for (const [rule, value] of Object.entries(cp.ruleStates)) {
        state.bind([`rule:${rule}`, value]);
        await state.run();
      }
      if (cp.alerts.length) {
        // In place, and in one statement: the record is small (the timeline is rows of its own),
        // so a note rewrites a few hundred bytes, not the alert's history. The rows go through a
        // staging table first: DuckDB's ON CONFLICT run once per row held ~400 KB per row until
        // COMMIT (3,000 changed alerts in one checkpoint hit a 512 MB limit); once for all is flat.
        await c.run('CREATE TEMP TABLE IF NOT EXISTS alert_stage AS SELECT * FROM alerts LIMIT 0');
        await c.run('DELETE FROM alert_stage');
        const tuple = '(?, ?, ?, ?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), ?)';
        for (let at = 0; at < cp.alerts.length; at += ALERT_ROWS_PER_INSERT) {
          const slice = cp.alerts.slice(at, at + ALERT_ROWS_PER_INSERT);
          const params: DuckDBValue[] = [];
          for (const x of slice) {
            const d = x.deadlines;
            params.push(x.id, x.family, x.rule, x.severity, x.status, x.device.id, x.device.district, x.firstSeen, x.lastSeen, x.updatedAt, JSON.stringify(x),
              d.ackBy, d.resolveBy, d.acknowledgedAt, d.resolvedAt, x.closedBy ?? null);
          }
          await c.run(`INSERT INTO alert_stage (${ALERT_COLUMNS}) VALUES ${slice.map(() => tuple).join(', ')}`, params);
        }
        await c.run(`INSERT INTO alerts (${ALERT_COLUMNS}) SELECT ${ALERT_COLUMNS} FROM alert_stage
          ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status, last_seen = excluded.last_seen,
            updated_at = excluded.updated_at, doc = excluded.doc, ack_by = excluded.ack_by, resolve_by = excluded.resolve_by,
            acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at, closed_by = excluded.closed_by`);
        await c.run('DELETE FROM alert_stage');
      }
      // appended rows, several to a statement
      for (let at = 0; at < cp.timeline.length; at += TIMELINE_ROWS_PER_INSERT) {
        const slice = cp.timeline.slice(at, at + TIMELINE_ROWS_PER_INSERT);
        const params: DuckDBValue[] = [];
        for (const { alertId, entry: e } of slice) {
          params.push(alertId, e.n, e.at, e.by, e.action, e.note ?? null, e.code ?? null, e.params ? JSON.stringify(e.params) : null);
        }
        await c.run(`INSERT OR IGNORE INTO alert_timeline (${TIMELINE_COLUMNS}) VALUES ${slice.map(() => '(?, ?, epoch_ms(?::BIGINT), ?, ?, ?, ?, ?)').join(', ')}`, params);
      }
      if (cp.cases.length) {
        const r = await c.prepare(`INSERT OR REPLACE INTO rescue_cases (id, elevator_id, alert_id, status, alarm_at, updated_at, doc)
          VALUES (?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), ?)`);
        for (const x of cp.cases) {
          r.bind([x.id, x.elevatorId, x.alertId, x.status, x.alarmAt, x.updatedAt, JSON.stringify(x)]);
          await r.run();
        }
      }
    });
  }

  loadEngineState(): Promise<{ lastSeq: number; ruleStates: Record<string, unknown> } | null> {
    return this.db.read(async (c) => {
      const rows = await all(c, 'SELECT key, value FROM engine_state');
      if (!rows.length) return null;
      const ruleStates: Record<string, unknown> = {};
      let lastSeq = 0;
      for (const r of rows) {
        const key = String(r.key);
        if (key === 'lastSeq') lastSeq = Number(r.value);
        else if (key.startsWith('rule:')) ruleStates[key.slice(5)] = JSON.parse(String(r.value));
      }
      return { lastSeq, ruleStates };
    });
  }

  loadActive(): Promise<Alert[]> {
    return this.db.readRecords(async (c) => (await all(c, "SELECT doc FROM alerts WHERE status IN ('open', 'acknowledged') ORDER BY last_seen")).map(alertOf));
  }

  query(q: AlertQuery): Promise<Alert[]> {
    return this.db.readRecords(async (c) => {
      const { where, params } = alertWhere(q);
      const sort = alertSortSql[q.sort ?? 'lastSeen'];
      if (q.after) {
        // keyset: the sort's key tuple after the cursor's, lexicographically (alertQuery.ts)
        const ors: string[] = [];
        for (let i = 0; i < sort.length; i++) {
          ors.push('(' + [...sort.slice(0, i).map((e) => `${e} = ?`), `${sort[i]} > ?`].join(' AND ') + ')');
          params.push(...q.after.slice(0, i + 1) as DuckDBValue[]);
        }
        where.push(`(${ors.join(' OR ')})`);
      }
      params.push(q.limit);
      const rows = await all(c, `SELECT doc FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${sort.join(', ')} LIMIT ?`, params);
      return rows.map(alertOf);
    });
  }

  get(id: string): Promise<Alert | null> {
    return this.db.readRecords(async (c) => {
      const rows = await all(c, 'SELECT doc FROM alerts WHERE id = ?', [id]);
      return rows[0] ? alertOf(rows[0]) : null;
    });
  }

  timeline(alertId: string, limit: number, before?: number): Promise<TimelineEntry[]> {
    return this.db.readRecords(async (c) => {
      const rows = await all(c, `SELECT n, epoch_ms(happened_at)::DOUBLE AS at, actor, action, note, code, params FROM alert_timeline
        WHERE alert_id = ? ${before === undefined ? '' : 'AND n < ?'} ORDER BY n DESC LIMIT ?`, before === undefined ? [alertId, limit] : [alertId, before, limit]);
      return rows.reverse().map((r) => timelineEntryOf(r));
    });
  }

  outcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]> {
    return this.db.readRecords(async (c) => {
      const { where, params } = alertWhere({ ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}), until: q.to });
      where.push('first_seen >= epoch_ms(?::BIGINT)');
      params.push(q.from, q.limit);
      const ms = (col: string) => `epoch_ms(${col})::DOUBLE AS ${col}`;
      const rows = await all(c, `SELECT id, family, rule, severity, status, device_id, district, closed_by, ${['first_seen', 'ack_by', 'resolve_by', 'acknowledged_at', 'resolved_at'].map(ms).join(', ')}
        FROM alerts WHERE ${where.join(' AND ')} ORDER BY first_seen LIMIT ?`, params);
      return rows.map((r) => alertOutcomeOf(r));
    });
  }

  loadActiveCases(): Promise<RescueCase[]> {
    return this.db.readRecords(async (c) => (await all(c, "SELECT doc FROM rescue_cases WHERE status NOT IN ('closed', 'false_alarm') ORDER BY alarm_at")).map(rescueCaseOf));
  }

  queryCases(q: RescueCaseQuery): Promise<RescueCase[]> {
    return this.db.readRecords(async (c) => {
      const where: string[] = [];
      const params: DuckDBValue[] = [];
      if (q.status?.length) { where.push(`status IN (${placeholders(q.status.length)})`); params.push(...q.status); }
      if (q.elevatorId) { where.push('elevator_id = ?'); params.push(q.elevatorId); }
      if (q.since !== undefined) { where.push('alarm_at >= epoch_ms(?::BIGINT)'); params.push(q.since); }
      if (q.until !== undefined) { where.push('alarm_at < epoch_ms(?::BIGINT)'); params.push(q.until); }
      // the case's district, else its elevator's as registered now (accounts/scope.ts caseDistrict)
      if (q.district !== undefined) {
        where.push(`starts_with(coalesce(json_extract_string(doc, '$.district'), (SELECT d.district FROM devices d WHERE d.id = rescue_cases.elevator_id), ''), ?)`);
        params.push(q.district);
      }
      params.push(q.limit);
      const rows = await all(c, `SELECT doc FROM rescue_cases ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY alarm_at DESC LIMIT ?`, params);
      return rows.map(rescueCaseOf);
    });
  }

  getCase(id: string): Promise<RescueCase | null> {
    return this.db.readRecords(async (c) => {
      const rows = await all(c, 'SELECT doc FROM rescue_cases WHERE id = ?', [id]);
      return rows[0] ? rescueCaseOf(rows[0]) : null;
    });
  }
}

/** Each sort of alertQuery.ts as SQL expressions, in the same order and direction as its key. */
const alertSortSql: Record<AlertSort, string[]> = {
  lastSeen: ['-epoch_ms(last_seen)', 'id'],
  firstSeen: ['-epoch_ms(first_seen)', 'id'],
  priority: [
    "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END",
    `coalesce(epoch_ms(CASE status WHEN 'open' THEN ack_by WHEN 'acknowledged' THEN resolve_by END), ${Number.MAX_SAFE_INTEGER})`,
    '-epoch_ms(first_seen)', 'id',
  ],
};

/** alertQuery.ts's matchesAlert as a WHERE clause. */
function alertWhere(f: AlertFilter): { where: string[]; params: DuckDBValue[] } {
  const where: string[] = [];
  const params: DuckDBValue[] = [];
  const anyOf = (col: string, values: readonly string[]) => { where.push(`${col} IN (${placeholders(values.length)})`); params.push(...values); };
  if (f.status?.length) anyOf('status', f.status);
  if (f.family) { where.push('family = ?'); params.push(f.family); }
  if (f.severity?.length) anyOf('severity', f.severity);
  if (f.deviceId) { where.push('device_id = ?'); params.push(f.deviceId); }
  if (f.rule) { where.push('rule = ?'); params.push(f.rule); }
  if (f.district) { where.push('starts_with(coalesce(district, \'\'), ?)'); params.push(f.district); }
  if (f.since !== undefined) { where.push('last_seen >= epoch_ms(?::BIGINT)'); params.push(f.since); }
  if (f.until !== undefined) { where.push('first_seen < epoch_ms(?::BIGINT)'); params.push(f.until); }
  return { where, params };
}
