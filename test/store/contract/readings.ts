/**
 * The readings repository's contract (store/types.ts ReadingRepository), for every store:
 * readings of every channel round trip through their typed columns (absent fields absent, bbox,
 * extra with __proto__ as data, hostile text and U+0000 exactly), queries order and window
 * correctly, history buckets, the last sequences and recent message keys span every table, and
 * `after` pages by seq past readings of deleted devices. The opener gives a store's readings,
 * dead letters and devices (the registry `after` and the district filter read).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '../../../ingest/decode.js';
import { channelList } from '../../../core/schemas/index.js';
import { examplePayload } from '../../../core/schemas/examples.js';
import type { DeadLetterRepository, DeviceRepository, Reading, ReadingRepository } from '../../../store/types.js';
import { T0, device, letter, nextSeq, readingFrom, simple } from '../duckdb/fixtures.js';
import type { Open } from './harness.js';

export interface ReadingStores {
  readings: ReadingRepository;
  deadLetters: DeadLetterRepository;
  devices: DeviceRepository;
}

/** Text that breaks a careless encoding: COPY's delimiters and escapes, NULL's spelling, U+0000, the PostgreSQL store's escape mark, emoji. */
export const hostile = ['tab\there', 'line\nbreak', 'cr\rhere', 'back\\slash', '\\N', '\\.', 'a\\', '\u0000', 'nul\u0000mid', '\uE000', '\uE000\uE002', '🚒消防通道', ''] as const;

export function readingsContract(store: string, open: Open<ReadingStores>): void {
  describe(`readings repository (${store})`, () => {
    let s: ReadingStores;
    beforeAll(async () => { s = (await open()).repo; });

    describe('round trip', () => {
      it.each(channelList.map((c) => [c.key, c.family, c.channel] as const))('%s: typed columns, bbox, extra come back as sent', async (key, family, channel) => {
        const deviceId = `rt-${key.replace('/', '-')}`;
        const payload = { ...examplePayload(family, channel, `rt-${key}`, T0 + 123), vendorField: 'v', nested: { a: [1, 'b', null] } };
        const r = readingFrom(family, channel, deviceId, payload, { qos: 0 });
        await s.readings.appendBatch([r], []);
        const rows = await s.readings.query({ deviceId, family, channel, limit: 10 });
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
        await s.readings.appendBatch([r, hb], []);
        const rows = await s.readings.query({ deviceId: 'rt-min', family: 'kitchen', limit: 10 });
        expect(rows.map((x) => [x.channel, x.data, x.extra])).toEqual([
          ['violation', { storeId: 'S', type: 'rat', confidence: 0.5 }, null],
          ['heartbeat', {}, null],
        ]);
      });

      it('edge values survive: negative floors, big totalizers and pulse counts, tiny doubles, unicode text', async () => {
        const st = readingFrom('elevator', 'status', 'rt-edge', { ...examplePayload('elevator', 'status', 'e1', T0), floor: -20, speedMps: 0.000001 });
        const txn = readingFrom('dispenser', 'txn', 'rt-edge-d', {
          ...examplePayload('dispenser', 'txn', 'd1', T0), totalizerL: 987_654_321.125, pulses: 2 ** 40, grade: '0#柴油', durationS: 1e-300,
        });
        const tank = readingFrom('dispenser', 'tank', 'rt-edge-d', { ...examplePayload('dispenser', 'tank', 'd2', T0 + 1), tempC: -40.5, waterMm: 0 });
        await s.readings.appendBatch([st, txn, tank], []);
        expect((await s.readings.query({ deviceId: 'rt-edge', family: 'elevator', limit: 1 }))[0]!.data).toMatchObject({ floor: -20, speedMps: 0.000001 });
        const [t1, t2] = await s.readings.query({ deviceId: 'rt-edge-d', family: 'dispenser', limit: 2 });
        expect(t1!.data).toMatchObject({ totalizerL: 987_654_321.125, pulses: 2 ** 40, grade: '0#柴油', durationS: 1e-300 });
        expect(t2!.data).toMatchObject({ tempC: -40.5, waterMm: 0 });
      });

      it('a __proto__ key in extra comes back as plain data', async () => {
        const text = `{"msgId":"proto","ts":${T0},"__proto__":{"polluted":1}}`;
        const d = decodePayload('kitchen', 'heartbeat', Buffer.from(text), 1000);
        if (!d.ok) throw new Error(d.detail);
        await s.readings.appendBatch([{ seq: nextSeq(), family: 'kitchen', channel: 'heartbeat', deviceId: 'rt-proto', msgId: d.msgId, ts: d.ts, receivedAt: d.ts, qos: 1, data: d.data, extra: d.extra }], []);
        const [row] = await s.readings.query({ deviceId: 'rt-proto', family: 'kitchen', limit: 1 });
        expect(Object.hasOwn(row!.extra!, '__proto__')).toBe(true);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      });

      it('hostile text in every kind of text column comes back exactly, U+0000 included, without failing the rest of the batch', async () => {
        // as a device sends them: JSON escapes, decoded by ingest (U+0000 passes validation)
        const rows = hostile.map((h, i) => readingFrom('kitchen', 'violation', 'rt-hostile', {
          msgId: `m${i}${h}`, ts: T0 + i, storeId: `S${h}`, type: 'rat', confidence: 0.5, area: h, snapshotUrl: `${h}|${h}`, vendor: h, [`k${h}`]: [h],
        }));
        const plain = simple('rt-hostile-lift', 'plain', T0);
        await s.readings.appendBatch([...rows, plain], []);
        const back = await s.readings.query({ deviceId: 'rt-hostile', family: 'kitchen', channel: 'violation', limit: 100 });
        expect(back.map((r) => [r.msgId, r.data, r.extra])).toEqual(rows.map((r) => [r.msgId, r.data, JSON.parse(r.extra!)]));
        expect(back.find((r) => r.msgId === 'm4\\N')!.data.area).toBe('\\N'); // text, not NULL
        expect(await s.readings.query({ deviceId: 'rt-hostile-lift', family: 'elevator', limit: 10 })).toHaveLength(1);
        const keys = await s.readings.recentMessageKeys(T0, 1000);
        for (const r of rows) expect(keys).toContainEqual(['rt-hostile', r.msgId]);
      });
    });

    it('a lone surrogate (JSON "\\ud800", valid to JSON.parse) is stored as U+FFFD; the batch goes in', async () => {
      const r = readingFrom('kitchen', 'violation', 'rt-surrogate', { msgId: 'ls', ts: T0, storeId: 'S', type: 'rat', confidence: 0.5, area: 'a\ud800b' });
      expect(r.data.area).toBe('a\ud800b');
      await s.readings.appendBatch([r], []);
      expect((await s.readings.query({ deviceId: 'rt-surrogate', family: 'kitchen', limit: 1 }))[0]!.data.area).toBe('a\uFFFDb');
    });

    describe('query', () => {
      const id = 'q-lift';
      const times = [5, 1, 4, 2, 3].map((m) => T0 + m * 60_000);
      beforeAll(async () => {
        // out of order, in two batches, plus another device's readings
        await s.readings.appendBatch(times.slice(0, 3).map((t, i) => simple(id, `s${i}`, t)), []);
        await s.readings.appendBatch([...times.slice(3).map((t, i) => simple(id, `s${i + 3}`, t)), simple('q-other', 'o1', T0 + 3 * 60_000)], []);
        // same ts twice: seq breaks the tie
        await s.readings.appendBatch([simple(id, 'tie-a', T0 + 6 * 60_000), simple(id, 'tie-b', T0 + 6 * 60_000)], []);
      });

      it('returns the device\'s readings, newest last', async () => {
        const rows = await s.readings.query({ deviceId: id, family: 'elevator', channel: 'status', limit: 100 });
        expect(rows.map((r) => r.ts)).toEqual([1, 2, 3, 4, 5, 6, 6].map((m) => T0 + m * 60_000));
        expect(rows.slice(-2).map((r) => r.msgId)).toEqual(['tie-a', 'tie-b']);
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
        const rows = await s.readings.query({ deviceId: id, family: 'elevator', channel: 'status', limit: 100, ...q });
        expect(rows.map((r) => r.ts)).toEqual(minutes.map((m) => T0 + m * 60_000));
      });

      it('an unknown device gives nothing', async () => {
        expect(await s.readings.query({ deviceId: 'nobody', family: 'elevator', limit: 10 })).toEqual([]);
      });

      it('without a channel, every channel of the family is merged, newest last, limit over all', async () => {
        const dev = 'q-merge';
        await s.readings.appendBatch([
          readingFrom('elevator', 'fault', dev, examplePayload('elevator', 'fault', 'f1', T0 + 2000)),
          simple(dev, 's1', T0 + 1000),
          readingFrom('elevator', 'heartbeat', dev, examplePayload('elevator', 'heartbeat', 'h1', T0 + 3000)),
          simple(dev, 's2', T0 + 5000),
          readingFrom('elevator', 'fault', dev, examplePayload('elevator', 'fault', 'f2', T0 + 4000)),
        ], []);
        const all = await s.readings.query({ deviceId: dev, family: 'elevator', limit: 100 });
        expect(all.map((r) => `${r.channel}:${r.msgId}`)).toEqual(['status:s1', 'fault:f1', 'heartbeat:h1', 'fault:f2', 'status:s2']);
        expect((await s.readings.query({ deviceId: dev, family: 'elevator', limit: 3 })).map((r) => r.msgId)).toEqual(['h1', 'f2', 's2']);
        const windowed = await s.readings.query({ deviceId: dev, family: 'elevator', from: T0 + 2000, to: T0 + 4000, limit: 100 });
        expect(windowed.map((r) => r.msgId)).toEqual(['f1', 'h1', 'f2']);
        expect((await s.readings.query({ deviceId: dev, family: 'elevator', channel: 'fault', limit: 100 })).map((r) => r.msgId)).toEqual(['f1', 'f2']);
      });

      it('a channel the family lacks gives nothing rather than another family\'s rows', async () => {
        expect(await s.readings.query({ deviceId: 'q-merge', family: 'elevator', channel: 'txn', limit: 10 })).toEqual([]);
      });
    });

    describe('history', () => {
      const dev = 'h-lift';
      beforeAll(async () => {
        // speeds 0..9 a minute apart; door closed on even minutes; another device's readings
        await s.readings.appendBatch([
          ...Array.from({ length: 10 }, (_, i) => simple(dev, `h${i}`, T0 + i * 60_000, { data: { ...simple(dev, 'x', T0).data, speedMps: i, doorClosed: i % 2 === 0 } })),
          simple('h-other', 'o', T0, { data: { ...simple(dev, 'x', T0).data, speedMps: 100 } }),
        ], []);
      });

      it('buckets min/max/avg/n from `from`, to exclusive', async () => {
        const b = await s.readings.history!({ deviceId: dev, family: 'elevator', channel: 'status', field: 'speedMps', from: T0 + 30_000, to: T0 + 9 * 60_000, bucketMs: 180_000 });
        // buckets start at from: [0.5, 3.5) min, [3.5, 6.5), [6.5, 9) (minute 9 is at `to`: out)
        expect(b).toEqual([
          { t: T0 + 30_000, min: 1, max: 3, avg: 2, n: 3 },
          { t: T0 + 210_000, min: 4, max: 6, avg: 5, n: 3 },
          { t: T0 + 390_000, min: 7, max: 8, avg: 7.5, n: 2 },
        ]);
      });

      it('a boolean field counts as 0/1; an unknown or text field gives nothing', async () => {
        const b = await s.readings.history!({ deviceId: dev, family: 'elevator', channel: 'status', field: 'doorClosed', from: T0, to: T0 + 4 * 60_000, bucketMs: 120_000 });
        expect(b).toEqual([{ t: T0, min: 0, max: 1, avg: 0.5, n: 2 }, { t: T0 + 120_000, min: 0, max: 1, avg: 0.5, n: 2 }]);
        expect(await s.readings.history!({ deviceId: dev, family: 'elevator', channel: 'status', field: 'nope', from: T0, to: T0 + 1e6, bucketMs: 1000 })).toEqual([]);
        expect(await s.readings.history!({ deviceId: dev, family: 'elevator', channel: 'status', field: 'direction', from: T0, to: T0 + 1e6, bucketMs: 1000 })).toEqual([]);
      });
    });

    describe('sequences, recent keys, count', () => {
      it('lastSequences: zero on an empty store, then the max over every table and dead letter', async () => {
        const f = (await open()).repo;
        expect(await f.readings.lastSequences()).toEqual({ readingSeq: 0, deadLetterId: 0 });
        await f.readings.appendBatch([
          simple('seq-a', 'a', T0, { seq: 7 }),
          readingFrom('dispenser', 'tank', 'seq-b', examplePayload('dispenser', 'tank', 'b', T0), { seq: 42 }),
          readingFrom('kitchen', 'heartbeat', 'seq-c', examplePayload('kitchen', 'heartbeat', 'c', T0), { seq: 9 }),
        ], [letter({ id: 3 }), letter({ id: 5 })]);
        expect(await f.readings.lastSequences()).toEqual({ readingSeq: 42, deadLetterId: 5 });
        expect(await f.readings.count()).toBe(3);
        expect(await f.deadLetters.count()).toBe(2);
      });

      it('recentMessageKeys: received at or after since, newest first, at most max, across channels', async () => {
        const f = (await open()).repo;
        await f.readings.appendBatch([
          simple('rk-1', 'old', T0, { receivedAt: T0 }),
          simple('rk-1', 'mid', T0, { receivedAt: T0 + 10 }),
          readingFrom('kitchen', 'violation', 'rk-2', examplePayload('kitchen', 'violation', 'k', T0), { receivedAt: T0 + 20 }),
          readingFrom('cylinder', 'heartbeat', 'rk-3', examplePayload('cylinder', 'heartbeat', 'h', T0), { receivedAt: T0 + 30 }),
        ], [letter({ receivedAt: T0 + 40 })]);
        expect(await f.readings.recentMessageKeys(T0 + 10, 100)).toEqual([['rk-3', 'h'], ['rk-2', 'k'], ['rk-1', 'mid']]);
        expect(await f.readings.recentMessageKeys(T0, 2)).toEqual([['rk-3', 'h'], ['rk-2', 'k']]);
        expect(await f.readings.recentMessageKeys(T0 + 31, 100)).toEqual([]);
      });
    });

    describe('after', () => {
      it('never lets a later seq of one table overtake an earlier one of another, and looks past readings of deleted devices', async () => {
        const f = (await open()).repo;
        await f.devices.insert([device('ra-lift'), device('ra-cam', { family: 'kitchen' })]);
        const status = (n: number, devId: string): Reading => simple(devId, `s${n}`, T0 + n, { seq: n });
        const rows: Reading[] = [];
        for (let n = 1; n <= 10; n++) rows.push(status(n, 'ra-lift'));
        for (let n = 11; n <= 29; n++) rows.push(status(n, 'ra-ghost')); // no longer registered
        for (let n = 30; n <= 40; n++) rows.push(status(n, 'ra-lift'));
        for (let n = 41; n <= 60; n++) rows.push(readingFrom('kitchen', 'heartbeat', 'ra-cam', examplePayload('kitchen', 'heartbeat', `h${n}`, T0 + n), { seq: n }));
        await f.readings.appendBatch(rows, []);
        const seen: number[] = [];
        let after = 0;
        for (let calls = 0; calls < 20; calls++) {
          const batch = await f.readings.after(after, 15);
          if (!batch.length) break;
          expect(batch.length).toBeLessThanOrEqual(15);
          seen.push(...batch.map((r) => r.seq));
          after = batch[batch.length - 1]!.seq;
        }
        expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => i + 1), ...Array.from({ length: 31 }, (_, i) => i + 30)]);
      });

      it('gives whole readings with the family from the registry (heartbeats of every family share a table)', async () => {
        const f = (await open()).repo;
        await f.devices.insert([device('af-cam', { family: 'kitchen' }), device('af-disp', { family: 'dispenser' })]);
        const hb = readingFrom('kitchen', 'heartbeat', 'af-cam', { ...examplePayload('kitchen', 'heartbeat', 'h1', T0), vendor: 'x' }, { seq: 1, qos: 0 });
        const hb2 = readingFrom('dispenser', 'heartbeat', 'af-disp', examplePayload('dispenser', 'heartbeat', 'h2', T0), { seq: 2 });
        const txn = readingFrom('dispenser', 'txn', 'af-disp', examplePayload('dispenser', 'txn', 't3', T0 + 1), { seq: 3 });
        await f.readings.appendBatch([txn, hb2, hb], []);
        expect(await f.readings.after(0, 10)).toEqual([hb, hb2, txn]);
        expect(await f.readings.after(2, 10)).toEqual([txn]);
        expect(await f.readings.after(3, 10)).toEqual([]);
      });
    });
  });
}
