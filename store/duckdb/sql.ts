/** Small helpers every DuckDB repository shares: rows as objects, nullable values, timestamps. */
import { DuckDBTimestampValue, type DuckDBAppender, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export type Row = Record<string, unknown>;

export async function all(c: DuckDBConnection, sql: string, params?: DuckDBValue[]): Promise<Row[]> {
  const reader = await c.runAndReadAll(sql, params);
  return reader.getRowObjectsJS() as Row[];
}

export function appendTs(a: DuckDBAppender, ms: number | null): void {
  if (ms === null) a.appendNull();
  else a.appendTimestamp(new DuckDBTimestampValue(BigInt(Math.trunc(ms)) * 1000n));
}

export function appendNullable(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull(); else a.appendVarchar(v);
}

export { numOrNull, strOrNull } from '../rows.js';

export function blobBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v && typeof v === 'object' && 'bytes' in v) return (v as { bytes: Uint8Array }).bytes;
  return new Uint8Array();
}

/** `?, ?, ?` for a list of values. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
