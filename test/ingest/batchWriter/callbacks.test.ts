/**
 * The batch writer's (ingest/batchWriter.ts) outcomes for late listeners, against the real
 * DuckDB store in a temp dir: the acknowledged event after a batch's callbacks, callbacks
 * attached to a queued or committing batch, and flushed().
 */
import { describe, expect, it } from 'vitest';
import { BatchWriter } from '../../../ingest/batchWriter.js';
import { TestStore, payloadOf, probe, reading, real, recorder, storedSeqs, until } from './fixtures.js';

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
