/**
 * Shared by the group-commit suites (test/ingest/batchWriter/*.test.ts): the real DuckDB store
 * in a temp dir (opened before the file's tests, removed after them), a wrapper around it that
 * can hold a commit (to make batches gather) and inject a failure while everything else is the
 * real appendBatch, row builders, and recorders of the writer's events and callbacks.
 *
 * Importing this module registers the file's hooks: beforeAll opens `real`, afterAll closes
 * and removes it, and afterEach moves `run` on, so that each test writes its own device's rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { BatchResult, BatchWriterEvents } from '../../../ingest/batchWriter.js';
import { DuckDbStore } from '../../../store/duckdbStore.js';
import type { DeadLetter, Reading, Store } from '../../../store/types.js';
import { withReadings } from '../../helpers/storeSpy.js';

const dir = mkdtempSync(path.join(tmpdir(), 'supervision-bw-'));
/** The real store behind every TestStore of the file. */
export let real: DuckDbStore;

beforeAll(async () => {
  real = new DuckDbStore(path.join(dir, 'db.duckdb'));
  await real.open();
});
afterAll(async () => {
  await real?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Wraps the real store: records each appendBatch, can hold it at a gate, can fail chosen calls. */
export class TestStore {
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
/** The number of the running test: its rows are device `bw-${run}`'s. */
export let run = 0;
afterEach(() => { run++; });

export function reading(over: Partial<Reading> = {}): Reading {
  const s = ++seq;
  return {
    seq: s, family: 'kitchen', channel: 'heartbeat', deviceId: `bw-${run}`, msgId: `m-${s}`,
    ts: 1_795_392_000_000 + s, receivedAt: 1_795_392_000_000 + s, qos: 1, data: { fw: '1.0', rssi: -50 }, extra: null, ...over,
  };
}

/** The device's bytes for a reading; the store behind the writer does not read them here. */
export const payloadOf = (text = '{}'): Buffer => Buffer.from(text);

let dlId = 0;
export function deadLetter(): DeadLetter {
  return {
    id: ++dlId, receivedAt: 1_795_392_000_000, deviceId: `bw-${run}`, clientId: 'c', topic: `kitchen/bw-${run}/violation`, qos: 1,
    reason: 'invalid_json', detail: 'x', issues: null, msgId: null, raw: Buffer.from('{'), rawSize: 1, remoteAddress: null,
  };
}

/** The seqs of the running test's readings in the real store, ascending. */
export async function storedSeqs(): Promise<number[]> {
  const rows = await real.readings.query({ deviceId: `bw-${run}`, family: 'kitchen', channel: 'heartbeat', limit: 100_000 });
  return rows.map((r) => r.seq).sort((a, b) => a - b);
}

/** Resolves once `cond()` holds (checked every macrotask), or fails after `ms`. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

/** The writer's events, recorded. */
export interface Recorder extends BatchWriterEvents {
  committedBatches: BatchResult[];
  failedBatches: Array<{ err: Error; result: BatchResult }>;
}
export function recorder(): Recorder {
  const r: Recorder = {
    committedBatches: [],
    failedBatches: [],
    committed: (res) => { r.committedBatches.push(res); },
    failed: (err, res) => { r.failedBatches.push({ err, result: res }); },
  };
  return r;
}

/** A done callback that records its outcome and what was committed when it fired. */
export function probe(ts: TestStore) {
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
