/**
 * Group commit (ingest/batchWriter.ts) against the real DuckDB store in a temp dir: rows added
 * together or during a commit gather into one, each callback fires after its own rows commit,
 * and batches are cut at maxRows.
 */
import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../ingest/batchWriter.js';
import { TestStore, deadLetter, payloadOf, probe, reading, real, recorder, storedSeqs, until } from './fixtures.js';

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
