/**
 * The device repository (store/duckdb/devices.ts) in a temp dir: the registry (insert, load,
 * update; a batch insert is all or nothing) and the devices' connection states (upserted).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DuckDbStore } from '../../../store/duckdbStore.js';
import type { ConnectionState } from '../../../store/types.js';
import { T0, device, freshStore } from './fixtures.js';

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
