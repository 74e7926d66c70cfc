/**
 * Connection state per device: connected or not, last seen, last connect and disconnect.
 * Updated in memory on every event (cheap: a map write), written to the store in one batch
 * every STATE_FLUSH_INTERVAL_MS, and once more at stop.
 */
import type { Emitter } from '../core/eventBus.js';
import type { ConnectionState, Store } from '../store/types.js';

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
