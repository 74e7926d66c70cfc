/**
 * The readings repository in PostgreSQL (store/postgres/readings.ts): the contract every store
 * keeps (test/store/contract/readings.ts), and what cluster mode adds: nodes numbering their
 * own readings on one database (after and lastSequences per node, reads by device over all),
 * month partitions made on demand (a batch over two months, two nodes into a new month at
 * once, a month dropped meanwhile), a failed batch leaving nothing, a big batch through COPY,
 * and the U+0000 encoding of text (store/postgres/text.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import type { PostgresDatabase } from '../../../store/postgres/database.js';
import { PgDeadLetters } from '../../../store/postgres/deadLetters.js';
import { PgDevices } from '../../../store/postgres/devices.js';
import { PARTITION_LOCK_TIMEOUT_MS, PgReadings, monthOf } from '../../../store/postgres/readings.js';
import { fromPgText, toPgText } from '../../../store/postgres/text.js';
import type { Reading } from '../../../store/types.js';
import { readingsContract, type ReadingStores } from '../contract/readings.js';
import { onPostgres } from '../contract/stores.js';
import type { Open } from '../contract/harness.js';
import { T0, device, letter, readingFrom, simple } from '../duckdb/fixtures.js';

type PgStores = ReadingStores & { readings: PgReadings; db: PostgresDatabase };
const make = (db: PostgresDatabase, node = 'node-a'): PgStores =>
  ({ readings: new PgReadings(db, node), deadLetters: new PgDeadLetters(db), devices: new PgDevices(db), db });

describe('text with U+0000 (store/postgres/text.ts)', () => {
  it('round trips every string, stores none with U+0000, leaves ordinary ones as they are', () => {
    const text = fc.string({ unit: fc.constantFrom('\u0000', '\uE000', '\uE001', '\uE002', 'a', '\\', '\n', '🚒') });
    fc.assert(fc.property(fc.oneof(text, fc.string({ unit: 'binary' })), (s) => {
      const stored = toPgText(s);
      expect(stored.includes('\u0000')).toBe(false);
      expect(fromPgText(stored)).toBe(s);
      if (!s.includes('\u0000') && !s.startsWith('\uE000')) expect(stored).toBe(s);
    }), { numRuns: 2000 });
  });
});

describe('months (partition bounds)', () => {
  it('a calendar month UTC, [first ms, first ms of the next)', () => {
    expect(monthOf(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toEqual({ suffix: '202612', from: Date.UTC(2026, 11, 1), to: Date.UTC(2027, 0, 1) });
    expect(monthOf(Date.UTC(2027, 0, 1))).toEqual({ suffix: '202701', from: Date.UTC(2027, 0, 1), to: Date.UTC(2027, 1, 1) });
    expect(() => monthOf(Number.NaN)).toThrow(/outside/);
  });
});

onPostgres(make, (store, open) => {
  readingsContract(store, open);
  clusterSuite(open);
});

/** The partitions of a reading table, by name. */
async function partitions(db: PostgresDatabase, table: string): Promise<string[]> {
  const rows = await db.rows(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = $1 ORDER BY 1`, [table]);
  return rows.map((r) => String(r.relname));
}

const lift = (n: number, ts: number, over: Partial<Reading> = {}): Reading => simple('cl-lift', `m${n}`, ts, { seq: n, ...over });

function clusterSuite(open: Open<PgStores>): void {
  describe('cluster mode (PostgreSQL)', () => {
    it('nodes number their own readings and dead letters: after and lastSequences per node; reads by device, count and recent keys over all', async () => {
      const opened = await open();
      const a = opened.repo;
      const b = make(a.db, 'node-b');
      await a.devices.insert([device('cl-lift')]);
      await a.readings.appendBatch([lift(1, T0), lift(2, T0 + 2)], [letter({ id: 1 }), letter({ id: 2 })]);
      await b.readings.appendBatch([lift(1, T0 + 1, { msgId: 'b1' }), lift(2, T0 + 3, { msgId: 'b2' }), lift(3, T0 + 4, { msgId: 'b3' })], [letter({ id: 1, reason: 'schema' })]);
      expect(await a.readings.lastSequences()).toEqual({ readingSeq: 2, deadLetterId: 2 });
      expect(await b.readings.lastSequences()).toEqual({ readingSeq: 3, deadLetterId: 1 });
      expect((await a.readings.after(0, 10)).map((r) => r.msgId)).toEqual(['m1', 'm2']);
      expect((await b.readings.after(1, 10)).map((r) => r.msgId)).toEqual(['b2', 'b3']);
      expect((await a.readings.query({ deviceId: 'cl-lift', family: 'elevator', limit: 10 })).map((r) => r.msgId)).toEqual(['m1', 'b1', 'm2', 'b2', 'b3']);
      expect(await a.readings.count()).toBe(5);
      expect((await b.readings.recentMessageKeys(0, 10)).map(([, m]) => m).sort()).toEqual(['b1', 'b2', 'b3', 'm1', 'm2']);
      // the cluster id is what the API sees: node-b's letter 1 is the cluster's third
      expect((await a.deadLetters.list({ limit: 10 })).map((d) => [d.id, d.reason])).toEqual([[3, 'schema'], [2, 'invalid_json'], [1, 'invalid_json']]);
    });

    it('a reading another node (or this one before a crash) already stored is stored once: the device resent it through another node', async () => {
      const opened = await open();
      const a = opened.repo;
      const b = make(a.db, 'node-b');
      await a.devices.insert([device('cl-lift')]);
      await a.readings.appendBatch([lift(1, T0, { msgId: 'once-1' }), lift(2, T0 + 5, { msgId: 'once-2' })], []);
      // node-b took the resend of once-2 (same msgId, same device time) and one of its own
      await b.readings.appendBatch([lift(1, T0 + 5, { msgId: 'once-2' }), lift(2, T0 + 6, { msgId: 'once-3' })], []);
      // node-a replays its journal after a restart: once-1 and once-2 again
      await a.readings.appendBatch([lift(1, T0, { msgId: 'once-1' }), lift(2, T0 + 5, { msgId: 'once-2' })], []);
      const rows = await a.readings.query({ deviceId: 'cl-lift', family: 'elevator', limit: 10 });
      expect(rows.map((r) => r.msgId)).toEqual(['once-1', 'once-2', 'once-3']);
      // a different device time is a different reading (a device re-stamping a resend is not recognised here)
      await b.readings.appendBatch([lift(3, T0 + 7, { msgId: 'once-3' })], []);
      expect(await a.readings.count()).toBe(4);
    });

    it('a batch over two months makes both partitions and each row lands in its own', async () => {
      const { db, readings } = (await open()).repo;
      const endOfJan = Date.UTC(2027, 0, 31, 23, 59, 59, 999);
      await readings.appendBatch([lift(1, endOfJan), lift(2, endOfJan + 1), readingFrom('kitchen', 'heartbeat', 'cl-cam', examplePayload('kitchen', 'heartbeat', 'h', endOfJan), { seq: 3 })], []);
      expect(await partitions(db, 'r_elevator_status')).toEqual(['r_elevator_status_202701', 'r_elevator_status_202702']);
      expect(await partitions(db, 'r_heartbeat')).toEqual(['r_heartbeat_202701']);
      const placed = await db.rows('SELECT tableoid::regclass::text AS part, seq FROM r_elevator_status ORDER BY seq');
      expect(placed.map((r) => [r.part, Number(r.seq)])).toEqual([['r_elevator_status_202701', 1], ['r_elevator_status_202702', 2]]);
    });

    it('two nodes reaching new months at the same moment both succeed', async () => {
      const first = await open();
      const second = await first.reopen(); // another pool on the same database: another node
      const a = first.repo.readings;
      const b = make(second.repo.db, 'node-b').readings;
      for (let month = 0; month < 6; month++) {
        const ts = Date.UTC(2028, month, 15);
        const batch = (node: string): Reading[] => Array.from({ length: 50 }, (_, i) => lift(month * 100 + i + 1, ts + i, { msgId: `${node}-${month}-${i}` }));
        await Promise.all([a.appendBatch(batch('a'), []), b.appendBatch(batch('b'), [])]);
      }
      expect(await a.count()).toBe(600);
      expect((await partitions(first.repo.db, 'r_elevator_status')).length).toBe(6);
      expect((await a.lastSequences()).readingSeq).toBe(550);
      expect((await b.lastSequences()).readingSeq).toBe(550);
      await second.close();
    });

    it('a new month waits a bounded time for a long reader of its table: the batch fails (the journal retries it), then goes in', async () => {
      const { db, readings } = (await open()).repo;
      await readings.appendBatch([lift(1, T0)], []);
      const reader = await db.hold();
      await reader.sql.query('BEGIN');
      await reader.sql.query('SELECT count(*) FROM r_elevator_status');
      const started = performance.now();
      await expect(readings.appendBatch([lift(2, Date.UTC(2029, 2, 1))], [])).rejects.toThrow(/lock timeout/);
      expect(performance.now() - started).toBeLessThan(PARTITION_LOCK_TIMEOUT_MS + 3000);
      // meanwhile the months that exist take rows
      await readings.appendBatch([lift(3, T0 + 1)], []);
      await reader.sql.query('COMMIT');
      reader.release();
      await readings.appendBatch([lift(2, Date.UTC(2029, 2, 1))], []);
      expect(await readings.count()).toBe(3);
    });

    it('a failed batch leaves nothing of itself, and the next one goes in', async () => {
      const { readings, deadLetters } = (await open()).repo;
      const bad = lift(3, T0, { data: { ...lift(0, T0).data, floor: 'third' } }); // an INTEGER column's value the server refuses
      const batch = [lift(1, T0), readingFrom('dispenser', 'tank', 'cl-tank', examplePayload('dispenser', 'tank', 't', T0), { seq: 2 }), bad];
      await expect(readings.appendBatch(batch, [letter({ id: 1 })])).rejects.toThrow(/integer/i);
      expect(await readings.count()).toBe(0);
      expect(await deadLetters.count()).toBe(0);
      // a failure after the COPYs (a node's letter number twice) takes them back too
      await readings.appendBatch([lift(1, T0)], [letter({ id: 1 })]);
      await expect(readings.appendBatch([lift(2, T0 + 1), lift(3, Date.UTC(2027, 5, 1))], [letter({ id: 1 })])).rejects.toThrow(/duplicate key/);
      expect([await readings.count(), await deadLetters.count()]).toEqual([1, 1]);
      expect(await readings.lastSequences()).toEqual({ readingSeq: 1, deadLetterId: 1 });
      await readings.appendBatch([lift(2, T0 + 1)], [letter({ id: 2 })]);
      expect(await readings.lastSequences()).toEqual({ readingSeq: 2, deadLetterId: 2 });
    });

    it('a month dropped after it was made (retention) fails one batch, then is made again', async () => {
      const { db, readings } = (await open()).repo;
      await readings.appendBatch([lift(1, T0)], []);
      await db.run('DROP TABLE r_elevator_status_202611');
      await expect(readings.appendBatch([lift(2, T0 + 1)], [])).rejects.toThrow(/no partition/);
      await readings.appendBatch([lift(2, T0 + 1)], []);
      expect(await readings.count()).toBe(1);
    });

    it('a batch of 20,000 readings over four tables and two months goes in whole, in order', async () => {
      const { readings, devices } = (await open()).repo;
      await devices.insert([device('big-lift'), device('big-cam', { family: 'kitchen' }), device('big-disp', { family: 'dispenser' })]);
      const base = Date.UTC(2026, 11, 31, 23, 0);
      const payloads = {
        status: examplePayload('elevator', 'status', 'x', base), hb: examplePayload('kitchen', 'heartbeat', 'x', base),
        v: { ...examplePayload('kitchen', 'violation', 'x', base), area: 'tab\there \\N' }, txn: examplePayload('dispenser', 'txn', 'x', base),
      };
      const proto = [
        readingFrom('elevator', 'status', 'big-lift', payloads.status), readingFrom('kitchen', 'heartbeat', 'big-cam', payloads.hb),
        readingFrom('kitchen', 'violation', 'big-cam', payloads.v), readingFrom('dispenser', 'txn', 'big-disp', payloads.txn),
      ];
      const batch = Array.from({ length: 20_000 }, (_, i) => ({ ...proto[i % 4]!, seq: i + 1, msgId: `big-${i}`, ts: base + i * 360, receivedAt: base + i * 360 + 5 }));
      const started = performance.now();
      await readings.appendBatch(batch, []);
      const took = performance.now() - started;
      expect(await readings.count()).toBe(20_000);
      expect(await readings.lastSequences()).toEqual({ readingSeq: 20_000, deadLetterId: 0 });
      const seen: Reading[] = [];
      for (let after = 0; seen.length < 20_000;) {
        const page = await readings.after(after, 5000);
        if (!page.length) break;
        seen.push(...page);
        after = page.at(-1)!.seq;
      }
      expect(seen.map((r) => r.seq)).toEqual(batch.map((r) => r.seq));
      expect(seen[2]).toEqual(batch[2]);
      expect(seen[19_999]).toEqual(batch[19_999]);
      expect(took).toBeLessThan(30_000);
    }, 120_000);

    it('ordinary text is stored as it is (SQL equality on codes works); text with U+0000 stored encoded', async () => {
      const { db, readings } = (await open()).repo;
      const scan = (code: string, seq: number): Reading =>
        readingFrom('cylinder', 'scan', 'cl-scanner', { ...examplePayload('cylinder', 'scan', `s${seq}`, T0), cylinderCode: code }, { seq });
      await readings.appendBatch([scan('LPG-0001', 1), scan('LPG\u00000002', 2)], []);
      const rows = await db.rows('SELECT seq FROM r_cylinder_scan WHERE cylinder_code = $1', ['LPG-0001']);
      expect(rows.map((r) => Number(r.seq))).toEqual([1]);
      const encoded = await db.rows('SELECT seq FROM r_cylinder_scan WHERE cylinder_code = $1', [toPgText('LPG\u00000002')]);
      expect(encoded.map((r) => Number(r.seq))).toEqual([2]);
    });
  });
}
