/**
 * P6 restart: a data directory holding many readings (generated directly into DuckDB) and
 * open alerts, the service killed with SIGKILL, then the time from spawn to /healthz 200.
 * The peer, in the same run, is the same service starting on an empty data directory, so
 * the ratio shows what the data costs at start (replay, dedupe reload, registry load).
 *
 *   npm run bench:restart -- [--rows 10000000] [--devices 10000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { settings } from '../service/config.js';
import { scrapeMetrics } from './lib/harness.js';

const args = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    devices: { type: 'string', default: '10000' },
    alerts: { type: 'string', default: '2000' },
    help: { type: 'boolean', default: false },
  },
}).values;
if (args.help) {
  process.stdout.write('Usage: npm run bench:restart -- [--rows 10000000] [--devices 10000] [--alerts 2000]\n');
  process.exit(0);
}

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const port = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(port));
  });
});

/** Spawn the service and resolve with the ms until /healthz answers 200. */
async function startTimed(dataDir: string): Promise<{ proc: ChildProcess; ms: number; httpPort: number }> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['dist/service/main.js'], {
    env: { ...process.env, DATA_DIR: dataDir, MQTT_PORT: String(mqttPort), HTTP_PORT: String(httpPort), MQTT_HOST: '127.0.0.1', HTTP_HOST: '127.0.0.1', ADMIN_PASSWORD: 'bench-admin-pass', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (proc.exitCode !== null) throw new Error(`service exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { proc, ms: performance.now() - t0, httpPort };
}

/** Poll /metrics until `history_clustered_readings` reaches `atLeast` (or the time is up). */
async function waitClustered(httpPort: number, atLeast: number, maxMs: number): Promise<{ readings: number; runs: number }> {
  const until = Date.now() + maxMs;
  for (;;) {
    const read = await scrapeMetrics(httpPort);
    const now = { readings: read('history_clustered_readings') || 0, runs: read('history_runs') || 0 };
    if (now.readings >= atLeast || Date.now() > until) return now;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const kill9 = (p: ChildProcess) => new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGKILL'); });

async function main(): Promise<void> {
  const rows = Number(args.rows);
  const devices = Number(args.devices);
  const alerts = Number(args.alerts);
  const dir = mkdtempSync(path.join(tmpdir(), 'supervision-p6-'));
  try {
    const full = path.join(dir, 'full');
    // create the schema with a first start, then fill it directly
    const first = await startTimed(full);
    await kill9(first.proc);
    process.stderr.write(`generating ${rows} readings, ${devices} devices and ${alerts} open alerts...\n`);
    const inst = await DuckDBInstance.create(path.join(full, 'supervision.duckdb'));
    const c = await inst.connect();
    const now = Date.now();
    await c.run(`INSERT INTO devices SELECT 'elev-' || i, 'elevator', 'Elevator ' || i, 30.2 + (i % 100) / 1000.0, 120.1 + (i // 100) / 1000.0, '330106', '{}',
      '0000000000000000000000000000000000000000000000000000000000000000', now(), now() FROM range(${devices}) t(i)`);
    await c.run(`INSERT INTO r_elevator_status SELECT i + 1, 'elev-' || (i % ${devices}), 'm' || i,
      make_timestamp((${now}::BIGINT - (${rows} - i) * 10) * 1000), make_timestamp((${now}::BIGINT - (${rows} - i) * 10) * 1000), 1,
      (i % 30)::INTEGER, true, true, false, 'stop', 0.0, false, 'normal', true, NULL FROM range(${rows}) t(i)`);
    const alertDoc = (i: number) => JSON.stringify({
      id: `al-${i}`, family: 'elevator', rule: 'elevator.fault', condition: String(1 + (i % 10)), severity: 'major', status: 'open', summary: 'fault',
      params: {}, device: { id: `elev-${i % devices}`, name: null, district: '330106', location: null, meta: {} }, evidence: [{ seqs: [i + 1] }],
      assignee: null, count: 1, firstSeen: now, lastSeen: now, windowMs: 600000,
      deadlines: { ackBy: now + 1800000, resolveBy: now + 86400000, ackWarnAt: now + 1440000, resolveWarnAt: now + 69120000, acknowledgedAt: null, resolvedAt: null, ackWarned: false, ackBreached: false, resolveWarned: false, resolveBreached: false, reminders: 0, nextReminderAt: null, escalation: 0 },
      events: 1, notes: 0, updatedAt: now,
    });
    const stmt = await c.prepare(`INSERT INTO alerts (id, family, rule, severity, status, device_id, district, first_seen, last_seen, updated_at, doc, ack_by, resolve_by)
      VALUES (?, 'elevator', 'elevator.fault', 'major', 'open', ?, '330106', now(), now(), now(), ?, epoch_ms(${now + 1800000}::BIGINT), epoch_ms(${now + 86400000}::BIGINT))`);
    for (let i = 0; i < alerts; i++) {
      stmt.bind([`al-${i}`, `elev-${i % devices}`, alertDoc(i)]);
      await stmt.run();
    }
    // each alert's timeline is rows of its own (schema 5)
    await c.run(`INSERT INTO alert_timeline (alert_id, n, happened_at, actor, action, note) SELECT id, 0, first_seen, 'system', 'opened', NULL FROM alerts`);
    await c.run(`INSERT OR REPLACE INTO engine_state VALUES ('lastSeq', '${rows}')`);
    c.closeSync();
    inst.closeSync();

    // a live service on that data, left to sort the readings by device (as a service that has
    // been running holds them), then killed without warning, whatever it is doing
    const live = await startTimed(full);
    const tc = performance.now();
    const clustered = await waitClustered(live.httpPort, rows - settings.HISTORY_RUN_ROWS.default, 600_000);
    const clusterS = (performance.now() - tc) / 1000;
    process.stderr.write(`history: ${clustered.readings} readings in ${clustered.runs} device-sorted runs after ${clusterS.toFixed(0)} s\n`);
    await kill9(live.proc);
    const restarted = await startTimed(full);
    await kill9(restarted.proc);
    const empty = await startTimed(path.join(dir, 'empty'));
    await kill9(empty.proc);
    const lines = [
      '| start | data | ms to /healthz 200 | ratio to empty start |',
      '|---|---|---|---|',
      `| after kill -9 (ours) | ${rows} readings (${clustered.readings} in ${clustered.runs} device-sorted runs), ${devices} devices, ${alerts} open alerts | ${restarted.ms.toFixed(0)} | ${(restarted.ms / empty.ms).toFixed(2)}x |`,
      `| empty DATA_DIR (peer) | nothing | ${empty.ms.toFixed(0)} | 1.00x |`,
    ];
    process.stdout.write(`\nP6 restart, ${new Date().toISOString().slice(0, 10)}, target <= 3000 ms\n${lines.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
