/**
 * Column-wise appends (store/chunkWriter.ts): readings of every channel, more rows than one
 * data chunk holds, mixed tables in one batch, nulls in some chunks and not in the next,
 * 64-bit values beyond 32 bits, come back from DuckDB exactly as the row appender wrote them:
 * each column read back with SQL and compared with the reading it came from.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../ingest/decode.js';
import { channelList, schemaFor, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import { readingTables, type ReadingTable } from '../../store/readingTables.js';
import type { Reading } from '../../store/types.js';
import { seededRng } from '../../simulators/fleet/rng.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);


/** Valid payloads with optional fields dropped at random and numbers varied within the schema. */
function payloads(family: Family, channel: string, n: number, rand: () => number, nullRuns: boolean): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const shape = (schemaFor(family, channel) as unknown as { shape: Record<string, { isOptional(): boolean }> }).shape;
  for (let i = 0; i < n; i++) {
    const p: Record<string, unknown> = examplePayload(family, channel, `m-${i}-${Math.floor(rand() * 1e9)}`, T0 + Math.floor(rand() * 86_400_000));
    // a run of rows without optional fields, and rows with them: nulls in some chunks only
    const dropOptional = nullRuns ? (i % 3000 < 1500) : rand() < 0.3;
    if (dropOptional) {
      for (const [k, field] of Object.entries(shape)) {
        if (!field.isOptional() || (k === 'netKg' && p.point === 'post_fill')) continue;
        delete p[k];
      }
    }
    if (channel === 'status') { p.floor = Math.floor(rand() * 320) - 20; p.speedMps = rand() * 30; p.moving = rand() < 0.5; }
    if (channel === 'txn' && 'pulses' in p) p.pulses = Math.floor(rand() * 2 ** 52);
    if (channel === 'txn') p.totalizerL = rand() * 1e12;
    if (rand() < 0.2) p.note = { i, text: '电梯 "quoted"' };
    out.push(p);
  }
  return out;
}

/** Strings around DuckDB's 12-byte inline limit, with NULs, non-ASCII and surrogate pairs. */
const edgeIds = ['d', 'dev-1', 'elev-000001', 'elev-0000001', 'elev-00000001', 'bench-elev-42', 'x'.repeat(64), 'A_b-9'];
const edgeMsgIds = ['m', 'a\u0000b', '\u0000', '12345678901', '123456789012', '1234567890123', '电梯', '电梯电梯电梯', 'é', '\u007f\u007f', '😀', 'm'.repeat(64), ' ', 'tab\tnew\nline'];

function toReading(family: Family, channel: string, p: Record<string, unknown>, seq: number, qos: number): Reading {
  if (seq % 5 === 0) p.msgId = `${edgeMsgIds[seq % edgeMsgIds.length]!}${seq % 2 ? '' : seq}`.slice(0, 64);
  const d = decodePayload(family, channel, Buffer.from(JSON.stringify(p)), 1 << 20);
  if (!d.ok) throw new Error(`${family}/${channel}: ${d.detail} in ${JSON.stringify(p)}`);
  const deviceId = seq % 3 ? edgeIds[seq % edgeIds.length]! : `dev-${seq % 97}`;
  return { seq, family, channel, deviceId, msgId: d.msgId, ts: d.ts, receivedAt: d.ts + (seq % 1000), qos, data: d.data, extra: d.extra };
}

/** What the table should hold for a reading, column by column (null where the field is absent). */
function expectedRow(t: ReadingTable, r: Reading): Record<string, unknown> {
  const row: Record<string, unknown> = { seq: r.seq, device_id: r.deviceId, msg_id: r.msgId, ts: r.ts, received_at: r.receivedAt, qos: r.qos };
  for (const c of t.columns) {
    const v = r.data[c.field];
    const x = c.index === undefined ? v : (v as unknown[] | undefined)?.[c.index];
    row[c.name] = x === undefined ? null : c.type === 'VARCHAR' ? String(x) : x;
  }
  row.extra = r.extra;
  return row;
}

async function readBack(file: string, t: ReadingTable): Promise<Map<number, Record<string, unknown>>> {
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  try {
    const cols = ['seq::DOUBLE AS seq', 'device_id', 'msg_id', 'epoch_ms(ts)::DOUBLE AS ts', 'epoch_ms(received_at)::DOUBLE AS received_at', 'qos::INTEGER AS qos',
      ...t.columns.map((col) => (col.type === 'BIGINT' ? `${col.name}::DOUBLE AS ${col.name}` : col.name)), 'extra'];
    const rows = (await c.runAndReadAll(`SELECT ${cols.join(', ')} FROM ${t.table}`)).getRowObjectsJS() as Array<Record<string, unknown>>;
    return new Map(rows.map((r) => [Number(r.seq), r]));
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

async function sql(file: string, query: string): Promise<Array<Record<string, unknown>>> {
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(query)).getRowObjectsJS() as Array<Record<string, unknown>>;
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('column-wise appends', () => {
  it('every channel, several chunks per table, mixed batches: every column as sent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-chunks-'));
    dirs.push(dir);
    const file = path.join(dir, 'db.duckdb');
    const store = new DuckDbStore(file);
    await store.open();
    const rand = seededRng(7).next;
    const all: Reading[] = [];
    // seq beyond 2^32 (the high 32 bits matter) up to the largest exact integer
    let seq = 2 ** 33 - 5;
    for (const { family, channel } of channelList) {
      // status and txn cross chunk boundaries (2,048 rows) several times
      const n = channel === 'status' || channel === 'txn' ? 6_500 : 700;
      for (const p of payloads(family, channel, n, rand, channel === 'txn')) all.push(toReading(family, channel, p, seq++, seq % 3));
    }
    all.push(toReading('elevator', 'status', examplePayload('elevator', 'status', 'max-seq', T0), 2 ** 53 - 1, 1));
    // shuffle, then write in batches of uneven sizes: tables interleave within a batch
    for (let i = all.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [all[i], all[j]] = [all[j]!, all[i]!]; }
    for (let i = 0; i < all.length;) {
      const size = 1 + Math.floor(rand() * 5_000);
      await store.readings.appendBatch(all.slice(i, i + size), []);
      i += size;
    }
    await store.close();

    const byTable = new Map<ReadingTable, Reading[]>();
    for (const r of all) {
      const t = readingTables[r.family][r.channel]!;
      byTable.set(t, [...(byTable.get(t) ?? []), r]);
    }
    // equality, grouping and prefix filters on strings written inline and out of line
    const t0 = readingTables.elevator.status!;
    const want = new Map<string, number>();
    for (const r of byTable.get(t0)!) want.set(r.deviceId, (want.get(r.deviceId) ?? 0) + 1);
    const groups = await sql(file, `SELECT device_id, count(*)::INTEGER AS n FROM ${t0.table} GROUP BY device_id`);
    expect(new Map(groups.map((g) => [String(g.device_id), Number(g.n)]))).toEqual(want);
    for (const id of ['d', 'elev-000001', 'elev-0000001', 'elev-00000001', 'bench-elev-42']) {
      const [row] = await sql(file, `SELECT count(*)::INTEGER AS n FROM ${t0.table} WHERE device_id = '${id}'`);
      expect(Number(row!.n), id).toBe(want.get(id) ?? 0);
    }
    const [pre] = await sql(file, `SELECT count(*)::INTEGER AS n FROM ${t0.table} WHERE device_id LIKE 'elev-0000%'`);
    expect(Number(pre!.n)).toBe([...want].filter(([k]) => k.startsWith('elev-0000')).reduce((a, [, n]) => a + n, 0));

    for (const [t, rows] of byTable) {
      const stored = await readBack(file, t);
      expect(stored.size, t.table).toBe(rows.length);
      const wrong: string[] = [];
      for (const r of rows) {
        const got = stored.get(r.seq);
        const want = expectedRow(t, r);
        if (!got) { wrong.push(`seq ${r.seq} missing`); continue; }
        for (const [k, v] of Object.entries(want)) {
          if (!Object.is(got[k], v) && !(typeof v === 'number' && got[k] === v)) wrong.push(`${t.table} seq ${r.seq} ${k}: got ${String(got[k])}, want ${String(v)}`);
        }
        if (wrong.length > 10) break;
      }
      expect(wrong).toEqual([]);
    }
  }, 120_000);
});
