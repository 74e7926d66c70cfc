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
import type { DeviceError, Family } from '../ingest/schemas/index.js';
import { errorTopic, type DeviceTopic } from '../ingest/topic.js';
import { checkPublish, checkSubscribe, type Identity } from './acl.js';
import type { ConnectionTracker } from './connectionState.js';
import type { DeviceRegistry } from './deviceRegistry.js';
import { guardPacketSize } from './packetGuard.js';
import { coalescePubacks } from './pubackWriter.js';
import { readPublishesFast } from './publishReader.js';


export class Broker implements DeviceReplier {
  private aedes: Aedes | null = null;
  private tcp: net.Server | null = null;
  private tlsServer: tls.Server | null = null;
  private readonly identities = new WeakMap<Client, Identity>();
  /** per device connection: the last topic it published on, accepted by the ACL, and who it is */
  private readonly lastTopic = new WeakMap<Client, { topic: string; parsed: DeviceTopic; sender: Sender }>();

  constructor(
    private readonly config: Config['mqtt'],
    private readonly registry: DeviceRegistry,
    private readonly tracker: ConnectionTracker,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    /** dashboard accounts, for integration clients subscribing to alerts */
    private readonly users: { check(username: string, password: string): Promise<{ username: string; role: 'admin' | 'operator' | 'dispatcher' } | null> } | null = null,
  ) {}

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      drainTimeout: this.config.drainTimeoutMs,
      connectTimeout: this.config.connectTimeoutMs,
      maxTopicLevels: this.config.maxTopicLevels,
      // device ids are up to 64 characters; MQTT 3.1.1 allows servers to accept longer client ids
      maxClientsIdLength: 128,
      heartbeatInterval: 60_000,
      preConnect: (client, _packet, cb) => this.preConnect(client, cb),
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
    aedes.on('clientReady', (client) => {
      const who = this.identities.get(client);
      if (who?.kind === 'device') this.tracker.connected(who.deviceId, remoteAddress(client));
    });
    aedes.on('clientDisconnect', (client) => {
      const who = this.identities.get(client);
      if (who?.kind === 'device') this.tracker.disconnected(who.deviceId);
    });
    aedes.on('clientError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    aedes.on('connectionError', (client, err) => this.log.debug({ err: err.message, remote: remoteAddress(client) }, 'mqtt connection error'));
    this.aedes = aedes;

    // TCP_NODELAY: a PUBACK or a reply is a few bytes written while the device's previous
    // acknowledgement is often still unacknowledged at TCP level; with Nagle's algorithm it would
    // wait for the device's delayed ACK or its next packet (measured: background PUBACK p50
    // 21 ms at 5k/s, the devices' send interval). Writes of one tick are corked into one
    // segment per client anyway (mqtt-packet), so this adds no small packets of our own.
    this.tcp = net.createServer((socket) => { socket.setNoDelay(true); this.handle(socket, null); });
    await listen(this.tcp, this.config.port, this.config.host);
    const tlsConfig = this.config.tls;
    if (tlsConfig) {
      this.tlsServer = tls.createServer({
        cert: readFileSync(tlsConfig.certFile),
        key: readFileSync(tlsConfig.keyFile),
        ...(tlsConfig.caFile ? { ca: readFileSync(tlsConfig.caFile) } : {}),
      }, (socket) => { socket.setNoDelay(true); this.handle(socket, null); });
      await listen(this.tlsServer, tlsConfig.port, this.config.host);
    }
  }

  /** MQTT over WebSocket (path /mqtt on the HTTP port); the HTTP server hands the socket over. */
  handleWebSocket(ws: WebSocket, req: HttpRequest): void {
    const stream = createWebSocketStream(ws);
    stream.on('error', () => ws.terminate());
    this.handle(stream, req);
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

  sendError(family: Family, deviceId: string, error: DeviceError): void {
    this.publish(errorTopic(family, deviceId), JSON.stringify(error), 1);
  }

  /** Publish on behalf of the platform (replies, alerts); bypasses authorizePublish by design. */
  publish(topic: string, payload: string, qos: 0 | 1): void {
    this.aedes?.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false }, (err) => {
      if (err) this.log.warn({ topic, err: err.message }, 'platform publish failed');
    });
  }

  private handle(stream: Duplex, req: HttpRequest | null): void {
    const aedes = this.aedes;
    if (!aedes) { stream.destroy(); return; }
    // aedes' handle takes a request only to read proxy headers; we do not trust any proxy
    const client = aedes.handle(stream, req as never);
    guardPacketSize(client, this.config.maxPacketBytes, (size) => {
      const who = this.identities.get(client);
      const deviceId = who?.kind === 'device' ? who.deviceId : null;
      this.ingest.reject(this.sender(client), { topic: '', payload: new Uint8Array(), qos: 0 },
        null, { reason: 'packet_too_large', detail: `MQTT packet of ${size} bytes exceeds MQTT_MAX_PACKET_BYTES=${this.config.maxPacketBytes}` }, Date.now(), null);
      this.log.warn({ deviceId, size }, 'closed a connection that sent an oversized packet');
    });
    readPublishesFast(client, this.config.maxPacketBytes);
    coalescePubacks(client);
  }

  private preConnect(client: Client, cb: (err: Error | null, ok: boolean) => void): void {
    const max = this.config.maxConnections;
    if (max > 0 && (this.aedes?.connectedClients ?? 0) >= max) {
      this.log.warn({ max }, 'refused an MQTT connection: MQTT_MAX_CONNECTIONS reached');
      cb(null, false);
      return;
    }
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
        this.identities.set(client, { kind: 'anonymous' });
        cb(null, true);
        return;
      }
      // CONNACK 5: not authorized [MQTT-3.2.2-3 table 3.1]
      cb(Object.assign(new Error('anonymous connections are refused'), { returnCode: 5 }) as AuthenticateError, null);
      return;
    }
    const device = password ? this.registry.authenticate(username, password) : null;
    if (device) {
      this.identities.set(client, { kind: 'device', deviceId: device.id, family: device.family });
      cb(null, true);
      return;
    }
    // not a device: perhaps a dashboard account of an integration (scrypt, so only when no device matched)
    const refuse = () => cb(Object.assign(new Error('bad device id or secret'), { returnCode: 4 }) as AuthenticateError, null);
    if (!password || !this.users || this.registry.get(username)) { refuse(); return; }
    this.users.check(username, password.toString('utf8')).then((user) => {
      if (!user) { refuse(); return; }
      this.identities.set(client, { kind: 'user', username: user.username, role: user.role });
      cb(null, true);
    }, (err: Error) => {
      this.log.error({ err }, 'user lookup failed');
      refuse();
    });
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
    const who = this.identities.get(client) ?? { kind: 'anonymous' as const };
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const msg = { topic: packet.topic, payload, qos: packet.qos };
    const sender = last?.sender ?? this.sender(client);
    const decision = checkPublish(who, packet.topic);
    if (!decision.ok) {
      // topic abuse may close the connection (PROTOCOL.md, Bad input) [MQTT-3.3.5-2]
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
    const who = this.identities.get(client) ?? { kind: 'anonymous' as const };
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
