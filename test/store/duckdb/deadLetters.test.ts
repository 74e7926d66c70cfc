/**
 * The dead-letter repository (store/duckdb/deadLetters.ts) in a temp dir: dead letters
 * committed with a readings batch round trip (raw bytes, issues, nulls), filter newest first
 * (device, reason, time range, ids, keyset paging by id),
 * and do not count as readings.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import { T0, freshStore, letter } from './fixtures.js';

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
    ['until (exclusive)', { until: T0 + 20 }, [2, 1]],
    ['before an id (the next page)', { before: 3 }, [2, 1]],
    ['these ids', { ids: [4, 1, 99] }, [4, 1]],
    ['no ids', { ids: [] }, []],
    ['limit', { limit: 2 }, [4, 3]],
    ['nothing matches', { deviceId: 'nobody' }, []],
  ] as const)('filter %s', async (_d, q, ids) => {
    expect((await s.deadLetters.list({ limit: 10, ...q })).map((r) => r.id)).toEqual(ids);
  });

  it('dead letters do not count as readings', async () => {
    expect(await s.readings.count()).toBe(0);
  });
});
