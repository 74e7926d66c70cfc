/**
 * Column-wise appends of readings: a batch's rows for one table are laid out column by column
 * in typed arrays (timestamps as integer microseconds, no value objects), copied into a DuckDB
 * data chunk one column at a time, and the chunk handed to the table's appender. This replaces
 * the appender's row-at-a-time calls, which cost one native call per value, a BigInt per
 * BIGINT and a timestamp object per TIMESTAMP.
 *
 * The chunk and the appender come from @duckdb/node-api; filling the chunk's vectors uses the
 * C API of @duckdb/node-bindings, the package node-api is built on: one memory copy per
 * fixed-width column, one call per string. The bindings are loaded from node-api's own
 * location, so they are the very module instance (and native library) that created the chunk,
 * whatever versions npm hoists. The copies are bounded by the chunk's capacity (DuckDB's
 * vector size), which every fill checks.
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import type { DuckDBAppender } from '@duckdb/node-api';
import { DuckDBDataChunk } from '@duckdb/node-api';
import type { Reading } from '../core/reading.js';
import type { ColumnType, ReadingTable } from './readingTables.js';

type Bindings = typeof import('@duckdb/node-bindings');
const duckdb = createRequire(createRequire(import.meta.url).resolve('@duckdb/node-api'))('@duckdb/node-bindings') as Bindings;

/** DuckDB's rows per data chunk (STANDARD_VECTOR_SIZE, 2048). */
const CAPACITY = duckdb.vector_size();
const LITTLE_ENDIAN = endianness() === 'LE';

type Kind = 'int64' | 'timestamp' | 'double' | 'int32' | 'int8' | 'bool' | 'varchar';

const kindOf: Record<ColumnType, Kind> = { BIGINT: 'int64', DOUBLE: 'double', INTEGER: 'int32', BOOLEAN: 'bool', VARCHAR: 'varchar' };

/** Where a column's value comes from in a reading. */
type Source = (r: Reading) => unknown;

interface Col {
  kind: Kind;
  source: Source;
  /** fixed-width data, bytes laid out as DuckDB stores them */
  bytes: Uint8Array | null;
  i32: Int32Array | null;
  f64: Float64Array | null;
  /** VARCHAR: the strings not written inline (longer than 12 bytes, or not ASCII), by row */
  strings: Array<string | null> | null;
  /** VARCHAR: how many rows of the chunk have an entry in `strings` */
  outOfLine: number;
  /** validity bitmap (1 = valid), 64-bit words as DuckDB keeps them, written through 32-bit halves */
  validity: Uint32Array;
  hasNull: boolean;
}

/** Bytes per value in the vector; a VARCHAR value is DuckDB's 16-byte string_t. */
const widthOf: Record<Kind, number> = { int64: 8, timestamp: 8, double: 8, int32: 4, int8: 1, bool: 1, varchar: 16 };

function makeCol(kind: Kind, source: Source): Col {
  const width = widthOf[kind];
  const buf = width ? new ArrayBuffer(width * CAPACITY) : null;
  return {
    kind,
    source,
    bytes: buf ? new Uint8Array(buf) : null,
    i32: buf && width >= 4 ? new Int32Array(buf) : null,
    f64: buf && kind === 'double' ? new Float64Array(buf) : null,
    strings: kind === 'varchar' ? new Array<string | null>(CAPACITY).fill(null) : null,
    outOfLine: 0,
    validity: new Uint32Array(Math.ceil(CAPACITY / 64) * 2),
    hasNull: false,
  };
}

/** The columns of a reading table, in table order: common ones, the channel's, then extra. */
function columnsOf(t: ReadingTable): Col[] {
  const cols: Col[] = [
    makeCol('int64', (r) => r.seq),
    makeCol('varchar', (r) => r.deviceId),
    makeCol('varchar', (r) => r.msgId),
    makeCol('timestamp', (r) => r.ts),
    makeCol('timestamp', (r) => r.receivedAt),
    makeCol('int8', (r) => r.qos),
  ];
  for (const c of t.columns) {
    const field = c.field;
    const index = c.index;
    const source: Source = index === undefined
      ? (r) => r.data[field]
      : (r) => (r.data[field] as unknown[] | undefined)?.[index];
    cols.push(makeCol(kindOf[c.type], source));
  }
  cols.push(makeCol('varchar', (r) => r.extra));
  return cols;
}

const TWO_32 = 4294967296;

export class ReadingChunkWriter {
  private readonly cols: Col[];
  private readonly chunk: DuckDBDataChunk;

  constructor(table: ReadingTable, private readonly appender: DuckDBAppender) {
    if (!LITTLE_ENDIAN) throw new Error('column-wise appends assume a little-endian machine');
    this.cols = columnsOf(table);
    if (appender.columnCount !== this.cols.length) {
      throw new Error(`${table.table} has ${appender.columnCount} columns, the writer knows ${this.cols.length}`);
    }
    this.chunk = DuckDBDataChunk.create(this.cols.map((_, i) => appender.columnType(i)));
  }

  /** Append rows[from..to) (any count): one data chunk per CAPACITY rows. */
  append(rows: readonly Reading[], from = 0, to = rows.length): void {
    for (let start = from; start < to; start += CAPACITY) this.appendChunk(rows, start, Math.min(to, start + CAPACITY));
  }

  /** Write the appended rows into the transaction (the appender's flush). */
  flush(): void {
    this.appender.flushSync();
  }

  private appendChunk(rows: readonly Reading[], from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    if (n > CAPACITY) throw new Error(`a chunk holds at most ${CAPACITY} rows`);
    const raw = this.chunk.chunk;
    duckdb.data_chunk_reset(raw);
    duckdb.data_chunk_set_size(raw, n);
    for (let c = 0; c < this.cols.length; c++) {
      const col = this.cols[c]!;
      fill(col, rows, from, n);
      const vector = duckdb.data_chunk_get_vector(raw, c);
      duckdb.copy_data_to_vector(vector, 0, col.bytes!.buffer as ArrayBuffer, 0, n * widthOf[col.kind]);
      if (col.outOfLine) {
        // after the copy: DuckDB writes these string_t entries, with the bytes in its heap
        const s = col.strings!;
        for (let i = 0; i < n; i++) {
          const v = s[i];
          if (v !== null) duckdb.vector_assign_string_element(vector, i, v!);
        }
      }
      if (col.hasNull) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, col.validity.buffer as ArrayBuffer, 0, Math.ceil(n / 64) * 8);
      }
    }
    this.appender.appendDataChunk(this.chunk);
  }
}

/** Copy one column of rows[from..from+n) into the column's arrays, marking nulls. */
function fill(col: Col, rows: readonly Reading[], from: number, n: number): void {
  const source = col.source;
  const validity = col.validity;
  let hasNull = false;
  switch (col.kind) {
    case 'varchar': {
      // DuckDB's string_t (duckdb.h, duckdb_string_t): a uint32 length, then up to 12 bytes
      // inline (zero-padded); longer strings point into the vector's heap. Short ASCII strings
      // are written inline here and copied with the column; the rest go through DuckDB.
      const s = col.strings!;
      const w = col.i32!;
      let outOfLine = 0;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        const b = 4 * i;
        if (v === undefined || v === null) {
          s[i] = null;
          w[b] = 0; w[b + 1] = 0; w[b + 2] = 0; w[b + 3] = 0;
          hasNull = markNull(validity, i, hasNull, n);
          continue;
        }
        const str = typeof v === 'string' ? v : String(v);
        if (str.length <= 12 && inlineAscii(w, b, str)) { s[i] = null; continue; }
        s[i] = str;
        outOfLine++;
      }
      col.outOfLine = outOfLine;
      break;
    }
    case 'double': {
      const f = col.f64!;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        if (v === undefined || v === null) hasNull = markNull(validity, i, hasNull, n); else f[i] = v as number;
      }
      break;
    }
    case 'int32': {
      const a = col.i32!;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        if (v === undefined || v === null) hasNull = markNull(validity, i, hasNull, n); else a[i] = int32(v as number);
      }
      break;
    }
    case 'int64':
    case 'timestamp': {
      // int64 as two 32-bit halves: exact for integers up to 2^53 (seq, pulses, and
      // microseconds up to year 2255), with no BigInt per value
      const a = col.i32!;
      const scale = col.kind === 'timestamp' ? 1000 : 1;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        if (v === undefined || v === null) { hasNull = markNull(validity, i, hasNull, n); continue; }
        const x = Math.trunc(v as number) * scale;
        if (!Number.isSafeInteger(x)) throw new Error(`value ${String(v)} does not fit a 64-bit column exactly`);
        a[2 * i] = x | 0; // low 32 bits (ToInt32 is modulo 2^32, two's complement for negatives)
        a[2 * i + 1] = Math.floor(x / TWO_32);
      }
      break;
    }
    case 'int8': {
      const b = col.bytes!;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        if (v === undefined || v === null) hasNull = markNull(validity, i, hasNull, n); else b[i] = (v as number) & 0xff;
      }
      break;
    }
    case 'bool': {
      const b = col.bytes!;
      for (let i = 0; i < n; i++) {
        const v = source(rows[from + i]!);
        if (v === undefined || v === null) hasNull = markNull(validity, i, hasNull, n); else b[i] = v ? 1 : 0;
      }
      break;
    }
  }
  col.hasNull = hasNull;
}

/** Write `str` as an inline string_t at word b; false (nothing written) when it is not ASCII. */
function inlineAscii(w: Int32Array, b: number, str: string): boolean {
  const n = str.length;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  for (let j = 0; j < n; j++) {
    const c = str.charCodeAt(j);
    if (c >= 0x80) return false;
    const shift = (j & 3) << 3;
    if (j < 4) w1 |= c << shift;
    else if (j < 8) w2 |= c << shift;
    else w3 |= c << shift;
  }
  w[b] = n;
  w[b + 1] = w1;
  w[b + 2] = w2;
  w[b + 3] = w3;
  return true;
}

/** Clear row i's validity bit; the first null of a chunk sets every other row valid first. */
function markNull(validity: Uint32Array, i: number, hasNull: boolean, n: number): true {
  if (!hasNull) validity.fill(0xffffffff, 0, Math.ceil(n / 32) + 1);
  validity[i >>> 5]! &= ~(1 << (i & 31));
  return true;
}

function int32(v: number): number {
  if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new Error(`value ${v} does not fit an INTEGER column`);
  return v;
}
