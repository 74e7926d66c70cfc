/**
 * Connection coverage arithmetic (devices/connectionState.ts): connectionKind per state,
 * coverageOf over an injected registry and connection states as a table of filters, what is
 * never counted, and registeredDevices' remembered ids staying exactly the registry's.
 */
import { describe, expect, it } from 'vitest';
import { connectionKind, coverageOf, registeredDevices, type CoverageCounts, type CoverageFilter, type RegistryReader } from '../../devices/connectionState.js';
import type { Family } from '../../core/schemas/index.js';
import type { ConnectionState, DeviceQuery, DeviceRecord } from '../../store/types.js';

const T = 1_790_000_000_000;

const state = (deviceId: string, s: Partial<ConnectionState>): ConnectionState => ({
  deviceId, connected: false, lastSeen: null, lastConnectedAt: null, lastDisconnectedAt: null, remoteAddress: null, ...s,
});
const device = (id: string, family: Family, district: string | null): DeviceRecord => ({
  id, family, district, name: null, location: null, meta: {}, secretHash: 'x', createdAt: T, updatedAt: T,
});

describe('connectionKind', () => {
  it.each<[string, ConnectionState | undefined, ReturnType<typeof connectionKind>]>([
    ['no state at all (registered, never connected)', undefined, 'never'],
    ['a state with nothing recorded', state('d', {}), 'never'],
    ['connected now', state('d', { connected: true, lastConnectedAt: T, lastSeen: T }), 'connected'],
    ['connected now, first connect not yet recorded', state('d', { connected: true }), 'connected'],
    ['connected before, closed', state('d', { lastConnectedAt: T, lastSeen: T + 5, lastDisconnectedAt: T + 9 }), 'disconnected'],
    ['as loaded after a restart (nobody is connected to a broker that just started)', state('d', { lastConnectedAt: T, lastSeen: T + 5, lastDisconnectedAt: T + 5 }), 'disconnected'],
    ['heard from (a message) without a recorded connect', state('d', { lastSeen: T }), 'disconnected'],
  ])('%s -> %s', (_what, s, kind) => {
    expect(connectionKind(s)).toBe(kind);
  });
});

/**
 * The registry: 7 devices. Connection states: 4 of them recorded, plus 2 of ids that are not
 * registered (a device no longer in the registry, an import not committed): never counted.
 */
const registry: DeviceRecord[] = [
  device('k1', 'kitchen', '330106'), // connected now
  device('k2', 'kitchen', '330106'), // connected before
  device('k3', 'kitchen', '330108'), // never: no state
  device('e1', 'elevator', '330106001'), // connected now
  device('e2', 'elevator', null), // never: a state with nothing in it
  device('e3', 'elevator', '330108'), // connected before a restart
  device('c1', 'cylinder', '330106'), // never
];
const states = new Map<string, ConnectionState>([
  ['k1', state('k1', { connected: true, lastConnectedAt: T, lastSeen: T })],
  ['k2', state('k2', { lastConnectedAt: T, lastSeen: T, lastDisconnectedAt: T + 1 })],
  ['e1', state('e1', { connected: true, lastConnectedAt: T, lastSeen: T })],
  ['e2', state('e2', {})],
  ['e3', state('e3', { lastConnectedAt: T, lastSeen: T, lastDisconnectedAt: T })],
  ['ghost', state('ghost', { connected: true, lastConnectedAt: T, lastSeen: T })],
  ['gone', state('gone', { lastConnectedAt: T, lastSeen: T, lastDisconnectedAt: T })],
]);
const stateOf = (id: string): ConnectionState | undefined => states.get(id);

/** registered, ever connected, connected now -> the counts with never connected and both ratios */
const c = (registered: number, ever: number, now: number): CoverageCounts => ({
  registered, everConnected: ever, connectedNow: now, neverConnected: registered - ever,
  coverage: registered ? ever / registered : null, connectedNowRatio: registered ? now / registered : null,
});
const zero = c(0, 0, 0);

describe('coverageOf: per filter, total, per family and per district', () => {
  it.each<[string, CoverageFilter, CoverageCounts, Record<Family, CoverageCounts>, Array<[string | null, CoverageCounts]>]>([
    ['everything', {}, c(7, 4, 2),
      { kitchen: c(3, 2, 1), elevator: c(3, 2, 1), cylinder: c(1, 0, 0), dispenser: zero },
      [[null, c(1, 0, 0)], ['330106', c(3, 2, 1)], ['330106001', c(1, 1, 1)], ['330108', c(2, 1, 0)]]],
    ['one family', { family: 'kitchen' }, c(3, 2, 1),
      { kitchen: c(3, 2, 1), elevator: zero, cylinder: zero, dispenser: zero },
      [['330106', c(2, 2, 1)], ['330108', c(1, 0, 0)]]],
    ['a district is a prefix (330106 takes 330106001; no district is not in it)', { district: '330106' }, c(4, 3, 2),
      { kitchen: c(2, 2, 1), elevator: c(1, 1, 1), cylinder: c(1, 0, 0), dispenser: zero },
      [['330106', c(3, 2, 1)], ['330106001', c(1, 1, 1)]]],
    ['a city prefix takes every district in it', { district: '3301' }, c(6, 4, 2),
      { kitchen: c(3, 2, 1), elevator: c(2, 2, 1), cylinder: c(1, 0, 0), dispenser: zero },
      [['330106', c(3, 2, 1)], ['330106001', c(1, 1, 1)], ['330108', c(2, 1, 0)]]],
    ['family and district', { family: 'elevator', district: '330108' }, c(1, 1, 0),
      { kitchen: zero, elevator: c(1, 1, 0), cylinder: zero, dispenser: zero },
      [['330108', c(1, 1, 0)]]],
    ['a family with no device: ratios null, not 0 or 1', { family: 'dispenser' }, zero,
      { kitchen: zero, elevator: zero, cylinder: zero, dispenser: zero }, []],
    ['a district with no device', { district: '4401' }, zero,
      { kitchen: zero, elevator: zero, cylinder: zero, dispenser: zero }, []],
  ])('%s', (_what, filter, total, byFamily, byDistrict) => {
    const r = coverageOf(registry, stateOf, filter);
    expect(r.total).toEqual(total);
    expect(r.byFamily).toEqual((['kitchen', 'elevator', 'cylinder', 'dispenser'] as const).map((family) => ({ family, ...byFamily[family] })));
    expect(r.byDistrict).toEqual(byDistrict.map(([district, counts]) => ({ district, ...counts })));
    // the rows add up to the total
    for (const rows of [r.byFamily, r.byDistrict]) {
      for (const k of ['registered', 'everConnected', 'connectedNow', 'neverConnected'] as const) {
        expect(rows.reduce((n, row) => n + row[k], 0)).toBe(r.total[k]);
      }
    }
  });

  it.each<[string, DeviceRecord[], Map<string, ConnectionState>, CoverageCounts]>([
    ['nothing registered, states of unregistered ids only (deleted, import not committed): nothing counted', [],
      new Map([['gone', state('gone', { connected: true, lastConnectedAt: T })]]), zero],
    ['registered, no state anywhere', [device('a', 'cylinder', null), device('b', 'cylinder', null)], new Map(), c(2, 0, 0)],
    ['the state of another id does not count for a device', [device('a', 'cylinder', null)],
      new Map([['A', state('A', { connected: true, lastConnectedAt: T })], ['a-1', state('a-1', { lastConnectedAt: T })]]), c(1, 0, 0)],
    ['connected now counts as ever connected too', [device('a', 'dispenser', null)],
      new Map([['a', state('a', { connected: true })]]), c(1, 1, 1)],
    ['exact ratios', [device('a', 'dispenser', null), device('b', 'dispenser', null), device('c', 'dispenser', null)],
      new Map([['a', state('a', { lastConnectedAt: T })], ['b', state('b', { connected: true, lastConnectedAt: T })]]), c(3, 2, 1)],
  ])('%s', (_what, devices, s, total) => {
    const r = coverageOf(devices, (id) => s.get(id));
    expect(r.total).toEqual(total);
  });

  it('exact ratios are the plain quotients', () => {
    const r = coverageOf([device('a', 'dispenser', null), device('b', 'dispenser', null), device('c', 'dispenser', null)],
      (id) => (id === 'c' ? undefined : state(id, { connected: id === 'a', lastConnectedAt: T })));
    expect(r.total.coverage).toBe(2 / 3);
    expect(r.total.connectedNowRatio).toBe(1 / 3);
  });
});

/** A registry over a map, as DeviceRegistry's list (every match, sorted by id), counting the lists. */
function fakeRegistry(): RegistryReader & { devices: Map<string, DeviceRecord>; lists: number } {
  const devices = new Map<string, DeviceRecord>();
  return {
    devices,
    lists: 0,
    get size() { return devices.size; },
    get: (id) => devices.get(id),
    list(q: DeviceQuery) {
      this.lists += 1;
      const items = [...devices.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      return { total: items.length, items: items.slice(q.offset, q.offset + q.limit) };
    },
  };
}

describe('registeredDevices', () => {
  const ids = (r: RegistryReader): string[] => registeredDevices(r).map((d) => d.id);

  it('is exactly the registry now, listed again only when its devices changed', () => {
    const r = fakeRegistry();
    expect(ids(r)).toEqual([]);
    for (const id of ['b', 'a', 'c']) r.devices.set(id, device(id, 'kitchen', null));
    expect(ids(r)).toEqual(['a', 'b', 'c']);
    const lists = r.lists;
    expect(ids(r)).toEqual(['a', 'b', 'c']);
    expect(r.lists, 'unchanged: not listed again').toBe(lists);

    // a record changed in place (an import's update of the district): the record as it is now
    r.devices.set('b', device('b', 'kitchen', '330106'));
    expect(registeredDevices(r).find((d) => d.id === 'b')?.district).toBe('330106');
    expect(r.lists).toBe(lists);

    // one more
    r.devices.set('d', device('d', 'elevator', null));
    expect(ids(r)).toEqual(['a', 'b', 'c', 'd']);
    // one gone and another added: as many as before, not the same ones
    r.devices.delete('a');
    r.devices.set('e', device('e', 'elevator', null));
    expect(ids(r)).toEqual(['b', 'c', 'd', 'e']);
    // one gone
    r.devices.delete('c');
    expect(ids(r)).toEqual(['b', 'd', 'e']);
  });
});
