/**
 * Group commit (ingest/batchWriter.ts) against the real DuckDB store in a temp dir. A
 * wrapper around the real store can hold a commit (to make batches gather) and inject a
 * failure; everything else is the real appendBatch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BatchWriter, type BatchResult, type BatchWriterEvents } from '../../ingest/batchWriter.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { DeadLetter, Reading, Store } from '../../store/types.js';
import { withReadings } from '../helpers/storeSpy.js';

const dir = mkdtempSync(path.join(tmpdir(), 'supervision-bw-'));
let real: DuckDbStore;

beforeAll(async () => {
  real = new DuckDbStore(path.join(dir, 'db.duckdb'));
  await real.open();
});
afterAll(async () => {
  await real?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wraps the real store: records each appendBatch, can hold it at a gate, can fail chosen calls. */
class TestStore {
  readonly store: Store;
  /** seqs per appendBatch call, at entry */
  readonly started: number[][] = [];
  /** the payloads passed with each appendBatch call, as text */
  readonly payloads: string[][] = [];
  /** seqs of readings whose batch the real store committed */
  readonly committed = new Set<number>();
  failCalls = new Set<number>();
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  constructor(realStore: DuckDbStore) {
    this.store = withReadings(realStore, { appendBatch: async (readings: readonly Reading[], deadLetters: readonly DeadLetter[], payloads?: readonly Uint8Array[]) => {
      const call = this.started.length;
      this.started.push(readings.map((r) => r.seq));
      this.payloads.push((payloads ?? []).map((p) => Buffer.from(p).toString()));
      if (this.gate) await this.gate;
      if (this.failCalls.has(call)) throw new Error(`injected failure in call ${call}`);
      await realStore.readings.appendBatch(readings, deadLetters);
      for (const r of readings) this.committed.add(r.seq);
    } });
  }

  hold(): void {
    this.gate = new Promise((resolve) => { this.open = resolve; });
  }

  release(): void {
    this.gate = null;
    this.open?.();
  }
}

let seq = 0;
let run = 0;
afterEach(() => { run++; });

function reading(over: Partial<Reading> = {}): Reading {
  const s = ++seq;
  return {
    seq: s, family: 'kitchen', channel: 'heartbeat', deviceId: `bw-${run}`, msgId: `m-${s}`,
    ts: 1_795_392_000_000 + s, receivedAt: 1_795_392_000_000 + s, qos: 1, data: { fw: '1.0', rssi: -50 }, extra: null, ...over,
  };
}

/** The device's bytes for a reading; the store behind the writer does not read them here. */
const payloadOf = (text = '{}'): Buffer => Buffer.from(text);

let dlId = 0;
function deadLetter(): DeadLetter {
  return {
    id: ++dlId, receivedAt: 1_795_392_000_000, deviceId: `bw-${run}`, clientId: 'c', topic: `kitchen/bw-${run}/violation`, qos: 1,
    reason: 'invalid_json', detail: 'x', issues: null, msgId: null, raw: Buffer.from('{'), rawSize: 1, remoteAddress: null,
  };
}

async function storedSeqs(): Promise<number[]> {
  const rows = await real.readings.query({ deviceId: `bw-${run}`, family: 'kitchen', channel: 'heartbeat', limit: 100_000 });
  return rows.map((r) => r.seq).sort((a, b) => a - b);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

interface Recorder extends BatchWriterEvents {
  committedBatches: BatchResult[];
  failedBatches: Array<{ err: Error; result: BatchResult }>;
}
function recorder(): Recorder {
  const r: Recorder = {
    committedBatches: [],
    failedBatches: [],
    committed: (res) => { r.committedBatches.push(res); },
    failed: (err, res) => { r.failedBatches.push({ err, result: res }); },
  };
  return r;
}

/** A done callback that records its outcome and what was committed when it fired. */
function probe(ts: TestStore) {
  const p = {
    calls: 0,
    err: undefined as Error | null | undefined,
    committedAtCall: null as Set<number> | null,
    done: (err: Error | null) => {
      p.calls++;
      p.err = err;
      p.committedAtCall = new Set(ts.committed);
    },
  };
  return p;
}

describe('group commit', () => {
  it('one reading: the callback fires after the commit, not before, and the row is in the store', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 100, recorder());
    const r = reading();
    const p = probe(ts);
    w.addReading(r, payloadOf(), p.done);
    expect(p.calls).toBe(0);
    expect(w.pending).toBe(1);
    await w.flushed();
    expect(p.calls).toBe(1);
    expect(p.err).toBeNull();
    expect(p.committedAtCall!.has(r.seq)).toBe(true);
    expect(await storedSeqs()).toEqual([r.seq]);
    expect(w.pending).toBe(0);
    expect(w.busy).toBe(false);
  });

  it('rows added in the same tick go into one commit', async () => {
    const ts = new TestStore(real);
    const ev = recorder();
    const w = new BatchWriter(ts.store, 100, ev);
    const rs = Array.from({ length: 20 }, () => reading());
    for (const r of rs) w.addReading(r, payloadOf(), null);
    await w.flushed();
    expect(ts.started).toEqual([rs.map((r) => r.seq)]);
    expect(ev.committedBatches).toHaveLength(1);
    expect(ev.committedBatches[0]!.readings).toHaveLength(20);
    expect(await storedSeqs()).toEqual(rs.map((r) => r.seq));
  });

  it('each reading\'s payload reaches the store beside it, in the same order, across batches', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 3, recorder());
    const rs = Array.from({ length: 7 }, () => reading());
    for (const r of rs) w.addReading(r, payloadOf(`p-${r.seq}`), null);
    w.addDeadLetter(deadLetter(), null);
    await w.flushed();
    expect(ts.started.flat()).toEqual(rs.map((r) => r.seq));
    expect(ts.payloads).toEqual(ts.started.map((seqs) => seqs.map((s) => `p-${s}`)));
  });

  it('rows arriving during a commit gather into the next one (no timer)', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 100, recorder());
    ts.hold();
    const first = reading();
    w.addReading(first, payloadOf(), null);
    await until(() => ts.started.length === 1);
    expect(w.busy).toBe(true);
    const later = Array.from({ length: 7 }, () => reading());
    for (const r of later) w.addReading(r, payloadOf(), null);
    expect(w.pending).toBe(7);
    ts.release();
    await w.flushed();
    expect(ts.started).toEqual([[first.seq], later.map((r) => r.seq)]);
  });

  it('readings and dead letters share a commit; dead letters count as rows', async () => {
    const ts = new TestStore(real);
    const ev = recorder();
    const w = new BatchWriter(ts.store, 3, ev);
    const before = await real.deadLetters.count();
    const p = probe(ts);
    w.addReading(reading(), payloadOf(), null);
    w.addDeadLetter(deadLetter(), p.done);
    w.addDeadLetter(deadLetter(), null);
    w.addReading(reading(), payloadOf(), null); // fourth row: next batch
    await w.flushed();
    expect(ev.committedBatches.map((b) => [b.readings.length, b.deadLetters.length])).toEqual([[1, 2], [1, 0]]);
    expect(p.err).toBeNull();
    expect(await real.deadLetters.count()).toBe(before + 2);
  });

  it('durationMs comes from the injected clock', async () => {
    const ts = new TestStore(real);
    const ev = recorder();
    let t = 0;
    const w = new BatchWriter(ts.store, 100, ev, () => (t += 7));
    w.addReading(reading(), payloadOf(), null);
    await w.flushed();
    expect(ev.committedBatches[0]!.durationMs).toBe(7);
  });

  it('the committed event fires before the callbacks, and a throwing listener loses no callback', async () => {
    const ts = new TestStore(real);
    const order: string[] = [];
    const w = new BatchWriter(ts.store, 100, {
      committed: () => { order.push('event'); throw new Error('listener bug'); },
      failed: () => undefined,
    });
    w.addReading(reading(), payloadOf(), () => order.push('cb1'));
    w.addReading(reading(), payloadOf(), () => order.push('cb2'));
    await w.flushed();
    expect(order).toEqual(['event', 'cb1', 'cb2']);
  });
});

describe('acknowledged event', () => {
  it('fires after the callbacks of a committed batch, in the same tick; never for a failed one', async () => {
    const ts = new TestStore(real);
    const order: string[] = [];
    const w = new BatchWriter(ts.store, 100, {
      committed: () => order.push('event'),
      acknowledged: (r) => { order.push(`ack ${r.readings.length}`); throw new Error('listener bug'); },
      failed: () => order.push('failed'),
    });
    w.addReading(reading(), payloadOf(), () => { order.push('cb1'); queueMicrotask(() => order.push('later')); });
    w.addReading(reading(), payloadOf(), () => order.push('cb2'));
    await w.flushed();
    expect(order).toEqual(['event', 'cb1', 'cb2', 'ack 2', 'later']);
    order.length = 0;
    ts.failCalls.add(ts.started.length);
    w.addReading(reading(), payloadOf(), () => order.push('cb3'));
    await w.flushed();
    expect(order).toEqual(['failed', 'cb3']);
  });
});

describe('maxRows splitting', () => {
  it('rows added in one tick are cut into batches of maxRows', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 3, recorder());
    const rs = Array.from({ length: 8 }, () => reading());
    for (const r of rs) w.addReading(r, payloadOf(), null);
    await w.flushed();
    expect(ts.started.map((b) => b.length)).toEqual([3, 3, 2]);
    expect(ts.started.flat()).toEqual(rs.map((r) => r.seq));
  });

  it('each callback fires only after its own rows commit, before later batches are committed', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 3, recorder());
    ts.hold();
    const head = reading();
    const headProbe = probe(ts);
    w.addReading(head, payloadOf(), headProbe.done);
    await until(() => ts.started.length === 1);
    const rs = Array.from({ length: 8 }, () => reading());
    const probes = rs.map(() => probe(ts));
    rs.forEach((r, i) => w.addReading(r, payloadOf(), probes[i]!.done));
    expect(w.pending).toBe(8);
    // nothing fires while the first commit is held
    await new Promise((r) => setTimeout(r, 20));
    expect([headProbe, ...probes].every((p) => p.calls === 0)).toBe(true);
    ts.release();
    await w.flushed();

    expect(ts.started.map((b) => b.length)).toEqual([1, 3, 3, 2]);
    const batches = [[head], rs.slice(0, 3), rs.slice(3, 6), rs.slice(6)];
    const allProbes = [[headProbe], probes.slice(0, 3), probes.slice(3, 6), probes.slice(6)];
    batches.forEach((batch, b) => {
      for (const p of allProbes[b]!) {
        expect(p.calls).toBe(1);
        expect(p.err).toBeNull();
        // own batch committed...
        for (const r of batch) expect(p.committedAtCall!.has(r.seq)).toBe(true);
        // ...later batches not yet
        for (const later of batches.slice(b + 1).flat()) expect(p.committedAtCall!.has(later.seq)).toBe(false);
      }
    });
    expect(await storedSeqs()).toEqual([head, ...rs].map((r) => r.seq));
  });

  it('maxRows 1 commits one row at a time', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 1, recorder());
    for (let i = 0; i < 4; i++) w.addReading(reading(), payloadOf(), null);
    await w.flushed();
    expect(ts.started.map((b) => b.length)).toEqual([1, 1, 1, 1]);
  });
});

describe('failed commits', () => {
  it('an injected failure gives every callback of that batch the error; earlier and later batches succeed', async () => {
    const ts = new TestStore(real);
    const ev = recorder();
    const w = new BatchWriter(ts.store, 2, ev);
    ts.hold();
    const a = reading();
    const pa = probe(ts);
    w.addReading(a, payloadOf(), pa.done);
    await until(() => ts.started.length === 1);
    const b1 = reading(); const b2 = reading(); const c = reading();
    const pb1 = probe(ts); const pb2 = probe(ts); const pc = probe(ts);
    const dl = deadLetter();
    w.addReading(b1, payloadOf(), pb1.done);
    w.addReading(b2, payloadOf(), pb2.done);
    w.addReading(c, payloadOf(), pc.done);
    w.addDeadLetter(dl, null);
    ts.failCalls.add(1);
    const dlBefore = await real.deadLetters.count();
    ts.release();
    await w.flushed();

    expect(pa.err).toBeNull();
    expect(pb1.err).toBeInstanceOf(Error);
    expect(pb1.err!.message).toBe('injected failure in call 1');
    expect(pb2.err).toBe(pb1.err);
    expect(pc.err).toBeNull();
    expect(ev.failedBatches).toHaveLength(1);
    expect(ev.failedBatches[0]!.err).toBe(pb1.err);
    expect(ev.failedBatches[0]!.result.readings.map((r) => r.seq)).toEqual([b1.seq, b2.seq]);
    expect(ev.committedBatches.map((x) => x.readings.map((r) => r.seq))).toEqual([[a.seq], [c.seq]]);
    expect(await storedSeqs()).toEqual([a.seq, c.seq]);
    expect(await real.deadLetters.count()).toBe(dlBefore + 1);
  });

  it('a real store failure mid-transaction rolls back the whole batch, and the next batch is stored', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    const good = reading({ family: 'elevator', channel: 'fault', data: { code: 2 }, deviceId: `bw-real-${run}` });
    const bad = reading({ family: 'elevator', channel: 'fault', data: { code: 2 ** 40 }, deviceId: `bw-real-${run}` });
    const pg = probe(ts); const pbad = probe(ts);
    w.addReading(good, payloadOf(), pg.done);
    w.addReading(bad, payloadOf(), pbad.done);
    await w.flushed();
    expect(pg.err).toBeInstanceOf(Error);
    expect(pbad.err).toBe(pg.err);
    const q = { deviceId: `bw-real-${run}`, family: 'elevator' as const, limit: 100 };
    expect(await real.readings.query(q)).toEqual([]);

    const next = reading({ family: 'elevator', channel: 'fault', data: { code: 3 }, deviceId: `bw-real-${run}` });
    const pn = probe(ts);
    w.addReading(next, payloadOf(), pn.done);
    await w.flushed();
    expect(pn.err).toBeNull();
    expect((await real.readings.query(q)).map((r) => r.seq)).toEqual([next.seq]);
  });

  it('after stop() nothing more is written and callbacks get an error', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    w.stop();
    const p = probe(ts);
    w.addReading(reading(), payloadOf(), p.done);
    await w.flushed();
    expect(p.err?.message).toMatch(/stopping/);
    expect(ts.started).toEqual([]);
    expect(await storedSeqs()).toEqual([]);
  });
});

describe('attach', () => {
  it('a callback attached to a queued batch gets that batch\'s success', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    const r = reading();
    const token = w.addReading(r, payloadOf(), null);
    const p = probe(ts);
    w.attach(token, p.done);
    expect(p.calls).toBe(0);
    await w.flushed();
    expect(p.calls).toBe(1);
    expect(p.err).toBeNull();
    expect(p.committedAtCall!.has(r.seq)).toBe(true);
  });

  it('a callback attached to the batch being written gets its outcome, not the next batch\'s', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    ts.hold();
    const r = reading();
    const token = w.addReading(r, payloadOf(), null);
    await until(() => ts.started.length === 1);
    const attached = probe(ts);
    w.attach(token, attached.done); // attached while its batch is being committed
    const next = reading();
    const token2 = w.addReading(next, payloadOf(), null);
    const attached2 = probe(ts);
    w.attach(token2, attached2.done);
    ts.failCalls.add(1); // the next batch fails
    ts.release();
    await w.flushed();
    expect(attached.err).toBeNull();
    expect(attached.committedAtCall!.has(r.seq)).toBe(true);
    expect(attached.committedAtCall!.has(next.seq)).toBe(false);
    expect(attached2.err).toBeInstanceOf(Error);
  });

  it('a callback attached to a failing batch gets the error', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    ts.failCalls.add(0);
    const token = w.addReading(reading(), payloadOf(), null);
    const p = probe(ts);
    w.attach(token, p.done);
    await w.flushed();
    expect(p.err?.message).toBe('injected failure in call 0');
  });
});

describe('flushed()', () => {
  it('resolves at once when idle', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 10, recorder());
    await expect(w.flushed()).resolves.toBeUndefined();
  });

  it('resolves only once everything queued so far is written', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 4, recorder());
    ts.hold();
    const rs = Array.from({ length: 10 }, () => reading());
    for (const r of rs) w.addReading(r, payloadOf(), null);
    let done = false;
    const f = w.flushed().then(() => { done = true; });
    await until(() => ts.started.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    ts.release();
    await f;
    expect(done).toBe(true);
    expect(w.pending).toBe(0);
    expect(w.busy).toBe(false);
    expect(await storedSeqs()).toEqual(rs.map((r) => r.seq));
  });

  it('also waits for rows added while it waits, and resolves after a failed batch too', async () => {
    const ts = new TestStore(real);
    const w = new BatchWriter(ts.store, 2, recorder());
    ts.hold();
    w.addReading(reading(), payloadOf(), null);
    await until(() => ts.started.length === 1);
    const f = w.flushed();
    const late = reading();
    w.addReading(late, payloadOf(), null);
    ts.failCalls.add(0);
    ts.release();
    await f;
    expect(ts.started).toHaveLength(2);
    expect(await storedSeqs()).toEqual([late.seq]);
  });
});
