/**
 * The ingest journal (store/journal) in front of a real DuckDB store in a temp dir: a batch is
 * durable once journaled, reads see it at once, a failing or slow DuckDB loses nothing and
 * does not hold the appends, and after a crash the journal's batches reach DuckDB exactly once.
 * A crash is the DuckDB store closed under the journal without the journal's own close: its
 * segments stay on disk as a kill -9 leaves them.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../ingest/decode.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import { crc32Table, decodeFrames, encodeFrame, FRAME_HEADER_BYTES } from '../../store/journal/frame.js';
import { JournaledStore, replayJournal, type JournalOptions } from '../../store/journal/journaledStore.js';
import type { DeadLetter, Reading, Store } from '../../store/types.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'supervision-journal-'));
  dirs.push(d);
  return d;
}

const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);
let seq = 0;
let letterId = 0;

/** The bytes a device sent for each reading made here, as ingest passes them to appendBatch. */
const payloads = new WeakMap<Reading, Buffer>();
const payloadsOf = (rs: readonly Reading[]): Buffer[] => rs.map((r) => payloads.get(r)!);

function reading(deviceId: string, msgId: string, ts = T0): Reading {
  const payload = Buffer.from(JSON.stringify({ ...examplePayload('elevator', 'status', msgId, ts), vendor: { x: [1, 'é'] } }));
  const d = decodePayload('elevator', 'status', payload, 1 << 20);
  if (!d.ok) throw new Error(d.detail);
  const r: Reading = { seq: ++seq, family: 'elevator', channel: 'status', deviceId, msgId, ts: d.ts, receivedAt: d.ts + 3, qos: 1, data: d.data, extra: d.extra };
  payloads.set(r, payload);
  return r;
}

function letter(): DeadLetter {
  return {
    id: ++letterId, receivedAt: T0, deviceId: 'j-dev', clientId: 'j-dev-1', topic: 'elevator/j-dev/status', qos: 1, reason: 'invalid_json',
    detail: 'payload is not JSON', issues: [{ path: 'floor', message: 'bad' }], msgId: null, raw: new Uint8Array([0, 0xff, 0x7b, 0x80]), rawSize: 4, remoteAddress: '127.0.0.1',
  };
}

function batch(deviceId: string, n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => reading(deviceId, `${deviceId}-${seq + 1}-${i}`, T0 + seq));
}

/** A real DuckDB store whose appendBatch can be made to fail or to wait. */
class Faulty {
  failing = false;
  gate: Promise<void> | null = null;
  calls = 0;
  constructor(readonly store: DuckDbStore) {
    const real = store.readings.appendBatch.bind(store.readings);
    store.readings.appendBatch = async (r, d) => {
      this.calls++;
      if (this.gate) await this.gate;
      if (this.failing) throw new Error('IO Error: No space left on device');
      return real(r, d);
    };
  }
}

async function open(dir: string, opts: Partial<JournalOptions> = {}): Promise<{ journal: JournaledStore; duck: DuckDbStore; faulty: Faulty }> {
  const duck = new DuckDbStore(path.join(dir, 'db.duckdb'));
  const faulty = new Faulty(duck);
  const journal = new JournaledStore(duck, { dir: path.join(dir, 'journal'), maxBacklogRows: 100_000, retryMinMs: 5, retryMaxMs: 20, readWaitMs: 5000, ...opts });
  await journal.open();
  return { journal, duck, faulty };
}

async function msgIds(s: Store, deviceId: string): Promise<string[]> {
  return (await s.readings.query({ deviceId, family: 'elevator', channel: 'status', limit: 100_000 })).map((r) => r.msgId).sort();
}

const idsOf = (rs: readonly Reading[]): string[] => rs.map((r) => r.msgId).sort();

/** Journal `count` batches of `size` readings of one device, one append each; returns them all. */
async function appendBatches(journal: JournaledStore, deviceId: string, count: number, size: number): Promise<Reading[]> {
  const all: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const rs = batch(deviceId, size);
    all.push(...rs);
    await journal.readings.appendBatch(rs, [], payloadsOf(rs));
  }
  return all;
}

/** Journal `rs` (and `letters`) while DuckDB fails, then crash: DuckDB closes under the journal. */
async function crashHolding(dir: string, rs: Reading[], letters: DeadLetter[] = []): Promise<void> {
  const first = await open(dir);
  first.faulty.failing = true;
  await first.journal.readings.appendBatch(rs, letters, payloadsOf(rs));
  await first.duck.close();
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond();) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const segmentFiles = (dir: string): string[] => readdirSync(path.join(dir, 'journal')).sort();

describe('frames', () => {
  it('round-trip readings and dead letters (raw bytes included) exactly, from the payloads or without them', () => {
    const rs = batch('f-1', 3);
    const ls = [letter(), letter()];
    const frames = [encodeFrame(rs, ls, payloadsOf(rs)), encodeFrame(rs.slice(0, 1), []), encodeFrame([], ls), encodeFrame([], [])];
    const { batches, validBytes } = decodeFrames(Buffer.concat(frames));
    expect(batches).toEqual([
      { readings: rs, deadLetters: ls }, { readings: rs.slice(0, 1), deadLetters: [] }, { readings: [], deadLetters: ls }, { readings: [], deadLetters: [] },
    ]);
    expect(validBytes).toBe(frames.reduce((n, f) => n + f.length, 0));
  });

  it('copies the payload bytes as received rather than encoding the reading', () => {
    const [r] = batch('f-1b', 1);
    const payload = payloadsOf([r!])[0]!;
    const frame = encodeFrame([r!], [], [payload]);
    expect(frame.includes(payload)).toBe(true);
    expect(frame.includes(Buffer.from('"data"'))).toBe(false);
  });

  it('strings of any script and extra fields survive, with and without payloads', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.string({ maxLength: 40 }), (deviceId, note) => {
      const payload = Buffer.from(JSON.stringify({ ...examplePayload('elevator', 'status', `m-${note.length}`, T0), note }));
      const d = decodePayload('elevator', 'status', payload, 1 << 20);
      if (!d.ok) throw new Error(d.detail);
      const r: Reading = { seq: 7, family: 'elevator', channel: 'status', deviceId, msgId: d.msgId, ts: d.ts, receivedAt: T0 + 1, qos: 0, data: d.data, extra: d.extra };
      const { batches } = decodeFrames(Buffer.concat([encodeFrame([r], [], [payload]), encodeFrame([r], [])]));
      expect(batches).toEqual([{ readings: [r], deadLetters: [] }, { readings: [r], deadLetters: [] }]);
    }), { numRuns: 50 });
  });

  it('a payload today\'s schema refuses is still replayed, every field kept in data', () => {
    const payload = Buffer.from(JSON.stringify({ msgId: 'old-1', ts: T0, floor: 'mezzanine', legacy: true }));
    const r: Reading = { seq: 9, family: 'elevator', channel: 'status', deviceId: 'f-old', msgId: 'old-1', ts: T0, receivedAt: T0, qos: 1, data: {}, extra: null };
    const { batches } = decodeFrames(encodeFrame([r], [], [payload]));
    expect(batches[0]!.readings).toEqual([{ ...r, data: { floor: 'mezzanine', legacy: true } }]);
  });

  it('reads the first format\'s JSON frames', () => {
    const rs = batch('f-json', 2);
    const ls = [letter()];
    const body = Buffer.from(JSON.stringify({ r: rs, d: ls.map((l) => ({ ...l, raw: Buffer.from(l.raw).toString('base64') })) }));
    const head = Buffer.alloc(FRAME_HEADER_BYTES);
    head.writeUInt32LE(body.length, 0);
    head.writeUInt32LE(crc32Table(body), 4);
    expect(decodeFrames(Buffer.concat([head, body])).batches).toEqual([{ readings: rs, deadLetters: ls }]);
  });

  it('a last frame cut at any byte is dropped, the frames before it kept', () => {
    const rs = batch('f-2', 2);
    const first = encodeFrame(batch('f-2', 2), [letter()]);
    const last = encodeFrame(rs, [letter()], payloadsOf(rs));
    for (let cut = 0; cut < last.length; cut++) {
      const { batches, validBytes } = decodeFrames(Buffer.concat([first, last.subarray(0, cut)]));
      expect(batches.length, `cut at ${cut}`).toBe(1);
      expect(validBytes).toBe(first.length);
    }
  });

  it('a changed byte anywhere in a frame stops decoding at that frame', () => {
    const first = encodeFrame(batch('f-3', 1), []);
    const rs = batch('f-3', 2);
    const second = encodeFrame(rs, [letter()], payloadsOf(rs));
    for (let at = 0; at < second.length; at += 7) {
      const bad = Buffer.from(second);
      bad[at] = bad[at]! ^ 0x20;
      const out = decodeFrames(Buffer.concat([first, bad, first]));
      expect(out.batches.length, `byte ${at}`).toBe(1);
      expect(out.validBytes).toBe(first.length);
    }
    expect(FRAME_HEADER_BYTES).toBe(8);
  });

  it('the table CRC-32 (Node before 20.15) equals zlib\'s', () => {
    const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
      if (zcrc) expect(crc32Table(data)).toBe(zcrc(data));
    }));
    // the check value of CRC-32/ISO-HDLC
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('journaled store', () => {
  it('acknowledges before DuckDB commits, and a read right after sees the batch', async () => {
    const dir = tempDir();
    const { journal, faulty } = await open(dir);
    let release!: () => void;
    faulty.gate = new Promise((r) => { release = r; });
    const rs = batch('j-1', 10);
    await journal.readings.appendBatch(rs, [letter()], payloadsOf(rs));
    // DuckDB has not committed (it is held): the append did not wait for it
    expect(journal.status().backlogRows).toBe(11);
    const read = msgIds(journal, 'j-1');
    setTimeout(release, 50);
    expect(await read).toEqual(idsOf(rs));
    expect(await journal.deadLetters.count()).toBe(1);
    expect(journal.status().backlogRows).toBe(0);
    await journal.close();
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('lets journaled batches gather before writing them to DuckDB in one, unless a read asks for them', async () => {
    const dir = tempDir();
    const { journal, faulty } = await open(dir, { applyDelayMs: 150 });
    const all = await appendBatches(journal, 'j-g', 4, 10);
    expect(faulty.calls).toBe(0);
    await until(() => journal.status().backlogRows === 0);
    expect(faulty.calls).toBe(1);
    expect(await msgIds(journal, 'j-g')).toEqual(idsOf(all));
    await journal.close();
  });

  it('a read does not wait for the gathering delay: it starts the applier', async () => {
    const dir = tempDir();
    // were the read to wait for the delay, it would give up after readWaitMs without the batch
    const { journal, faulty } = await open(dir, { applyDelayMs: 600_000, readWaitMs: 5000 });
    const rs = batch('j-r', 10);
    await journal.readings.appendBatch(rs, [], payloadsOf(rs));
    expect(faulty.calls).toBe(0);
    expect(await msgIds(journal, 'j-r')).toEqual(idsOf(rs));
    expect(faulty.calls).toBe(1);
    await journal.close();
  });

  it('keeps acknowledging while DuckDB fails, reports it, and writes everything once DuckDB recovers', async () => {
    const dir = tempDir();
    const { journal, faulty } = await open(dir);
    faulty.failing = true;
    const all = await appendBatches(journal, 'j-2', 5, 20);
    await until(() => journal.status().applyFailures > 1);
    const s = journal.status();
    expect(s.lastError?.message).toMatch(/No space left/);
    expect(s.applyFailures).toBeGreaterThan(1);
    expect(s.backlogRows).toBe(100);
    faulty.failing = false;
    expect(await msgIds(journal, 'j-2')).toEqual(idsOf(all));
    expect(journal.status().lastError).toBeNull();
    await journal.close();
  });

  it('after a crash, replays into DuckDB exactly what it had not yet written', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const applied = batch('j-3', 30);
    await first.journal.readings.appendBatch(applied, [letter()], payloadsOf(applied));
    expect(await msgIds(first.journal, 'j-3')).toHaveLength(30);
    first.faulty.failing = true;
    const held = [batch('j-3', 25), batch('j-3', 5)];
    for (const rs of held) await first.journal.readings.appendBatch(rs, [], payloadsOf(rs));
    await first.journal.readings.appendBatch([], [letter()]);
    // the crash: DuckDB goes away under the journal, whose segments stay as they are
    await first.duck.close();
    expect(segmentFiles(dir).length).toBeGreaterThan(0);

    const second = await open(dir);
    expect(second.journal.status().recovered).toEqual({ segments: 1, readings: 30, deadLetters: 1, droppedBytes: 0 });
    expect(segmentFiles(dir)).toEqual([]);
    expect(await msgIds(second.journal, 'j-3')).toEqual(idsOf([...applied, ...held.flat()]));
    expect(await second.journal.deadLetters.count()).toBe(2);
    expect(await second.journal.readings.lastSequences()).toEqual({ readingSeq: held[1]!.at(-1)!.seq, deadLetterId: letterId });
    await second.journal.close();
  });

  it('a half-written last frame (the crash hit the write) is dropped; the frames before it are replayed', async () => {
    const dir = tempDir();
    const rs = batch('j-4', 8);
    await crashHolding(dir, rs);
    const [seg] = segmentFiles(dir);
    const file = path.join(dir, 'journal', seg!);
    const torn = encodeFrame(batch('j-4', 3), []).subarray(0, 40);
    appendFileSync(file, torn);

    const second = await open(dir);
    expect(second.journal.status().recovered).toMatchObject({ readings: 8, droppedBytes: torn.length });
    expect(await msgIds(second.journal, 'j-4')).toEqual(idsOf(rs));
    await second.journal.close();
  });

  it('a segment already written to DuckDB but not yet deleted is skipped at replay, not stored twice', async () => {
    const dir = tempDir();
    const first = await open(dir);
    const rs = batch('j-5', 12);
    await first.journal.readings.appendBatch(rs, [letter()], payloadsOf(rs));
    expect(await msgIds(first.journal, 'j-5')).toHaveLength(12);
    const [seg] = segmentFiles(dir);
    const copy = readFileSync(path.join(dir, 'journal', seg!));
    await first.journal.close();
    // as if the deletion after the write had not happened before the crash
    writeFileSync(path.join(dir, 'journal', seg!), copy);

    const second = await open(dir);
    expect(second.journal.status().recovered).toEqual({ segments: 1, readings: 0, deadLetters: 0, droppedBytes: 0 });
    expect(await msgIds(second.journal, 'j-5')).toEqual(idsOf(rs));
    expect(await second.journal.deadLetters.count()).toBe(1);
    await second.journal.close();
  });

  it('moves to a new segment past segmentBytes and deletes the old ones once written', async () => {
    const dir = tempDir();
    const { journal } = await open(dir, { segmentBytes: 4096 });
    const all = await appendBatches(journal, 'j-6', 20, 10);
    expect(await msgIds(journal, 'j-6')).toEqual(idsOf(all));
    // written ones are gone; only the open segment may remain
    expect(segmentFiles(dir).length).toBeLessThanOrEqual(1);
    expect(journal.status().segments).toBeLessThanOrEqual(1);
    await journal.close();
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('past maxBacklogRows an append waits for DuckDB (memory stays bounded)', async () => {
    const dir = tempDir();
    const { journal, faulty } = await open(dir, { maxBacklogRows: 50 });
    let release!: () => void;
    faulty.gate = new Promise((r) => { release = r; });
    await journal.readings.appendBatch(batch('j-7', 60), []);
    let second = false;
    const p = journal.readings.appendBatch(batch('j-7', 5), []).then(() => { second = true; });
    await new Promise((r) => setTimeout(r, 50));
    expect(second).toBe(false);
    release();
    await p;
    expect(await msgIds(journal, 'j-7')).toHaveLength(65);
    await journal.close();
  });

  it('closing while DuckDB fails does not hang, and the next start writes what was held', async () => {
    const dir = tempDir();
    const first = await open(dir);
    first.faulty.failing = true;
    const rs = batch('j-8', 7);
    await first.journal.readings.appendBatch(rs, [], payloadsOf(rs));
    await first.journal.close();
    expect(segmentFiles(dir)).toHaveLength(1);
    const second = await open(dir);
    expect(await msgIds(second.journal, 'j-8')).toEqual(idsOf(rs));
    await second.journal.close();
  });

  it('an append that fails (a value JSON cannot encode) leaves the journal as it was: nothing of it is replayed', async () => {
    const dir = tempDir();
    const first = await open(dir);
    first.faulty.failing = true;
    const kept = batch('j-9', 4);
    await first.journal.readings.appendBatch(kept, [], payloadsOf(kept));
    // a reading that JSON cannot encode makes the append fail before anything is written
    const bad = { ...reading('j-9', 'bad'), data: { big: 10n } } as unknown as Reading;
    await expect(first.journal.readings.appendBatch([bad], [])).rejects.toThrow();
    await first.duck.close();
    const second = await open(dir);
    expect(await msgIds(second.journal, 'j-9')).toEqual(idsOf(kept));
    await second.journal.close();
  });

  it('with the journal turned off after a crash, the start still writes what it held (INGEST_JOURNAL=false)', async () => {
    const dir = tempDir();
    const rs = batch('j-10', 9);
    await crashHolding(dir, rs, [letter()]);
    const plain = new DuckDbStore(path.join(dir, 'db.duckdb'));
    await plain.open();
    try {
      expect(await replayJournal(plain, path.join(dir, 'journal'))).toEqual({ segments: 1, readings: 9, deadLetters: 1, droppedBytes: 0 });
      expect(await msgIds(plain, 'j-10')).toEqual(idsOf(rs));
      expect(segmentFiles(dir)).toEqual([]);
      expect(await replayJournal(plain, path.join(dir, 'journal'))).toEqual({ segments: 0, readings: 0, deadLetters: 0, droppedBytes: 0 });
    } finally {
      await plain.close();
    }
  });
});
