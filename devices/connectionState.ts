/**
 * Connection state per device: connected or not, last seen, last connect and disconnect.
 * Updated in memory on every event (cheap: a map write), written to the store in one batch
 * every STATE_FLUSH_INTERVAL_MS, and once more at stop. Below the tracker: connection coverage
 * (registered devices that ever connected, are connected now, never connected), pure over the
 * registry and these states.
 */
import type { Emitter } from '../core/eventBus.js';
import { families, type Family } from '../core/schemas/index.js';
import type { ConnectionState, DeviceQuery, DeviceRecord, Store } from '../store/types.js';

export interface ConnectionEvents {
  /** A device's first connection opened or its last one closed. */
  'device.connection': { deviceId: string; connected: boolean };
}

export class ConnectionTracker {
  private readonly states = new Map<string, ConnectionState>();
  /**
   * Open connections per device, each by its own object (the broker's client): adding or
   * removing one twice changes nothing, so overlapping connects and takeovers, whatever order
   * their events come in, cannot make the count drift. Connected iff at least one.
   */
  private readonly open = new Map<string, Set<object>>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly flushIntervalMs: number,
    private readonly onError: (err: Error) => void,
    private readonly events: Emitter<ConnectionEvents>,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    for (const s of await this.store.devices.loadConnectionStates()) {
      // nobody is connected to a broker that just started
      const wasConnected = s.connected;
      this.states.set(s.deviceId, { ...s, connected: false, lastDisconnectedAt: wasConnected ? (s.lastSeen ?? s.lastDisconnectedAt) : s.lastDisconnectedAt });
      if (wasConnected) this.dirty.add(s.deviceId);
    }
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  private changed(deviceId: string, connected: boolean): void {
    this.events.emit('device.connection', { deviceId, connected });
  }

  get(deviceId: string): ConnectionState | undefined {
    return this.states.get(deviceId);
  }

  get connectedDevices(): number {
    return this.open.size;
  }

  /** `connection` opened (idempotent per connection object). */
  connected(deviceId: string, remoteAddress: string | null, connection: object): void {
    const now = this.now();
    let conns = this.open.get(deviceId);
    if (!conns) { conns = new Set(); this.open.set(deviceId, conns); }
    if (conns.has(connection)) return;
    const before = conns.size;
    conns.add(connection);
    const s = this.state(deviceId);
    s.connected = true;
    s.lastConnectedAt = now;
    s.lastSeen = now;
    s.remoteAddress = remoteAddress;
    this.dirty.add(deviceId);
    if (before === 0) this.changed(deviceId, true);
  }

  /** `connection` closed (idempotent; one never opened is ignored). */
  disconnected(deviceId: string, connection: object): void {
    const conns = this.open.get(deviceId);
    if (!conns?.delete(connection)) return;
    if (conns.size > 0) return;
    this.open.delete(deviceId);
    const s = this.state(deviceId);
    s.connected = false;
    s.lastDisconnectedAt = this.now();
    this.dirty.add(deviceId);
    this.changed(deviceId, false);
  }

  seen(deviceId: string): void {
    const s = this.states.get(deviceId);
    if (s) s.lastSeen = this.now();
    else this.state(deviceId).lastSeen = this.now();
    this.dirty.add(deviceId);
  }

  flush(): Promise<void> {
    // one flush at a time; a flush asked for during another runs after it
    this.flushing = this.flushing.then(async () => {
      if (!this.dirty.size) return;
      const batch = [...this.dirty].map((id) => ({ ...this.states.get(id)! }));
      this.dirty.clear();
      try {
        await this.store.devices.saveConnectionStates(batch);
      } catch (err) {
        for (const s of batch) this.dirty.add(s.deviceId);
        this.onError(err as Error);
      }
    });
    return this.flushing;
  }

  private state(deviceId: string): ConnectionState {
    let s = this.states.get(deviceId);
    if (!s) {
      s = { deviceId, connected: false, lastSeen: null, lastConnectedAt: null, lastDisconnectedAt: null, remoteAddress: null };
      this.states.set(deviceId, s);
    }
    return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection coverage (接入率): of the devices registered now, how many ever connected and how
// many are connected now, per family and district. A registered device that never connected
// raises no offline alert (the offline rules track devices they have heard of: there is no
// last sign of life to measure a silence from), so it is counted here instead.
// ---------------------------------------------------------------------------------------------

/** What the platform knows of a device's connections. */
export type ConnectionKind = 'connected' | 'disconnected' | 'never';

/**
 * `connected`: at least one open connection now; `disconnected`: none now, but it connected
 * (or was heard from) before, this run or an earlier one (the state is kept in the store);
 * `never`: no connection the platform has recorded. A connect in the last
 * STATE_FLUSH_INTERVAL_MS before a crash (`kill -9`) is not recorded, so such a device counts
 * as never connected until it connects again.
 */
export function connectionKind(s: ConnectionState | undefined): ConnectionKind {
  if (!s) return 'never';
  if (s.connected) return 'connected';
  return s.lastConnectedAt !== null || s.lastSeen !== null ? 'disconnected' : 'never';
}

export interface CoverageCounts {
  /** devices in the registry now */
  registered: number;
  /** of those, connected at least once (connected now included) */
  everConnected: number;
  /** of those, with an open connection now */
  connectedNow: number;
  /** registered - everConnected */
  neverConnected: number;
  /** everConnected / registered; null when nothing is registered */
  coverage: number | null;
  /** connectedNow / registered; null when nothing is registered */
  connectedNowRatio: number | null;
}

export interface CoverageReport {
  total: CoverageCounts;
  /** every family, in the order of `families`, also those with no device (or filtered out) */
  byFamily: Array<CoverageCounts & { family: Family }>;
  /** each district (exact code) with a device counted, in code order; null: devices without one, first */
  byDistrict: Array<CoverageCounts & { district: string | null }>;
}

export interface CoverageFilter {
  family?: Family;
  /** district code prefix ("3301" counts 330106), as in the device list */
  district?: string;
}

/** What coverage reads of a device. */
export type CoverageDevice = Pick<DeviceRecord, 'id' | 'family' | 'district'>;

/** True when the device is within the filter (family exact, district by prefix). */
export function coverageMatches(d: CoverageDevice, f: CoverageFilter): boolean {
  return (!f.family || d.family === f.family) && (!f.district || (d.district ?? '').startsWith(f.district));
}

/**
 * Pure: coverage of `devices` (the registry now, one record per id) given each one's connection
 * state. Only these devices count: a connection state of an id not among them (a device no
 * longer registered, an import not committed) is never looked at.
 */
export function coverageOf(devices: Iterable<CoverageDevice>, stateOf: (id: string) => ConnectionState | undefined, filter: CoverageFilter = {}): CoverageReport {
  const total = emptyCounts();
  const byFamily = new Map<Family, CoverageCounts>(families.map((f) => [f, emptyCounts()]));
  const byDistrict = new Map<string, CoverageCounts>();
  for (const d of devices) {
    if (!coverageMatches(d, filter)) continue;
    const kind = connectionKind(stateOf(d.id));
    const key = d.district ?? '';
    let district = byDistrict.get(key);
    if (!district) { district = emptyCounts(); byDistrict.set(key, district); }
    count(total, kind);
    count(byFamily.get(d.family)!, kind);
    count(district, kind);
  }
  return {
    total: finish(total),
    byFamily: families.map((family) => ({ family, ...finish(byFamily.get(family)!) })),
    byDistrict: [...byDistrict].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([district, c]) => ({ district: district || null, ...finish(c) })),
  };
}

function count(row: CoverageCounts, kind: ConnectionKind): void {
  row.registered += 1;
  if (kind !== 'never') row.everConnected += 1;
  if (kind === 'connected') row.connectedNow += 1;
}

function emptyCounts(): CoverageCounts {
  return { registered: 0, everConnected: 0, connectedNow: 0, neverConnected: 0, coverage: null, connectedNowRatio: null };
}

function finish(c: CoverageCounts): CoverageCounts {
  c.neverConnected = c.registered - c.everConnected;
  c.coverage = c.registered ? c.everConnected / c.registered : null;
  c.connectedNowRatio = c.registered ? c.connectedNow / c.registered : null;
  return c;
}

/** What registeredDevices reads of the registry (DeviceRegistry has it). */
export interface RegistryReader {
  readonly size: number;
  get(id: string): DeviceRecord | undefined;
  list(q: DeviceQuery): { total: number; items: DeviceRecord[] };
}

const registeredIds = new WeakMap<RegistryReader, string[]>();

/**
 * Every device registered now, each record as the registry holds it now (district included),
 * in id order. The registry's list sorts all of its devices on every call (about 0.1 s at
 * 100,000); /metrics and the coverage route ask often, so the ids are remembered and the list
 * is asked again only when they no longer are the registry's: the remembered ids are
 * distinct, so when every one is still registered and there are as many as the registry
 * holds, they are exactly its devices (whatever was added or removed meanwhile).
 */
export function registeredDevices(registry: RegistryReader): DeviceRecord[] {
  const ids = registeredIds.get(registry);
  if (ids && ids.length === registry.size) {
    const out: DeviceRecord[] = [];
    for (const id of ids) {
      const d = registry.get(id);
      if (!d) break;
      out.push(d);
    }
    if (out.length === ids.length) return out;
  }
  const { items } = registry.list({ limit: Number.MAX_SAFE_INTEGER, offset: 0 });
  registeredIds.set(registry, items.map((d) => d.id));
  return items;
}
