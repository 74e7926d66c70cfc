/**
 * Readings in PostgreSQL (cluster mode), with the semantics of store/duckdb/readings.ts: the
 * ingest batch and its dead letters in one transaction, reads by device and by position.
 *
 * Each node numbers its own readings (schema/readings.ts): `after` and `lastSequences` read
 * this node's rows only (its replay, its InfluxDB forwarding), while `query`, `count`,
 * `history` and `recentMessageKeys` read every node's (a device may reconnect through another).
 *
 * The batch: readings go in with COPY FROM STDIN, one COPY per channel table, into the parent
 * table (PostgreSQL routes each row to its month's partition). The month partitions a batch
 * needs are made first, in a short transaction of their own under an advisory lock (nodes that
 * reach a new month together take turns; CREATE ... PARTITION OF locks the parent, which the
 * batch's transaction must not hold while it copies; it waits for that lock a bounded time),
 * and remembered; a failed batch forgets them, so a month dropped meanwhile by retention is
 * made again on the retry. Text columns go through text.ts, which stores U+0000 (a device can
 * send one) reversibly, so one such reading cannot fail its whole batch.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Family } from '../../core/schemas/index.js';
import { allReadingTables, readingTables, readingsByTable, type Column, type ReadingTable } from '../readingTables.js';
import type { DeadLetter, HistoryBucket, HistoryQuery, Reading, ReadingQuery, ReadingRepository, StoredReading } from '../types.js';
import { ms, num, type PooledSql, type PostgresDatabase, type Row } from './database.js';
import { insertDeadLetters } from './deadLetters.js';
import { pgCommonColumns } from './schema/readings.js';
import { COPY_NULL, copyField, fromPgText, toPgText } from './text.js';

/** Held by whoever creates reading partitions, for its transaction ("SUPP"). */
const PARTITION_LOCK = 0x5355_5050;
/** How long adding a partition waits for the parent table's lock (see ensurePartitions). */
export const PARTITION_LOCK_TIMEOUT_MS = 2000;
/** Rows per string handed to the COPY stream: big enough to amortise the writes, small enough not to buffer the batch twice. */
const COPY_CHUNK_ROWS = 1000;

export class PgReadings implements ReadingRepository {
  /** partitions known to exist, `<table>_<yyyymm>` */
  private readonly partitions = new Set<string>();

  constructor(private readonly db: PostgresDatabase, readonly nodeId: string) {}

  async appendBatch(readings: readonly Reading[], deadLetters: readonly DeadLetter[]): Promise<void> {
    if (!readings.length && !deadLetters.length) return;
    const byTable = readingsByTable(readings);
    try {
      await this.ensurePartitions(byTable);
      await this.db.tx(async (c) => {
        for (const [t, rows] of byTable) await this.copyRows(c, t, rows);
        if (deadLetters.length) await insertDeadLetters(c, this.nodeId, deadLetters);
      });
    } catch (err) {
      this.partitions.clear();
      throw err;
    }
  }

  /** Create the month partitions the batch's rows fall in that are not known to exist. */
  private async ensurePartitions(byTable: Map<ReadingTable, Reading[]>): Promise<void> {
    const missing = new Map<string, { table: string; from: number; to: number }>();
    for (const [t, rows] of byTable) {
      for (const r of rows) {
        const m = monthOf(r.ts);
        const name = `${t.table}_${m.suffix}`;
        if (!this.partitions.has(name) && !missing.has(name)) missing.set(name, { table: t.table, from: m.from, to: m.to });
      }
    }
    if (!missing.size) return;
    await this.db.tx(async (c) => {
      // Adding a partition locks the parent against everyone; waiting behind a long read
      // would queue every node's reads and writes of the table behind it. Better to give up
      // soon: the batch fails and the journal retries it (store/journal/journaledStore.ts).
      await c.query(`SET LOCAL lock_timeout = '${PARTITION_LOCK_TIMEOUT_MS}ms'`);
      // IF NOT EXISTS alone races: two sessions can both find the name free, and one fails
      await c.query('SELECT pg_advisory_xact_lock($1)', [PARTITION_LOCK]);
      // DDL takes no parameters; the names and bounds are computed from integers (monthOf)
      for (const [name, p] of missing) {
        await c.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ${p.table} FOR VALUES FROM (${p.from}) TO (${p.to})`);
      }
    });
    for (const name of missing.keys()) this.partitions.add(name);
  }

  /** One table's rows of the batch through COPY FROM STDIN, in arrival order. */
  private async copyRows(c: PooledSql, t: ReadingTable, rows: readonly Reading[]): Promise<void> {
    const columns = [...pgCommonColumns, ...t.columns.map((x) => x.name), 'extra'];
    // COPY has no ON CONFLICT: the rows go to a scratch table of the transaction, then on into
    // the table, skipping any another node (or this one before a crash) stored already (migration 10)
    const stage = `stage_${t.table}`;
    await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (LIKE ${t.table}) ON COMMIT DELETE ROWS`);
    const stream = c.submit(copyFrom(`COPY ${stage} (${columns.join(', ')}) FROM STDIN`));
    const nodeId = copyField(toPgText(this.nodeId));
    function* chunks(): Generator<string> {
      for (let at = 0; at < rows.length; at += COPY_CHUNK_ROWS) {
        let text = '';
        for (let i = at; i < Math.min(rows.length, at + COPY_CHUNK_ROWS); i++) text += copyLine(nodeId, t.columns, rows[i]!);
        yield text;
      }
    }
    await pipeline(Readable.from(chunks()), stream);
    await c.query(`INSERT INTO ${t.table} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${stage} ON CONFLICT DO NOTHING`);
    await c.query(`TRUNCATE ${stage}`);
  }

  async lastSequences(): Promise<{ readingSeq: number; deadLetterId: number }> {
    const parts = allReadingTables.map((t) => `SELECT max(seq) AS m FROM ${t.table} WHERE node_id = $1`).join(' UNION ALL ');
    const rows = await this.db.rows(`SELECT coalesce(max(m), 0) AS s,
      (SELECT coalesce(max(node_letter_id), 0) FROM dead_letters WHERE node_id = $1) AS d FROM (${parts}) p`, [toPgText(this.nodeId)]);
    return { readingSeq: num(rows[0]?.s ?? 0), deadLetterId: num(rows[0]?.d ?? 0) };
  }

  async recentMessageKeys(since: number, max: number): Promise<Array<[string, string]>> {
    const parts = allReadingTables.map((t) => `SELECT device_id, msg_id, received_at FROM ${t.table} WHERE received_at >= $1`).join(' UNION ALL ');
    const rows = await this.db.rows(`SELECT device_id, msg_id FROM (${parts}) k ORDER BY received_at DESC LIMIT $2`, [ms(since), max]);
    return rows.map((r) => [fromPgText(String(r.device_id)), fromPgText(String(r.msg_id))] as [string, string]);
  }

  query(q: ReadingQuery): Promise<StoredReading[]> {
    // one snapshot for every channel, as DuckDB's read
    return this.db.tx(async (c) => {
      const channels = q.channel ? [q.channel] : Object.keys(readingTables[q.family]);
      const out: StoredReading[] = [];
      for (const channel of channels) {
        const t = readingTables[q.family][channel];
        if (!t) continue;
        const params: unknown[] = [toPgText(q.deviceId)];
        const where = ['device_id = $1'];
        if (q.from !== undefined) where.push(`ts >= $${params.push(ms(q.from))}`);
        if (q.to !== undefined) where.push(`ts <= $${params.push(ms(q.to))}`);
        const rows = (await c.query(`SELECT seq, msg_id, ts, received_at, extra, ${t.columns.map((x) => x.name).join(', ')}
          FROM ${t.table} WHERE ${where.join(' AND ')} ORDER BY ts DESC, seq DESC, node_id DESC LIMIT $${params.push(q.limit)}`, params)).rows;
        for (const row of rows) out.push(toStoredReading(channel, t, row));
      }
      // newest last, as docs/protocol.md asks; across channels keep the newest `limit` overall
      out.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      return out.slice(Math.max(0, out.length - q.limit));
    }, 'readOnly');
  }

  async history(q: HistoryQuery): Promise<HistoryBucket[]> {
    const t = readingTables[q.family][q.channel];
    const col = t?.columns.find((x) => x.field === q.field && x.index === undefined && x.type !== 'VARCHAR');
    if (!t || !col) return [];
    const value = col.type === 'BOOLEAN' ? `${col.name}::INTEGER` : col.name;
    // bucket start from epoch ms as DuckDB's floor((ts - from) / width) * width + from; ts >= from, so integer division is that floor
    const rows = await this.db.rows(`SELECT (ts - $1::bigint) / $2::bigint * $2::bigint + $1::bigint AS t,
        min(${value})::float8 AS mn, max(${value})::float8 AS mx, avg(${value})::float8 AS av, count(${value}) AS n
      FROM ${t.table} WHERE device_id = $3 AND ts >= $1::bigint AND ts < $4::bigint AND ${col.name} IS NOT NULL
      GROUP BY 1 ORDER BY 1`, [ms(q.from), ms(q.bucketMs), toPgText(q.deviceId), ms(q.to)]);
    return rows.map((r) => ({ t: num(r.t), min: Number(r.mn), max: Number(r.mx), avg: Number(r.av), n: num(r.n) }));
  }

  async count(): Promise<number> {
    const parts = allReadingTables.map((t) => `SELECT count(*) AS n FROM ${t.table}`).join(' UNION ALL ');
    return num((await this.db.rows(`SELECT coalesce(sum(n), 0) AS n FROM (${parts}) c`))[0]?.n ?? 0);
  }

  /**
   * This node's readings after a seq, in seq order. As in DuckDB, readings of devices deleted
   * since are skipped (nothing to evaluate; the family of a shared heartbeat table comes from
   * the registry); here the join drops them before the limit, so a run of them is looked past
   * without another round. Each table gives its first `limit`; a table that gave that many is
   * complete only up to its last seq, and nothing past the lowest such seq is returned (a later
   * seq of one table must not overtake an earlier one of another).
   */
  after(after: number, limit: number): Promise<Reading[]> {
    return this.db.tx(async (c) => {
      const out: Reading[] = [];
      let complete = Infinity;
      for (const t of allReadingTables) {
        const rows = (await c.query(`SELECT r.seq, r.device_id, r.msg_id, r.ts, r.received_at, r.qos, r.extra, d.family,
            ${t.columns.map((x) => 'r.' + x.name).join(', ')}
          FROM ${t.table} r JOIN devices d ON d.id = r.device_id WHERE r.node_id = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3`,
        [toPgText(this.nodeId), Math.floor(after), limit])).rows;
        if (rows.length === limit && limit > 0) complete = Math.min(complete, num(rows[rows.length - 1]!.seq));
        const channel = channelOfTable(t.table);
        for (const row of rows) {
          const s = toStoredReading(channel, t, row);
          out.push({ seq: s.seq, family: String(row.family) as Family, channel, deviceId: fromPgText(String(row.device_id)), msgId: s.msgId,
            ts: s.ts, receivedAt: s.receivedAt, qos: Number(row.qos), data: s.data, extra: row.extra === null ? null : fromPgText(String(row.extra)) });
        }
      }
      out.sort((a, b) => a.seq - b.seq);
      let end = out.length;
      while (end > 0 && out[end - 1]!.seq > complete) end--;
      return out.slice(0, Math.min(end, limit));
    }, 'readOnly');
  }
}

/** The calendar month (UTC) of an epoch-ms time: its partition suffix and bounds [from, to). */
export function monthOf(ts: number): { suffix: string; from: number; to: number } {
  const d = new Date(ts);
  const y = d.getUTCFullYear();
  // a name is built from these: only a four-digit year makes one (validated device time is 2000..2100)
  if (!Number.isInteger(y) || y < 1000 || y > 9999) throw new Error(`reading time ${ts} is outside the years 1000..9999`);
  const m = d.getUTCMonth();
  return { suffix: `${y}${String(m + 1).padStart(2, '0')}`, from: Date.UTC(y, m, 1), to: Date.UTC(y, m + 1, 1) };
}

/** One reading as a COPY text-format line: pgCommonColumns, the table's columns, extra. */
function copyLine(nodeId: string, columns: readonly Column[], r: Reading): string {
  let line = `${nodeId}\t${int(r.seq)}\t${copyField(toPgText(r.deviceId))}\t${copyField(toPgText(r.msgId))}\t${int(r.ts)}\t${int(r.receivedAt)}\t${int(r.qos)}`;
  for (const c of columns) {
    const v = c.index === undefined ? r.data[c.field] : (r.data[c.field] as unknown[] | undefined)?.[c.index];
    line += '\t' + (v === undefined || v === null ? COPY_NULL : copyValue(c, v));
  }
  return `${line}\t${r.extra === null ? COPY_NULL : copyField(toPgText(r.extra))}\n`;
}

/**
 * A typed column's value as COPY reads it. Validated readings hold the column's type; anything
 * else goes as its text and the server refuses it, failing the batch (as DuckDB's appender
 * would), never a field shifted into the next column.
 */
function copyValue(c: Column, v: unknown): string {
  switch (c.type) {
    case 'VARCHAR': return copyField(toPgText(String(v)));
    case 'BOOLEAN': return typeof v === 'boolean' ? (v ? 't' : 'f') : copyField(String(v));
    case 'DOUBLE': return typeof v === 'number' ? String(v) : copyField(String(v));
    case 'INTEGER':
    case 'BIGINT': return typeof v === 'number' ? int(v) : copyField(String(v));
  }
}

/** An integer column's text, truncated as DuckDB's appender truncates (store/chunkWriter.ts). */
function int(v: number): string {
  return Number.isFinite(v) ? String(Math.trunc(v)) : 'NaN';
}

function toStoredReading(channel: string, t: ReadingTable, row: Row): StoredReading {
  const data: Record<string, unknown> = {};
  for (const c of t.columns) {
    const v = row[c.name];
    if (v === null || v === undefined) continue;
    const value = c.type === 'BIGINT' ? Number(v) : c.type === 'VARCHAR' ? fromPgText(String(v)) : v;
    if (c.index === undefined) data[c.field] = value;
    else ((data[c.field] ??= []) as unknown[])[c.index] = value;
  }
  return {
    seq: num(row.seq),
    channel,
    msgId: fromPgText(String(row.msg_id)),
    ts: num(row.ts),
    receivedAt: num(row.received_at),
    data,
    extra: row.extra ? JSON.parse(fromPgText(String(row.extra))) as Record<string, unknown> : null,
  };
}

const tableChannels = new Map(Object.values(readingTables).flatMap((byChannel) => Object.entries(byChannel).map(([channel, t]) => [t.table, channel] as const)));

function channelOfTable(table: string): string {
  return tableChannels.get(table)!;
}
