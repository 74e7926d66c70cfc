/**
 * Backpressure: when the store falls behind, publishers are slowed and memory stays bounded.
 * Ingest runs against the real DuckDB store, slowed down by a wrapper; each simulated
 * publisher behaves like aedes does with one client (the next packet is processed only once
 * the hook's callback for the current one has fired).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Ingest } from '../../ingest/ingest.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { DeadLetter, Reading, Store } from '../../store/types.js';
import { withReadings } from '../helpers/storeSpy.js';
import { testBus } from '../helpers/bus.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

async function slowStore(delayMs: number): Promise<{ store: Store; real: DuckDbStore }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-bp-'));
  dirs.push(dir);
  const real = new DuckDbStore(path.join(dir, 'db.duckdb'));
  await real.open();
  const store = withReadings(real, { appendBatch: async (r: readonly Reading[], d: readonly DeadLetter[]) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return real.readings.appendBatch(r, d);
  } });
  return { store, real };
}

describe('backpressure', () => {
  it('holds QoS 0 callbacks once INGEST_MAX_PENDING rows wait, so pending stays bounded; every reading is stored', async () => {
    const { store, real } = await slowStore(20);
    const maxPending = 500;
    const ingest = new Ingest(store, { sendError: () => undefined }, {
      maxPayloadBytes: 65536, batchMaxRows: 200, maxPending, dedupeWindowMs: 600_000, dedupeMaxEntries: 1_000_000, deadLetterRawMaxBytes: 1024,
    }, testBus());
    await ingest.start();

    const publishers = 20;
    const perPublisher = 300;
    let maxSeen = 0;
    let held = 0;
    const publisher = (p: number) => new Promise<void>((resolve, reject) => {
      let i = 0;
      const next = (): void => {
        if (i === perPublisher) { resolve(); return; }
        const id = `bp-${p}`;
        const payload = Buffer.from(JSON.stringify(examplePayload('elevator', 'status', `m-${i++}`, Date.now())));
        let sync = true;
        ingest.handle({ deviceId: id, clientId: id, remoteAddress: null }, { family: 'elevator', deviceId: id, channel: 'status' },
          { topic: `elevator/${id}/status`, payload, qos: 0 }, (err) => {
            if (err) { reject(err); return; }
            if (!sync) held++;
            // like aedes: the next packet of this client is read after this one is done
            setImmediate(next);
          });
        sync = false;
        maxSeen = Math.max(maxSeen, ingest.pending);
      };
      next();
    });
    await Promise.all(Array.from({ length: publishers }, (_, p) => publisher(p)));
    await ingest.stop();

    expect(held).toBeGreaterThan(0);
    // each publisher has at most one message outstanding beyond the watermark
    expect(maxSeen).toBeLessThanOrEqual(maxPending + publishers);
    expect(ingest.metrics.stored).toBe(publishers * perPublisher);
    expect(await real.readings.count()).toBe(publishers * perPublisher);
    await real.close();
  });

  it('does not acknowledge QoS 1 readings of a failed commit, and stores their resend', async () => {
    const { store, real } = await slowStore(0);
    let fail = true;
    const failing = withReadings(store, { appendBatch: (r, d) => (fail ? Promise.reject(new Error('disk full')) : store.readings.appendBatch(r, d)) });
    const ingest = new Ingest(failing, { sendError: () => undefined }, {
      maxPayloadBytes: 65536, batchMaxRows: 200, maxPending: 1000, dedupeWindowMs: 600_000, dedupeMaxEntries: 1_000_000, deadLetterRawMaxBytes: 1024,
    }, testBus());
    await ingest.start();
    const send = () => new Promise<Error | null>((resolve) => ingest.handle({ deviceId: 'd1', clientId: 'c1', remoteAddress: null },
      { family: 'cylinder', deviceId: 'd1', channel: 'scan' },
      { topic: 'cylinder/d1/scan', payload: Buffer.from(JSON.stringify(examplePayload('cylinder', 'scan', 'scan-1', Date.now()))), qos: 1 }, resolve));

    const first = await send();
    expect(first?.message).toBe('disk full');
    expect(ingest.lastStoreError?.message).toBe('disk full');
    fail = false;
    expect(await send()).toBeNull();
    expect(ingest.lastStoreError).toBeNull();
    expect(await real.readings.count()).toBe(1);
    await ingest.stop();
    await real.close();
  });
});
