/**
 * The embedded default store: one DuckDB file under DATA_DIR.
 *
 * Connections: one writer (appenders inside explicit transactions: the appender work is
 * synchronous and cheap, the COMMIT with its WAL fsync runs off the event loop), one for
 * control writes (registry, users, state) and one for reads. DuckDB allows a single writing
 * process per file (docs/domain.md §7), so CLIs write through the service's API, never directly.
 */
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DuckDBAppender, DuckDBConnection, DuckDBInstance, DuckDBTimestampValue, type DuckDBValue } from '@duckdb/node-api';
import type { Family } from '../core/schemas/index.js';
import { migrate } from './migrations.js';
import { ReadingChunkWriter } from './chunkWriter.js';
import { allReadingTables, readingTables, type ReadingTable } from './readingTables.js';
import { ReadingArchive } from './readingArchive.js';
import { nextStep, runsMatching, type ArchiveStep, type RunPolicy } from './readingRuns.js';
import { Serial } from './serial.js';
import type { Alert, TimelineAction, TimelineEntry } from '../core/alerts/alert.js';
import type { AlertFilter, AlertSort } from '../core/alerts/alertQuery.js';
import type { RescueCase } from '../core/alerts/rescueCase.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import type {
  AlertOutcome, AlertOutcomeQuery, AlertQuery, ConnectionState, DeadLetter, DeadLetterQuery, DeviceRecord, EngineCheckpoint, HistoryBucket, HistoryQuery, Reading, ReadingQuery,
  RescueCaseQuery, SessionRecord, Store, StoredReading, UserRecord,
} from './types.js';
import type { DeviceImportWriter } from './types.js';

type Row = Record<string, unknown>;

/** Readings appended (and flushed) between two yields to the event loop: one DuckDB data chunk. */
const APPEND_SLICE_ROWS = 2048;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface DuckDbOptions {
  /** DuckDB `memory_limit`, e.g. "512MB" (default: DuckDB's, 80% of RAM) */
  memoryLimit?: string;
  /** DuckDB worker threads (default: DuckDB's, one per core) */
  threads?: number;
  /** readings fetched per scan when readingsAfter must search device-sorted runs (default 50,000) */
  backfillChunk?: number;
  /** the write-ahead log's size that starts a checkpoint (default 16 MiB, DuckDB's own default) */
  checkpointWalBytes?: number;
  /** after a failed CHECKPOINT, none is tried again for this long (default 1,000 ms) */
  checkpointRetryMs?: number;
}

/** After a failed CHECKPOINT (another write transaction open, e.g. a long merge), wait this long. */
const CHECKPOINT_RETRY_MS = 1000;

export interface CheckpointStatus {
  /** CHECKPOINTs run since open */
  checkpoints: number;
  /** CHECKPOINTs that failed since open */
  failures: number;
  /** failed attempts since the last one that succeeded (0 while they succeed) */
  consecutiveFailures: number;
  /** the last failure's message while they keep failing, null once one succeeds */
  lastError: string | null;
  /** when the current run of failures began (ms since the epoch), null while they succeed */
  failingSince: number | null;
  lastCheckpointAt: number | null;
}

export class DuckDbStore implements Store {
  private instance: DuckDBInstance | null = null;
  private writer: DuckDBConnection | null = null;
  private control: DuckDBConnection | null = null;
  private reader: DuckDBConnection | null = null;
  /**
   * Reads of alerts and rescue cases (the operators' lists, details and statistics) on a
   * connection of their own: they never wait behind reading-history scans, the replay or the
   * history's catalog changes, which the reader connection serialises.
   */
  private records: DuckDBConnection | null = null;
  /** device-clustered history's seals and merges (readingArchive.ts): long statements of their own */
  private maint: DuckDBConnection | null = null;
  private readonly appenders = new Map<string, DuckDBAppender>();
  private readonly chunkWriters = new Map<string, ReadingChunkWriter>();
  private readonly writeQueue = new Serial();
  private readonly controlQueue = new Serial();
  private readonly readQueue = new Serial();
  private readonly recordsQueue = new Serial();
  private readonly maintQueue = new Serial();
  private readonly archive = new ReadingArchive((fn) => this.readQueue.run(fn));
  private closing = false;
  /** a device import's staging table exists (beginDeviceImport) */
  private deviceImportOpen = false;
  private checkpointing = false;
  private checkpointRetryAt = 0;
  private checkpoints: CheckpointStatus = { checkpoints: 0, failures: 0, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: null };
  /** readingsAfter's chunk of a backfill from runs: the readings in (from, to], in seq order */
  private afterCache: { from: number; to: number; rows: Reading[] } | null = null;

  constructor(private readonly file: string, private readonly options: DuckDbOptions = {}) {}

  async open(): Promise<void> {
    if (this.file !== ':memory:') mkdirSync(path.dirname(this.file), { recursive: true });
    // DuckDB's buffer pool defaults to 80% of RAM and grows into it as the file is read;
    // a bound keeps the service's RSS predictable next to 100k connections (DuckDB spills
    // large query state to disk rather than fail).
    const settings: Record<string, string> = {};
    if (this.options.memoryLimit) settings.memory_limit = this.options.memoryLimit;
    if (this.options.threads) settings.threads = String(this.options.threads);
    // No automatic checkpoints: see checkpointIfDue.
    if (this.file !== ':memory:') settings.wal_autocheckpoint = '1000GB';
    this.instance = await DuckDBInstance.create(this.file, settings);
    this.writer = await this.instance.connect();
    this.control = await this.instance.connect();
    this.reader = await this.instance.connect();
    this.records = await this.instance.connect();
    this.maint = await this.instance.connect();
    await migrate(this.control);
    await this.archive.load(this.control);
  }

  async close(): Promise<void> {
    // a merge may take minutes: abandon it (its transaction rolls back, the inputs stay), and
    // start no other step on a connection about to close
    this.closing = true;
    this.maint?.interrupt();
    await this.maintQueue.idle();
    await this.writeQueue.idle();
    await this.controlQueue.idle();
    await this.readQueue.idle();
    await this.recordsQueue.idle();
    for (const a of this.appenders.values()) {
      try { a.closeSync(); } catch { /* already failed: nothing left to flush */ }
    }
    this.appenders.clear();
    this.chunkWriters.clear();
    for (const c of [this.writer, this.control, this.reader, this.records, this.maint]) c?.closeSync();
    // CHECKPOINT is implicit on the last close: the WAL is folded into the file.
    this.instance?.closeSync();
    this.writer = this.control = this.reader = this.records = this.maint = null;
    this.instance = null;
    this.closing = false;
    this.deviceImportOpen = false; // its temporary table went with the connection
  }

  private conn(which: 'writer' | 'control' | 'reader' | 'records' | 'maint'): DuckDBConnection {
    const c = this[which];
    if (!c) throw new Error('store is not open');
    return c;
  }

  private async appender(table: string): Promise<DuckDBAppender> {
    let a = this.appenders.get(table);
    if (!a) {
      a = await this.conn('writer').createAppender(table);
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
    return this.writeQueue.run(async () => {
      const w = this.conn('writer');
      // Rows per table, in arrival order; writers (and their appenders) are created before
      // BEGIN so that the transaction holds only the rows.
      const byTable = new Map<ReadingTable, Reading[]>();
      for (const r of readings) {
        const t = readingTables[r.family][r.channel];
        if (!t) throw new Error(`no table for ${r.family}/${r.channel}`);
        let rows = byTable.get(t);
        if (!rows) { rows = []; byTable.set(t, rows); }
        rows.push(r);
      }
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
        this.checkpointIfDue();
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
    return this.read(async (c) => {
      const parts = allReadingTables.map((t) => `SELECT max(seq) AS m FROM ${t.table}`).join(' UNION ALL ');
      const r = await all(c, `SELECT coalesce(max(m), 0)::DOUBLE AS s, (SELECT coalesce(max(id), 0)::DOUBLE FROM dead_letters) AS d FROM (${parts})`);
      const archived = Math.max(0, ...allReadingTables.map((t) => this.archive.totals(t.table).seqMax));
      return { readingSeq: Math.max(Number(r[0]?.s ?? 0), archived), deadLetterId: Number(r[0]?.d ?? 0) };
    });
  }

  recentMessageKeys(since: number, max: number): Promise<Array<[string, string]>> {
    return this.read(async (c) => {
      const parts = allReadingTables
        .map((t) => `SELECT device_id, msg_id, received_at FROM ${this.archive.from(t.table, 'device_id, msg_id, received_at', { receivedSince: since })} WHERE received_at >= epoch_ms(?::BIGINT)`)
        .join(' UNION ALL ');
      const rows = await all(c, `SELECT device_id, msg_id FROM (${parts}) ORDER BY received_at DESC LIMIT ?`,
        [...allReadingTables.map(() => since), max]);
      return rows.map((r) => [String(r.device_id), String(r.msg_id)] as [string, string]);
    });
  }

  queryReadings(q: ReadingQuery): Promise<StoredReading[]> {
    return this.read(async (c) => {
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

  readingHistory(q: HistoryQuery): Promise<HistoryBucket[]> {
    return this.read(async (c) => {
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

  countReadings(): Promise<number> {
    return this.read(async (c) => {
      const parts = allReadingTables.map((t) => `SELECT count(*) AS n FROM ${t.table}`).join(' UNION ALL ');
      const r = await all(c, `SELECT sum(n)::DOUBLE AS n FROM (${parts})`);
      return Number(r[0]?.n ?? 0) + allReadingTables.reduce((n, t) => n + this.archive.totals(t.table).rows, 0);
    });
  }

  insertDevices(devices: readonly DeviceRecord[]): Promise<void> {
    return this.controlTx(async (c) => {
      const stmt = await c.prepare(`INSERT INTO devices (id, family, name, lat, lng, district, meta, secret_hash, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))`);
      for (const d of devices) {
        stmt.bind(deviceParams(d));
        await stmt.run();
      }
    });
  }

  updateDevice(d: DeviceRecord): Promise<void> {
    return this.controlTx(async (c) => {
      await c.run(`UPDATE devices SET family = ?, name = ?, lat = ?, lng = ?, district = ?, meta = ?, secret_hash = ?,
        created_at = epoch_ms(?::BIGINT), updated_at = epoch_ms(?::BIGINT) WHERE id = ?`, [...deviceParams(d).slice(1), d.id]);
    });
  }

  /**
   * A bulk device write (DeviceRegistry.import) that never holds the event loop or the
   * control queue for long: each `stage` appends one chunk to a temporary table of the control
   * connection as a short job of its own (other control writes and checkpoints go on between
   * chunks; a temporary table is not logged), and `commit` moves every staged row into
   * `devices` in one transaction of two statements that DuckDB runs off the event loop
   * (~130 ms for 100,000 rows on this machine). A failure rolls the whole write back.
   */
  async beginDeviceImport(): Promise<DeviceImportWriter> {
    if (this.deviceImportOpen) throw new Error('a device import is already being written');
    this.deviceImportOpen = true;
    const drop = (): Promise<void> => this.controlQueue.run(async () => {
      this.deviceImportOpen = false;
      if (this.control) await this.control.run(`DROP TABLE IF EXISTS temp.${DEVICE_IMPORT_STAGE}`);
    });
    try {
      await this.controlQueue.run(() => this.conn('control').run(`CREATE OR REPLACE TEMP TABLE ${DEVICE_IMPORT_STAGE} (id VARCHAR, family VARCHAR,
        name VARCHAR, lat DOUBLE, lng DOUBLE, district VARCHAR, meta VARCHAR, secret_hash VARCHAR, created_at TIMESTAMP, updated_at TIMESTAMP, is_update BOOLEAN)`));
    } catch (err) {
      this.deviceImportOpen = false;
      throw err;
    }
    return {
      stage: (created, updated) => this.controlQueue.run(async () => {
        const a = await this.conn('control').createAppender(DEVICE_IMPORT_STAGE, null, 'temp');
        try {
          for (const d of created) appendStagedDevice(a, d, false);
          for (const d of updated) appendStagedDevice(a, d, true);
          a.flushSync();
        } finally {
          a.closeSync();
        }
      }),
      commit: async () => {
        try {
          await this.controlTx(async (c) => {
            await c.run(`INSERT INTO devices SELECT id, family, name, lat, lng, district, meta, secret_hash, created_at, updated_at
              FROM temp.${DEVICE_IMPORT_STAGE} WHERE NOT is_update`);
            await c.run(`UPDATE devices SET name = s.name, lat = s.lat, lng = s.lng, district = s.district, meta = s.meta, updated_at = s.updated_at
              FROM temp.${DEVICE_IMPORT_STAGE} s WHERE s.is_update AND devices.id = s.id`);
          });
        } finally {
          await drop().catch(() => undefined);
        }
      },
      abort: drop,
    };
  }

  loadDevices(): Promise<DeviceRecord[]> {
    return this.read(async (c) => {
      const rows = await all(c, `SELECT id, family, name, lat, lng, district, meta, secret_hash,
        epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(updated_at)::DOUBLE AS updated_at FROM devices ORDER BY id`);
      return rows.map((r) => ({
        id: String(r.id),
        family: String(r.family) as Family,
        name: r.name === null ? null : String(r.name),
        location: r.lat === null || r.lng === null ? null : { lat: Number(r.lat), lng: Number(r.lng) },
        district: r.district === null ? null : String(r.district),
        meta: r.meta ? JSON.parse(String(r.meta)) as Record<string, unknown> : {},
        secretHash: String(r.secret_hash),
        createdAt: Number(r.created_at),
        updatedAt: Number(r.updated_at),
      }));
    });
  }

  saveConnectionStates(states: readonly ConnectionState[]): Promise<void> {
    if (!states.length) return Promise.resolve();
    return this.controlTx(async (c) => {
      // Stage with an appender, then one upsert: a reconnect storm dirties every device at once.
      const a = await c.createAppender('device_state_stage');
      try {
        for (const s of states) {
          a.appendVarchar(s.deviceId);
          a.appendBoolean(s.connected);
          appendTs(a, s.lastSeen);
          appendTs(a, s.lastConnectedAt);
          appendTs(a, s.lastDisconnectedAt);
          if (s.remoteAddress === null) a.appendNull(); else a.appendVarchar(s.remoteAddress);
          a.endRow();
        }
        a.flushSync();
      } finally {
        a.closeSync();
      }
      await c.run('INSERT OR REPLACE INTO device_state SELECT * FROM device_state_stage');
      await c.run('DELETE FROM device_state_stage');
    });
  }

  loadConnectionStates(): Promise<ConnectionState[]> {
    return this.read(async (c) => {
      const rows = await all(c, `SELECT device_id, connected, epoch_ms(last_seen)::DOUBLE AS last_seen,
        epoch_ms(last_connected_at)::DOUBLE AS last_connected_at, epoch_ms(last_disconnected_at)::DOUBLE AS last_disconnected_at,
        remote_address FROM device_state`);
      return rows.map((r) => ({
        deviceId: String(r.device_id),
        connected: Boolean(r.connected),
        lastSeen: numOrNull(r.last_seen),
        lastConnectedAt: numOrNull(r.last_connected_at),
        lastDisconnectedAt: numOrNull(r.last_disconnected_at),
        remoteAddress: r.remote_address === null ? null : String(r.remote_address),
      }));
    });
  }

  listDeadLetters(q: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.read(async (c) => {
      const where: string[] = [];
      const params: DuckDBValue[] = [];
      if (q.deviceId !== undefined) { where.push('device_id = ?'); params.push(q.deviceId); }
      if (q.reason !== undefined) { where.push('reason = ?'); params.push(q.reason); }
      if (q.since !== undefined) { where.push('received_at >= epoch_ms(?::BIGINT)'); params.push(q.since); }
      params.push(q.limit);
      const rows = await all(c, `SELECT id::DOUBLE AS id, epoch_ms(received_at)::DOUBLE AS received_at, device_id, client_id, topic, qos,
        reason, detail, issues, msg_id, raw, raw_size, remote_address FROM dead_letters
        ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, params);
      return rows.map((r) => ({
        id: Number(r.id),
        receivedAt: Number(r.received_at),
        deviceId: strOrNull(r.device_id),
        clientId: strOrNull(r.client_id),
        topic: String(r.topic),
        qos: Number(r.qos),
        reason: String(r.reason),
        detail: String(r.detail),
        issues: r.issues ? JSON.parse(String(r.issues)) as DeadLetter['issues'] : null,
        msgId: strOrNull(r.msg_id),
        raw: blobBytes(r.raw),
        rawSize: Number(r.raw_size),
        remoteAddress: strOrNull(r.remote_address),
      }));
    });
  }

  countDeadLetters(): Promise<number> {
    return this.read(async (c) => Number((await all(c, 'SELECT count(*)::DOUBLE AS n FROM dead_letters'))[0]?.n ?? 0));
  }

  getUser(username: string): Promise<UserRecord | null> {
    return this.read(async (c) => {
      const rows = await all(c, 'SELECT username, role, password_hash, epoch_ms(created_at)::DOUBLE AS created_at, coalesce(disabled, false) AS disabled FROM users WHERE username = ?', [username]);
      return rows[0] ? toUser(rows[0]) : null;
    });
  }

  listUsers(): Promise<UserRecord[]> {
    return this.read(async (c) => (await all(c, 'SELECT username, role, password_hash, epoch_ms(created_at)::DOUBLE AS created_at, coalesce(disabled, false) AS disabled FROM users ORDER BY username')).map(toUser));
  }

  insertUser(u: UserRecord): Promise<void> {
    return this.controlTx(async (c) => {
      await c.run('INSERT INTO users (username, role, password_hash, created_at, disabled) VALUES (?, ?, ?, epoch_ms(?::BIGINT), ?)', [u.username, u.role, u.passwordHash, u.createdAt, u.disabled]);
    });
  }

  updateUser(username: string, patch: Partial<Pick<UserRecord, 'role' | 'passwordHash' | 'disabled'>>): Promise<boolean> {
    const sets: string[] = [];
    const values: Array<string | boolean> = [];
    if (patch.role !== undefined) { sets.push('role = ?'); values.push(patch.role); }
    if (patch.passwordHash !== undefined) { sets.push('password_hash = ?'); values.push(patch.passwordHash); }
    if (patch.disabled !== undefined) { sets.push('disabled = ?'); values.push(patch.disabled); }
    return this.controlTx(async (c) => {
      const found = await all(c, 'SELECT 1 AS x FROM users WHERE username = ?', [username]);
      if (!found.length) return false;
      if (sets.length) await c.run(`UPDATE users SET ${sets.join(', ')} WHERE username = ?`, [...values, username]);
      return true;
    });
  }

  deleteUser(username: string): Promise<boolean> {
    return this.controlTx(async (c) => {
      const found = await all(c, 'SELECT 1 AS x FROM users WHERE username = ?', [username]);
      if (!found.length) return false;
      await c.run('DELETE FROM sessions WHERE username = ?', [username]);
      await c.run('DELETE FROM users WHERE username = ?', [username]);
      return true;
    });
  }

  loadSessions(): Promise<SessionRecord[]> {
    return this.read(async (c) => (await all(c, 'SELECT token_hash, username, epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(expires_at)::DOUBLE AS expires_at FROM sessions'))
      .map((r) => ({ tokenHash: String(r.token_hash), username: String(r.username), createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) })));
  }

  insertSession(s: SessionRecord): Promise<void> {
    return this.controlTx(async (c) => {
      await c.run('INSERT INTO sessions (token_hash, username, created_at, expires_at) VALUES (?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))', [s.tokenHash, s.username, s.createdAt, s.expiresAt]);
    });
  }

  deleteSessions(tokenHashes: readonly string[]): Promise<void> {
    if (!tokenHashes.length) return Promise.resolve();
    return this.controlTx(async (c) => {
      for (let i = 0; i < tokenHashes.length; i += 500) {
        const part = tokenHashes.slice(i, i + 500);
        await c.run(`DELETE FROM sessions WHERE token_hash IN (${part.map(() => '?').join(', ')})`, [...part]);
      }
    });
  }

  /**
   * The readings after a seq, in seq order (the alert engine's replay, the InfluxDB
   * forwarder). Normally they are in the hot tables, in seq order, and cheap to find. Runs are
   * sorted by device, so finding seqs in them scans them whole (~1.5 s at 100M readings): that
   * only happens in a backfill (InfluxDB enabled on a store with history), and then one scan
   * fetches `backfillChunk` readings and the next calls are served from them.
   */
  readingsAfter(after: number, limit: number): Promise<Reading[]> {
    return this.read(async (c) => {
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
      const fetch = fromRuns ? Math.max(limit, this.options.backfillChunk ?? 50_000) : limit;
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

  saveEngineCheckpoint(cp: EngineCheckpoint): Promise<void> {
    return this.controlTx(async (c) => {
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
        const tuple = '(?, ?, ?, ?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))';
        for (let at = 0; at < cp.alerts.length; at += ALERT_ROWS_PER_INSERT) {
          const slice = cp.alerts.slice(at, at + ALERT_ROWS_PER_INSERT);
          const params: DuckDBValue[] = [];
          for (const x of slice) {
            const d = x.deadlines;
            params.push(x.id, x.family, x.rule, x.severity, x.status, x.device.id, x.device.district, x.firstSeen, x.lastSeen, x.updatedAt, JSON.stringify(x),
              d.ackBy, d.resolveBy, d.acknowledgedAt, d.resolvedAt);
          }
          await c.run(`INSERT INTO alert_stage (${ALERT_COLUMNS}) VALUES ${slice.map(() => tuple).join(', ')}`, params);
        }
        await c.run(`INSERT INTO alerts (${ALERT_COLUMNS}) SELECT ${ALERT_COLUMNS} FROM alert_stage
          ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status, last_seen = excluded.last_seen,
            updated_at = excluded.updated_at, doc = excluded.doc, ack_by = excluded.ack_by, resolve_by = excluded.resolve_by,
            acknowledged_at = excluded.acknowledged_at, resolved_at = excluded.resolved_at`);
        await c.run('DELETE FROM alert_stage');
      }
      // appended rows, several to a statement
      for (let at = 0; at < cp.timeline.length; at += TIMELINE_ROWS_PER_INSERT) {
        const slice = cp.timeline.slice(at, at + TIMELINE_ROWS_PER_INSERT);
        const params: DuckDBValue[] = [];
        for (const { alertId, entry: e } of slice) params.push(alertId, e.n, e.at, e.by, e.action, e.note ?? null);
        await c.run(`INSERT OR IGNORE INTO alert_timeline VALUES ${slice.map(() => '(?, ?, epoch_ms(?::BIGINT), ?, ?, ?)').join(', ')}`, params);
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
    return this.read(async (c) => {
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

  loadActiveAlerts(): Promise<Alert[]> {
    return this.readRecords(async (c) => (await all(c, "SELECT doc FROM alerts WHERE status IN ('open', 'acknowledged') ORDER BY last_seen")).map((r) => JSON.parse(String(r.doc)) as Alert));
  }

  queryAlerts(q: AlertQuery): Promise<Alert[]> {
    return this.readRecords(async (c) => {
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
      return rows.map((r) => JSON.parse(String(r.doc)) as Alert);
    });
  }

  getAlert(id: string): Promise<Alert | null> {
    return this.readRecords(async (c) => {
      const rows = await all(c, 'SELECT doc FROM alerts WHERE id = ?', [id]);
      return rows[0] ? JSON.parse(String(rows[0].doc)) as Alert : null;
    });
  }

  alertTimeline(alertId: string, limit: number, before?: number): Promise<TimelineEntry[]> {
    return this.readRecords(async (c) => {
      const rows = await all(c, `SELECT n, epoch_ms(happened_at)::DOUBLE AS at, actor, action, note FROM alert_timeline
        WHERE alert_id = ? ${before === undefined ? '' : 'AND n < ?'} ORDER BY n DESC LIMIT ?`, before === undefined ? [alertId, limit] : [alertId, before, limit]);
      return rows.reverse().map((r) => ({
        n: Number(r.n), at: Number(r.at), by: String(r.actor), action: String(r.action) as TimelineAction, ...(r.note === null ? {} : { note: String(r.note) }),
      }));
    });
  }

  alertOutcomes(q: AlertOutcomeQuery): Promise<AlertOutcome[]> {
    return this.readRecords(async (c) => {
      const { where, params } = alertWhere({ ...(q.family ? { family: q.family } : {}), ...(q.district ? { district: q.district } : {}), until: q.to });
      where.push('first_seen >= epoch_ms(?::BIGINT)');
      params.push(q.from, q.limit);
      const ms = (col: string) => `epoch_ms(${col})::DOUBLE AS ${col}`;
      const rows = await all(c, `SELECT id, family, status, district, ${['first_seen', 'ack_by', 'resolve_by', 'acknowledged_at', 'resolved_at'].map(ms).join(', ')}
        FROM alerts WHERE ${where.join(' AND ')} ORDER BY first_seen LIMIT ?`, params);
      return rows.map((r) => ({
        id: String(r.id), family: String(r.family) as Family, status: String(r.status) as Alert['status'], firstSeen: Number(r.first_seen),
        device: { district: strOrNull(r.district) },
        deadlines: { ackBy: numOrNull(r.ack_by), resolveBy: numOrNull(r.resolve_by), acknowledgedAt: numOrNull(r.acknowledged_at), resolvedAt: numOrNull(r.resolved_at) },
      }));
    });
  }

  loadActiveRescueCases(): Promise<RescueCase[]> {
    return this.readRecords(async (c) => (await all(c, "SELECT doc FROM rescue_cases WHERE status NOT IN ('closed', 'false_alarm') ORDER BY alarm_at")).map((r) => JSON.parse(String(r.doc)) as RescueCase));
  }

  queryRescueCases(q: RescueCaseQuery): Promise<RescueCase[]> {
    return this.readRecords(async (c) => {
      const where: string[] = [];
      const params: DuckDBValue[] = [];
      if (q.status?.length) { where.push(`status IN (${q.status.map(() => '?').join(', ')})`); params.push(...q.status); }
      if (q.elevatorId) { where.push('elevator_id = ?'); params.push(q.elevatorId); }
      if (q.since !== undefined) { where.push('alarm_at >= epoch_ms(?::BIGINT)'); params.push(q.since); }
      params.push(q.limit);
      const rows = await all(c, `SELECT doc FROM rescue_cases ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY alarm_at DESC LIMIT ?`, params);
      return rows.map((r) => JSON.parse(String(r.doc)) as RescueCase);
    });
  }

  getRescueCase(id: string): Promise<RescueCase | null> {
    return this.readRecords(async (c) => {
      const rows = await all(c, 'SELECT doc FROM rescue_cases WHERE id = ?', [id]);
      return rows[0] ? JSON.parse(String(rows[0].doc)) as RescueCase : null;
    });
  }

  upsertCylinders(records: readonly CylinderRecord[]): Promise<void> {
    // staged, then one statement: a row at a time took ~1.5 ms a row (162,000 cylinders, minutes
    // of the control connection held); slices of rows with the event loop free between them
    return this.controlTx(async (c) => {
      await c.run('CREATE TEMP TABLE IF NOT EXISTS cylinder_stage (code VARCHAR, owner_station_id VARCHAR, status VARCHAR, doc VARCHAR)');
      await c.run('DELETE FROM cylinder_stage');
      for (let at = 0; at < records.length; at += CYLINDER_ROWS_PER_INSERT) {
        const slice = records.slice(at, at + CYLINDER_ROWS_PER_INSERT);
        const params: DuckDBValue[] = [];
        for (const r of slice) params.push(r.code, r.ownerStationId, r.status, JSON.stringify(r));
        await c.run(`INSERT INTO cylinder_stage VALUES ${slice.map(() => '(?, ?, ?, ?)').join(', ')}`, params);
      }
      // a code given twice in one import: the last one wins, as row by row it did
      await c.run(`INSERT OR REPLACE INTO cylinders (code, owner_station_id, status, doc, updated_at)
        SELECT code, last(owner_station_id ORDER BY rowid), last(status ORDER BY rowid), last(doc ORDER BY rowid), now() FROM cylinder_stage GROUP BY code`);
      await c.run('DELETE FROM cylinder_stage');
    });
  }

  loadCylinders(): Promise<CylinderRecord[]> {
    return this.read(async (c) => (await all(c, 'SELECT doc FROM cylinders ORDER BY code')).map((r) => JSON.parse(String(r.doc)) as CylinderRecord));
  }

  getSetting(key: string): Promise<string | null> {
    return this.read(async (c) => {
      const rows = await all(c, 'SELECT value FROM settings WHERE key = ?', [key]);
      return rows[0] ? String(rows[0].value) : null;
    });
  }

  setSetting(key: string, value: string): Promise<void> {
    return this.controlTx(async (c) => {
      await c.run('INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)', [key, value]);
    });
  }

  /**
   * One step of device-clustered history (readingRuns.ts): seal a hot table into a run or merge
   * runs, whichever comes first, or nothing. Rows with seq > safeSeq stay in the hot tables
   * (readers by seq, the alert engine's replay and the InfluxDB forwarder, scan those cheaply).
   */
  maintainReadings(safeSeq: number, policy: RunPolicy, now: number): Promise<ArchiveStep | null> {
    return this.maintQueue.run(async () => {
      if (this.closing) return null;
      const c = this.conn('maint');
      const tables = [];
      for (const t of allReadingTables) tables.push({ base: t.table, hot: await this.archive.hotStats(c, t.table, safeSeq), runs: this.archive.runsOf(t.table) });
      const step = nextStep(tables, policy, now);
      if (step?.kind === 'seal') await this.archive.seal(c, step.base, safeSeq, policy);
      else if (step?.kind === 'merge') await this.archive.merge(c, step.runs, policy);
      if (step) this.checkpointIfDue();
      return step;
    });
  }

  /** Abandon the seal or merge in progress: its transaction rolls back, the data stays where it was. */
  interruptMaintenance(): void {
    this.maint?.interrupt();
  }

  /** Runs per reading table, for /metrics and the benchmarks. */
  readingRuns(): Array<{ base: string; runs: number; rows: number }> {
    return allReadingTables.map((t) => ({ base: t.table, runs: this.archive.runsOf(t.table).length, rows: this.archive.totals(t.table).rows }));
  }

  private read<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.readQueue.run(() => fn(this.conn('reader')));
  }

  /** Reads of alerts and cases: their own connection (see `records`). */
  private readRecords<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.recordsQueue.run(() => fn(this.conn('records')));
  }

  /** Bytes DuckDB holds in memory, every buffer of it (for /metrics and the tests). */
  memoryBytes(): Promise<number> {
    return this.readRecords(async (c) => Number((await all(c, 'SELECT coalesce(sum(memory_usage_bytes), 0)::DOUBLE AS m FROM duckdb_memory()'))[0]?.m ?? 0));
  }

  checkpointStatus(): CheckpointStatus {
    return { ...this.checkpoints };
  }

  /**
   * Checkpoints run here, not inside a COMMIT. DuckDB checkpoints automatically in the commit
   * that takes the WAL past 16 MiB, on a worker thread, for 200-250 ms; meanwhile any
   * synchronous call into DuckDB from another connection waits for its lock on the event
   * loop's thread. That was the writer's appender flush holding the event loop ~200 ms every
   * few seconds at 20k readings/s (P2 profile: the three longest stalls of the run, gone with
   * automatic checkpoints off). So the automatic checkpoint is off, and once the WAL passes
   * the same size a CHECKPOINT is queued behind the writer's and the control connection's
   * work, holding both queues: no appender of ours can then be inside DuckDB, and the
   * statement runs off the event loop. The journal (when on) keeps acknowledging meanwhile.
   * Another write transaction open (a history merge) makes DuckDB refuse it; it is tried
   * again after the next commit, at most once a second, as DuckDB itself would skip it.
   * Every committing path calls it: readings, control transactions, history steps.
   */
  private checkpointIfDue(): void {
    if (this.file === ':memory:' || this.checkpointing || this.closing || Date.now() < this.checkpointRetryAt) return;
    let walBytes: number;
    try {
      walBytes = statSync(`${this.file}.wal`).size;
    } catch {
      return; // no WAL: nothing to fold in
    }
    if (walBytes < (this.options.checkpointWalBytes ?? 16 * 1024 * 1024)) return;
    this.checkpointing = true;
    void this.writeQueue.run(() => this.controlQueue.run(async () => {
      if (this.closing) return;
      await this.runCheckpoint();
      this.checkpoints = { ...this.checkpoints, checkpoints: this.checkpoints.checkpoints + 1, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: Date.now() };
    })).catch((err: unknown) => {
      // a WAL that is never folded in grows without bound, and the next start replays all of it:
      // /healthz reports a run of failures (service/health.ts)
      const c = this.checkpoints;
      this.checkpoints = {
        ...c, failures: c.failures + 1, consecutiveFailures: c.consecutiveFailures + 1,
        lastError: err instanceof Error ? err.message : String(err), failingSince: c.failingSince ?? Date.now(),
      };
      this.checkpointRetryAt = Date.now() + (this.options.checkpointRetryMs ?? CHECKPOINT_RETRY_MS);
    }).finally(() => {
      this.checkpointing = false;
    });
  }

  /** The CHECKPOINT statement itself (a seam: tests make it fail). */
  protected async runCheckpoint(): Promise<void> {
    await this.conn('writer').run('CHECKPOINT');
  }

  private controlTx<T = void>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.controlQueue.run(async () => {
      const c = this.conn('control');
      await c.run('BEGIN TRANSACTION');
      try {
        const result = await fn(c);
        await c.run('COMMIT');
        // every write path, not only readings: alerts, notes, cases, users and imports grow
        // the WAL too, and a WAL DuckDB cannot replay within its memory limit stops a restart
        this.checkpointIfDue();
        return result;
      } catch (err) {
        try { await c.run('ROLLBACK'); } catch { /* nothing to roll back */ }
        throw err;
      }
    });
  }
}

/** Timeline rows per INSERT statement in a checkpoint. */
const TIMELINE_ROWS_PER_INSERT = 200;
/** Alert records per INSERT into the staging table in a checkpoint. */
const ALERT_ROWS_PER_INSERT = 100;
/** Cylinder records per INSERT into the staging table of an import. */
const CYLINDER_ROWS_PER_INSERT = 250;
const ALERT_COLUMNS = 'id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, ack_by, resolve_by, acknowledged_at, resolved_at';

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
  const anyOf = (col: string, values: readonly string[]) => { where.push(`${col} IN (${values.map(() => '?').join(', ')})`); params.push(...values); };
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

async function all(c: DuckDBConnection, sql: string, params?: DuckDBValue[]): Promise<Row[]> {
  const reader = await c.runAndReadAll(sql, params);
  return reader.getRowObjectsJS() as Row[];
}

function appendTs(a: DuckDBAppender, ms: number | null): void {
  if (ms === null) a.appendNull();
  else a.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.trunc(ms)) * 1000n));
}

function appendDeadLetter(a: DuckDBAppender, d: DeadLetter): void {
  a.appendBigInt(BigInt(d.id));
  appendTs(a, d.receivedAt);
  appendNullable(a, d.deviceId);
  appendNullable(a, d.clientId);
  a.appendVarchar(d.topic);
  a.appendTinyInt(d.qos);
  a.appendVarchar(d.reason);
  a.appendVarchar(d.detail);
  appendNullable(a, d.issues ? JSON.stringify(d.issues) : null);
  appendNullable(a, d.msgId);
  a.appendBlob(d.raw);
  a.appendInteger(d.rawSize);
  appendNullable(a, d.remoteAddress);
  a.endRow();
}

function appendNullable(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull(); else a.appendVarchar(v);
}

/** The control connection's temporary table of a device import (beginDeviceImport). */
const DEVICE_IMPORT_STAGE = 'device_import_stage';

function appendStagedDevice(a: DuckDBAppender, d: DeviceRecord, isUpdate: boolean): void {
  a.appendVarchar(d.id);
  a.appendVarchar(d.family);
  appendNullable(a, d.name);
  if (d.location) { a.appendDouble(d.location.lat); a.appendDouble(d.location.lng); } else { a.appendNull(); a.appendNull(); }
  appendNullable(a, d.district);
  a.appendVarchar(JSON.stringify(d.meta));
  a.appendVarchar(d.secretHash);
  appendTs(a, d.createdAt);
  appendTs(a, d.updatedAt);
  a.appendBoolean(isUpdate);
  a.endRow();
}

function deviceParams(d: DeviceRecord): DuckDBValue[] {
  return [d.id, d.family, d.name, d.location?.lat ?? null, d.location?.lng ?? null, d.district, JSON.stringify(d.meta), d.secretHash, d.createdAt, d.updatedAt];
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

function toUser(r: Row): UserRecord {
  return { username: String(r.username), role: String(r.role) as UserRecord['role'], passwordHash: String(r.password_hash), createdAt: Number(r.created_at), disabled: r.disabled === true };
}

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function blobBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v && typeof v === 'object' && 'bytes' in v) return (v as { bytes: Uint8Array }).bytes;
  return new Uint8Array();
}
