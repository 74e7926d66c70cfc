/**
 * Caps on MQTT connections (docs/security.md, MQTT: connection limits): all open connections
 * (MQTT_MAX_CONNECTIONS), those of one source address that have not yet authenticated
 * (MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS, tight), and those of one source address that have
 * (MQTT_MAX_CONNECTIONS_PER_ADDRESS, generous: a carrier NAT puts many 4G terminals behind
 * one address). Every transport asks here at accept — TCP at the connection, TLS before its
 * handshake, WebSocket at the /mqtt upgrade — and a connection refused is closed at once.
 * A connection admitted gets a deadline: if it has not authenticated within
 * MQTT_CONNECT_TIMEOUT_MS (one that sends nothing, one byte, or half a TLS handshake) it is
 * closed. Addresses are counted as IPv4, or IPv6 by /64 (one subscriber's prefix).
 *
 * Counters only; no store writes: nothing a stranger does before authenticating is stored.
 */
import { addressGroup } from '../accounts/passwordGuard.js';

export interface ConnectionLimitSettings {
  /** 0 = no limit */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  maxUnauthenticatedPerAddress: number;
  connectTimeoutMs: number;
}

/** Why a connection was refused at accept or authentication, or closed before it authenticated. */
export type RefusalReason = 'max_connections' | 'address_unauthenticated' | 'address_connections';
/** What a connection that had not authenticated did to be closed (never stored: counted). */
export type PreAuthReason = 'connect_timeout' | 'packet_too_large' | 'invalid_packet';

export interface ConnectionLimitStatus {
  open: number;
  unauthenticated: number;
  refused: Readonly<Record<RefusalReason, number>>;
  preAuthClosed: Readonly<Record<PreAuthReason, number>>;
}

/** One admitted connection: its place in the counts until `release`. */
export interface Ticket {
  readonly address: string;
  readonly authenticated: boolean;
  /**
   * Count it as authenticated; false (and nothing changes) when its address is at its cap,
   * unless `replacing` (it takes over a live connection of its own from there, which closes).
   */
  authenticate(replacing?: boolean): boolean;
  /** The connection closed (idempotent). */
  release(): void;
}

interface AddressCount { pending: number; authenticated: number }

export class ConnectionLimits {
  private open = 0;
  private pending = 0;
  private readonly byAddress = new Map<string, AddressCount>();
  private readonly refusedBy: Record<RefusalReason, number> = { max_connections: 0, address_unauthenticated: 0, address_connections: 0 };
  private readonly preAuthBy: Record<PreAuthReason, number> = { connect_timeout: 0, packet_too_large: 0, invalid_packet: 0 };

  constructor(private readonly limits: ConnectionLimitSettings) {}

  /**
   * A connection was accepted from `remoteAddress`. Null: refused (the caller closes it at
   * once). Else its ticket; `onExpire` runs when it has not authenticated in time.
   */
  admit(remoteAddress: string | null, onExpire: () => void): Ticket | null {
    const address = addressGroup(remoteAddress);
    const { maxConnections, maxUnauthenticatedPerAddress } = this.limits;
    if (maxConnections > 0 && this.open >= maxConnections) { this.refusedBy.max_connections++; return null; }
    const count = this.byAddress.get(address) ?? { pending: 0, authenticated: 0 };
    if (maxUnauthenticatedPerAddress > 0 && count.pending >= maxUnauthenticatedPerAddress) { this.refusedBy.address_unauthenticated++; return null; }
    count.pending++;
    this.byAddress.set(address, count);
    this.open++;
    this.pending++;

    let state: 'pending' | 'authenticated' | 'released' = 'pending';
    const timer = setTimeout(() => {
      if (state !== 'pending') return;
      this.preAuthBy.connect_timeout++;
      onExpire();
    }, this.limits.connectTimeoutMs);
    timer.unref();
    return {
      address,
      get authenticated() { return state === 'authenticated'; },
      authenticate: (replacing = false): boolean => {
        if (state !== 'pending') return state === 'authenticated';
        const max = this.limits.maxConnectionsPerAddress;
        if (!replacing && max > 0 && count.authenticated >= max) {
          this.refusedBy.address_connections++;
          return false;
        }
        clearTimeout(timer);
        state = 'authenticated';
        count.pending--;
        count.authenticated++;
        this.pending--;
        return true;
      },
      release: (): void => {
        if (state === 'released') return;
        clearTimeout(timer);
        if (state === 'pending') { count.pending--; this.pending--; } else count.authenticated--;
        state = 'released';
        this.open--;
        if (count.pending === 0 && count.authenticated === 0 && this.byAddress.get(address) === count) this.byAddress.delete(address);
      },
    };
  }

  /** A connection that had not authenticated was closed for what it sent. */
  preAuthClosed(reason: PreAuthReason): void {
    this.preAuthBy[reason]++;
  }

  status(): ConnectionLimitStatus {
    return { open: this.open, unauthenticated: this.pending, refused: { ...this.refusedBy }, preAuthClosed: { ...this.preAuthBy } };
  }
}
