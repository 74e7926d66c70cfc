/**
 * The readings repository (store/duckdb/readings.ts) in a temp dir: readings of every channel
 * round trip through their typed columns, queries order and window correctly, the last
 * sequences and recent message keys span every table, and `after` pages by seq.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../../ingest/decode.js';
import { channelList } from '../../../core/schemas/index.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import type { Reading } from '../../../store/types.js';
import { T0, device, freshStore, letter, nextSeq, readingFrom, simple } from './fixtures.js';

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
    await store.readings.appendBatch([{ seq: nextSeq(), family: 'kitchen', channel: 'heartbeat', deviceId: 'rt-proto', msgId: d.msgId, ts: d.ts, receivedAt: d.ts, qos: 1, data: d.data, extra: d.extra }], []);
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
