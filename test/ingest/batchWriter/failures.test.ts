/**
 * Failed commits of the batch writer (ingest/batchWriter.ts) against the real DuckDB store in
 * a temp dir: an injected or a real failure fails its own batch only, and after stop() nothing
 * more is written.
 */
import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../ingest/batchWriter.js';
import { TestStore, deadLetter, payloadOf, probe, reading, real, recorder, run, storedSeqs, until } from './fixtures.js';

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
