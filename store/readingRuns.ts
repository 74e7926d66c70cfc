/**
 * Device-clustered history: the plan, as pure functions (the SQL is in readingArchive.ts).
 *
 * Ingest appends readings in arrival order, so one device's readings are spread over every
 * row group of a table: a 24 h chart of one elevator in a store of 100M readings had to scan
 * 86M rows' device ids (871 ms, bench P5). DuckDB skips row groups by their min/max
 * statistics, so the fix is to store readings sorted by (device, time). Each reading table
 * keeps a small "hot" table that ingest appends to; a background job seals the hot rows into
 * a *run* (its own table, sorted by device_id, ts) and merges runs of the same level, eight at
 * a time, into one of the next level (an LSM tree's size tiers). A query reads the hot table
 * in full (it is small) plus, in each run, only the row groups whose device range holds the
 * device: at 100M readings, about 20 runs and a hot table of at most `runRows` rows.
 */

export interface ReadingRun {
  id: number;
  /** the reading table the run belongs to, e.g. r_elevator_status */
  base: string;
  level: number;
  rows: number;
  seqMin: number;
  seqMax: number;
  /** epoch ms, device time */
  tsMin: number;
  tsMax: number;
  /** epoch ms, receive time */
  receivedMax: number;
}

export interface RunPolicy {
  /** seal the hot table once this many of its rows may be sealed */
  runRows: number;
  /** ... or once its oldest sealable row was received this long ago (ms), however few */
  sealAfterMs: number;
  /** runs merged at once, and the size ratio between levels */
  fanout: number;
  /** runs at this level are never merged again (bounds the cost of one merge) */
  maxLevel: number;
}

/** The hot table's rows that may be sealed (seq <= the safe point). */
export interface HotStats {
  rows: number;
  /** epoch ms, null when rows = 0 */
  oldestReceived: number | null;
}

/**
 * Eight runs merge into one: at 100M readings that is about 20 runs to look into (measured
 * ~0.5 ms each) while every reading is rewritten about 3 times (~1.1 us a row here).
 */
export const HISTORY_FANOUT = 8;
/**
 * Runs of level 3 (8^3 x runRows: 134M rows at the default) are not merged again: a merge that
 * size takes minutes on two cores and spills to disk; older data is pruned by time anyway.
 */
export const HISTORY_MAX_LEVEL = 3;

export type ArchiveStep =
  | { kind: 'seal'; base: string }
  | { kind: 'merge'; base: string; runs: ReadingRun[] };

export const runTable = (base: string, id: number): string => `${base}__run_${id}`;

/**
 * Level 0 holds runs of about runRows rows, level 1 about fanout x runRows, and so on, at most
 * maxLevel. The boundaries sit at half the nominal size, so that eight runs sealed a little
 * short of runRows (by age) still merge into a level 1 run instead of staying at level 0 and
 * being rewritten again with the next seven.
 */
export function levelOf(rows: number, p: RunPolicy): number {
  let level = 0;
  for (let size = p.runRows * p.fanout; rows * 2 >= size && level < p.maxLevel; size *= p.fanout) level++;
  return level;
}

/**
 * The next thing to do, or null. Sealing comes first: the hot table is the one part a query
 * scans in full. Then merges, lowest level first, the oldest `fanout` runs of that level.
 */
export function nextStep(tables: ReadonlyArray<{ base: string; hot: HotStats; runs: readonly ReadingRun[] }>, p: RunPolicy, now: number): ArchiveStep | null {
  for (const t of tables) {
    if (t.hot.rows >= p.runRows) return { kind: 'seal', base: t.base };
  }
  for (const t of tables) {
    if (t.hot.rows > 0 && t.hot.oldestReceived !== null && now - t.hot.oldestReceived >= p.sealAfterMs) return { kind: 'seal', base: t.base };
  }
  for (let level = 0; level < p.maxLevel; level++) {
    for (const t of tables) {
      const same = t.runs.filter((r) => r.level === level).sort((a, b) => a.seqMin - b.seqMin || a.id - b.id);
      if (same.length >= p.fanout) return { kind: 'merge', base: t.base, runs: same.slice(0, p.fanout) };
    }
  }
  return null;
}

/** What a query restricts, so that runs which cannot hold a matching row are left out. */
export interface RunFilter {
  /** device time window, epoch ms, inclusive */
  from?: number;
  to?: number;
  /** seq > after */
  after?: number;
  /** received_at >= receivedSince */
  receivedSince?: number;
}

export function runsMatching(runs: readonly ReadingRun[], f: RunFilter): ReadingRun[] {
  return runs.filter((r) =>
    (f.from === undefined || r.tsMax >= f.from)
    && (f.to === undefined || r.tsMin <= f.to)
    && (f.after === undefined || r.seqMax > f.after)
    && (f.receivedSince === undefined || r.receivedMax >= f.receivedSince));
}

/** The run a merge produces. */
export function mergedRun(id: number, inputs: readonly ReadingRun[], p: RunPolicy): ReadingRun {
  const rows = inputs.reduce((n, r) => n + r.rows, 0);
  return {
    id,
    base: inputs[0]!.base,
    level: levelOf(rows, p),
    rows,
    seqMin: Math.min(...inputs.map((r) => r.seqMin)),
    seqMax: Math.max(...inputs.map((r) => r.seqMax)),
    tsMin: Math.min(...inputs.map((r) => r.tsMin)),
    tsMax: Math.max(...inputs.map((r) => r.tsMax)),
    receivedMax: Math.max(...inputs.map((r) => r.receivedMax)),
  };
}
