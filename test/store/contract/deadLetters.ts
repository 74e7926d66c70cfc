/**
 * The dead-letter repository's contract (store/types.ts DeadLetterRepository), for every
 * store: dead letters committed with a readings batch round trip (raw bytes, issues, nulls,
 * hostile text), filter newest first (device, district, reason, time range, ids, keyset paging
 * by id), and do not count as readings. On a new store the ids read back are the batch's
 * numbers (PostgreSQL's cluster ids are drawn in batch order from 1).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { T0, device, letter } from '../duckdb/fixtures.js';
import type { Open } from './harness.js';
import { hostile, type ReadingStores } from './readings.js';

export function deadLettersContract(store: string, open: Open<ReadingStores>): void {
  describe(`dead-letter repository (${store})`, () => {
    let s: ReadingStores;
    beforeAll(async () => {
      s = (await open()).repo;
      await s.devices.insert([device('dl-dev', { district: '330106' }), device('dl-other', { district: '330102' }), device('dl-nodistrict', { district: null })]);
      await s.readings.appendBatch([], [
        letter({ id: 1, receivedAt: T0 }),
        letter({
          id: 2, receivedAt: T0 + 10, reason: 'schema', detail: 'code: bad', issues: [{ path: 'code', message: 'bad' }, { path: 'bbox.2', message: 'too big' }],
          msgId: 'm-2', raw: Buffer.from('{"msgId":"m-2","code":99}'), rawSize: 25,
        }),
        letter({ id: 3, receivedAt: T0 + 20, deviceId: null, clientId: null, remoteAddress: null, topic: '', qos: 0, reason: 'packet_too_large', raw: new Uint8Array(), rawSize: 2_000_000 }),
        letter({ id: 4, receivedAt: T0 + 30, deviceId: 'dl-other', reason: 'schema' }),
        letter({ id: 5, receivedAt: T0 + 40, deviceId: 'dl-nodistrict', reason: 'rate_limited' }),
      ]);
    });

    it('round trip: binary raw bytes, issues, nulls, newest first', async () => {
      const rows = await s.deadLetters.list({ limit: 10 });
      expect(rows.map((r) => r.id)).toEqual([5, 4, 3, 2, 1]);
      const one = rows.find((r) => r.id === 1)!;
      expect(Buffer.from(one.raw)).toEqual(Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x7b, 0x0a, 0x00]));
      expect(one).toMatchObject({ receivedAt: T0, deviceId: 'dl-dev', clientId: 'dl-dev-abc', topic: 'kitchen/dl-dev/violation', qos: 1, reason: 'invalid_json', issues: null, msgId: null, rawSize: 7, remoteAddress: '127.0.0.1' });
      expect(rows.find((r) => r.id === 2)).toMatchObject({ issues: [{ path: 'code', message: 'bad' }, { path: 'bbox.2', message: 'too big' }], msgId: 'm-2', reason: 'schema' });
      const three = rows.find((r) => r.id === 3)!;
      expect(three).toMatchObject({ deviceId: null, clientId: null, remoteAddress: null, topic: '', rawSize: 2_000_000 });
      expect(three.raw.length).toBe(0);
      expect(await s.deadLetters.count()).toBe(5);
    });

    it.each([
      ['by device', { deviceId: 'dl-dev' }, [2, 1]],
      ['by reason', { reason: 'schema' }, [4, 2]],
      ['by device and reason', { deviceId: 'dl-dev', reason: 'schema' }, [2]],
      ['by district (a prefix of the registered device\'s)', { district: '3301' }, [4, 2, 1]],
      ['by district, exactly', { district: '330102' }, [4]],
      ['by district: none of it', { district: '44' }, []],
      ['by district and reason', { district: '330106', reason: 'schema' }, [2]],
      ['since (inclusive)', { since: T0 + 20 }, [5, 4, 3]],
      ['until (exclusive)', { until: T0 + 20 }, [2, 1]],
      ['before an id (the next page)', { before: 3 }, [2, 1]],
      ['these ids', { ids: [4, 1, 99] }, [4, 1]],
      ['these ids, before one', { ids: [4, 2, 1], before: 4 }, [2, 1]],
      ['no ids', { ids: [] }, []],
      ['limit', { limit: 2 }, [5, 4]],
      ['nothing matches', { deviceId: 'nobody' }, []],
    ] as const)('filter %s', async (_d, q, ids) => {
      expect((await s.deadLetters.list({ limit: 10, ...q })).map((r) => r.id)).toEqual(ids);
    });

    it('an empty district prefix keeps those naming a registered device, with or without a district', async () => {
      expect((await s.deadLetters.list({ limit: 10, district: '' })).map((r) => r.id)).toEqual([5, 4, 2, 1]);
    });

    it('dead letters do not count as readings', async () => {
      expect(await s.readings.count()).toBe(0);
    });

    it('hostile text and U+0000 in every text field come back exactly', async () => {
      const f = (await open()).repo;
      const letters = hostile.map((h, i) => letter({
        id: i + 1, receivedAt: T0 + i, deviceId: `d${h}`, clientId: h, topic: `t/${h}`, reason: `r${h}`, detail: `payload is not JSON: ${h}`,
        issues: [{ path: h, message: h }], msgId: h, remoteAddress: h,
      }));
      await f.readings.appendBatch([], letters);
      const back = await f.deadLetters.list({ limit: 100 });
      expect(back.reverse().map(({ raw, ...rest }) => ({ ...rest, raw: Buffer.from(raw) }))).toEqual(letters.map((d) => ({ ...d, raw: Buffer.from(d.raw) })));
      expect((await f.deadLetters.list({ limit: 100, deviceId: 'd\u0000' })).map((d) => d.msgId)).toEqual(['\u0000']);
      expect((await f.deadLetters.list({ limit: 100, reason: 'r\\N' })).map((d) => d.msgId)).toEqual(['\\N']);
    });
  });
}
