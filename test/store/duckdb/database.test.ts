/**
 * The database under the repositories (store/duckdb/database.ts, with store/migrations.ts)
 * in a temp dir: everything the service persists survives a close and reopen without
 * re-running the migration, data directories of older schemas are upgraded and a newer one
 * is refused, DuckDB's settings come from the options, and checkpoints fold the WAL in.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { examplePayload } from '../../../core/schemas/examples.js';
import { DuckDbStore } from '../../../store/duckdbStore.js';
import { migrate, migrations } from '../../../store/migrations.js';
import { T0, device, freshStore, letter, nextSeq, readingFrom, simple, tempFile } from './fixtures.js';

/** A data directory as a build of schema `version` left it (that build's migrations, open for rows). */
async function dataDirAtSchema(version: number) {
  const file = tempFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const db = await DuckDBInstance.create(file);
  const c = await db.connect();
  await c.run('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const [i, statements] of migrations.slice(0, version).entries()) {
    for (const sql of statements) if (typeof sql === 'string') await c.run(sql);
    await c.run('INSERT INTO schema_version VALUES (?)', [i + 1]);
  }
  return { file, db, c };
}

describe('close and reopen', () => {
  it('keeps everything, and the migration does not run again', async () => {
    const file = tempFile();
    const s = new DuckDbStore(file);
    await s.open();
    const r = readingFrom('kitchen', 'violation', 'keep-1', { ...examplePayload('kitchen', 'violation', 'kv', T0), extraField: 1 });
    await s.readings.appendBatch([r], [letter({ id: 11 })]);
    await s.devices.insert([device('keep-1', { family: 'kitchen', meta: {} })]);
    await s.devices.saveConnectionStates([{ deviceId: 'keep-1', connected: true, lastSeen: T0, lastConnectedAt: T0, lastDisconnectedAt: null, remoteAddress: null }]);
    await s.accounts.insertUser({ username: 'u1', role: 'operator', passwordHash: 'h', createdAt: T0, disabled: false, district: '330106' });
    await s.settings.set('k', 'v');
    await s.close();
    await expect(s.readings.query({ deviceId: 'keep-1', family: 'kitchen', limit: 1 })).rejects.toThrow(/not open/);

    const again = new DuckDbStore(file);
    await again.open();
    try {
      const rows = await again.readings.query({ deviceId: 'keep-1', family: 'kitchen', limit: 10 });
      expect(rows).toEqual([{ seq: r.seq, channel: 'violation', msgId: 'kv', ts: T0, receivedAt: T0 + 5, data: r.data, extra: { extraField: 1 } }]);
      expect((await again.deadLetters.list({ limit: 10 })).map((d) => d.id)).toEqual([11]);
      expect((await again.devices.load()).map((d) => d.id)).toEqual(['keep-1']);
      expect((await again.devices.loadConnectionStates())[0]).toMatchObject({ deviceId: 'keep-1', connected: true, lastSeen: T0 });
      expect(await again.accounts.getUser('u1')).toMatchObject({ role: 'operator', district: '330106' });
      expect(await again.settings.get('k')).toBe('v');
      expect(await again.readings.lastSequences()).toEqual({ readingSeq: r.seq, deadLetterId: 11 });
      // appending after a reopen works (fresh appenders)
      await again.readings.appendBatch([simple('keep-2', 'after', T0)], []);
      expect(await again.readings.count()).toBe(2);
    } finally {
      await again.close();
    }

    // inspect the file directly: one schema_version row, and migrate() is a no-op
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    try {
      const versions = (await c.runAndReadAll('SELECT version FROM schema_version')).getRowObjectsJS();
      // each migration recorded exactly once, although open() ran twice
      const sorted = versions.map((v) => Number(v.version)).sort((a, b) => a - b);
      expect(sorted).toEqual(migrations.map((_m, i) => i + 1));
      expect(await migrate(c)).toEqual({ from: migrations.length, to: migrations.length });
      expect((await c.runAndReadAll('SELECT count(*)::INTEGER AS n FROM schema_version')).getRowObjectsJS()).toEqual([{ n: migrations.length }]);
    } finally {
      c.closeSync();
      db.closeSync();
    }
  });

  it('upgrades a data directory of the previous schema (2): readings kept in arrival order, then sorted by device', async () => {
    // a data directory as the build before device-clustered history left it
    const { file, db, c } = await dataDirAtSchema(2);
    await c.run(`INSERT INTO devices VALUES ('up-lift', 'elevator', NULL, NULL, NULL, NULL, '{}', 'h', now(), now())`);
    await c.run(`INSERT INTO r_elevator_status SELECT i, 'up-lift', 'm' || i, make_timestamp((${T0}::BIGINT + i * 1000) * 1000),
      make_timestamp((${T0}::BIGINT + i * 1000) * 1000), 1, 3, true, true, false, 'stop', 0.0, false, 'normal', true, NULL FROM range(1, 3001) t(i)`);
    c.closeSync();
    db.closeSync();

    const s = new DuckDbStore(file);
    await s.open();
    try {
      expect(await s.readings.count()).toBe(3000);
      const before = await s.readings.query({ deviceId: 'up-lift', family: 'elevator', channel: 'status', limit: 5000 });
      expect(before).toHaveLength(3000);
      const policy = { runRows: 500, sealAfterMs: 60_000, fanout: 4, maxLevel: 2 };
      while (await s.maintainReadings(Number.MAX_SAFE_INTEGER, policy, T0));
      expect(s.readingRuns().find((r) => r.base === 'r_elevator_status')!.rows).toBe(3000);
      expect(await s.readings.query({ deviceId: 'up-lift', family: 'elevator', channel: 'status', limit: 5000 })).toEqual(before);
      expect(await s.readings.lastSequences()).toEqual({ readingSeq: 3000, deadLetterId: 0 });
    } finally {
      await s.close();
    }
  });

  it('upgrades alerts of schema 4: each embedded timeline to rows, the record counted, deadlines as columns', async () => {
    const { file, db, c } = await dataDirAtSchema(4);
    const deadlines = { ackBy: T0 + 300_000, resolveBy: T0 + 7_200_000, ackWarnAt: null, resolveWarnAt: null, acknowledgedAt: T0 + 60_000, resolvedAt: null,
      ackWarned: false, ackBreached: false, resolveWarned: false, resolveBreached: false, reminders: 0, nextReminderAt: null, escalation: 0 };
    const doc = {
      id: 'old-1', family: 'kitchen', rule: 'kitchen.violation', condition: 'rat', severity: 'critical', status: 'acknowledged', summary: 'rat', params: {},
      device: { id: 'cam-1', name: null, district: '330106', location: null, meta: {} }, evidence: [{ seqs: [1] }], assignee: null, count: 2,
      firstSeen: T0, lastSeen: T0 + 1000, windowMs: 600_000, deadlines, updatedAt: T0 + 60_000,
      timeline: [{ at: T0, by: 'system', action: 'opened' }, { at: T0 + 1000, by: 'system', action: 'repeated' }, { at: T0 + 60_000, by: 'op1', action: 'acknowledged', note: '已通知商户' }],
    };
    await c.run(`INSERT INTO alerts VALUES ('old-1', 'kitchen', 'kitchen.violation', 'critical', 'acknowledged', 'cam-1', '330106',
      make_timestamp(${T0}::BIGINT * 1000), make_timestamp(${T0 + 1000}::BIGINT * 1000), make_timestamp(${T0 + 60_000}::BIGINT * 1000), ?)`, [JSON.stringify(doc)]);
    // closed ones: by the system (an auto-resolve) and by a person; schema 6 names who closed each
    const closed = (id: string, by: string, action: string) => ({
      ...doc, id, status: 'resolved', deadlines: { ...deadlines, resolvedAt: T0 + 120_000 },
      timeline: [{ at: T0, by: 'system', action: 'opened' }, { at: T0 + 60_000, by: 'op1', action: 'acknowledged' }, { at: T0 + 120_000, by, action }],
    });
    for (const [id, by, action] of [['old-2', 'system', 'auto_resolved'], ['old-3', 'op2', 'resolved']] as const) {
      await c.run(`INSERT INTO alerts VALUES (?, 'kitchen', 'kitchen.violation', 'critical', 'resolved', 'cam-1', '330106',
        make_timestamp(${T0}::BIGINT * 1000), make_timestamp(${T0 + 1000}::BIGINT * 1000), make_timestamp(${T0 + 120_000}::BIGINT * 1000), ?)`, [id, JSON.stringify(closed(id, by, action))]);
    }
    c.closeSync();
    db.closeSync();

    const s = new DuckDbStore(file);
    await s.open();
    try {
      const a = await s.alerts.get('old-1');
      expect(a).not.toHaveProperty('timeline');
      expect(a).toMatchObject({ id: 'old-1', events: 3, notes: 1, count: 2, status: 'acknowledged' });
      expect(await s.alerts.timeline('old-1', 10)).toEqual([
        { n: 0, at: T0, by: 'system', action: 'opened' },
        { n: 1, at: T0 + 1000, by: 'system', action: 'repeated' },
        { n: 2, at: T0 + 60_000, by: 'op1', action: 'acknowledged', note: '已通知商户' },
      ]);
      const outcomes = await s.alerts.outcomes({ from: T0, to: T0 + 1, limit: 10 });
      expect(outcomes.find((o) => o.id === 'old-1')).toEqual({
        id: 'old-1', family: 'kitchen', rule: 'kitchen.violation', severity: 'critical', status: 'acknowledged', firstSeen: T0,
        device: { id: 'cam-1', district: '330106' }, closedBy: null,
        deadlines: { ackBy: T0 + 300_000, resolveBy: T0 + 7_200_000, acknowledgedAt: T0 + 60_000, resolvedAt: null },
      });
      expect(outcomes.map((o) => [o.id, o.closedBy]).sort()).toEqual([['old-1', null], ['old-2', 'system'], ['old-3', 'op2']]);
      // the priority order reads the deadline column: acknowledged, so its resolve deadline
      const open = { status: ['open', 'acknowledged'] as Array<'open' | 'acknowledged'> };
      expect((await s.alerts.query({ ...open, sort: 'priority', after: [0, T0 + 7_200_000, -T0, 'old-0'], limit: 5 })).map((x) => x.id)).toEqual(['old-1']);
      expect(await s.alerts.query({ ...open, sort: 'priority', after: [0, T0 + 7_200_000, -T0, 'old-1'], limit: 5 })).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('upgrades users of schema 7: they load as the whole city (district null), and take a district', async () => {
    const { file, db, c } = await dataDirAtSchema(7);
    await c.run(`INSERT INTO users VALUES ('old-op', 'operator', 'scrypt$h', make_timestamp(${T0}::BIGINT * 1000), false)`);
    c.closeSync();
    db.closeSync();

    const s = new DuckDbStore(file);
    await s.open();
    try {
      expect(await s.accounts.getUser('old-op')).toEqual({ username: 'old-op', role: 'operator', passwordHash: 'scrypt$h', createdAt: T0, disabled: false, district: null });
      expect(await s.accounts.updateUser('old-op', { district: '330106' })).toBe(true);
      expect((await s.accounts.listUsers())[0]).toMatchObject({ username: 'old-op', district: '330106' });
      expect(await s.accounts.updateUser('old-op', { district: null })).toBe(true);
      expect((await s.accounts.getUser('old-op'))!.district).toBeNull();
    } finally {
      await s.close();
    }
  });

  it('refuses a data directory from a newer build', async () => {
    const file = tempFile();
    const s = new DuckDbStore(file);
    await s.open();
    await s.close();
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run('INSERT INTO schema_version VALUES (99)');
    c.closeSync();
    db.closeSync();
    const newer = new DuckDbStore(file);
    await expect(newer.open()).rejects.toThrow(/schema version 99, newer than this build/);
    await newer.close();
  });
});

describe('DuckDB settings', () => {
  it('applies memory_limit and threads from the options', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'duck-settings-'));
    const s = new DuckDbStore(path.join(dir, 'db.duckdb'), { memoryLimit: '256MB', threads: 1 });
    await s.open();
    try {
      const reader = (s as unknown as { db: { conn(which: 'reader'): { runAndReadAll(sql: string): Promise<{ getRowObjects(): Array<Record<string, unknown>> }> } } }).db.conn('reader');
      const [row] = (await reader.runAndReadAll("SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t")).getRowObjects();
      expect(String(row!.m)).toMatch(/^24[0-9](\.\d+)? MiB$/); // 256 MB = 244.1 MiB
      expect(Number(row!.t)).toBe(1);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('checkpoints (checkpointIfDue)', () => {
  const walBytes = (file: string): number => { try { return statSync(`${file}.wal`).size; } catch { return 0; } };
  const fill = async (s: DuckDbStore, device: string, batches: number): Promise<void> => {
    const base = simple(device, 'base', T0);
    for (let b = 0; b < batches; b++) await s.readings.appendBatch(Array.from({ length: 500 }, (_, i) => ({ ...base, seq: nextSeq(), msgId: `${device}-${b}-${i}`, ts: T0 + b * 1000 + i })), []);
  };

  it('folds the WAL into the file once it passes the threshold, off the commit, and keeps every reading', async () => {
    const file = tempFile();
    const s = await freshStore(file, { checkpointWalBytes: 256 * 1024 });
    await fill(s, 'ck-1', 20);
    // the CHECKPOINT queued by the last commits runs behind them on the writer's queue
    for (const end = Date.now() + 10_000; s.checkpointStatus().checkpoints === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(s.checkpointStatus()).toMatchObject({ failures: 0 });
    expect(s.checkpointStatus().checkpoints).toBeGreaterThan(0);
    expect(walBytes(file)).toBeLessThan(256 * 1024);
    expect(await s.readings.count()).toBe(10_000);
  });

  it('control writes alone (settings, users, alerts) also fold the WAL in once it passes the threshold', async () => {
    const file = tempFile();
    const s = await freshStore(file, { checkpointWalBytes: 256 * 1024 });
    const big = 'x'.repeat(20_000);
    for (let i = 0; i < 40; i++) await s.settings.set(`k${i}`, big);
    for (const end = Date.now() + 10_000; s.checkpointStatus().checkpoints === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(s.checkpointStatus()).toMatchObject({ failures: 0 });
    expect(s.checkpointStatus().checkpoints).toBeGreaterThan(0);
    expect(walBytes(file)).toBeLessThan(256 * 1024);
    expect(await s.settings.get('k39')).toBe(big);
  });

  it('DuckDB\'s own automatic checkpoint is off: below our threshold the WAL grows past its 16 MiB', async () => {
    const file = tempFile();
    const s = await freshStore(file, { checkpointWalBytes: 1 << 30 });
    for (let i = 0; walBytes(file) <= 17 * 1024 * 1024 && i < 100; i++) await fill(s, `ck-2-${i}`, 10);
    expect(walBytes(file)).toBeGreaterThan(17 * 1024 * 1024);
    expect(s.checkpointStatus().checkpoints).toBe(0);
  });
});
