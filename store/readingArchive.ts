/**
 * Device-clustered history, the DuckDB side (the plan is readingRuns.ts): the catalog of runs,
 * the SQL that seals and merges them, and the FROM clause readers use.
 *
 * Consistency: a seal (CREATE run AS SELECT ... ORDER BY; DELETE the same rows from the hot
 * table; catalog row) and a merge (CREATE; DROP the inputs; catalog rows) are each one
 * transaction, so a reading is in exactly one place in every snapshot, and a crash at any
 * point leaves the previous state. Readers build their SQL from the in-memory catalog: the
 * COMMIT and the catalog update happen inside `exclusive` (the store's read queue), so no read
 * runs between them with a stale list of tables.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { levelOf, mergedRun, runsMatching, runTable, type HotStats, type ReadingRun, type RunFilter, type RunPolicy } from './readingRuns.js';

type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

export class ReadingArchive {
  private readonly runs = new Map<string, ReadingRun[]>();
  private nextId = 1;

  constructor(private readonly exclusive: Exclusive) {}

  async load(c: DuckDBConnection): Promise<void> {
    const rows = (await c.runAndReadAll(`SELECT id::DOUBLE AS id, base, level, rows::DOUBLE AS rows, seq_min::DOUBLE AS seq_min, seq_max::DOUBLE AS seq_max,
      epoch_ms(ts_min)::DOUBLE AS ts_min, epoch_ms(ts_max)::DOUBLE AS ts_max, epoch_ms(received_max)::DOUBLE AS received_max FROM reading_runs ORDER BY id`)).getRowObjectsJS();
    this.runs.clear();
    for (const r of rows) {
      const run: ReadingRun = {
        id: Number(r.id), base: String(r.base), level: Number(r.level), rows: Number(r.rows), seqMin: Number(r.seq_min), seqMax: Number(r.seq_max),
        tsMin: Number(r.ts_min), tsMax: Number(r.ts_max), receivedMax: Number(r.received_max),
      };
      this.list(run.base).push(run);
      this.nextId = Math.max(this.nextId, run.id + 1);
    }
  }

  runsOf(base: string): readonly ReadingRun[] {
    return this.runs.get(base) ?? [];
  }

  /** Rows and highest seq held in runs (the hot tables are counted by SQL). */
  totals(base: string): { rows: number; seqMax: number } {
    let rows = 0;
    let seqMax = 0;
    for (const r of this.runsOf(base)) { rows += r.rows; seqMax = Math.max(seqMax, r.seqMax); }
    return { rows, seqMax };
  }

  /**
   * A FROM source with the given columns: the hot table plus every run that may hold a row
   * matching the filter. The filter only prunes runs; the caller's WHERE still applies.
   */
  from(base: string, columns: string, f: RunFilter = {}): string {
    const runs = runsMatching(this.runsOf(base), f);
    if (!runs.length) return base;
    return `(${[base, ...runs.map((r) => runTable(base, r.id))].map((t) => `SELECT ${columns} FROM ${t}`).join(' UNION ALL ')})`;
  }

  async hotStats(c: DuckDBConnection, base: string, safeSeq: number): Promise<HotStats> {
    const r = (await c.runAndReadAll(`SELECT count(*)::DOUBLE AS n, epoch_ms(min(received_at))::DOUBLE AS oldest FROM ${base} WHERE seq <= ?`, [safeSeq])).getRowObjectsJS()[0];
    const rows = Number(r?.n ?? 0);
    return { rows, oldestReceived: rows ? Number(r!.oldest) : null };
  }

  /** Move the hot rows with seq <= safeSeq into a new run sorted by (device, time). */
  async seal(c: DuckDBConnection, base: string, safeSeq: number, p: RunPolicy): Promise<ReadingRun | null> {
    const id = this.nextId++;
    const name = runTable(base, id);
    return this.transaction(c, async () => {
      // one snapshot for the statistics, the copy and the delete
      const stats = async (upTo: number) => (await c.runAndReadAll(`SELECT count(*)::DOUBLE AS n, min(seq)::DOUBLE AS seq_min, max(seq)::DOUBLE AS seq_max,
        epoch_ms(min(ts))::DOUBLE AS ts_min, epoch_ms(max(ts))::DOUBLE AS ts_max, epoch_ms(max(received_at))::DOUBLE AS received_max
        FROM ${base} WHERE seq <= ?`, [upTo])).getRowObjectsJS()[0]!;
      let upTo = safeSeq;
      let s = await stats(upTo);
      // A store upgraded with 100M readings in arrival order, or the backlog of a long InfluxDB
      // outage, is sealed a level-1 run at a time (seqs are near-uniform over a table's rows),
      // not in one sort of everything.
      const most = p.runRows * p.fanout;
      if (Number(s.n) > most) {
        upTo = Math.floor(Number(s.seq_min) + (Number(s.seq_max) - Number(s.seq_min)) * (most / Number(s.n)));
        s = await stats(upTo);
      }
      const rows = Number(s.n);
      if (!rows) return null;
      await c.run(`CREATE TABLE ${name} AS SELECT * FROM ${base} WHERE seq <= ? ORDER BY device_id, ts, seq`, [upTo]);
      await c.run(`DELETE FROM ${base} WHERE seq <= ?`, [upTo]);
      const run: ReadingRun = {
        id, base, level: 0, rows, seqMin: Number(s.seq_min), seqMax: Number(s.seq_max), tsMin: Number(s.ts_min), tsMax: Number(s.ts_max), receivedMax: Number(s.received_max),
      };
      // a seal after an InfluxDB outage may hold many runs' worth of rows: size decides the level
      run.level = levelOf(rows, p);
      await insertRun(c, run);
      return run;
    }, (run) => { if (run) this.list(base).push(run); });
  }

  /** Rewrite runs as one, sorted by (device, time). */
  async merge(c: DuckDBConnection, inputs: readonly ReadingRun[], p: RunPolicy): Promise<ReadingRun> {
    const base = inputs[0]!.base;
    const run = mergedRun(this.nextId++, inputs, p);
    const ids = inputs.map((r) => r.id);
    return this.transaction(c, async () => {
      const union = inputs.map((r) => `SELECT * FROM ${runTable(base, r.id)}`).join(' UNION ALL ');
      await c.run(`CREATE TABLE ${runTable(base, run.id)} AS SELECT * FROM (${union}) ORDER BY device_id, ts, seq`);
      for (const r of inputs) await c.run(`DROP TABLE ${runTable(base, r.id)}`);
      await c.run(`DELETE FROM reading_runs WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
      await insertRun(c, run);
      return run;
    }, () => {
      this.runs.set(base, [...this.runsOf(base).filter((r) => !ids.includes(r.id)), run]);
    });
  }

  /**
   * The work runs in a transaction on the maintenance connection; the COMMIT and `apply` (the
   * catalog update) run inside `exclusive`, so readers see the tables and the catalog change
   * together.
   */
  private async transaction<T>(c: DuckDBConnection, work: () => Promise<T>, apply: (result: T) => void): Promise<T> {
    await c.run('BEGIN TRANSACTION');
    let result: T;
    try {
      result = await work();
    } catch (err) {
      await c.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return this.exclusive(async () => {
      try {
        await c.run('COMMIT');
      } catch (err) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      apply(result);
      return result;
    });
  }

  private list(base: string): ReadingRun[] {
    let l = this.runs.get(base);
    if (!l) { l = []; this.runs.set(base, l); }
    return l;
  }
}

async function insertRun(c: DuckDBConnection, r: ReadingRun): Promise<void> {
  const params: DuckDBValue[] = [r.id, r.base, r.level, r.rows, r.seqMin, r.seqMax, r.tsMin, r.tsMax, r.receivedMax];
  await c.run(`INSERT INTO reading_runs (id, base, level, rows, seq_min, seq_max, ts_min, ts_max, received_max)
    VALUES (?, ?, ?, ?, ?, ?, epoch_ms(?::BIGINT), epoch_ms(?::BIGINT), epoch_ms(?::BIGINT))`, params);
}
