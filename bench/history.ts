/**
 * P5 history query: a store holding many readings (generated directly into DuckDB, not via
 * MQTT), a 24 h window of one device downsampled for a chart, through the store's
 * `readings.history` (what the dashboard calls). The peer, measured in the same run on the
 * same data, is the naive query a chart would otherwise make: every raw reading of that
 * device in the window.
 *
 * The readings are generated in arrival order, as ingest appends them; the query is timed on
 * that layout first, then the store's own device-clustering (store/readingRuns.ts) runs with
 * the service's default policy, sealing one run of HISTORY_RUN_ROWS at a time and merging as
 * it would in service, and the queries are timed again. The last HISTORY_RUN_ROWS - 1
 * readings stay in the hot table (the most a query meets in service).
 *
 *   npm run bench:history -- [--rows 100000000] [--devices 10000] [--buckets 500] [--keep DIR]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbStore } from '../store/duckdbStore.js';
import { HISTORY_FANOUT, HISTORY_MAX_LEVEL, type RunPolicy } from '../store/readingRuns.js';
import { settings } from '../service/config.js';

const args = parseArgs({
  options: {
    rows: { type: 'string', default: '100000000' },
    devices: { type: 'string', default: '10000' },
    buckets: { type: 'string', default: '500' },
    runs: { type: 'string', default: '20' },
    keep: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
}).values;

if (args.help) {
  process.stdout.write('Usage: npm run bench:history -- [--rows 100000000] [--devices 10000] [--buckets 500] [--runs 20] [--keep DIR]\n' +
    '  --keep DIR  generate into (or reuse) DIR/supervision.duckdb instead of a temp dir\n' +
    'Readings are generated in arrival order and timed; then the store sorts them by device into runs\n' +
    '(HISTORY_RUN_ROWS at a time, as the service does) and the queries are timed again. A kept store\n' +
    'that is already sorted is only queried.\n');
  process.exit(0);
}

const rows = Number(args.rows);
const devices = Number(args.devices);
const buckets = Number(args.buckets);
const runs = Number(args.runs);
const perDevice = Math.floor(rows / devices);
const intervalMs = 10_000;
const end = Date.UTC(2026, 10, 23);
const start = end - perDevice * intervalMs;

async function generate(file: string): Promise<number> {
  // open once through the store so the schema is the service's own
  const store = new DuckDbStore(file);
  await store.open();
  const existing = await store.readings.count();
  await store.close();
  if (existing >= rows) return 0;
  const t0 = performance.now();
  const inst = await DuckDBInstance.create(file);
  const c = await inst.connect();
  // time-major order, as ingest writes: one reading per device every 10 s
  await c.run(`INSERT INTO r_elevator_status
    SELECT i AS seq, 'elev-' || (i % ${devices}) AS device_id, 'm' || i AS msg_id,
      make_timestamp((${start}::BIGINT + (i // ${devices}) * ${intervalMs}) * 1000) AS ts,
      make_timestamp((${start}::BIGINT + (i // ${devices}) * ${intervalMs} + 40) * 1000) AS received_at,
      1 AS qos, (i % 30)::INTEGER AS floor, (i % 7 <> 0) AS door_zone, (i % 5 <> 0) AS door_closed, (i % 3 = 0) AS moving,
      CASE i % 3 WHEN 0 THEN 'up' WHEN 1 THEN 'down' ELSE 'stop' END AS direction, ((i % 25) / 10.0)::DOUBLE AS speed_mps,
      (i % 4 = 0) AS passenger_present, 'normal' AS service_mode, true AS power_ok, NULL AS extra
    FROM range(${rows}) t(i)`);
  c.closeSync();
  inst.closeSync();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = args.keep ? path.resolve(args.keep) : mkdtempSync(path.join(tmpdir(), 'supervision-p5-'));
  const file = path.join(dir, 'supervision.duckdb');
  try {
    process.stderr.write(`generating ${rows} readings of ${devices} elevators (${perDevice} each, every 10 s)...\n`);
    const genMs = await generate(file);
    // the service's defaults: DuckDB's memory bound and the run policy
    const store = new DuckDbStore(file, { memoryLimit: settings.DUCKDB_MEMORY_LIMIT.default });
    await store.open();
    const policy: RunPolicy = { runRows: settings.HISTORY_RUN_ROWS.default, sealAfterMs: settings.HISTORY_SEAL_AFTER_S.default * 1000, fanout: HISTORY_FANOUT, maxLevel: HISTORY_MAX_LEVEL };
    const to = end;
    const from = end - 24 * 3600_000;
    const bucketMs = Math.ceil((to - from) / buckets);
    const time = async (fn: () => Promise<unknown>) => {
      await fn(); // warm
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        await fn();
        samples.push(performance.now() - t);
      }
      samples.sort((a, b) => a - b);
      return { p50: samples[Math.floor(samples.length / 2)]!, p99: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]! };
    };
    let device = 0;
    const next = () => `elev-${(device = (device + 7919) % devices)}`;
    let points = 0;
    const history = () => time(async () => {
      const h = await store.readings.history({ deviceId: next(), family: 'elevator', channel: 'status', field: 'speedMps', from, to, bucketMs });
      points = h.length;
    });
    let before: { p50: number; p99: number } | null = null;
    let clustering = '';
    if (!store.readingRuns().some((r) => r.runs > 0)) {
      before = await history();
      process.stderr.write(`arrival order: p50 ${before.p50.toFixed(1)} ms; sorting into runs...\n`);
      const t0 = performance.now();
      const lastSeq = (await store.readings.lastSequences()).readingSeq;
      let steps = 0;
      // one run's worth at a time, as ingest would have made them available, ending with
      // runRows - 1 readings in the hot table
      const end = lastSeq - (policy.runRows - 1);
      for (let safe = end - Math.floor((end - (policy.runRows - 1)) / policy.runRows) * policy.runRows; safe <= end; safe += policy.runRows) {
        while (await store.maintainReadings(safe, policy, 0)) steps++;
      }
      const ms = performance.now() - t0;
      const runs = store.readingRuns().find((r) => r.base === 'r_elevator_status')!;
      clustering = `device clustering: ${steps} seals and merges in ${(ms / 1000).toFixed(0)} s (${(ms * 1000 / runs.rows).toFixed(2)} us per reading), ` +
        `${runs.runs} runs of ${runs.rows} readings, ${(await store.readings.count()) - runs.rows} left in arrival order\n`;
      process.stderr.write(clustering);
    }
    const ours = await history();
    let raw = 0;
    const peer = await time(async () => {
      const r = await store.readings.query({ deviceId: next(), family: 'elevator', channel: 'status', from, to, limit: 100_000 });
      raw = r.length;
    });
    await store.close();
    const lines = [
      '| query | points returned | p50 ms | p99 ms | ratio to peer (p50) |',
      '|---|---|---|---|---|',
      `| readings.history, ${buckets} buckets, device-clustered (ours) | ${points} | ${ours.p50.toFixed(1)} | ${ours.p99.toFixed(1)} | ${(ours.p50 / peer.p50).toFixed(2)}x |`,
      ...(before ? [`| readings.history, arrival order (HISTORY_RUN_ROWS=0) | ${points} | ${before.p50.toFixed(1)} | ${before.p99.toFixed(1)} | ${(before.p50 / peer.p50).toFixed(2)}x |`] : []),
      `| raw readings of the window (peer) | ${raw} | ${peer.p50.toFixed(1)} | ${peer.p99.toFixed(1)} | 1.00x |`,
    ];
    process.stdout.write(`\nP5 history query, ${new Date().toISOString().slice(0, 10)}, ${rows} readings in store${genMs ? `, generated in ${(genMs / 1000).toFixed(0)} s` : ''}; 24 h of one device, target p50 <= 50 ms\n${clustering}${lines.join('\n')}\n`);
  } finally {
    if (!args.keep) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
