/**
 * The DuckDB store (store/duckdbStore.ts) in a temp dir: readings of every channel round
 * trip through their typed columns, queries order and window correctly, and everything else
 * the service persists survives a close and reopen without re-running the migration.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../ingest/decode.js';
import { channelList, type Family } from '../../core/schemas/index.js';
import { examplePayload } from '../../core/schemas/examples.js';
import { openAlert } from '../../core/alerts/alert.js';
import { defaultDeadlinePolicy } from '../../core/alerts/deadlines.js';
import type { CylinderRecord } from '../../core/alerts/types.js';
import { DuckDbStore } from '../../store/duckdbStore.js';
import { migrate, migrations } from '../../store/migrations.js';
import type { ConnectionState, DeadLetter, DeviceRecord, Reading, UserRecord } from '../../store/types.js';

const dirs: string[] = [];
const stores: DuckDbStore[] = [];
afterAll(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'supervision-store-'));
  dirs.push(d);
  return path.join(d, 'nested', 'db.duckdb'); // open() creates the directory
}

async function freshStore(file = tempFile()): Promise<DuckDbStore> {
  const s = new DuckDbStore(file);
  await s.open();
  stores.push(s);
  return s;
}

const T0 = Date.UTC(2026, 10, 23, 0, 0, 0);

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
let seq = 1000;

function readingFrom(family: Family, channel: string, deviceId: string, payload: Record<string, unknown>, over: Partial<Reading> = {}): Reading {
  const d = decodePayload(family, channel, Buffer.from(JSON.stringify(payload)), 1 << 20);
  if (!d.ok) throw new Error(`${family}/${channel}: ${d.detail}`);
  return { seq: ++seq, family, channel, deviceId, msgId: d.msgId, ts: d.ts, receivedAt: d.ts + 5, qos: 1, data: d.data, extra: d.extra, ...over };
}

function simple(deviceId: string, msgId: string, ts: number, over: Partial<Reading> = {}): Reading {
  return readingFrom('elevator', 'status', deviceId, examplePayload('elevator', 'status', msgId, ts), over);
}

function letter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    id: 1, receivedAt: T0, deviceId: 'dl-dev', clientId: 'dl-dev-abc', topic: 'kitchen/dl-dev/violation', qos: 1,
    reason: 'invalid_json', detail: 'payload is not valid UTF-8', issues: null, msgId: null,
    raw: new Uint8Array([0x00, 0xff, 0xfe, 0x80, 0x7b, 0x0a, 0x00]), rawSize: 7, remoteAddress: '127.0.0.1', ...over,
  };
}

function device(id: string, over: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    id, family: 'elevator', name: `Lift ${id}`, location: { lat: 30.25, lng: 120.1667 }, district: '330106',
    meta: { registrationCode: 'R-1', arrivalDeadlineMin: 30 }, secretHash: 'ab'.repeat(32), createdAt: T0, updatedAt: T0 + 1, ...over,
  };
}

let store: DuckDbStore;
beforeAll(async () => { store = await freshStore(); });

describe('readings round trip', () => {
  it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s: typed columns, bbox, extra come back as sent', async (key, family, channel) => {
    const deviceId = `rt-${key.replace('/', '-')}`;
    const payload = { ...examplePayload(family, channel, `rt-${key}`, T0 + 123), vendorField: 'v', nested: { a: [1, 'b', null] } };
    const r = readingFrom(family, channel, deviceId, payload, { qos: 0 });
    await store.readings.appendBatch([r], []);
    const rows = await store.readings.query({ deviceId, family, channel, limit: 10 });
    expect(rows).toEqual([{
      seq: r.seq, channel, msgId: `rt-${key}`, ts: T0 + 123, receivedAt: T0 + 128, data: r.data,
      extra: { vendorField: 'v', nested: { a: [1, 'b', null] } },
    }]);
    // the data is exactly the example minus msgId/ts: every typed field is there
    const { msgId: _m, ts: _t, ...fields } = examplePayload(family, channel, 'x', T0);
    expect(rows[0]!.data).toEqual(fields);
  });

  it('absent optional fields stay absent (no nulls invented), extra null stays null', async () => {
    const r = readingFrom('kitchen', 'violation', 'rt-min', { msgId: 'min', ts: T0, storeId: 'S', type: 'rat', confidence: 0.5 });
    const hb = readingFrom('kitchen', 'heartbeat', 'rt-min', { msgId: 'hb', ts: T0 + 1 });
    await store.readings.appendBatch([r, hb], []);
    const rows = await store.readings.query({ deviceId: 'rt-min', family: 'kitchen', limit: 10 });
    expect(rows.map((x) => [x.channel, x.data, x.extra])).toEqual([
      ['violation', { storeId: 'S', type: 'rat', confidence: 0.5 }, null],
      ['heartbeat', {}, null],
    ]);
  });

  it('edge values survive: negative floors, big totalizers and pulse counts, unicode text', async () => {
    const st = readingFrom('elevator', 'status', 'rt-edge', { ...examplePayload('elevator', 'status', 'e1', T0), floor: -20, speedMps: 0.000001 });
    const txn = readingFrom('dispenser', 'txn', 'rt-edge-d', {
      ...examplePayload('dispenser', 'txn', 'd1', T0), totalizerL: 987_654_321.125, pulses: 2 ** 40, grade: '0#柴油',
    });
    await store.readings.appendBatch([st, txn], []);
    expect((await store.readings.query({ deviceId: 'rt-edge', family: 'elevator', limit: 1 }))[0]!.data).toMatchObject({ floor: -20, speedMps: 0.000001 });
    expect((await store.readings.query({ deviceId: 'rt-edge-d', family: 'dispenser', limit: 1 }))[0]!.data)
      .toMatchObject({ totalizerL: 987_654_321.125, pulses: 2 ** 40, grade: '0#柴油' });
  });

  it('a __proto__ key in extra comes back as plain data', async () => {
    const text = `{"msgId":"proto","ts":${T0},"__proto__":{"polluted":1}}`;
    const d = decodePayload('kitchen', 'heartbeat', Buffer.from(text), 1000);
    if (!d.ok) throw new Error(d.detail);
    await store.readings.appendBatch([{ seq: ++seq, family: 'kitchen', channel: 'heartbeat', deviceId: 'rt-proto', msgId: d.msgId, ts: d.ts, receivedAt: d.ts, qos: 1, data: d.data, extra: d.extra }], []);
    const [row] = await store.readings.query({ deviceId: 'rt-proto', family: 'kitchen', limit: 1 });
    expect(Object.hasOwn(row!.extra!, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('readings.query', () => {
  const id = 'q-lift';
  const times = [5, 1, 4, 2, 3].map((m) => T0 + m * 60_000);
  beforeAll(async () => {
    // out of order, in two batches, plus another device's readings
    await store.readings.appendBatch(times.slice(0, 3).map((t, i) => simple(id, `s${i}`, t)), []);
    await store.readings.appendBatch([...times.slice(3).map((t, i) => simple(id, `s${i + 3}`, t)), simple('q-other', 'o1', T0 + 3 * 60_000)], []);
    // same ts twice: seq breaks the tie
    await store.readings.appendBatch([simple(id, 'tie-a', T0 + 6 * 60_000), simple(id, 'tie-b', T0 + 6 * 60_000)], []);
  });

  it('returns the device\'s readings, newest last', async () => {
    const rows = await store.readings.query({ deviceId: id, family: 'elevator', channel: 'status', limit: 100 });
    expect(rows.map((r) => r.ts)).toEqual([1, 2, 3, 4, 5, 6, 6].map((m) => T0 + m * 60_000));
    expect(rows.slice(-2).map((r) => r.msgId)).toEqual(['tie-a', 'tie-b']);
    expect(rows.every((r, i) => i === 0 || r.seq !== rows[i - 1]!.seq)).toBe(true);
  });

  it.each([
    ['from (inclusive)', { from: T0 + 3 * 60_000 }, [3, 4, 5, 6, 6]],
    ['to (inclusive)', { to: T0 + 2 * 60_000 }, [1, 2]],
    ['from and to', { from: T0 + 2 * 60_000, to: T0 + 4 * 60_000 }, [2, 3, 4]],
    ['from just after a reading', { from: T0 + 5 * 60_000 + 1 }, [6, 6]],
    ['to just before a reading', { to: T0 + 60_000 - 1 }, []],
    ['limit keeps the newest', { limit: 3 }, [5, 6, 6]],
    ['limit 1', { limit: 1 }, [6]],
    ['from, to and limit', { from: T0 + 60_000, to: T0 + 4 * 60_000, limit: 2 }, [3, 4]],
    ['empty window', { from: T0 + 10 * 60_000 }, []],
  ] as const)('%s', async (_d, q, minutes) => {
    const rows = await store.readings.query({ deviceId: id, family: 'elevator', channel: 'status', limit: 100, ...q });
    expect(rows.map((r) => r.ts)).toEqual(minutes.map((m) => T0 + m * 60_000));
  });

  it('an unknown device gives nothing', async () => {
    expect(await store.readings.query({ deviceId: 'nobody', family: 'elevator', limit: 10 })).toEqual([]);
  });

  it('without a channel, every channel of the family is merged, newest last, limit over all', async () => {
    const dev = 'q-merge';
    await store.readings.appendBatch([
      readingFrom('elevator', 'fault', dev, examplePayload('elevator', 'fault', 'f1', T0 + 2000)),
      simple(dev, 's1', T0 + 1000),
      readingFrom('elevator', 'heartbeat', dev, examplePayload('elevator', 'heartbeat', 'h1', T0 + 3000)),
      simple(dev, 's2', T0 + 5000),
      readingFrom('elevator', 'fault', dev, examplePayload('elevator', 'fault', 'f2', T0 + 4000)),
    ], []);
    const all = await store.readings.query({ deviceId: dev, family: 'elevator', limit: 100 });
    expect(all.map((r) => `${r.channel}:${r.msgId}`)).toEqual(['status:s1', 'fault:f1', 'heartbeat:h1', 'fault:f2', 'status:s2']);
    const newest3 = await store.readings.query({ deviceId: dev, family: 'elevator', limit: 3 });
    expect(newest3.map((r) => r.msgId)).toEqual(['h1', 'f2', 's2']);
    const windowed = await store.readings.query({ deviceId: dev, family: 'elevator', from: T0 + 2000, to: T0 + 4000, limit: 100 });
    expect(windowed.map((r) => r.msgId)).toEqual(['f1', 'h1', 'f2']);
    expect((await store.readings.query({ deviceId: dev, family: 'elevator', channel: 'fault', limit: 100 })).map((r) => r.msgId)).toEqual(['f1', 'f2']);
  });

  it('a channel the family lacks gives nothing rather than another family\'s rows', async () => {
    expect(await store.readings.query({ deviceId: 'q-merge', family: 'elevator', channel: 'txn', limit: 10 })).toEqual([]);
  });
});

describe('dead letters', () => {
  let s: DuckDbStore;
  beforeAll(async () => {
    s = await freshStore();
    await s.readings.appendBatch([], [
      letter({ id: 1, receivedAt: T0 }),
      letter({
        id: 2, receivedAt: T0 + 10, reason: 'schema', detail: 'code: bad', issues: [{ path: 'code', message: 'bad' }, { path: 'bbox.2', message: 'too big' }],
        msgId: 'm-2', raw: Buffer.from('{"msgId":"m-2","code":99}'), rawSize: 25,
      }),
      letter({ id: 3, receivedAt: T0 + 20, deviceId: null, clientId: null, remoteAddress: null, topic: '', qos: 0, reason: 'packet_too_large', raw: new Uint8Array(), rawSize: 2_000_000 }),
      letter({ id: 4, receivedAt: T0 + 30, deviceId: 'dl-other', reason: 'schema' }),
    ]);
  });

  it('round trip: binary raw bytes, issues, nulls, newest first', async () => {
    const rows = await s.deadLetters.list({ limit: 10 });
    expect(rows.map((r) => r.id)).toEqual([4, 3, 2, 1]);
    const one = rows.find((r) => r.id === 1)!;
    expect(Buffer.from(one.raw)).toEqual(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7b, 0x0a, 0x00]));
    expect(one).toMatchObject({ receivedAt: T0, deviceId: 'dl-dev', clientId: 'dl-dev-abc', topic: 'kitchen/dl-dev/violation', qos: 1, reason: 'invalid_json', issues: null, msgId: null, rawSize: 7, remoteAddress: '127.0.0.1' });
    expect(rows.find((r) => r.id === 2)).toMatchObject({ issues: [{ path: 'code', message: 'bad' }, { path: 'bbox.2', message: 'too big' }], msgId: 'm-2', reason: 'schema' });
    const three = rows.find((r) => r.id === 3)!;
    expect(three).toMatchObject({ deviceId: null, clientId: null, remoteAddress: null, topic: '', rawSize: 2_000_000 });
    expect(three.raw.length).toBe(0);
    expect(await s.deadLetters.count()).toBe(4);
  });

  it.each([
    ['by device', { deviceId: 'dl-dev' }, [2, 1]],
    ['by reason', { reason: 'schema' }, [4, 2]],
    ['by device and reason', { deviceId: 'dl-dev', reason: 'schema' }, [2]],
    ['since (inclusive)', { since: T0 + 20 }, [4, 3]],
    ['limit', { limit: 2 }, [4, 3]],
    ['nothing matches', { deviceId: 'nobody' }, []],
  ] as const)('filter %s', async (_d, q, ids) => {
    expect((await s.deadLetters.list({ limit: 10, ...q })).map((r) => r.id)).toEqual(ids);
  });

  it('dead letters do not count as readings', async () => {
    expect(await s.readings.count()).toBe(0);
  });
});

describe('devices', () => {
  let s: DuckDbStore;
  beforeAll(async () => { s = await freshStore(); });

  it('insert, load (ordered by id), update', async () => {
    await s.devices.insert([device('lift-b'), device('lift-a', { location: null, name: null, district: null, meta: {}, family: 'kitchen' })]);
    let all = await s.devices.load();
    expect(all).toEqual([device('lift-a', { location: null, name: null, district: null, meta: {}, family: 'kitchen' }), device('lift-b')]);
    const changed = device('lift-b', { name: 'Renamed', location: { lat: -33.5, lng: 151.25 }, district: '110101001', meta: { rescueCode: '96333-1' }, secretHash: 'cd'.repeat(32), updatedAt: T0 + 99 });
    await s.devices.update(changed);
    all = await s.devices.load();
    expect(all.find((d) => d.id === 'lift-b')).toEqual(changed);
    expect(all).toHaveLength(2);
  });

  it('a batch insert with a duplicate id fails as a whole', async () => {
    await expect(s.devices.insert([device('lift-c'), device('lift-a')])).rejects.toThrow();
    expect((await s.devices.load()).map((d) => d.id)).toEqual(['lift-a', 'lift-b']);
    // the control connection is usable afterwards
    await s.devices.insert([device('lift-c')]);
    expect((await s.devices.load()).map((d) => d.id)).toEqual(['lift-a', 'lift-b', 'lift-c']);
  });

  it('updating an unknown id changes nothing', async () => {
    await s.devices.update(device('ghost'));
    expect((await s.devices.load()).map((d) => d.id)).not.toContain('ghost');
  });
});

describe('connection states', () => {
  let s: DuckDbStore;
  beforeAll(async () => { s = await freshStore(); });
  const st = (deviceId: string, over: Partial<ConnectionState> = {}): ConnectionState => ({
    deviceId, connected: true, lastSeen: T0 + 3, lastConnectedAt: T0 + 1, lastDisconnectedAt: null, remoteAddress: '10.0.0.7', ...over,
  });

  it('upserts: a second save replaces the first for the same device', async () => {
    await s.devices.saveConnectionStates([st('a'), st('b', { connected: false, lastSeen: null, lastConnectedAt: null, remoteAddress: null })]);
    await s.devices.saveConnectionStates([st('a', { connected: false, lastDisconnectedAt: T0 + 9, lastSeen: T0 + 8 })]);
    await s.devices.saveConnectionStates([]);
    const rows = (await s.devices.loadConnectionStates()).sort((x, y) => x.deviceId.localeCompare(y.deviceId));
    expect(rows).toEqual([
      st('a', { connected: false, lastDisconnectedAt: T0 + 9, lastSeen: T0 + 8 }),
      st('b', { connected: false, lastSeen: null, lastConnectedAt: null, remoteAddress: null }),
    ]);
  });
});

describe('users and settings', () => {
  let s: DuckDbStore;
  beforeAll(async () => { s = await freshStore(); });
  const user = (username: string, role: UserRecord['role']): UserRecord => ({ username, role, passwordHash: `scrypt$${username}`, createdAt: T0, disabled: false });

  it('users: unknown is null, insert, get, list sorted, duplicate refused', async () => {
    expect(await s.accounts.getUser('op')).toBeNull();
    await s.accounts.insertUser(user('zed', 'dispatcher'));
    await s.accounts.insertUser(user('op', 'operator'));
    expect(await s.accounts.getUser('op')).toEqual(user('op', 'operator'));
    expect(await s.accounts.getUser('OP')).toBeNull();
    expect((await s.accounts.listUsers()).map((u) => u.username)).toEqual(['op', 'zed']);
    await expect(s.accounts.insertUser(user('op', 'admin'))).rejects.toThrow();
    expect((await s.accounts.getUser('op'))!.role).toBe('operator');
  });

  it('settings: unknown is null, set, overwrite', async () => {
    expect(await s.settings.get('token_key')).toBeNull();
    await s.settings.set('token_key', 'v1');
    expect(await s.settings.get('token_key')).toBe('v1');
    await s.settings.set('token_key', 'v2');
    expect(await s.settings.get('token_key')).toBe('v2');
    await s.settings.set('other', '');
    expect(await s.settings.get('other')).toBe('');
  });
});

describe('sequences and recent keys', () => {
  it('lastSequences: zero on an empty store, then the max over every table', async () => {
    const s = await freshStore();
    expect(await s.readings.lastSequences()).toEqual({ readingSeq: 0, deadLetterId: 0 });
    await s.readings.appendBatch([
      simple('seq-a', 'a', T0, { seq: 7 }),
      readingFrom('dispenser', 'tank', 'seq-b', examplePayload('dispenser', 'tank', 'b', T0), { seq: 42 }),
      readingFrom('kitchen', 'heartbeat', 'seq-c', examplePayload('kitchen', 'heartbeat', 'c', T0), { seq: 9 }),
    ], [letter({ id: 5 }), letter({ id: 3 })]);
    expect(await s.readings.lastSequences()).toEqual({ readingSeq: 42, deadLetterId: 5 });
    expect(await s.readings.count()).toBe(3);
  });

  it('recentMessageKeys: received at or after since, newest first, at most max, across channels', async () => {
    const s = await freshStore();
    await s.readings.appendBatch([
      simple('rk-1', 'old', T0, { receivedAt: T0 }),
      simple('rk-1', 'mid', T0, { receivedAt: T0 + 10 }),
      readingFrom('kitchen', 'violation', 'rk-2', examplePayload('kitchen', 'violation', 'k', T0), { receivedAt: T0 + 20 }),
      readingFrom('cylinder', 'heartbeat', 'rk-3', examplePayload('cylinder', 'heartbeat', 'h', T0), { receivedAt: T0 + 30 }),
    ], [letter({ receivedAt: T0 + 40 })]);
    expect(await s.readings.recentMessageKeys(T0 + 10, 100)).toEqual([['rk-3', 'h'], ['rk-2', 'k'], ['rk-1', 'mid']]);
    expect(await s.readings.recentMessageKeys(T0, 2)).toEqual([['rk-3', 'h'], ['rk-2', 'k']]);
    expect(await s.readings.recentMessageKeys(T0 + 31, 100)).toEqual([]);
  });
});

describe('readings.after', () => {
  it('never lets a later seq of one table overtake an earlier one of another, and looks past readings of deleted devices', async () => {
    const s = await freshStore();
    await s.devices.insert([device('ra-lift'), device('ra-cam', { family: 'kitchen' })]);
    const status = (n: number, id: string) => simple(id, `s${n}`, T0 + n, { seq: n });
    const rows: Reading[] = [];
    for (let n = 1; n <= 10; n++) rows.push(status(n, 'ra-lift'));
    for (let n = 11; n <= 29; n++) rows.push(status(n, 'ra-ghost')); // no longer registered
    for (let n = 30; n <= 40; n++) rows.push(status(n, 'ra-lift'));
    for (let n = 41; n <= 60; n++) rows.push(readingFrom('kitchen', 'heartbeat', 'ra-cam', examplePayload('kitchen', 'heartbeat', `h${n}`, T0 + n), { seq: n }));
    await s.readings.appendBatch(rows, []);
    const seen: number[] = [];
    let after = 0;
    for (let calls = 0; calls < 20; calls++) {
      const batch = await s.readings.after(after, 15);
      if (!batch.length) break;
      seen.push(...batch.map((r) => r.seq));
      after = batch[batch.length - 1]!.seq;
    }
    expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 31 }, (_, i) => i + 30)]);
  });
});

describe('close and reopen', () => {
  it('keeps everything, and the migration does not run again', async () => {
    const file = tempFile();
    const s = new DuckDbStore(file);
    await s.open();
    const r = readingFrom('kitchen', 'violation', 'keep-1', { ...examplePayload('kitchen', 'violation', 'kv', T0), extraField: 1 });
    await s.readings.appendBatch([r], [letter({ id: 11 })]);
    await s.devices.insert([device('keep-1', { family: 'kitchen', meta: {} })]);
    await s.devices.saveConnectionStates([{ deviceId: 'keep-1', connected: true, lastSeen: T0, lastConnectedAt: T0, lastDisconnectedAt: null, remoteAddress: null }]);
    await s.accounts.insertUser({ username: 'u1', role: 'operator', passwordHash: 'h', createdAt: T0, disabled: false });
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
      expect(await again.accounts.getUser('u1')).toMatchObject({ role: 'operator' });
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
      expect(await s.alerts.outcomes({ from: T0, to: T0 + 1, limit: 10 })).toEqual([{
        id: 'old-1', family: 'kitchen', status: 'acknowledged', firstSeen: T0, device: { district: '330106' },
        deadlines: { ackBy: T0 + 300_000, resolveBy: T0 + 7_200_000, acknowledgedAt: T0 + 60_000, resolvedAt: null },
      }]);
      // the priority order reads the deadline column: acknowledged, so its resolve deadline
      expect((await s.alerts.query({ sort: 'priority', after: [0, T0 + 7_200_000, -T0, 'old-0'], limit: 5 })).map((x) => x.id)).toEqual(['old-1']);
      expect(await s.alerts.query({ sort: 'priority', after: [0, T0 + 7_200_000, -T0, 'old-1'], limit: 5 })).toEqual([]);
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

describe('bulk writes within the memory limit', () => {
  const alert = (i: number, count = 1) => ({
    ...openAlert(`a-${i}`, {
      type: 'raise', rule: 'kitchen.violation', family: 'kitchen', deviceId: `cam-${i}`, condition: 'rat', severity: 'major', windowMs: 600_000,
      summary: 'rat', params: { type: 'rat' }, evidence: { seqs: [i], values: { note: 'x'.repeat(300) } }, at: T0 + i,
    }, { id: `cam-${i}`, name: null, district: '330106', location: null, meta: { storeId: `S-${i % 50}` } }, defaultDeadlinePolicy).alert,
    count,
  });

  it('one engine checkpoint of 5,000 changed alerts, twice (insert, then update in place), at a 128 MB DuckDB limit', async () => {
    // DuckDB's ON CONFLICT once per row held ~400 KB a row until COMMIT: 3,000 alerts passed 512 MB
    const s = new DuckDbStore(tempFile(), { memoryLimit: '128MB' });
    await s.open();
    stores.push(s);
    const alerts = Array.from({ length: 5000 }, (_v, i) => alert(i));
    const timeline = alerts.map((a) => ({ alertId: a.id, entry: { n: 0, at: a.firstSeen, by: 'system', action: 'opened' as const } }));
    await s.alerts.saveCheckpoint({ lastSeq: 1, ruleStates: {}, alerts, timeline, cases: [] });
    await s.alerts.saveCheckpoint({ lastSeq: 2, ruleStates: {}, alerts: alerts.map((a) => ({ ...a, count: 2 })), timeline: [], cases: [] });
    expect((await s.alerts.query({ limit: 10_000 })).map((a) => a.count)).toEqual(Array(5000).fill(2));
    expect(await s.alerts.timeline('a-4999', 10)).toEqual([{ n: 0, at: T0 + 4999, by: 'system', action: 'opened' }]);
  });

  it('a cylinder import of 20,000 records in one go; a code given twice keeps the last', async () => {
    const s = new DuckDbStore(tempFile(), { memoryLimit: '128MB' });
    await s.open();
    stores.push(s);
    const rec = (i: number, status = 'in_service') => ({ code: `C${i}`, ownerStationId: 'ST-1', status, note: 'y'.repeat(200) }) as unknown as CylinderRecord;
    await s.cylinders.upsert(Array.from({ length: 20_000 }, (_v, i) => rec(i)));
    await s.cylinders.upsert([rec(0, 'retired'), rec(1), rec(0, 'scrapped')]);
    const all = await s.cylinders.load();
    expect(all).toHaveLength(20_000);
    expect(all.find((r) => r.code === 'C0')!.status).toBe('scrapped');
  });
});

describe('checkpoints (checkpointIfDue)', () => {
  const walBytes = (file: string): number => { try { return statSync(`${file}.wal`).size; } catch { return 0; } };
  const fill = async (s: DuckDbStore, device: string, batches: number): Promise<void> => {
    const base = simple(device, 'base', T0);
    for (let b = 0; b < batches; b++) await s.readings.appendBatch(Array.from({ length: 500 }, (_, i) => ({ ...base, seq: ++seq, msgId: `${device}-${b}-${i}`, ts: T0 + b * 1000 + i })), []);
  };

  it('folds the WAL into the file once it passes the threshold, off the commit, and keeps every reading', async () => {
    const file = tempFile();
    const s = new DuckDbStore(file, { checkpointWalBytes: 256 * 1024 });
    await s.open();
    stores.push(s);
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
    const s = new DuckDbStore(file, { checkpointWalBytes: 256 * 1024 });
    await s.open();
    stores.push(s);
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
    const s = new DuckDbStore(file, { checkpointWalBytes: 1 << 30 });
    await s.open();
    stores.push(s);
    for (let i = 0; walBytes(file) <= 17 * 1024 * 1024 && i < 100; i++) await fill(s, `ck-2-${i}`, 10);
    expect(walBytes(file)).toBeGreaterThan(17 * 1024 * 1024);
    expect(s.checkpointStatus().checkpoints).toBe(0);
  });
});
