/**
 * The MQTT broker: aedes 1.x (MQTT 3.1.1) on TCP, TLS and WebSocket, with device
 * authentication, the topic ACL, limits and connection tracking. Ingest runs inside
 * `authorizePublish`, the one hook aedes waits for before it writes the PUBACK.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage as HttpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, type WebSocket } from 'ws';
import type { Config } from '../service/config.js';
import type { DeviceReplier, IncomingMessage, Ingest, Sender } from '../ingest/ingest.js';
import type { DeviceError, Family } from '../core/schemas/index.js';
import { errorTopic, type DeviceTopic } from '../core/topic.js';
import { checkPublish, checkSubscribe, type Identity } from '../core/acl.js';
import { checkClientId } from './clientId.js';
import { ConnectionLimits, type ConnectionLimitStatus, type PreAuthReason, type Ticket } from './connectionLimits.js';
import type { ConnectionTracker } from '../devices/connectionState.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { Users } from '../accounts/users.js';
import { guardPacketSize } from './internals/packetGuard.js';
import { coalescePubacks } from './internals/pubackWriter.js';
import { readPublishesFast } from './internals/publishReader.js';
import { assertPatchedInternals } from './internals/selfCheck.js';


export class Broker implements DeviceReplier {
  private aedes: Aedes | null = null;
  private tcp: net.Server | null = null;
  private tlsServer: tls.Server | null = null;
  /** set once a connection has authenticated (and its client id is allowed): absent = a stranger */
  private readonly identities = new WeakMap<Client, Identity>();
  /** the caps on connections, in all and per source address; the pre-authentication deadline */
  private readonly limits: ConnectionLimits;
  private readonly tickets = new WeakMap<Client, Ticket>();
  /** WebSocket connections admitted at the upgrade, by their socket, until the broker takes them */
  private readonly upgradeTickets = new WeakMap<Duplex, Ticket>();
  /** the client id and clean flag as the CONNECT sent them (aedes fills in an empty id before authenticate) */
  private readonly requested = new WeakMap<Client, { clientId: string; clean: boolean }>();
  /** connections past their CONNACK and not yet closed, by client id: one wins, the others are closed */
  private readonly live = new Map<string, Set<Client>>();
  /** pre-authentication closes already counted, so that the error that follows is not counted again */
  private readonly preAuthCounted = new WeakSet<Client>();
  /** CONNECTs refused with a CONNACK return code, by reason */
  private readonly connectRefusals = { identifier_rejected: 0, bad_credentials: 0, not_authorized: 0, server_unavailable: 0 };
  /** per device connection: the last topic it published on, accepted by the ACL, and who it is */
  private readonly lastTopic = new WeakMap<Client, { topic: string; parsed: DeviceTopic; sender: Sender }>();

  constructor(
    private readonly config: Config['mqtt'],
    private readonly registry: DeviceRegistry,
    private readonly tracker: ConnectionTracker,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    /** dashboard accounts, for integration clients subscribing to alerts */
    private readonly users: Pick<Users, 'check'> | null = null,
  ) {
    this.limits = new ConnectionLimits({
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxUnauthenticatedPerAddress: config.maxUnauthenticatedPerAddress,
      connectTimeoutMs: config.connectTimeoutMs,
    });
  }

  async start(): Promise<void> {
    assertPatchedInternals();
    const aedes = await Aedes.createBroker({
      drainTimeout: this.config.drainTimeoutMs,
      connectTimeout: this.config.connectTimeoutMs,
      maxTopicLevels: this.config.maxTopicLevels,
      // device ids are up to 64 characters; MQTT 3.1.1 allows servers to accept longer client ids
      maxClientsIdLength: 128,
      heartbeatInterval: 60_000,
      preConnect: (client, packet, cb) => this.preConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => this.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client, sub, cb),
    });
    // Readings go to the store, never to subscribers: the ACL lets no client subscribe to a
    // device -> platform topic, so aedes' publish pipeline after the PUBACK (retained store,
    // offline queues, subscription match, `publish` event) has nothing to do for them. A
    // device's packet on the topic the ACL last accepted for its connection skips it;
    // everything else (the platform's own messages, $SYS, anything not checked) takes aedes'
    // path unchanged.
    const publish = aedes.publish.bind(aedes) as unknown as (packet: PublishPacket, client: Client | null, done?: (err?: Error) => void) => void;
    (aedes as unknown as { publish: typeof publish }).publish = (packet, client, done) => {
      if (client && typeof client === 'object' && this.lastTopic.get(client)?.topic === packet.topic) {
        // QoS 1/2: aedes calls this from the PUBACK write's setImmediate, on a fresh stack;
        // QoS 0 comes straight from the packet's handler: unwind first, as aedes' own
        // pipeline would, so a chunk of QoS 0 packets does not recurse
        if (!done) return;
        if (packet.qos > 0) done();
        else process.nextTick(done);
        return;
      }
      publish(packet, client, done);
    };
    // aedes 1.2 unregisters a closing client by its id without checking that it is still the
    // client registered under that id: when connects with one id overlap (a device reconnecting
    // twice in a storm), the close of the first taken over would unregister a later one. Only
    // the registered client is unregistered here; a superseded one is still counted out and
    // its clientDisconnect emitted.
    const registry = aedes as unknown as { clients: Record<string, Client>; connectedClients: number; unregisterClient(c: Client): void };
    const unregister = registry.unregisterClient.bind(aedes);
    registry.unregisterClient = (c) => {
      if (registry.clients[c.id] === c) { unregister(c); return; }
      registry.connectedClients--;
      aedes.emit('clientDisconnect', c);
    };
    // Connection state per connection, not per event count: a connection counts from its
    // CONNACK (clientReady) until its stream closes, whatever order aedes' takeover of a same-id
    // client emits its events in (the old client's clientDisconnect may come after the new
    // clientReady, or, with overlapping connects, not at all).
    aedes.on('clientReady', (client) => {
      const conn = client.conn as Duplex;
      if (client.closed || conn.destroyed) return;
      // one live connection per client id [MQTT-3.1.4-2]: aedes' own takeover misses
      // connections whose CONNECTs overlapped, so the newest one ready closes the others
      let peers = this.live.get(client.id);
      if (!peers) { peers = new Set(); this.live.set(client.id, peers); }
      for (const other of peers) if (other !== client) other.close();
      peers.add(client);
      if (registry.clients[client.id] !== client) registry.clients[client.id] = client;
      const id = client.id;
      const who = this.identities.get(client);
      if (who?.kind === 'device') this.tracker.connected(who.deviceId, remoteAddress(client), client);
      conn.once('close', () => {
        const set = this.live.get(id);
        set?.delete(client);
        if (set && set.size === 0) this.live.delete(id);
        if (who?.kind === 'device') this.tracker.disconnected(who.deviceId, client);
      });
    });
    const onError = (client: Client, err: Error, event: string): void => {
      if (!this.identities.has(client)) this.countPreAuthError(client, err);
      this.log.debug({ clientId: client.id, err: err.message, remote: remoteAddress(client) }, event);
    };
    aedes.on('clientError', (client, err) => onError(client, err, 'mqtt client error'));
    aedes.on('connectionError', (client, err) => onError(client, err, 'mqtt connection error'));
    this.aedes = aedes;

    // TCP_NODELAY: a PUBACK or a reply is a few bytes written while the device's previous
    // acknowledgement is often still unacknowledged at TCP level; with Nagle's algorithm it would
    // wait for the device's delayed ACK or its next packet (measured: background PUBACK p50
    // 21 ms at 5k/s, the devices' send interval). Writes of one tick are corked into one
    // segment per client anyway (mqtt-packet), so this adds no small packets of our own.
    this.tcp = net.createServer((socket) => {
      const ticket = this.admit(socket);
      if (!ticket) return;
      socket.setNoDelay(true);
      this.handle(socket, null, ticket);
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
  admitWebSocket(socket: Duplex & { remoteAddress?: string }): boolean {
    const ticket = this.admit(socket, false);
    if (!ticket) return false;
    this.upgradeTickets.set(socket, ticket);
    return true;
  }

  /** MQTT over WebSocket (path /mqtt on the HTTP port); the HTTP server hands the socket over. */
  handleWebSocket(ws: WebSocket, req: HttpRequest): void {
    const ticket = this.upgradeTickets.get(req.socket) ?? this.admit(req.socket);
    if (!ticket) { ws.terminate(); return; }
    this.upgradeTickets.delete(req.socket);
    const stream = createWebSocketStream(ws);
    stream.on('error', () => ws.terminate());
    this.handle(stream, req, ticket);
  }

  /** Counters for /metrics: connections open and refused, pre-authentication closes, CONNACK refusals. */
  status(): ConnectionLimitStatus & { connectRefused: Readonly<Record<keyof Broker['connectRefusals'], number>> } {
    return { ...this.limits.status(), connectRefused: { ...this.connectRefusals } };
  }

  get port(): number {
    return (this.tcp?.address() as net.AddressInfo | null)?.port ?? 0;
  }

  get tlsPort(): number | null {
    return this.tlsServer ? (this.tlsServer.address() as net.AddressInfo).port : null;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  get running(): boolean {
    return this.aedes !== null && !this.aedes.closed;
  }

  async stop(): Promise<void> {
    const servers = [this.tcp, this.tlsServer].filter((s): s is net.Server => s !== null);
    for (const s of servers) s.close();
    if (this.aedes) {
      const a = this.aedes;
      await new Promise<void>((resolve) => a.close(() => resolve()));
    }
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    this.tcp = this.tlsServer = null;
    this.aedes = null;
  }

  /**
   * Close the MQTT connections of a dashboard account (disabled, deleted or given a new
   * password: docs/security.md, Tokens and sessions); its client ids are `user:{username}[:tag]`.
   */
  disconnectUser(username: string): number {
    const clients = (this.aedes as unknown as { clients?: Record<string, Client> } | null)?.clients;
    if (!clients) return 0;
    let closed = 0;
    for (const [id, client] of Object.entries(clients)) {
      if (id !== `user:${username}` && !id.startsWith(`user:${username}:`)) continue;
      client.close();
      closed++;
    }
    return closed;
  }

  sendError(family: Family, deviceId: string, error: DeviceError): void {
    this.publish(errorTopic(family, deviceId), JSON.stringify(error), 1);
  }

  /** Publish on behalf of the platform (replies, alerts); bypasses authorizePublish by design. */
  publish(topic: string, payload: string, qos: 0 | 1): void {
    this.aedes?.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false }, (err) => {
      if (err) this.log.warn({ topic, err: err.message }, 'platform publish failed');
    });
  }

  /**
   * A connection accepted on any transport: counted against the caps, or closed at once.
   * The socket is the TCP one (under TLS and WebSocket too), so the deadline closes it
   * whatever layer above it is stuck.
   */
  private admit(socket: Duplex & { remoteAddress?: string }, closeRefused = true): Ticket | null {
    const ticket = this.limits.admit(socket.remoteAddress ?? null, () => {
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

  private handle(stream: Duplex, req: HttpRequest | null, ticket: Ticket): void {
    const aedes = this.aedes;
    if (!aedes) { stream.destroy(); return; }
    // aedes' handle takes a request only to read proxy headers; we do not trust any proxy
    const client = aedes.handle(stream, req as never);
    this.tickets.set(client, ticket);
    guardPacketSize(client, this.config.maxPacketBytes, (size) => {
      const who = this.identities.get(client);
      if (!who) {
        // a stranger's bytes are never stored: counted, and the connection closed
        this.countPreAuth(client, 'packet_too_large');
        this.log.debug({ size, remote: remoteAddress(client) }, 'closed an unauthenticated connection that sent an oversized packet');
        return;
      }
      const deviceId = who.kind === 'device' ? who.deviceId : null;
      this.ingest.reject(this.sender(client), { topic: '', payload: new Uint8Array(), qos: 0 },
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

  private preConnect(client: Client, packet: { clientId?: string; clean?: boolean }, cb: (err: Error | null, ok: boolean) => void): void {
    this.requested.set(client, { clientId: packet.clientId ?? '', clean: packet.clean !== false });
    // A CONNECT read from a socket its device has already closed (an attempt it gave up on in a
    // reconnect storm, its CONNECT still buffered) must not take over the client id: that would
    // drop the device's live session [MQTT-3.1.4-2] for a socket nobody reads. The check waits
    // one turn so that the end of the stream, read with the CONNECT, has been seen.
    setImmediate(() => {
      const conn = client.conn as Duplex & { _readableState?: { ended?: boolean } };
      const gone = conn.destroyed || conn.readableEnded || conn._readableState?.ended === true;
      if (gone) this.log.debug({ clientId: client.id }, 'ignored a CONNECT from a socket already closed by the device');
      cb(null, !gone);
    });
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, cb: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    if (!username) {
      if (this.config.allowAnonymous) {
        this.accept(client, { kind: 'anonymous' }, cb);
        return;
      }
      // CONNACK 5: not authorized [MQTT-3.2.2-3 table 3.1]
      this.connectRefusals.not_authorized++;
      cb(Object.assign(new Error('anonymous connections are refused'), { returnCode: 5 }) as AuthenticateError, null);
      return;
    }
    const device = password ? this.registry.authenticate(username, password) : null;
    if (device) {
      this.accept(client, { kind: 'device', deviceId: device.id, family: device.family }, cb);
      return;
    }
    // not a device: perhaps a dashboard account of an integration (scrypt, so only when no device matched)
    const refuse = () => {
      this.connectRefusals.bad_credentials++;
      cb(Object.assign(new Error('bad device id or secret'), { returnCode: 4 }) as AuthenticateError, null);
    };
    if (!password || !this.users || this.registry.get(username)) { refuse(); return; }
    // the one password limiter, shared with the HTTP login (docs/security.md, Password checks)
    this.users.check(username, password.toString('utf8'), remoteAddress(client)).then((result) => {
      if (result.kind === 'limited') this.log.warn({ username, remote: remoteAddress(client), retryAfterS: result.retryAfterS }, 'MQTT login refused: too many password attempts');
      if (result.kind !== 'ok') { refuse(); return; }
      const user = result.user;
      this.accept(client, { kind: 'user', username: user.username, role: user.role }, cb);
    }, (err: Error) => {
      this.log.error({ err }, 'user lookup failed');
      refuse();
    });
  }

  /**
   * The credentials are good: admit `who` if its client id is its own (CONNACK 0x02 if not,
   * [MQTT-3.1.3-9]) and its address has room for one more authenticated connection (CONNACK
   * 0x03 if not). Only then is the connection anyone: until here nothing it sent is stored.
   */
  private accept(client: Client, who: Identity, cb: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const asked = this.requested.get(client) ?? { clientId: client.id, clean: client.clean };
    const decision = checkClientId(who, asked.clientId, asked.clean);
    if (!decision.ok) {
      this.connectRefusals.identifier_rejected++;
      this.log.info({ remote: remoteAddress(client), clientId: asked.clientId.slice(0, 128), detail: decision.detail }, 'refused a CONNECT: client id not the identity\'s own');
      cb(Object.assign(new Error(decision.detail), { returnCode: 2 }) as AuthenticateError, null);
      return;
    }
    const ticket = this.tickets.get(client);
    // a connection taking over a live one of the same id from its own address frees that one
    const replacing = ticket !== undefined && [...this.live.get(decision.clientId) ?? []].some((c) => this.tickets.get(c)?.address === ticket.address);
    if (ticket && !ticket.authenticate(replacing)) {
      this.connectRefusals.server_unavailable++;
      this.log.warn({ remote: remoteAddress(client), max: this.config.maxConnectionsPerAddress }, 'refused a CONNECT: MQTT_MAX_CONNECTIONS_PER_ADDRESS reached');
      cb(Object.assign(new Error('too many connections from this address'), { returnCode: 3 }) as AuthenticateError, null);
      return;
    }
    client.id = decision.clientId;
    this.identities.set(client, who);
    cb(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    try {
      this.checkAndIngest(client, packet, cb);
    } catch (err) {
      // a bug must cost one connection, never the process; the message is not acknowledged
      this.log.error({ err, topic: packet.topic }, 'publish handling failed');
      cb(err as Error);
    }
  }

  private checkAndIngest(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    // A will message of a client already gone: devices have no business with wills.
    if (!client) { cb(new Error('will messages are not accepted')); return; }
    // A device publishes on a few topics over and over: the last accepted one is remembered
    // per connection, so the ACL check and the topic parse run once per topic, not per message.
    const last = this.lastTopic.get(client);
    if (last !== undefined && last.topic === packet.topic && typeof packet.payload !== 'string') {
      this.tracker.seen(last.parsed.deviceId);
      packet.retain = false;
      this.ingest.handle(last.sender, last.parsed, packet as IncomingMessage, cb);
      return;
    }
    const who = this.identities.get(client);
    // aedes handles PUBLISH only after the CONNACK, so this cannot happen; if it did, the bytes of a
    // connection that never authenticated are not stored
    if (!who) { cb(new Error('not authenticated')); return; }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const msg = { topic: packet.topic, payload, qos: packet.qos };
    const sender = last?.sender ?? this.sender(client);
    const decision = checkPublish(who, packet.topic);
    if (!decision.ok) {
      // topic abuse may close the connection (docs/protocol.md, Bad input) [MQTT-3.3.5-2]
      const replyTo = who.kind === 'device' ? { family: who.family, deviceId: who.deviceId } : decision.topic;
      this.ingest.reject(sender, msg, replyTo, { reason: decision.reason, detail: decision.detail }, Date.now(), cb, true);
      return;
    }
    const topic = decision.topic;
    if (who.kind === 'anonymous') {
      const device = this.registry.get(topic.deviceId);
      if (!device || device.family !== topic.family) {
        this.ingest.reject(sender, msg, topic, { reason: 'unknown_device', detail: `no ${topic.family} device ${topic.deviceId} is registered` }, Date.now(), cb);
        return;
      }
    } else if (who.kind === 'device') {
      // only a device's own topics are remembered: the decision depends on nothing else
      this.lastTopic.set(client, { topic: packet.topic, parsed: topic, sender });
    }
    this.tracker.seen(topic.deviceId);
    // readings are stored, not retained: a retained copy per device topic would only hold memory
    packet.retain = false;
    this.ingest.handle(sender, topic, msg, cb);
  }

  private authorizeSubscribe(client: Client, sub: Subscription, cb: (err: Error | null, sub?: Subscription | null) => void): void {
    const who = this.identities.get(client);
    if (!who) { cb(null, null); return; }
    // a refused filter gets 0x80 in the SUBACK; the connection stays [MQTT-3.9.3]
    cb(null, checkSubscribe(who, sub.topic) ? sub : null);
  }

  private sender(client: Client): Sender {
    const who = this.identities.get(client);
    return { deviceId: who?.kind === 'device' ? who.deviceId : null, clientId: client.id ?? null, remoteAddress: remoteAddress(client) };
  }
}

function remoteAddress(client: Client): string | null {
  const conn = client.conn as Duplex & { remoteAddress?: string };
  const req = client.req as HttpRequest | undefined;
  return conn.remoteAddress ?? req?.socket?.remoteAddress ?? null;
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
