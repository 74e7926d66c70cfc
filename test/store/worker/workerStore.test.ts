/**
 * The store in its worker thread (store/worker/): the same answers as DuckDbStore in this
 * thread for the same calls (readings and dead letters crossing as journal frames, binary raw
 * bytes included), device imports by handle, errors with their message and properties, the
 * status the main thread reads synchronously, and a worker that stops failing every call
 * instead of leaving it waiting.
 */
import { writeFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { DuckDbStore } from '../../../store/duckdbStore.js';
import { encodeFrame } from '../../../store/journal/frame.js';
import { WorkerStore } from '../../../store/worker/workerStore.js';
import type { Store } from '../../../store/types.js';
import { T0, device, letter, readingFrom, simple, tempFile } from '../duckdb/fixtures.js';

const open: WorkerStore[] = [];
afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
});

const stoppedReports: Error[] = [];

async function workerStore(file = tempFile()): Promise<WorkerStore> {
  const s = new WorkerStore(file, { seams: true, onStopped: (err) => stoppedReports.push(err) });
  await s.open();
  open.push(s);
  return s;
}

const batch = () => ({
  readings: [
    simple('w-1', 'm-1', T0),
    simple('w-1', 'm-2', T0 + 1000),
    readingFrom('kitchen', 'violation', 'w-k', { ...examplePayload('kitchen', 'violation', 'k-1', T0), note: 'an extra field, kept as extra' }),
  ],
  deadLetters: [letter({ id: 1 }), letter({ id: 2, raw: Buffer.from([0, 255, 128, 10]), rawSize: 4 })],
});

async function answers(s: Store) {
  return {
    readings: await s.readings.query({ deviceId: 'w-1', family: 'elevator', limit: 10 }),
    kitchen: await s.readings.query({ deviceId: 'w-k', family: 'kitchen', limit: 10 }),
    count: await s.readings.count(),
    last: await s.readings.lastSequences(),
    letters: (await s.deadLetters.list({ limit: 10 })).map((d) => ({ ...d, raw: Buffer.from(d.raw).toString('hex') })),
  };
}

describe('the store in a worker thread', () => {
  it('answers as DuckDbStore does, for batches given as objects and as journal frames', async () => {
    const b = batch();
    const local = new DuckDbStore(tempFile());
    await local.open();
    try {
      await local.readings.appendBatch(b.readings, b.deadLetters);
      const viaObjects = await workerStore();
      await viaObjects.readings.appendBatch(b.readings, b.deadLetters);
      const viaFrames = await workerStore();
      const frame = encodeFrame(b.readings, b.deadLetters);
      await viaFrames.readings.appendFrames!([frame.subarray(0, frame.length), encodeFrame([], [])]);
      const expected = await answers(local);
      expect(expected.readings).toHaveLength(2);
      expect(expected.letters.map((d) => d.raw)).toEqual(['00ff800a', '00fffe807b0a00']);
      expect(await answers(viaObjects)).toEqual(expected);
      expect(await answers(viaFrames)).toEqual(expected);
      // the caller's frame is copied, not moved: it is still whole here
      expect(frame.length).toBeGreaterThan(0);
      expect(frame.readUInt32LE(0)).toBeGreaterThan(0);
    } finally {
      await local.close();
    }
  });

  it('writes a device import by its handle, all or nothing', async () => {
    const s = await workerStore();
    const w = await s.devices.beginImport();
    await w.stage([device('imp-1'), device('imp-2')], []);
    await expect(s.devices.beginImport()).rejects.toThrow(/already being written/);
    expect(await s.devices.load()).toEqual([]);
    await w.commit();
    expect((await s.devices.load()).map((d) => d.id).sort()).toEqual(['imp-1', 'imp-2']);
    const aborted = await s.devices.beginImport();
    await aborted.stage([device('imp-3')], []);
    await aborted.abort();
    expect((await s.devices.load()).map((d) => d.id).sort()).toEqual(['imp-1', 'imp-2']);
  });

  it('passes errors back with their message and own properties', async () => {
    const s = await workerStore();
    await s.devices.insert([device('dup')]);
    const err = await s.devices.insert([device('dup')]).then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/dup|Duplicate key|constraint/i);
  });

  it('reports checkpoints for the synchronous status getter; the seam makes them fail and work again', async () => {
    const s = await workerStore();
    await s.failCheckpoints('disk I/O error (test)', { checkpointWalBytes: 1, checkpointRetryMs: 0 });
    for (let i = 0; i < 50 && s.checkpointStatus().consecutiveFailures < 2; i++) {
      await s.settings.set(`k${i}`, 'x'.repeat(1000));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.checkpointStatus()).toMatchObject({ lastError: 'disk I/O error (test)' });
    expect(s.checkpointStatus().consecutiveFailures).toBeGreaterThanOrEqual(2);
    await s.failCheckpoints(null);
    for (let i = 0; i < 50 && s.checkpointStatus().checkpoints === 0; i++) {
      await s.settings.set(`j${i}`, 'y'.repeat(1000));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.checkpointStatus()).toMatchObject({ consecutiveFailures: 0, lastError: null });
    expect(s.checkpointStatus().checkpoints).toBeGreaterThan(0);
    expect(await s.memoryBytes()).toBeGreaterThan(0);
  });

  it('a worker that stops fails the calls waiting and every later one', async () => {
    const s = await workerStore();
    const exited = new Promise<number>((resolve) => (s as unknown as { worker: Worker }).worker.once('exit', resolve));
    s.stopWorkerForTest(3);
    // asked while the worker closes: answered with an error or failed when it ends, never left waiting
    const waiting = s.readings.count();
    expect(await exited).toBe(3);
    await expect(waiting).rejects.toThrow();
    await expect(s.settings.get('x')).rejects.toThrow(/worker thread stopped \(exit code 3\)/);
    // reported once, for the service's log; a close is not a stop
    expect(stoppedReports.map((e) => e.message)).toEqual(['the store\'s worker thread stopped (exit code 3)']);
    await expect(s.readings.appendBatch([simple('w-2', 'm-1', T0)], [])).rejects.toThrow(/worker thread stopped/);
    await s.close();
  });

  it('a file that is not a database: open fails with DuckDB\'s reason, and the worker is gone', async () => {
    const file = tempFile().replace('nested/', '');
    writeFileSync(file, 'not a database, just text '.repeat(200));
    const s = new WorkerStore(file);
    await expect(s.open()).rejects.toThrow(/database|file|header|valid/i);
    await expect(s.settings.get('x')).rejects.toThrow();
  });
});
