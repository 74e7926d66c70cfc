/**
 * The MQTT broker: aedes 1.x (MQTT 3.1.1) on TCP, TLS and WebSocket, with device
 * authentication, the topic ACL, limits and connection tracking. Ingest runs inside
 * `authorizePublish`, the one hook aedes waits for before it writes the PUBACK.
 *
 * This is the facade the service uses; each step is a file of its own:
 * `listeners.ts` (TCP, TLS, WebSocket: admission against the caps, the packet-size guard),
 * `authenticate.ts` (preConnect, authenticate: devices, users, client ids),
 * `authorize.ts` (authorizePublish with the ingest hand-off, authorizeSubscribe),
 * `sessions.ts` (one live connection per client id, connection state), over the
 * per-connection state of `clients.ts`. The platform's own publishes are here.
 */
import type { IncomingMessage as HttpRequest } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Config } from '../service/config.js';
import type { DeviceReplier, Ingest } from '../ingest/ingest.js';
import type { DeviceError, Family } from '../core/schemas/index.js';
import { errorTopic } from '../core/topic.js';
import { ConnectionLimits, type ConnectionLimitStatus } from './connectionLimits.js';
import type { ConnectionTracker } from '../devices/connectionState.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { Users } from '../accounts/users.js';
import { assertPatchedInternals } from './internals/selfCheck.js';
import { Clients } from './clients.js';
import { Listeners } from './listeners.js';
import { Authentication } from './authenticate.js';
import { Authorization } from './authorize.js';
import { trackSessions } from './sessions.js';
import { redisBackends, type RedisBackends } from './redisBackends.js';

/** MQTT across nodes (broker/redisBackends.ts): sessions and delivery through Redis, this node named. */
export interface BrokerCluster {
  redisUrl: string;
  nodeId: string;
}

export class Broker implements DeviceReplier {
  private aedes: Aedes | null = null;
  private backends: RedisBackends | null = null;
  /** the caps on connections, in all and per source address; the pre-authentication deadline */
  private readonly limits: ConnectionLimits;
  private readonly clients = new Clients();
  private readonly listeners: Listeners;
  private readonly authentication: Authentication;
  private readonly authorization: Authorization;

  constructor(
    private readonly config: Config['mqtt'],
    registry: DeviceRegistry,
    private readonly tracker: ConnectionTracker,
    ingest: Ingest,
    private readonly log: Logger,
    /** dashboard accounts, for integration clients subscribing to alerts */
    users: Pick<Users, 'check'> | null = null,
    private readonly cluster: BrokerCluster | null = null,
  ) {
    this.limits = new ConnectionLimits({
      maxConnections: config.maxConnections,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxUnauthenticatedPerAddress: config.maxUnauthenticatedPerAddress,
      connectTimeoutMs: config.connectTimeoutMs,
    });
    this.listeners = new Listeners(config, this.limits, this.clients, ingest, log, () => this.aedes);
    this.authentication = new Authentication(config, registry, this.clients, log, users);
    this.authorization = new Authorization(registry, tracker, ingest, this.clients, log);
  }

  async start(): Promise<void> {
    assertPatchedInternals();
    const backends = this.backends = this.cluster ? redisBackends(this.cluster.redisUrl, this.log) : null;
    const aedes = await Aedes.createBroker({
      ...(backends && this.cluster ? { mq: backends.mq, persistence: backends.persistence, id: this.cluster.nodeId } : {}),
      drainTimeout: this.config.drainTimeoutMs,
      connectTimeout: this.config.connectTimeoutMs,
      maxTopicLevels: this.config.maxTopicLevels,
      // device ids are up to 64 characters; MQTT 3.1.1 allows servers to accept longer client ids
      maxClientsIdLength: 128,
      heartbeatInterval: 60_000,
      preConnect: (client, packet, cb) => this.authentication.preConnect(client, packet, cb),
      authenticate: (client, username, password, cb) => this.authentication.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorization.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorization.authorizeSubscribe(client, sub, cb),
    });
    this.authorization.skipPublishPipeline(aedes);
    trackSessions(aedes, this.clients, this.tracker);
    aedes.on('clientError', (client, err) => this.listeners.onError(client, err, 'mqtt client error'));
    aedes.on('connectionError', (client, err) => this.listeners.onError(client, err, 'mqtt connection error'));
    this.aedes = aedes;
    await this.listeners.start();
  }

  /**
   * MQTT over WebSocket, asked at the upgrade of /mqtt on the HTTP port, before the
   * WebSocket handshake: false = refused (the caller answers 503 and closes).
   */
  admitWebSocket(socket: Duplex & { remoteAddress?: string }, req?: HttpRequest): boolean {
    return this.listeners.admitWebSocket(socket, req);
  }

  /** MQTT over WebSocket (path /mqtt on the HTTP port); the HTTP server hands the socket over. */
  handleWebSocket(ws: WebSocket, req: HttpRequest): void {
    this.listeners.handleWebSocket(ws, req);
  }

  /** Counters for /metrics: connections open and refused, pre-authentication closes, CONNACK refusals. */
  status(): ConnectionLimitStatus & { connectRefused: Readonly<Record<keyof Authentication['connectRefusals'], number>> } {
    return { ...this.limits.status(), connectRefused: { ...this.authentication.connectRefusals } };
  }

  get port(): number {
    return this.listeners.port;
  }

  get tlsPort(): number | null {
    return this.listeners.tlsPort;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** In cluster mode, whether every Redis connection is ready; null on a single node. */
  get redisReady(): boolean | null {
    return this.backends ? this.backends.ready() : null;
  }

  get running(): boolean {
    return this.aedes !== null && !this.aedes.closed;
  }

  async stop(): Promise<void> {
    this.listeners.stopAccepting();
    if (this.aedes) {
      const a = this.aedes;
      await new Promise<void>((resolve) => a.close(() => resolve()));
    }
    await this.listeners.stop();
    await this.backends?.close();
    this.backends = null;
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
}
