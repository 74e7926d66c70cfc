/**
 * Connecting a fleet of raw clients: one client per device, round robin over loopback source
 * addresses (127.0.0.x: one address has ~28k ephemeral ports towards one server port), a
 * bounded number of attempts in progress, each device retried up to `attempts` times.
 */
import type net from 'node:net';
import { RawClient, type ConnectOptions, type RawDevice } from './client.js';

/** One client per device; `sources` (local addresses) round robin, none: the system's choice. */
export function rawClients<T = never>(devices: readonly RawDevice[], sources: readonly string[] = []): Array<RawClient<T>> {
  return devices.map((d, i) => new RawClient<T>(d, sources.length ? sources[i % sources.length] : undefined));
}

/** The loopback source addresses 127.0.0.1 .. 127.0.0.k. */
export const loopbackSources = (k: number): string[] => Array.from({ length: k }, (_, i) => `127.0.0.${i + 1}`);

export interface ConnectAllOptions<T> extends ConnectOptions {
  /** attempts in progress at once (default 64) */
  concurrency?: number;
  /** attempts per client before it counts as failed (default 1) */
  attempts?: number;
  /** connected: attach handlers here */
  onConnected?: (c: RawClient<T>, socket: net.Socket) => void;
  /** one attempt failed; `attempt` counts from 1 */
  onAttemptFailed?: (c: RawClient<T>, error: Error, attempt: number) => void;
  /** every attempt failed: the last error */
  onFailed?: (c: RawClient<T>, error: Error) => void;
}

/**
 * Connect every client, `concurrency` at a time; resolves once each had its attempts. A client
 * that failed them all has no socket (and its last error went to `onFailed`); a callback that
 * throws rejects the whole call (`onFailed: (_, e) => { throw e; }`: all or nothing).
 */
export async function connectAll<T>(clients: ReadonlyArray<RawClient<T>>, o: ConnectAllOptions<T>): Promise<void> {
  const attempts = o.attempts ?? 1;
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(o.concurrency ?? 64, clients.length) }, async () => {
    while (next < clients.length) {
      const c = clients[next++]!;
      for (let attempt = 1; attempt <= attempts; attempt++) {
        let socket: net.Socket;
        try {
          socket = await c.connect(o);
        } catch (e) {
          o.onAttemptFailed?.(c, e as Error, attempt);
          if (attempt === attempts) o.onFailed?.(c, e as Error);
          continue;
        }
        o.onConnected?.(c, socket);
        break;
      }
    }
  }));
}
