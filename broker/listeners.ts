/**
 * The broker's listeners: TCP, TLS and WebSocket (the /mqtt upgrade on the HTTP port). Every
 * connection is admitted against the caps (`ConnectionLimits`) before aedes sees it, gets the
 * packet-size guard and the PUBLISH reader, and is counted if it is closed before it
 * authenticated.
 */
import { readFileSync } from 'node:fs';
import net, { type BlockList } from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage as HttpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { Config } from '../service/config.js';
import type { Ingest } from '../ingest/ingest.js';
import { remoteAddress, type Clients } from './clients.js';
import type { ConnectionLimits, PreAuthReason, Ticket } from './connectionLimits.js';
import { guardPacketSize } from './internals/packetGuard.js';
import { forwardedClient, isTrusted, readProxied, trustList } from './proxyProtocol.js';
import { coalescePubacks } from './internals/pubackWriter.js';
import { readPublishesFast } from './internals/publishReader.js';

export class Listeners {
  private tcp: net.Server | null = null;
  private tlsServer: tls.Server | null = null;
  /** WebSocket connections admitted at the upgrade, by their socket, until the broker takes them */
  private readonly upgradeTickets = new WeakMap<Duplex, Ticket>();
  /** pre-authentication closes already counted, so that the error that follows is not counted again */
  private readonly preAuthCounted = new WeakSet<Client>();
  /** the load balancers whose MQTT connections start with a PROXY header (MQTT_PROXY_PROTOCOL); null = off */
  private readonly proxies: BlockList | null;
  /** the load balancers whose X-Forwarded-For names the client of a /mqtt upgrade (TRUSTED_PROXIES) */
  private readonly httpProxies: BlockList;

  constructor(
    private readonly config: Config['mqtt'],
    /** the caps on connections, in all and per source address; the pre-authentication deadline */
    private readonly limits: ConnectionLimits,
    private readonly clients: Clients,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    /** the broker's aedes while it runs */
    private readonly aedes: () => Aedes | null,
  ) {
    this.httpProxies = trustList(config.trustedProxies);
    this.proxies = config.proxyProtocol ? this.httpProxies : null;
  }

  async start(): Promise<void> {
    // TCP_NODELAY: a PUBACK or a reply is a few bytes written while the device's previous
    // acknowledgement is often still unacknowledged at TCP level; with Nagle's algorithm it would
    // wait for the device's delayed ACK or its next packet (measured: background PUBACK p50
    // 21 ms at 5k/s, the devices' send interval). Writes of one tick are corked into one
    // segment per client anyway (mqtt-packet), so this adds no small packets of our own.
    const accept = (socket: net.Socket): void => {
      const ticket = this.admit(socket);
      if (!ticket) return;
      socket.setNoDelay(true);
      this.handle(socket, null, ticket);
    };
    this.tcp = net.createServer((socket) => {
      // a balancer's connection names the device's address first: admitted by that address
      if (this.proxies && isTrusted(this.proxies, socket.remoteAddress)) {
        readProxied(socket, this.config.connectTimeoutMs, accept,
          (reason) => this.log.warn({ remote: socket.remoteAddress, reason }, 'closed a connection from a trusted proxy without a valid PROXY header'));
        return;
      }
      accept(socket);
    });
    await listen(this.tcp, this.config.port, this.config.host);
    const tlsConfig = this.config.tls;
    if (tlsConfig) {
      // admitted before the handshake (which costs CPU), by the TCP connection under it; the
      // deadline runs from there, so a handshake left half done is closed in time too
      const handshaking = new Map<string, Ticket>();
      const key = (s: net.Socket): string => `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`;
      this.tlsServer = tls.createServer({
        cert: readFileSync(tlsConfig.certFile),
        key: readFileSync(tlsConfig.keyFile),
        ...(tlsConfig.caFile ? { ca: readFileSync(tlsConfig.caFile) } : {}),
        handshakeTimeout: this.config.connectTimeoutMs,
      }, (socket) => {
        const k = key(socket);
        const ticket = handshaking.get(k);
        handshaking.delete(k);
        if (!ticket) { socket.destroy(); return; }
        socket.setNoDelay(true);
        this.handle(socket, null, ticket);
      });
      this.tlsServer.on('connection', (raw: net.Socket) => {
        const ticket = this.admit(raw);
        if (!ticket) return;
        const k = key(raw);
        handshaking.set(k, ticket);
        raw.once('close', () => { if (handshaking.get(k) === ticket) handshaking.delete(k); });
      });
      await listen(this.tlsServer, tlsConfig.port, this.config.host);
    }
  }

  /**
   * MQTT over WebSocket, asked at the upgrade of /mqtt on the HTTP port, before the
   * WebSocket handshake: false = refused (the caller answers 503 and closes).
   */
  admitWebSocket(socket: Duplex & { remoteAddress?: string }, req?: HttpRequest): boolean {
    const ticket = this.admit(socket, false, req ? this.clientOf(req) : undefined);
    if (!ticket) return false;
    this.upgradeTickets.set(socket, ticket);
    return true;
  }

  /** MQTT over WebSocket (path /mqtt on the HTTP port); the HTTP server hands the socket over. */
  handleWebSocket(ws: WebSocket, req: HttpRequest): void {
    const ticket = this.upgradeTickets.get(req.socket) ?? this.admit(req.socket, true, this.clientOf(req));
    if (!ticket) { ws.terminate(); return; }
    this.upgradeTickets.delete(req.socket);
    const stream: Duplex & { remoteAddress?: string } = createWebSocketStream(ws);
    // the client's address for the password guard and the logs: the balancer's X-Forwarded-For when it came through one
    const client = this.clientOf(req);
    if (client !== req.socket.remoteAddress) stream.remoteAddress = client;
    stream.on('error', () => ws.terminate());
    this.handle(stream, req, ticket);
  }

  get port(): number {
    return (this.tcp?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  get tlsPort(): number | null {
    return this.tlsServer ? (this.tlsServer.address() as net.AddressInfo).port : null;
  }

  /** Stop accepting connections (before aedes closes the ones it has). */
  stopAccepting(): void {
    for (const s of this.servers()) s.close();
  }

  /** The servers closed (after aedes has closed its connections). */
  async stop(): Promise<void> {
    await Promise.all(this.servers().map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    this.tcp = this.tlsServer = null;
  }

  /** aedes' clientError and connectionError: a stranger's is counted as a pre-authentication close. */
  onError(client: Client, err: Error, event: string): void {
    if (!this.clients.identities.has(client)) this.countPreAuthError(client, err);
    this.log.debug({ clientId: client.id, err: err.message, remote: remoteAddress(client) }, event);
  }

  private servers(): net.Server[] {
    return [this.tcp, this.tlsServer].filter((s): s is net.Server => s !== null);
  }

  /**
   * A connection accepted on any transport: counted against the caps, or closed at once.
   * The socket is the TCP one (under TLS and WebSocket too), so the deadline closes it
   * whatever layer above it is stuck.
   */
  private admit(socket: Duplex & { remoteAddress?: string }, closeRefused = true, address = socket.remoteAddress): Ticket | null {
    const ticket = this.limits.admit(address ?? null, () => {
      this.log.debug({ remote: socket.remoteAddress }, 'closed a connection that did not authenticate within MQTT_CONNECT_TIMEOUT_MS');
      socket.destroy();
    });
    if (!ticket) {
      this.log.debug({ remote: socket.remoteAddress }, 'refused an MQTT connection: connection caps reached');
      if (closeRefused) socket.destroy();
      return null;
    }
    socket.once('close', () => ticket.release());
    if (socket.destroyed) ticket.release();
    return ticket;
  }

  /** A /mqtt upgrade's client: X-Forwarded-For's when the peer is a trusted balancer, else the peer. */
  private clientOf(req: HttpRequest): string | undefined {
    const peer = req.socket.remoteAddress;
    return isTrusted(this.httpProxies, peer) ? forwardedClient(req.headers['x-forwarded-for']) ?? peer : peer;
  }

  private handle(stream: Duplex, req: HttpRequest | null, ticket: Ticket): void {
    const aedes = this.aedes();
    if (!aedes) { stream.destroy(); return; }
    // aedes' handle takes a request only to read proxy headers; we do not trust any proxy
    const client = aedes.handle(stream, req as never);
    this.clients.tickets.set(client, ticket);
    guardPacketSize(client, this.config.maxPacketBytes, (size) => {
      const who = this.clients.identities.get(client);
      if (!who) {
        // a stranger's bytes are never stored: counted, and the connection closed
        this.countPreAuth(client, 'packet_too_large');
        this.log.debug({ size, remote: remoteAddress(client) }, 'closed an unauthenticated connection that sent an oversized packet');
        return;
      }
      const deviceId = who.kind === 'device' ? who.deviceId : null;
      this.ingest.reject(this.clients.sender(client), { topic: '', payload: new Uint8Array(), qos: 0 },
        null, { reason: 'packet_too_large', detail: `MQTT packet of ${size} bytes exceeds MQTT_MAX_PACKET_BYTES=${this.config.maxPacketBytes}` }, Date.now(), null);
      this.log.warn({ deviceId, size }, 'closed a connection that sent an oversized packet');
    });
    readPublishesFast(client, this.config.maxPacketBytes);
    coalescePubacks(client);
  }

  private countPreAuth(client: Client, reason: PreAuthReason): void {
    if (this.preAuthCounted.has(client)) return;
    this.preAuthCounted.add(client);
    this.limits.preAuthClosed(reason);
  }

  /** An error on a connection that has not authenticated: what it sent, counted (never stored). */
  private countPreAuthError(client: Client, err: Error): void {
    const e = err as Error & { code?: unknown; errorCode?: unknown };
    // a refused CONNECT is counted by its return code; a socket error (reset) is nothing it sent
    if (e.errorCode !== undefined || typeof e.code === 'string') return;
    // aedes' own connect timer: the deadline of ConnectionLimits normally comes first
    if (/connect did not arrive in time/.test(err.message)) { this.countPreAuth(client, 'connect_timeout'); return; }
    this.countPreAuth(client, 'invalid_packet');
  }
}

function listen(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
