/**
 * The device repository's contract (store/types.ts DeviceRepository), for every store: the
 * registry (insert, load in id order, update; a batch insert is all or nothing), text and JSON
 * that come back as they went in, a staged import (DeviceImportWriter: nothing visible before
 * the commit, all or nothing, one at a time), and the devices' connection states (upserted).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionState, DeviceRecord, DeviceRepository } from '../../../store/types.js';
import { T0, device } from '../duckdb/fixtures.js';
import type { Open } from './harness.js';

export function devicesContract(store: string, open: Open<DeviceRepository>): void {
  describe(`devices (${store})`, () => {
    let devices: DeviceRepository;
    beforeAll(async () => { devices = (await open()).repo; });

    it('insert, load (ordered by id), update', async () => {
      await devices.insert([device('lift-b'), device('lift-a', { location: null, name: null, district: null, meta: {}, family: 'kitchen' })]);
      let all = await devices.load();
      expect(all).toEqual([device('lift-a', { location: null, name: null, district: null, meta: {}, family: 'kitchen' }), device('lift-b')]);
      const changed = device('lift-b', { name: 'Renamed', location: { lat: -33.5, lng: 151.25 }, district: '110101001', meta: { rescueCode: '96333-1' }, secretHash: 'cd'.repeat(32), updatedAt: T0 + 99 });
      await devices.update(changed);
      all = await devices.load();
      expect(all.find((d) => d.id === 'lift-b')).toEqual(changed);
      expect(all).toHaveLength(2);
    });

    it('a batch insert with a duplicate id fails as a whole', async () => {
      await expect(devices.insert([device('lift-c'), device('lift-a')])).rejects.toThrow();
      expect((await devices.load()).map((d) => d.id)).toEqual(['lift-a', 'lift-b']);
      // the store is usable afterwards
      await devices.insert([device('lift-c')]);
      expect((await devices.load()).map((d) => d.id)).toEqual(['lift-a', 'lift-b', 'lift-c']);
    });

    it('updating an unknown id changes nothing', async () => {
      await devices.update(device('ghost'));
      expect((await devices.load()).map((d) => d.id)).not.toContain('ghost');
    });
  });

  describe(`device text and JSON (${store})`, () => {
    let devices: DeviceRepository;
    beforeAll(async () => { devices = (await open()).repo; });

    it('comes back as it went in: quotes, separators, "NULL", unicode, nested meta, exact doubles', async () => {
      const odd = [
        device('q"uote\\', { name: 'NULL', district: '{a,b}', meta: { nested: { list: [1, 'two', null, { x: '\\"' }] }, 名称: '电梯 #3', tiny: 0.1, big: 2 ** 53 - 1, neg: -0.5 } }),
        device('with space, comma', { name: '', location: { lat: 0, lng: -0.000001 }, meta: { empty: {}, arr: [] } }),
      ];
      await devices.insert(odd);
      expect(await devices.load()).toEqual([...odd].sort((a, b) => (a.id < b.id ? -1 : 1)));
    });

    it('orders ids by code point, upper case before lower, as DuckDB does', async () => {
      const mixed = ['b-1', 'B-2', 'a-1', '_x', 'Z'];
      await devices.insert(mixed.map((id) => device(id)));
      const ids = (await devices.load()).map((d) => d.id).filter((id) => mixed.includes(id));
      expect(ids).toEqual(['B-2', 'Z', '_x', 'a-1', 'b-1']);
    });
  });

  describe(`device import (${store})`, () => {
    let devices: DeviceRepository;
    beforeAll(async () => { devices = (await open()).repo; });
    const rec = (id: string, over: Partial<DeviceRecord> = {}): DeviceRecord => ({
      id, family: 'kitchen', name: null, location: null, district: null, meta: {}, secretHash: `h-${id}`, createdAt: 1_000, updatedAt: 1_000, ...over,
    });

    it('stages in chunks and writes them in one commit; an update changes only the imported fields', async () => {
      await devices.insert([rec('s-old', { secretHash: 'keep-me' })]);
      const w = await devices.beginImport();
      await expect(devices.beginImport()).rejects.toThrow(/already being written/);
      await w.stage([rec('s-1'), rec('s-2')], []);
      await w.stage([rec('s-3', { location: { lat: 30, lng: 120 }, meta: { storeId: 'S' } })], [rec('s-old', { name: 'New', secretHash: 'other', updatedAt: 2_000 })]);
      expect((await devices.load()).map((d) => d.id)).toEqual(['s-old']); // nothing visible before the commit
      await w.commit();
      const got = new Map((await devices.load()).map((d) => [d.id, d]));
      expect([...got.keys()].sort()).toEqual(['s-1', 's-2', 's-3', 's-old']);
      expect(got.get('s-3')).toMatchObject({ location: { lat: 30, lng: 120 }, meta: { storeId: 'S' } });
      expect(got.get('s-old')).toMatchObject({ name: 'New', secretHash: 'keep-me', updatedAt: 2_000, createdAt: 1_000 });
    });

    it('a commit that fails part-way writes nothing, names the duplicate, and the next import starts clean', async () => {
      const w = await devices.beginImport();
      await w.stage([rec('f-1'), rec('f-2')], [rec('s-1', { name: 'changed' })]);
      await w.stage([rec('s-2')], []); // already there: the INSERT fails after nothing of it was committed
      await expect(w.commit()).rejects.toThrow(/s-2/);
      await w.abort(); // as DeviceRegistry.import does after a failure: nothing left to undo
      const ids = (await devices.load()).map((d) => d.id);
      expect(ids).not.toContain('f-1');
      expect((await devices.load()).find((d) => d.id === 's-1')!.name).toBeNull();
      const again = await devices.beginImport();
      await again.stage([rec('f-1')], []);
      await again.commit();
      expect((await devices.load()).map((d) => d.id)).toContain('f-1');
    });

    it('abort drops the staged rows', async () => {
      const w = await devices.beginImport();
      await w.stage([rec('a-1')], []);
      await w.abort();
      const next = await devices.beginImport();
      await next.commit();
      expect((await devices.load()).map((d) => d.id)).not.toContain('a-1');
    });
  });

  describe(`connection states (${store})`, () => {
    let devices: DeviceRepository;
    beforeAll(async () => { devices = (await open()).repo; });
    const st = (deviceId: string, over: Partial<ConnectionState> = {}): ConnectionState => ({
      deviceId, connected: true, lastSeen: T0 + 3, lastConnectedAt: T0 + 1, lastDisconnectedAt: null, remoteAddress: '10.0.0.7', ...over,
    });

    it('upserts: a second save replaces the first for the same device', async () => {
      await devices.saveConnectionStates([st('a'), st('b', { connected: false, lastSeen: null, lastConnectedAt: null, remoteAddress: null })]);
      await devices.saveConnectionStates([st('a', { connected: false, lastDisconnectedAt: T0 + 9, lastSeen: T0 + 8 })]);
      await devices.saveConnectionStates([]);
      const rows = (await devices.loadConnectionStates()).sort((x, y) => x.deviceId.localeCompare(y.deviceId));
      expect(rows).toEqual([
        st('a', { connected: false, lastDisconnectedAt: T0 + 9, lastSeen: T0 + 8 }),
        st('b', { connected: false, lastSeen: null, lastConnectedAt: null, remoteAddress: null }),
      ]);
    });
  });
}
