/**
 * Alerts with their timelines, rescue cases and the engine's rule states in PostgreSQL, with
 * the meaning of store/duckdb/alerts.ts: a checkpoint writes them in one transaction (records
 * upserted in place, timeline rows appended, each kind as one statement of array parameters:
 * database.ts unnest), lists are read in core/alerts/alertQuery.ts's orders and paged by key.
 * The writing of the records is writeAlertChanges, which a slot owner's checkpoint in cluster
 * mode (slotCheckpoints.ts) runs in its own transaction, marking the records with the slot.
 *
 * Text columns go through text.ts: a person's note (and a dispatcher's reason rendered into a
 * system note) may hold U+0000, as the routes check its length only and JSON's "\u0000"
 * passes; TEXT cannot hold it, and one such note must not fail the checkpoint carrying every
 * other change of the engine. Documents are JSON text, where JSON.stringify escapes it.
 *
 * Where DuckDB leaves the order of ties open (loadActive, outcomes, the cases' lists), the id
 * decides here, so a page cut by `limit` is the same on every read.
 */
import type { Alert, TimelineEntry } from '../../core/alerts/alert.js';
import type { AlertFilter, AlertKey, AlertSort } from '../../core/alerts/alertQuery.js';
import type { RescueCase } from '../../core/alerts/rescueCase.js';
import { alertOf, alertOutcomeOf, rescueCaseOf, timelineEntryOf } from '../alertRows.js';
import type { AlertOutcome, AlertOutcomeQuery, AlertQuery, AlertRepository, EngineCheckpoint, RescueCaseQuery } from '../types.js';
import { ms, msOrNull, unnest, type PostgresDatabase, type Sql } from './database.js';
import { fromPgText, toPgText, toPgTextOrNull } from './text.js';

const ALERT_COLUMNS = 'id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, ack_by, resolve_by, acknowledged_at, resolved_at, closed_by';
const ALERT_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'int8', 'int8', 'int8', 'text', 'int8', 'int8', 'int8', 'int8', 'text'];
const UNNEST_ALERTS = unnest(ALERT_TYPES);
const TIMELINE_COLUMNS = 'alert_id, n, happened_at, actor, action, note, code, params';
const UNNEST_TIMELINE = unnest(['text', 'int4', 'int8', 'text', 'text', 'text', 'text', 'text']);
const CASE_COLUMNS = 'id, elevator_id, alert_id, status, alarm_at, updated_at, district, doc';
const CASE_TYPES = ['text', 'text', 'text', 'text', 'int8', 'int8', 'text', 'text'];
const UNNEST_CASES = unnest(CASE_TYPES);

/** A text column read back as the repository was given it (text.ts). */
const text = (v: unknown): string => fromPgText(String(v));

export class PgAlerts implements AlertRepository {
  constructor(private readonly db: PostgresDatabase) {}

  async saveCheckpoint(cp: EngineCheckpoint): Promise<void> {
    const state: Array<[string, string]> = [['lastSeq', String(cp.lastSeq)], ...Object.entries(cp.ruleStates).map(([rule, v]): [string, string] => [`rule:${rule}`, v])];
    await this.db.tx(async (c) => {
      await c.query(`INSERT INTO engine_state (key, value) SELECT * FROM ${unnest(['text', 'text'])} ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [state.map(([k]) => toPgText(k)), state.map(([, v]) => toPgText(v))]);
      await writeAlertChanges(c, cp, null);
    });
  }

  async loadEngineState(): Promise<{ lastSeq: number; ruleStates: Record<string, unknown> } | null> {
    const rows = await this.db.rows('SELECT key, value FROM engine_state');
    if (!rows.length) return null;
    const ruleStates: Record<string, unknown> = {};
    let lastSeq = 0;
    for (const r of rows) {
      const key = text(r.key);
      if (key === 'lastSeq') lastSeq = Number(text(r.value));
      else if (key.startsWith('rule:')) ruleStates[key.slice(5)] = JSON.parse(text(r.value));
    }
    return { lastSeq, ruleStates };
  }

  async loadActive(): Promise<Alert[]> {
    return (await this.db.rows("SELECT doc FROM alerts WHERE status IN ('open', 'acknowledged') ORDER BY last_seen, id")).map(alertOf);
  }

  async query(q: AlertQuery): Promise<Alert[]> {
    const params: unknown[] = [];
    /** The placeholder of a new parameter: the SQL holds only `$n`, never a value. */
    const param = (v: unknown): string => `$${params.push(v)}`;
    const where = alertWhere(q, param);
    const sort = alertSorts[q.sort ?? 'lastSeen'];
    if (q.after) where.push(...keysetAfter(sort, q.after, param));
    const order = sort.map((k) => (k.desc ? `${k.column} DESC` : k.column)).join(', ');
    const rows = await this.db.rows(`SELECT doc FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ${order} LIMIT ${param(q.limit)}`, params);
    return rows.map(alertOf);
  }

  async get(id: string): Promise<Alert | null> {
    const rows = await this.db.rows('SELECT doc FROM alerts WHERE id = $1', [toPgText(id)]);
    return rows[0] ? alertOf(rows[0]) : null;
  }

  async timeline(alertId: string, limit: number, before?: number): Promise<TimelineEntry[]> {
    // n is a whole number: n < 2.5 is n < 3 (DuckDB compares with the fraction itself)
    const rows = await this.db.rows(`SELECT n, happened_at AS at, actor, action, note, code, params FROM alert_timeline
      WHERE alert_id = $1 ${before === undefined ? '' : 'AND n < $3::int8'} ORDER BY n DESC LIMIT $2`,
    before === undefined ? [toPgText(alertId), limit] : [toPgText(alertId), limit, bounded(Math.ceil(before))]);
    return rows.reverse().map((r) => timelineEntryOf(r, text));
  }

  async outcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]> {
    const params: unknown[] = [];
    const param = (v: unknown): string => `$${params.push(v)}`;
    const where = alertWhere({ ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}), until: q.to }, param);
    where.push(`first_seen >= ${param(ms(q.from))}`);
    const rows = await this.db.rows(`SELECT id, family, rule, severity, status, device_id, district, closed_by, first_seen, ack_by, resolve_by,
      acknowledged_at, resolved_at FROM alerts WHERE ${where.join(' AND ')} ORDER BY first_seen, id LIMIT ${param(q.limit)}`, params);
    return rows.map((r) => alertOutcomeOf(r, text));
  }

  async loadActiveCases(): Promise<RescueCase[]> {
    return (await this.db.rows("SELECT doc FROM rescue_cases WHERE status NOT IN ('closed', 'false_alarm') ORDER BY alarm_at, id")).map(rescueCaseOf);
  }

  async queryCases(q: RescueCaseQuery): Promise<RescueCase[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown): string => `$${params.push(v)}`;
    if (q.status?.length) where.push(`status = ANY(${param([...q.status])}::text[])`);
    if (q.elevatorId) where.push(`elevator_id = ${param(toPgText(q.elevatorId))}`);
    if (q.since !== undefined) where.push(`alarm_at >= ${param(ms(q.since))}`);
    if (q.until !== undefined) where.push(`alarm_at < ${param(ms(q.until))}`);
    // the case's district, else its elevator's as registered now (accounts/scope.ts caseDistrict)
    if (q.district !== undefined) {
      where.push(`starts_with(coalesce(district, (SELECT d.district FROM devices d WHERE d.id = rescue_cases.elevator_id), ''), ${param(toPgText(q.district))})`);
    }
    const rows = await this.db.rows(`SELECT doc FROM rescue_cases ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY alarm_at DESC, id LIMIT ${param(q.limit)}`, params);
    return rows.map(rescueCaseOf);
  }

  async getCase(id: string): Promise<RescueCase | null> {
    const rows = await this.db.rows('SELECT doc FROM rescue_cases WHERE id = $1', [toPgText(id)]);
    return rows[0] ? rescueCaseOf(rows[0]) : null;
  }
}

/** What a checkpoint changed of the alerts: the records, the entries appended, the rescue cases. */
export interface AlertChanges {
  alerts: readonly Alert[];
  timeline: ReadonlyArray<{ alertId: string; entry: TimelineEntry }>;
  cases: readonly RescueCase[];
}

/**
 * Write a checkpoint's alerts, timeline entries and cases on `c`, inside the caller's
 * transaction: the single node's (PgAlerts.saveCheckpoint, `slot` null) and a slot owner's
 * (slotCheckpoints.ts), which marks its records with the slot so its successor loads them.
 * The slot is written as coalesce(new, stored): a write without one (a single node's) leaves a
 * record's slot as it is, a slot owner's sets it. Each kind is one statement whatever its count.
 */
export async function writeAlertChanges(c: Sql, changes: AlertChanges, slot: number | null): Promise<void> {
  // PostgreSQL refuses an upsert that meets one key twice in a statement; the engine sends
  // each changed record once, so this only guards: the later one wins, as DuckDB's
  // row-by-row INSERT OR REPLACE of the cases has it (DuckDB's one upsert of the alerts
  // keeps the first instead). In id order, so two writers lock rows in the same order and
  // cannot deadlock.
  const alerts = lastOfEach(changes.alerts, (a) => a.id);
  const cases = lastOfEach(changes.cases, (x) => x.id);
  if (alerts.length) {
    // in place: the record is small (the timeline is rows of its own); what never changes
    // for an alert (family, rule, device, district, first seen) is left as first written
    await c.query(`INSERT INTO alerts (${ALERT_COLUMNS}, slot) SELECT u.*, $${ALERT_TYPES.length + 1}::int2 FROM ${UNNEST_ALERTS} AS u
      ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status, last_seen = excluded.last_seen,
        updated_at = excluded.updated_at, doc = excluded.doc, ack_by = excluded.ack_by, resolve_by = excluded.resolve_by,
        acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at, closed_by = excluded.closed_by,
        slot = coalesce(excluded.slot, alerts.slot)`, [...columnsOf(alerts, (x) => {
      const d = x.deadlines;
      return [toPgText(x.id), x.family, toPgText(x.rule), x.severity, x.status, toPgText(x.device.id), toPgTextOrNull(x.device.district),
        ms(x.firstSeen), ms(x.lastSeen), ms(x.updatedAt), JSON.stringify(x), msOrNull(d.ackBy), msOrNull(d.resolveBy),
        msOrNull(d.acknowledgedAt), msOrNull(d.resolvedAt), toPgTextOrNull(x.closedBy)];
    }), slot]);
  }
  if (changes.timeline.length) {
    // appended; an entry stored already (the same alert and n) is kept as it is
    await c.query(`INSERT INTO alert_timeline (${TIMELINE_COLUMNS}) SELECT * FROM ${UNNEST_TIMELINE} ON CONFLICT DO NOTHING`,
      columnsOf(changes.timeline, ({ alertId, entry: e }) => [toPgText(alertId), e.n, ms(e.at), toPgText(e.by), e.action, toPgTextOrNull(e.note),
        toPgTextOrNull(e.code), e.params ? JSON.stringify(e.params) : null]));
  }
  if (cases.length) {
    await c.query(`INSERT INTO rescue_cases (${CASE_COLUMNS}, slot) SELECT u.*, $${CASE_TYPES.length + 1}::int2 FROM ${UNNEST_CASES} AS u
      ON CONFLICT (id) DO UPDATE SET elevator_id = excluded.elevator_id, alert_id = excluded.alert_id, status = excluded.status,
        alarm_at = excluded.alarm_at, updated_at = excluded.updated_at, district = excluded.district, doc = excluded.doc,
        slot = coalesce(excluded.slot, rescue_cases.slot)`,
    [...columnsOf(cases, (x) => [toPgText(x.id), toPgText(x.elevatorId), toPgText(x.alertId), x.status, ms(x.alarmAt), ms(x.updatedAt),
      toPgTextOrNull(x.district), JSON.stringify(x)]), slot]);
  }
}

/** One key of a sort: a column ascending, or descending (its number in the key is the column negated). */
interface SortColumn { column: string; desc?: boolean }

/**
 * Each sort of alertQuery.ts as columns, in the order and direction of its key (alertSortKey),
 * each with an index of the same order (schema/alerts.ts). The id is COLLATE "C": byte order,
 * as DuckDB compares strings.
 */
const alertSorts: Record<AlertSort, readonly SortColumn[]> = {
  lastSeen: [{ column: 'last_seen', desc: true }, { column: 'id' }],
  firstSeen: [{ column: 'first_seen', desc: true }, { column: 'id' }],
  priority: [{ column: 'priority_rank' }, { column: 'next_deadline' }, { column: 'first_seen', desc: true }, { column: 'id' }],
};

/**
 * The rows whose sort key comes after `after`, lexicographically: one OR'd term per position
 * (the keys before it equal, this one past), and the first column's bound alone as well,
 * which the OR implies but which lets the index scan start at the cursor.
 */
function keysetAfter(sort: readonly SortColumn[], after: AlertKey, param: (v: unknown) => string): string[] {
  const key = wholeKey(after);
  const placeholders = key.map((v, i) => (typeof v === 'number' ? `${param(sort[i]!.desc ? -v : v)}::int8` : param(v)));
  const past = (i: number): string => `${sort[i]!.column} ${sort[i]!.desc ? '<' : '>'} ${placeholders[i]}`;
  const terms = key.map((_, i) => `(${[...key.slice(0, i).map((_v, j) => `${sort[j]!.column} = ${placeholders[j]}`), past(i)].join(' AND ')})`);
  return [`${sort[0]!.column} ${sort[0]!.desc ? '<=' : '>='} ${placeholders[0]}`, `(${terms.join(' OR ')})`];
}

/**
 * A cursor as values the columns can be compared with exactly. Every key column is a whole
 * number, so a key past x (a fraction) is a key past floor(x), and none equals x: the cursor
 * ends there. Beyond ±2^62 nothing is stored, and an int8 parameter could not hold it. An id
 * cannot hold U+0000 in TEXT, and stored ids hold none: an id past "p\0..." is one past "p".
 */
function wholeKey(after: AlertKey): Array<number | string> {
  const key: Array<number | string> = [];
  for (const v of after) {
    if (typeof v === 'string') {
      key.push(v.split('\0')[0]!);
    } else {
      key.push(bounded(Math.floor(v)));
      if (!Number.isInteger(v)) break;
    }
  }
  return key;
}

const BOUND = 2 ** 62;
const bounded = (v: number): number => Math.max(-BOUND, Math.min(BOUND, v));

/**
 * alertQuery.ts's matchesAlert as WHERE terms. Text parameters are encoded as stored (text.ts),
 * so a value holding U+0000 matches what it would in DuckDB (nothing stored has one) instead of
 * failing the statement. A district prefix is never empty here (an empty one filters nothing),
 * so `^@` on the column is DuckDB's starts_with(coalesce(district, ''), prefix).
 */
function alertWhere(f: AlertFilter, param: (v: unknown) => string): string[] {
  const where: string[] = [];
  if (f.status?.length) where.push(`status = ANY(${param([...f.status])}::text[])`);
  if (f.family) where.push(`family = ${param(f.family)}`);
  if (f.severity?.length) where.push(`severity = ANY(${param([...f.severity])}::text[])`);
  if (f.deviceId) where.push(`device_id = ${param(toPgText(f.deviceId))}`);
  if (f.rule) where.push(`rule = ${param(toPgText(f.rule))}`);
  if (f.district) where.push(`district ^@ ${param(toPgText(f.district))}`);
  if (f.since !== undefined) where.push(`last_seen >= ${param(ms(f.since))}::int8`);
  if (f.until !== undefined) where.push(`first_seen < ${param(ms(f.until))}::int8`);
  return where;
}

/** The last item of each key, in key order (any fixed order would do: it is the order rows are locked in). */
function lastOfEach<T>(items: readonly T[], key: (x: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const x of items) byKey.set(key(x), x);
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, x]) => x);
}

/** Rows as one array per column (an unnest statement's parameters). */
function columnsOf<T>(items: readonly T[], row: (x: T) => unknown[]): unknown[][] {
  const columns: unknown[][] = [];
  for (const x of items) row(x).forEach((v, i) => (columns[i] ??= []).push(v));
  return columns;
}
