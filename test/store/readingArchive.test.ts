/**
 * Device-clustered history (store/readingArchive.ts) against real DuckDB: with a tiny policy
 * the readings go through many seals and merges, and every reader of readings answers exactly
 * what a store that never sorted anything answers. Also: the safe point keeps rows in the hot
 * table, the catalog survives a reopen, appends during maintenance lose nothing, and a close
 * in the middle of a merge leaves every reading exactly once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../ingest/decode.js';
import type { Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import type { RunPolicy } from '../../store/readingRuns.js';
import type { DeviceRecord, Reading } from '../../store/types.js';
import { startService } from '../helpers/service.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tempFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'supervision-runs-'));
  dirs.push(d);
  return path.join(d, 'db.duckdb');
}

async function open(file = tempFile()): Promise<DuckDbStore> {
  const s = new DuckDbStore(file);
  await s.open();
  return s;
}

/** A store with the test's devices registered (readings.after joins the registry). */
async function withDevices(file = tempFile()): Promise<DuckDbStore> {
  const s = await open(file);
  await s.devices.insert(devices.map(([id, f]) => deviceRecord(id, f)));
  return s;
}

const T0 = Date.UTC(2026, 10, 23);
const policy: RunPolicy = { runRows: 40, sealAfterMs: 60_000, fanout: 3, maxLevel: 2 };

const devices: Array<[string, Family, string[]]> = [
  ['ra-e1', 'elevator', ['status', 'heartbeat', 'fault']],
  ['ra-e2', 'elevator', ['status']],
  ['ra-e3', 'elevator', ['status', 'fault']],
  ['ra-k1', 'kitchen', ['violation', 'heartbeat']],
  ['ra-d1', 'dispenser', ['txn', 'tank']],
];

function deviceRecord(id: string, family: Family): DeviceRecord {
  return { id, family, name: id, location: null, district: null, meta: {}, secretHash: 'ab'.repeat(32), createdAt: T0, updatedAt: T0 };
}

/** n readings, round robin over the devices and their channels; device time jitters backwards now and then. */
function readings(n: number, firstSeq: number): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < n; i++) {
    const seq = firstSeq + i;
    const [deviceId, family, channels] = devices[seq % devices.length]!;
    const channel = channels[Math.floor(seq / devices.length) % channels.length]!;
    const ts = T0 + seq * 7_000 - (seq % 11 === 0 ? 90_000 : 0);
    const payload = examplePayload(family, channel, `m${seq}`, ts);
    if (channel === 'status') Object.assign(payload, { floor: seq % 17, speedMps: (seq % 9) / 4 });
    const d = decodePayload(family, channel, Buffer.from(JSON.stringify(payload)), 1 << 20);
    if (!d.ok) throw new Error(d.detail);
    out.push({ seq, family, channel, deviceId, msgId: d.msgId, ts: d.ts, receivedAt: T0 + seq * 5, qos: seq % 2, data: d.data, extra: d.extra });
  }
  return out;
}

/** Everything a reader of readings can see, through every query the store offers. */
async function snapshot(s: DuckDbStore): Promise<unknown> {
  const out: Record<string, unknown> = {
    count: await s.readings.count(),
    last: await s.readings.lastSequences(),
    after0: await s.readings.after(0, 100_000),
    after500: await s.readings.after(500, 50),
    recent: await s.readings.recentMessageKeys(T0 + 3000, 100_000),
  };
  for (const [id, family, channels] of devices) {
    out[`${id}/all`] = await s.readings.query({ deviceId: id, family, limit: 100_000 });
    out[`${id}/window`] = await s.readings.query({ deviceId: id, family, channel: channels[0]!, from: T0 + 2_000_000, to: T0 + 4_000_000, limit: 25 });
    if (family === 'elevator') {
      out[`${id}/history`] = await s.readings.history({ deviceId: id, family, channel: 'status', field: 'speedMps', from: T0, to: T0 + 6_000_000, bucketMs: 600_000 });
      out[`${id}/history-bool`] = await s.readings.history({ deviceId: id, family, channel: 'status', field: 'doorClosed', from: T0 + 1_000_000, to: T0 + 3_000_000, bucketMs: 100_000 });
    }
  }
  return out;
}

async function drain(s: DuckDbStore, safeSeq = Number.MAX_SAFE_INTEGER, now = T0 + 10_000_000): Promise<string[]> {
  const steps: string[] = [];
  for (let step = await s.maintainReadings(safeSeq, policy, now); step; step = await s.maintainReadings(safeSeq, policy, now)) steps.push(step.kind);
  return steps;
}

describe('device-clustered history', () => {
  const all = readings(900, 1);
  let plain: DuckDbStore;
  let expected: unknown;

  beforeAll(async () => {
    plain = await withDevices();
    for (let i = 0; i < all.length; i += 37) await plain.readings.appendBatch(all.slice(i, i + 37), []);
    expected = await snapshot(plain);
    await plain.close();
  });

  it('after many seals and merges, every query answers as before', async () => {
    const file = tempFile();
    const s = await withDevices(file);
    const kinds = new Set<string>();
    for (let i = 0; i < all.length; i += 37) {
      await s.readings.appendBatch(all.slice(i, i + 37), []);
      for (const k of await drain(s)) kinds.add(k);
    }
    expect([...kinds].sort()).toEqual(['merge', 'seal']);
    const runs = s.readingRuns();
    expect(runs.reduce((n, r) => n + r.rows, 0)).toBeGreaterThan(all.length - policy.runRows * runs.length);
    expect(await snapshot(s)).toEqual(expected);

    // the catalog and the runs survive a reopen
    await s.close();
    const again = await open(file);
    expect(again.readingRuns()).toEqual(runs);
    expect(await snapshot(again)).toEqual(expected);
    await again.close();
  });

  it('rows after the safe point stay in the hot table; small remainders are sealed once old enough', async () => {
    const s = await withDevices();
    await s.readings.appendBatch(all, []);
    // nothing may move: nothing moves, however old
    expect(await drain(s, 0)).toEqual([]);
    await drain(s, 450);
    const archived = s.readingRuns().reduce((n, r) => n + r.rows, 0);
    expect(archived).toBeLessThanOrEqual(450);
    // seals are of full runs until the rows are old enough (received at T0 + seq * 5 ms)
    expect(await drain(s, 450, T0 + 450 * 5 + 59_000)).toEqual([]);
    await drain(s, 450, T0 + 450 * 5 + 60_000);
    expect(s.readingRuns().reduce((n, r) => n + r.rows, 0)).toBe(450);
    expect(await snapshot(s)).toEqual(expected);
    await s.close();
  });

  it('a large backlog (an upgraded store, a long InfluxDB outage) is sealed a level-1 run at a time', async () => {
    const s = await withDevices();
    await s.readings.appendBatch(all, []);
    expect(await s.maintainReadings(Number.MAX_SAFE_INTEGER, policy, T0)).toEqual({ kind: 'seal', base: expect.any(String) });
    const first = s.readingRuns().reduce((n, r) => n + r.rows, 0);
    // runRows x fanout = 120, estimated from seqs spread over five devices' tables
    expect(first).toBeGreaterThan(60);
    expect(first).toBeLessThan(200);
    await drain(s);
    expect(s.readingRuns().reduce((n, r) => n + r.rows, 0)).toBe(all.length);
    expect(await snapshot(s)).toEqual(expected);
    await s.close();
  });

  it('a backfill from runs (InfluxDB enabled on a store with history) reads in chunks and gives every reading once, in seq order', async () => {
    const file = tempFile();
    const s = await withDevices(file);
    await s.readings.appendBatch(all, []);
    await drain(s);
    await s.close();
    const chunked = new DuckDbStore(file, { backfillChunk: 100 });
    await chunked.open();
    expect(chunked.readingRuns().some((r) => r.runs > 0)).toBe(true);
    const got: Reading[] = [];
    for (let after = 0, calls = 0; calls < 1000; calls++) {
      const batch = await chunked.readings.after(after, 37);
      if (!batch.length) break;
      got.push(...batch);
      after = batch[batch.length - 1]!.seq;
    }
    expect(got).toEqual((expected as { after0: Reading[] }).after0);
    // a jump back (a forwarder restarting at its saved position) is answered too
    expect(await chunked.readings.after(500, 50)).toEqual((expected as { after500: Reading[] }).after500);
    await chunked.close();
  });

  it('appends while runs are sealed and merged lose nothing and duplicate nothing', async () => {
    const s = await withDevices();
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < all.length; i += 37) {
      work.push(s.readings.appendBatch(all.slice(i, i + 37), []));
      work.push(drain(s));
    }
    await Promise.all(work);
    await drain(s);
    expect(await snapshot(s)).toEqual(expected);
    await s.close();
  });

  it('a close during a merge leaves every reading exactly once', async () => {
    const file = tempFile();
    const big = readings(30_000, 1);
    const s = await withDevices(file);
    const p: RunPolicy = { runRows: 2_000, sealAfterMs: 60_000, fanout: 4, maxLevel: 3 };
    await s.readings.appendBatch(big, []);
    // seals first, then merges: stop while they run
    const running = (async () => { while (await s.maintainReadings(Number.MAX_SAFE_INTEGER, p, T0)); })().catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 150));
    await s.close();
    await running;
    const again = await open(file);
    expect(await again.readings.count()).toBe(big.length);
    const seqs = (await again.readings.after(0, 100_000)).map((r) => r.seq);
    expect(seqs).toEqual(big.map((r) => r.seq));
    // and maintenance carries on from there
    while (await again.maintainReadings(Number.MAX_SAFE_INTEGER, p, T0));
    expect((await again.readings.after(0, 100_000)).map((r) => r.seq)).toEqual(seqs);
    await again.close();
  });
});

describe('in the service', () => {
  it('readings from MQTT are sorted into runs in the background; /metrics shows it; the API answers the same, also after a restart', async () => {
    const overrides = { HISTORY_RUN_ROWS: 20, HISTORY_SEAL_AFTER_S: 1 };
    const first = await startService(overrides);
    const dir = first.dataDir;
    try {
      const dev = await first.registerDevice({ id: 'ra-svc-1', family: 'elevator' });
      const c = await first.connectDevice(dev.id, dev.secret);
      const t0 = Date.now() - 3_600_000;
      for (let i = 0; i < 50; i++) {
        const p = { ...examplePayload('elevator', 'status', `s${i}`, t0 + i * 60_000), speedMps: (i % 7) / 2, passengerPresent: false };
        await c.publishAsync(`elevator/${dev.id}/status`, JSON.stringify(p), { qos: 1 });
      }
      await c.endAsync();
      const get = async (ts: typeof first, url: string) => {
        const res = await ts.service.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ts.adminToken}` } });
        expect(res.statusCode).toBe(200);
        return res.json() as unknown;
      };
      const readingsUrl = `/api/devices/${dev.id}/readings?channel=status&limit=1000`;
      const historyUrl = `/api/devices/${dev.id}/history?channel=status&field=speedMps&from=${t0}&to=${t0 + 3_600_000}&buckets=12`;
      const readings = await get(first, readingsUrl);
      const history = await get(first, historyUrl);
      expect(JSON.stringify(readings)).toContain('"s49"');

      const metric = async (name: string) => {
        const text = (await first.service.http.inject({ method: 'GET', url: '/metrics' })).body;
        return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      };
      const deadline = Date.now() + 15_000;
      while (await metric('history_clustered_readings') < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await metric('history_clustered_readings')).toBe(50);
      expect(await metric('history_seals_total')).toBeGreaterThanOrEqual(1);
      expect(await metric('history_runs')).toBeGreaterThanOrEqual(1);
      expect(await metric('history_failures_total')).toBe(0);
      expect(await get(first, readingsUrl)).toEqual(readings);
      expect(await get(first, historyUrl)).toEqual(history);
      await first.stop();

      const second = await startService(overrides, dir);
      try {
        expect(await get(second, readingsUrl)).toEqual(readings);
        expect(await get(second, historyUrl)).toEqual(history);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
