/**
 * Readings in DuckDB: the ingest batch (with its dead letters) through appenders, the reads by
 * device and by position, and device-clustered history (readingArchive.ts, readingRuns.ts).
 */
import type { DuckDBAppender, DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { Family } from '../../core/schemas/index.js';
import { ReadingChunkWriter } from '../chunkWriter.js';
import { ReadingArchive } from '../readingArchive.js';
import { nextStep, runsMatching, type ArchiveStep, type RunPolicy } from '../readingRuns.js';
import { allReadingTables, readingTables, readingsByTable, type ReadingTable } from '../readingTables.js';
import type { DeadLetter, HistoryBucket, HistoryQuery, Reading, ReadingQuery, ReadingRepository, StoredReading } from '../types.js';
import type { DuckDbDatabase } from './database.js';
import { appendDeadLetter } from './deadLetters.js';
import { all, type Row } from './sql.js';

/** Readings appended (and flushed) between two yields to the event loop: one DuckDB data chunk. */
const APPEND_SLICE_ROWS = 2048;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class DuckDbReadings implements ReadingRepository {
  private readonly appenders = new Map<string, DuckDBAppender>();
  private readonly chunkWriters = new Map<string, ReadingChunkWriter>();
  private readonly archive: ReadingArchive;
  /** after's chunk of a backfill from runs: the readings in (from, to], in seq order */
  private afterCache: { from: number; to: number; rows: Reading[] } | null = null;

  constructor(private readonly db: DuckDbDatabase) {
    this.archive = new ReadingArchive((fn) => db.read(() => fn()));
  }

  /** Load the history's run catalog (at open, after the migrations). */
  load(): Promise<void> {
    return this.archive.load(this.db.conn('control'));
  }

  /** Close the appenders (at close, once the writer's queue is idle). */
  closeAppenders(): void {
    for (const a of this.appenders.values()) {
      try { a.closeSync(); } catch { /* already failed: nothing left to flush */ }
    }
    this.appenders.clear();
    this.chunkWriters.clear();
  }

  private async appender(table: string): Promise<DuckDBAppender> {
    let a = this.appenders.get(table);
    if (!a) {
      a = await this.db.conn('writer').createAppender(table);
      this.appenders.set(table, a);
    }
    return a;
  }

  private async chunkWriter(t: ReadingTable): Promise<ReadingChunkWriter> {
    let w = this.chunkWriters.get(t.table);
    if (!w) {
      w = new ReadingChunkWriter(t, await this.appender(t.table));
      this.chunkWriters.set(t.table, w);
    }
    return w;
  }

  appendBatch(readings: readonly Reading[], deadLetters: readonly DeadLetter[]): Promise<void> {
    return this.db.write(async (w) => {
      // Rows per table, in arrival order; writers (and their appenders) are created before
      // BEGIN so that the transaction holds only the rows.
      const byTable = readingsByTable(readings);
      const targets: Array<[ReadingChunkWriter, Reading[]]> = [];
      for (const [t, rows] of byTable) targets.push([await this.chunkWriter(t), rows]);
      const dl = deadLetters.length ? await this.appender('dead_letters') : null;
      await w.run('BEGIN TRANSACTION');
      try {
        // The appender's flush does DuckDB's append work on this thread (~4 µs a reading,
        // measured: a 50,000-row flush held the event loop 200 ms). Flushing a slice at a time
        // and yielding between slices keeps each stall to a few ms, so packets, PUBACKs and
        // alerts go on meanwhile; the transaction still commits the batch as one.
        let first = true;
        for (const [writer, rows] of targets) {
          for (let at = 0; at < rows.length; at += APPEND_SLICE_ROWS) {
            if (!first) await yieldToEventLoop();
            first = false;
            writer.append(rows, at, Math.min(rows.length, at + APPEND_SLICE_ROWS));
            writer.flush();
          }
        }
        if (dl) {
          for (const d of deadLetters) appendDeadLetter(dl, d);
          dl.flushSync();
        }
        await w.run('COMMIT');
        this.db.checkpointIfDue();
      } catch (err) {
        // An appender that failed mid-batch may hold half a row: throw them all away.
        for (const [table, a] of this.appenders) {
          try { a.clear(); a.closeSync(); } catch { /* ignore */ }
          this.appenders.delete(table);
        }
        this.chunkWriters.clear();
        try { await w.run('ROLLBACK'); } catch { /* no transaction left to roll back */ }
        throw err;
      }
    });
  }

  lastSequences(): Promise<{ readingSeq: number; deadLetterId: number }> {
    return this.db.read(async (c) => {
      const parts = allReadingTables.map((t) => `SELECT max(seq) AS m FROM ${t.table}`).join(' UNION ALL ');
      const r = await all(c, `SELECT coalesce(max(m), 0)::DOUBLE AS s, (SELECT coalesce(max(id), 0)::DOUBLE FROM dead_letters) AS d FROM (${parts})`);
      const archived = Math.max(0, ...allReadingTables.map((t) => this.archive.totals(t.table).seqMax));
      return { readingSeq: Math.max(Number(r[0]?.s ?? 0), archived), deadLetterId: Number(r[0]?.d ?? 0) };
    });
  }

  recentMessageKeys(since: number, max: number): Promise<Array<[string, string]>> {
    return this.db.read(async (c) => {
      const parts = allReadingTables
        .map((t) => `SELECT device_id, msg_id, received_at FROM ${this.archive.from(t.table, 'device_id, msg_id, received_at', { receivedSince: since })} WHERE received_at >= epoch_ms(?::BIGINT)`)
        .join(' UNION ALL ');
      const rows = await all(c, `SELECT device_id, msg_id FROM (${parts}) ORDER BY received_at DESC LIMIT ?`,
        [...allReadingTables.map(() => since), max]);
      return rows.map((r) => [String(r.device_id), String(r.msg_id)] as [string, string]);
    });
  }

  query(q: ReadingQuery): Promise<StoredReading[]> {
    return this.db.read(async (c) => {
      const channels = q.channel ? [q.channel] : Object.keys(readingTables[q.family]);
      const out: StoredReading[] = [];
      for (const channel of channels) {
        const t = readingTables[q.family][channel];
        if (!t) continue;
        const where = ['device_id = ?'];
        const params: DuckDBValue[] = [q.deviceId];
        if (q.from !== undefined) { where.push('ts >= epoch_ms(?::BIGINT)'); params.push(q.from); }
        if (q.to !== undefined) { where.push('ts <= epoch_ms(?::BIGINT)'); params.push(q.to); }
        params.push(q.limit);
        const cols = [...new Set(t.columns.map((x) => x.name))].join(', ');
        const source = this.archive.from(t.table, `seq, device_id, msg_id, ts, received_at, extra, ${cols}`, { from: q.from, to: q.to });
        const rows = await all(c, `SELECT seq::DOUBLE AS seq, msg_id, epoch_ms(ts)::DOUBLE AS ts, epoch_ms(received_at)::DOUBLE AS received_at, extra, ${cols}
          FROM ${source} WHERE ${where.join(' AND ')} ORDER BY ts DESC, seq DESC LIMIT ?`, params);
        for (const row of rows) out.push(toStoredReading(channel, t, row));
      }
      // newest last, as docs/protocol.md asks; across channels keep the newest `limit` overall
      out.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      return out.slice(Math.max(0, out.length - q.limit));
    });
  }

  history(q: HistoryQuery): Promise<HistoryBucket[]> {
    return this.db.read(async (c) => {
      const t = readingTables[q.family][q.channel];
      const col = t?.columns.find((x) => x.field === q.field && x.index === undefined && (x.type === 'DOUBLE' || x.type === 'INTEGER' || x.type === 'BIGINT' || x.type === 'BOOLEAN'));
      if (!t || !col) return [];
      const value = col.type === 'BOOLEAN' ? `${col.name}::INTEGER` : col.name;
      // one pass over the device's window: bucket index from epoch ms, then min/max/avg
      const rows = await all(c, `SELECT (floor((epoch_ms(ts) - ?::BIGINT) / ?::BIGINT) * ?::BIGINT + ?::BIGINT)::DOUBLE AS t,
          min(${value})::DOUBLE AS mn, max(${value})::DOUBLE AS mx, avg(${value})::DOUBLE AS av, count(${value})::DOUBLE AS n
        FROM ${this.archive.from(t.table, `device_id, ts, ${col.name}`, { from: q.from, to: q.to })}
        WHERE device_id = ? AND ts >= epoch_ms(?::BIGINT) AND ts < epoch_ms(?::BIGINT) AND ${col.name} IS NOT NULL
        GROUP BY 1 ORDER BY 1`, [q.from, q.bucketMs, q.bucketMs, q.from, q.deviceId, q.from, q.to]);
      return rows.map((r) => ({ t: Number(r.t), min: Number(r.mn), max: Number(r.mx), avg: Number(r.av), n: Number(r.n) }));
    });
  }

  count(): Promise<number> {
    return this.db.read(async (c) => {
      const parts = allReadingTables.map((t) => `SELECT count(*) AS n FROM ${t.table}`).join(' UNION ALL ');
      const r = await all(c, `SELECT sum(n)::DOUBLE AS n FROM (${parts})`);
      return Number(r[0]?.n ?? 0) + allReadingTables.reduce((n, t) => n + this.archive.totals(t.table).rows, 0);
    });
  }

  /**
   * The readings after a seq, in seq order (the alert engine's replay, the InfluxDB
   * forwarder). Normally they are in the hot tables, in seq order, and cheap to find. Runs are
   * sorted by device, so finding seqs in them scans them whole (~1.5 s at 100M readings): that
   * only happens in a backfill (InfluxDB enabled on a store with history), and then one scan
   * fetches `backfillChunk` readings and the next calls are served from them.
   */
  after(after: number, limit: number): Promise<Reading[]> {
    return this.db.read(async (c) => {
      let start = after;
      const cached = this.afterCache;
      if (cached && after >= cached.from && after < cached.to) {
        let lo = 0;
        let hi = cached.rows.length;
        while (lo < hi) { const mid = (lo + hi) >>> 1; if (cached.rows[mid]!.seq <= after) lo = mid + 1; else hi = mid; }
        if (lo < cached.rows.length) return cached.rows.slice(lo, lo + limit);
        start = cached.to; // the rest of the cached range held only skipped readings
      }
      this.afterCache = null;
      const fromRuns = allReadingTables.some((t) => runsMatching(this.archive.runsOf(t.table), { after: start }).length > 0);
      const fetch = fromRuns ? Math.max(limit, this.db.options.backfillChunk ?? 50_000) : limit;
      let out: Reading[] = [];
      let complete = Infinity;
      // Readings of devices deleted since are skipped; if a whole fetch was theirs, look past it
      // rather than answer "nothing after", which would stall the replay and the forwarder.
      for (let from = start; ; from = complete) {
        ({ out, complete } = await this.readingsFrom(c, from, fetch));
        if (out.length || complete === Infinity) break;
      }
      if (fromRuns && complete !== Infinity && out.length > limit) this.afterCache = { from: after, to: complete, rows: out };
      return out.slice(0, limit);
    });
  }

  /**
   * Each table gives its first `fetch` rows after `after`; a table that gave that many is
   * complete only up to its last seq, so nothing past the lowest such seq is returned (a later
   * seq of one table must not overtake an earlier one of another). `complete` is that seq, or
   * Infinity when every table gave all it had.
   */
  private async readingsFrom(c: DuckDBConnection, after: number, fetch: number): Promise<{ out: Reading[]; complete: number }> {
    const out: Reading[] = [];
    let complete = Infinity;
    for (const t of allReadingTables) {
      const cols = t.columns.map((x) => 'r.' + x.name).join(', ');
      // heartbeats of every family share a table: the family comes from the registry
      const rows = await all(c, `SELECT r.seq::DOUBLE AS seq, r.device_id, r.msg_id, epoch_ms(r.ts)::DOUBLE AS ts,
        epoch_ms(r.received_at)::DOUBLE AS received_at, r.qos, r.extra, d.family AS family, ${cols}
        FROM ${this.archive.from(t.table, storedColumns(t), { after })} r LEFT JOIN devices d ON d.id = r.device_id WHERE r.seq > ? ORDER BY r.seq LIMIT ?`, [after, fetch]);
      if (rows.length === fetch) complete = Math.min(complete, Number(rows[rows.length - 1]!.seq));
      const channel = channelOfTable(t.table);
      for (const row of rows) {
        if (row.family === null) continue; // device deleted since: nothing to evaluate
        const stored = toStoredReading(channel, t, row);
        out.push({ seq: stored.seq, family: String(row.family) as Family, channel, deviceId: String(row.device_id), msgId: stored.msgId, ts: stored.ts,
          receivedAt: stored.receivedAt, qos: Number(row.qos), data: stored.data, extra: row.extra === null ? null : String(row.extra) });
      }
    }
    out.sort((a, b) => a.seq - b.seq);
    let end = out.length;
    while (end > 0 && out[end - 1]!.seq > complete) end--;
    out.length = end;
    return { out, complete };
  }

  /**
   * One step of device-clustered history (readingRuns.ts): seal a hot table into a run or merge
   * runs, whichever comes first, or nothing. Rows with seq > safeSeq stay in the hot tables
   * (readers by seq, the alert engine's replay and the InfluxDB forwarder, scan those cheaply).
   */
  async maintain(safeSeq: number, policy: RunPolicy, now: number): Promise<ArchiveStep | null> {
    const step = await this.db.maintain(async (c) => {
      const tables = [];
      for (const t of allReadingTables) tables.push({ base: t.table, hot: await this.archive.hotStats(c, t.table, safeSeq), runs: this.archive.runsOf(t.table) });
      const next = nextStep(tables, policy, now);
      if (next?.kind === 'seal') await this.archive.seal(c, next.base, safeSeq, policy);
      else if (next?.kind === 'merge') await this.archive.merge(c, next.runs, policy);
      if (next) this.db.checkpointIfDue();
      return next;
    });
    return step ?? null;
  }

  /** Runs per reading table, for /metrics and the benchmarks. */
  runs(): Array<{ base: string; runs: number; rows: number }> {
    return allReadingTables.map((t) => ({ base: t.table, runs: this.archive.runsOf(t.table).length, rows: this.archive.totals(t.table).rows }));
  }
}

/** Every column of a reading table, in table order (the runs are copies of it). */
function storedColumns(t: ReadingTable): string {
  return ['seq', 'device_id', 'msg_id', 'ts', 'received_at', 'qos', ...new Set(t.columns.map((c) => c.name)), 'extra'].join(', ');
}

function toStoredReading(channel: string, t: ReadingTable, row: Row): StoredReading {
  const data: Record<string, unknown> = {};
  for (const c of t.columns) {
    const v = row[c.name];
    if (v === null || v === undefined) continue;
    const value = typeof v === 'bigint' ? Number(v) : v;
    if (c.index === undefined) data[c.field] = value;
    else ((data[c.field] ??= []) as unknown[])[c.index] = value;
  }
  return {
    seq: Number(row.seq),
    channel,
    msgId: String(row.msg_id),
    ts: Number(row.ts),
    receivedAt: Number(row.received_at),
    data,
    extra: row.extra ? JSON.parse(String(row.extra)) as Record<string, unknown> : null,
  };
}

const tableChannels = new Map(Object.values(readingTables).flatMap((byChannel) => Object.entries(byChannel).map(([channel, t]) => [t.table, channel] as const)));

function channelOfTable(table: string): string {
  return tableChannels.get(table)!;
}
