/**
 * Bounds on the HTTP port's sockets (docs/security.md, HTTP): a cap on open connections in
 * all and per source address, and timeouts for headers, whole requests and idle sockets, so
 * strangers holding sockets open cannot take the process to its file-descriptor limit. The
 * WebSocket connections (/ws, /mqtt) start as HTTP connections and count here too; once
 * upgraded, the ws library clears the socket's idle timeout and their own protocols keep them
 * alive (pings, MQTT keep-alive).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { addressGroup } from '../accounts/passwordGuard.js';
import { isTrusted, trustList } from '../broker/proxyProtocol.js';

export interface HttpLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  /** load balancers (TRUSTED_PROXIES): their connections carry many clients and are not capped per address */
  trustedProxies?: readonly string[];
}

/** Connections closed at once, by cause (read by /metrics). */
export interface HttpRefusals {
  total: number;
  perAddress: number;
}

/** Apply the limits to a server not yet listening; `refused` is counted into. */
export function limitHttpConnections(server: Server, limits: HttpLimits, refused: HttpRefusals): void {
  // Node refuses past maxConnections itself, before any parsing; 'drop' tells us it did
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => { refused.total++; });
  // headersTimeout counts from the first byte or the connection's start, so a socket that
  // sends nothing, or one byte, is closed too; Node requires it to be at most requestTimeout
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.keepAliveTimeout = Math.min(limits.idleTimeoutMs, 5000);
  // the check for expired headers and requests runs this often (Node's default is 30 s)
  (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(1000, limits.headersTimeoutMs);
  server.timeout = limits.idleTimeoutMs;

  const open = new Map<string, number>();
  const proxies = trustList(limits.trustedProxies ?? []);
  server.on('connection', (socket: Socket) => {
    // a balancer bounds its own sources (docs/cluster.md, Deployment); the total cap still holds
    if (isTrusted(proxies, socket.remoteAddress)) return;
    const key = addressGroup(socket.remoteAddress ?? null);
    const n = (open.get(key) ?? 0) + 1;
    if (n > limits.maxConnectionsPerAddress) {
      refused.perAddress++;
      socket.destroy();
      return;
    }
    open.set(key, n);
    socket.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left); else open.delete(key);
    });
  });
}
