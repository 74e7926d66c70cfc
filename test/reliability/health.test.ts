/**
 * /healthz tells the truth: each component's real state, 503 naming the component, its error
 * and since when, and `component_up{component}` on /metrics agreeing with it.
 *
 * - the thresholds of service/health.ts on made-up statuses (no waiting for any of them);
 * - DuckDB's CHECKPOINT failing (a test seam makes the statement throw): counted, reported
 *   with the error and since when, and cleared by the next success;
 * - the alert engine unable to persist (the store's alerts.saveCheckpoint throws): 503 with
 *   the reason, 200 again once it can;
 * - DuckDB's CHECKPOINT failing in a running service: 503 naming the store, 200 again after;
 * - the journal unable to drain because DuckDB hangs: full, 503, and 200 once it drains.
 *
 * Nothing here asserts a duration: every wait polls for a state, within a bound.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EnginePersistStatus } from '../../alerts/engine.js';
import { examplePayload } from '../../core/schemas/examples.js';
import {
  alertsHealth, checkpointFailure, CHECKPOINT_FAILED_ATTEMPTS, CHECKPOINT_FAILING_MS, journalHealth, JOURNAL_STALLED_MS,
} from '../../service/health.js';
import { DuckDbStore, type CheckpointStatus } from '../../store/duckdbStore.js';
import type { JournalStatus } from '../../store/journal/journaledStore.js';
import type { WorkerStore } from '../../store/worker/workerStore.js';
import { aroundAppends } from '../helpers/storeSpy.js';
import type { EngineCheckpoint } from '../../store/types.js';
import { startService, type TestService } from '../helpers/service.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const NOW = Date.UTC(2026, 11, 5, 8, 0, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until `done` holds (at most `tries` times, `everyMs` apart); returns the last value. */
async function poll<T>(probe: () => Promise<T> | T, done: (v: T) => boolean, tries = 500, everyMs = 20): Promise<T> {
  let v = await probe();
  for (let i = 0; i < tries && !done(v); i++) {
    await sleep(everyMs);
    v = await probe();
  }
  return v;
}

function metric(body: string, name: string, labels = ''): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// ---- the thresholds ---------------------------------------------------------------------------

const checkpoints = (over: Partial<CheckpointStatus>): CheckpointStatus =>
  ({ checkpoints: 3, failures: 0, consecutiveFailures: 0, lastError: null, failingSince: null, lastCheckpointAt: NOW - 60_000, ...over });

const journal = (over: Partial<JournalStatus>): JournalStatus => ({
  backlogRows: 0, segments: 1, bytes: 0, appliedBatches: 10, applyFailures: 0, lastError: null, consecutiveFailures: 0,
  failingSince: null, oldestPendingAt: null, maxBacklogRows: 1000, recovered: null, ...over,
});

const persist = (over: Partial<EnginePersistStatus>): EnginePersistStatus =>
  ({ ok: true, consecutiveFailures: 0, failures: 0, lastError: null, failingSince: null, lastSavedAt: NOW - 1000, ...over });

describe('health thresholds (service/health.ts)', () => {
  it('DuckDB checkpoints: one failure is retried quietly; a run of attempts, or two spanning 30 s, is the store down', () => {
    expect(checkpointFailure(checkpoints({}), NOW)).toBeNull();
    const failing = (n: number, forMs: number) => checkpoints({ failures: n, consecutiveFailures: n, lastError: 'IO Error: disk I/O error', failingSince: NOW - forMs });
    expect(checkpointFailure(failing(1, 10 * CHECKPOINT_FAILING_MS), NOW)).toBeNull();
    expect(checkpointFailure(failing(CHECKPOINT_FAILED_ATTEMPTS - 1, 1000), NOW)).toBeNull();
    expect(checkpointFailure(failing(2, CHECKPOINT_FAILING_MS - 1), NOW)).toBeNull();
    const down = checkpointFailure(failing(CHECKPOINT_FAILED_ATTEMPTS, 1000), NOW);
    expect(down).toMatchObject({ ok: false, error: 'IO Error: disk I/O error', since: new Date(NOW - 1000).toISOString() });
    expect(down!.detail).toMatch(/CHECKPOINT failing: 5 attempts in a row since .*disk I\/O error/);
    expect(checkpointFailure(failing(2, CHECKPOINT_FAILING_MS), NOW)).toMatchObject({ ok: false, since: new Date(NOW - CHECKPOINT_FAILING_MS).toISOString() });
  });

  it('alert engine: not ok while any checkpoint in a row failed, with the error and since when', () => {
    expect(alertsHealth(persist({}), { alerts: 2, cases: 1 })).toEqual({ ok: true, detail: '2 active alerts, 1 rescue cases' });
    const down = alertsHealth(persist({ ok: false, consecutiveFailures: 1, failures: 4, lastError: 'IO Error: No space left on device', failingSince: NOW }), { alerts: 2, cases: 0 });
    expect(down).toMatchObject({ ok: false, error: 'IO Error: No space left on device', since: new Date(NOW).toISOString() });
    expect(down.detail).toMatch(/cannot persist alerts: 1 failed checkpoints in a row since .*No space left on device/);
  });

  it('journal: down while writes to DuckDB fail, while full, and while its oldest batch waits 30 s; ok otherwise', () => {
    expect(journalHealth(journal({ backlogRows: 500, oldestPendingAt: NOW - 200 }), NOW)).toEqual({ ok: true, detail: 'backlog 500 readings' });
    const failing = journalHealth(journal({ backlogRows: 3, oldestPendingAt: NOW - 500, lastError: new Error('IO Error: No space left on device'), consecutiveFailures: 4, failingSince: NOW - 400 }), NOW);
    expect(failing).toMatchObject({ ok: false, error: 'IO Error: No space left on device', since: new Date(NOW - 400).toISOString() });
    expect(failing.detail).toMatch(/cannot drain into DuckDB: 4 failed writes .*3 readings are kept in the journal/);
    const full = journalHealth(journal({ backlogRows: 1000, oldestPendingAt: NOW - 100 }), NOW);
    expect(full).toMatchObject({ ok: false, error: 'journal backlog full' });
    expect(full.detail).toMatch(/full: 1000 readings waiting.*ingest waits/);
    expect(journalHealth(journal({ backlogRows: 10, oldestPendingAt: NOW - JOURNAL_STALLED_MS + 1 }), NOW).ok).toBe(true);
    const stalled = journalHealth(journal({ backlogRows: 10, oldestPendingAt: NOW - JOURNAL_STALLED_MS }), NOW);
    expect(stalled).toMatchObject({ ok: false, error: 'journal not draining', since: new Date(NOW - JOURNAL_STALLED_MS).toISOString() });
  });
});

// ---- DuckDB's checkpoints ---------------------------------------------------------------------

/** The store with its CHECKPOINT statement made to fail on demand (the seam runCheckpoint). */
class FailingCheckpoints extends DuckDbStore {
  failing = false;
  protected override async runCheckpoint(): Promise<void> {
    if (this.failing) throw new Error('IO Error: Could not write file "supervision.duckdb": disk I/O error');
    return super.runCheckpoint();
  }
}

describe('DuckDB CHECKPOINT failures', () => {
  it('are counted in a row with the last error and since when, reported past the threshold, and cleared by the next success', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'supervision-health-'));
    dirs.push(dir);
    const s = new FailingCheckpoints(path.join(dir, 'db.duckdb'), { checkpointWalBytes: 1, checkpointRetryMs: 0 });
    await s.open();
    try {
      s.failing = true;
      const big = 'x'.repeat(4096);
      // every committing path tries a checkpoint once the WAL passes the threshold
      let i = 0;
      const failed = await poll(async () => { await s.settings.set(`k${i++}`, big); return s.checkpointStatus(); }, (c) => c.consecutiveFailures >= CHECKPOINT_FAILED_ATTEMPTS);
      expect(failed.consecutiveFailures).toBeGreaterThanOrEqual(CHECKPOINT_FAILED_ATTEMPTS);
      expect(failed.failures).toBe(failed.consecutiveFailures);
      expect(failed.lastError).toMatch(/disk I\/O error/);
      expect(failed.failingSince).not.toBeNull();
      expect(checkpointFailure(failed, Date.now())).toMatchObject({ ok: false, error: expect.stringMatching(/disk I\/O error/) });

      s.failing = false;
      const ok = await poll(async () => { await s.settings.set(`k${i++}`, big); return s.checkpointStatus(); }, (c) => c.checkpoints > 0);
      expect(ok).toMatchObject({ consecutiveFailures: 0, lastError: null, failingSince: null });
      expect(ok.failures).toBeGreaterThanOrEqual(CHECKPOINT_FAILED_ATTEMPTS);
      expect(ok.lastCheckpointAt).not.toBeNull();
      expect(checkpointFailure(ok, Date.now())).toBeNull();
      expect(await s.settings.get(`k${i - 1}`)).toBe(big);
    } finally {
      await s.close();
    }
  });
});

// ---- the running service ----------------------------------------------------------------------

async function health(s: TestService): Promise<{ status: number; body: { ok: boolean; components: Record<string, { ok: boolean; detail?: string; error?: string; since?: string }> } }> {
  const res = await s.service.http.inject({ method: 'GET', url: '/healthz' });
  return { status: res.statusCode, body: res.json() };
}

/** Run `fn` on a started service and dispose of it; an error of `fn` wins over one of stopping. */
async function withService(settings: Parameters<typeof startService>[0], fn: (s: TestService) => Promise<void>): Promise<void> {
  const s = await startService(settings);
  let failed = false;
  try {
    await fn(s);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await s.dispose().catch((err: unknown) => { if (!failed) throw err; });
  }
}

async function metrics(s: TestService): Promise<string> {
  return (await s.service.http.inject({ method: 'GET', url: '/metrics' })).body;
}

describe('/healthz and component_up in a running service', () => {
  it('the alert engine unable to persist: 503 naming alerts with the error and since when, 200 again once it can', async () => {
    await withService({ ALERT_CHECKPOINT_MS: 50 }, async (s) => {
      expect((await health(s)).status).toBe(200);
      expect(metric(await metrics(s), 'component_up', '{component="alerts"}')).toBe(1);
      const dev = await s.registerDevice({ id: 'h-cam-1', family: 'kitchen', meta: { storeId: 'h-store-1' } });
      const c = await s.connectDevice(dev.id, dev.secret);
      const store = s.service.store;
      const real = store.alerts.saveCheckpoint.bind(store.alerts);
      let failing = true;
      store.alerts.saveCheckpoint = (cp: EngineCheckpoint) =>
        (failing ? Promise.reject(new Error('IO Error: Could not write file: No space left on device')) : real(cp));
      try {
        // a reading gives the engine something to checkpoint (its position, rule state, an alert)
        await c.publishAsync(`kitchen/${dev.id}/violation`, JSON.stringify({ ...examplePayload('kitchen', 'violation', 'v-1', Date.now()), type: 'rat', confidence: 0.9 }), { qos: 1 });
        const down = await poll(() => health(s), (h) => h.status === 503);
        expect(down.status).toBe(503);
        expect(down.body.ok).toBe(false);
        expect(down.body.components.alerts).toMatchObject({ ok: false, error: 'IO Error: Could not write file: No space left on device' });
        expect(down.body.components.alerts!.detail).toMatch(/cannot persist alerts: \d+ failed checkpoints in a row since .*No space left on device/);
        expect(Number.isNaN(Date.parse(down.body.components.alerts!.since ?? ''))).toBe(false);
        // only the engine fails: the store itself is fine
        expect(down.body.components.store!.ok).toBe(true);
        const m = await metrics(s);
        expect(metric(m, 'component_up', '{component="alerts"}')).toBe(0);
        expect(metric(m, 'component_up', '{component="store"}')).toBe(1);
        expect(metric(m, 'alerts_persist_failures_total')).toBeGreaterThanOrEqual(1);
        expect(metric(m, 'alerts_persist_consecutive_failures')).toBeGreaterThanOrEqual(1);

        failing = false;
        const up = await poll(() => health(s), (h) => h.status === 200);
        expect(up.status, JSON.stringify(up.body.components.alerts)).toBe(200);
        expect(up.body.components.alerts).toMatchObject({ ok: true });
        expect(up.body.components.alerts!.error).toBeUndefined();
        expect(metric(await metrics(s), 'component_up', '{component="alerts"}')).toBe(1);
        expect(metric(await metrics(s), 'alerts_persist_consecutive_failures')).toBe(0);
        // what was kept in memory meanwhile reached the store
        const saved = await s.service.http.inject({ method: 'GET', url: `/api/alerts?deviceId=${dev.id}`, headers: { authorization: `Bearer ${s.adminToken}` } });
        expect((saved.json() as { items: Array<{ rule: string }> }).items.map((a) => a.rule)).toContain('kitchen.violation');
      } finally {
        failing = false;
        await c.endAsync();
      }
    });
  });

  it('DuckDB CHECKPOINT failing: 503 naming the store with the error and since when, 200 again once one succeeds', async () => {
    await withService({}, async (s) => {
      // the seam, in the service's own store (DuckDB's worker thread): every commit tries a
      // checkpoint, each one fails
      const duck = s.service.duckdb as WorkerStore;
      await duck.failCheckpoints('IO Error: Could not write file "supervision.duckdb": disk I/O error', { checkpointWalBytes: 1, checkpointRetryMs: 0 });
      const big = 'y'.repeat(4096);
      let i = 0;
      const down = await poll(async () => { await s.service.store.settings.set(`h-${i++}`, big); return health(s); }, (h) => h.status === 503);
      expect(down.status).toBe(503);
      expect(down.body.components.store).toMatchObject({ ok: false, error: expect.stringMatching(/disk I\/O error/) });
      expect(down.body.components.store!.detail).toMatch(/DuckDB CHECKPOINT failing: \d+ attempts in a row since /);
      expect(Number.isNaN(Date.parse(down.body.components.store!.since ?? ''))).toBe(false);
      let m = await metrics(s);
      expect(metric(m, 'component_up', '{component="store"}')).toBe(0);
      expect(metric(m, 'duckdb_checkpoint_failures_total')).toBeGreaterThanOrEqual(CHECKPOINT_FAILED_ATTEMPTS);
      expect(metric(m, 'duckdb_checkpoint_consecutive_failures')).toBeGreaterThanOrEqual(CHECKPOINT_FAILED_ATTEMPTS);

      await duck.failCheckpoints(null);
      const up = await poll(async () => { await s.service.store.settings.set(`h-${i++}`, big); return health(s); }, (h) => h.status === 200);
      expect(up.status, JSON.stringify(up.body.components.store)).toBe(200);
      m = await metrics(s);
      expect(metric(m, 'component_up', '{component="store"}')).toBe(1);
      expect(metric(m, 'duckdb_checkpoint_consecutive_failures')).toBe(0);
      expect(metric(m, 'duckdb_checkpoints_total')).toBeGreaterThanOrEqual(1);
    });
  });

  it('the journal unable to drain (DuckDB hangs): full, 503 naming the journal, 200 once it drains', async () => {
    await withService({ INGEST_JOURNAL: true, INGEST_JOURNAL_MAX_BACKLOG: 3 }, async (s) => {
      const dev = await s.registerDevice({ id: 'h-elev-1', family: 'elevator' });
      const c = await s.connectDevice(dev.id, dev.secret);
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      aroundAppends(s.service.journal!.inner, async (write) => { await gate; return write(); });
      try {
        // acknowledged from the journal; DuckDB never answers, so they stay there
        for (const id of ['j-1', 'j-2', 'j-3']) await c.publishAsync(`elevator/${dev.id}/status`, JSON.stringify(examplePayload('elevator', 'status', id, Date.now())), { qos: 1 });
        const down = await poll(() => health(s), (h) => h.status === 503);
        expect(down.status).toBe(503);
        expect(down.body.components.journal).toMatchObject({ ok: false, error: 'journal backlog full' });
        expect(down.body.components.journal!.detail).toMatch(/full: 3 readings waiting for DuckDB/);
        const m = await metrics(s);
        expect(metric(m, 'component_up', '{component="journal"}')).toBe(0);
        expect(metric(m, 'journal_backlog_rows')).toBe(3);
        expect(metric(m, 'journal_oldest_pending_seconds')).toBeGreaterThanOrEqual(0);

        release();
        const up = await poll(() => health(s), (h) => h.status === 200);
        expect(up.status, JSON.stringify(up.body.components.journal)).toBe(200);
        expect(up.body.components.journal).toMatchObject({ ok: true, detail: 'backlog 0 readings' });
        expect(metric(await metrics(s), 'component_up', '{component="journal"}')).toBe(1);
        const stored = await s.service.store.readings.query({ deviceId: dev.id, family: 'elevator', channel: 'status', limit: 10 });
        expect(stored.map((r) => r.msgId).sort()).toEqual(['j-1', 'j-2', 'j-3']);
      } finally {
        release();
        await c.endAsync();
      }
    });
  });
});
