/**
 * The composition root: builds every part from one config, starts them in dependency order
 * and stops them in reverse. Constructors only assign; sockets and timers belong to start().
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { defaultRescuePolicy } from '../alerts/domain/rescueCase.js';
import { Broker } from '../broker/broker.js';
import { ConnectionTracker } from '../broker/connectionState.js';
import { DeviceRegistry } from '../broker/deviceRegistry.js';
import { buildApp, type App, type HealthReport } from '../dashboard/app.js';
import { LoginLimiter } from '../dashboard/loginLimiter.js';
import { createMetrics } from '../dashboard/metrics.js';
import { TokenSigner } from '../dashboard/tokens.js';
import { attachUpgrades } from '../dashboard/upgrade.js';
import { Users } from '../dashboard/users.js';
import { Ingest } from '../ingest/ingest.js';
import { DuckDbStore } from '../store/duckdbStore.js';
import type { Store } from '../store/types.js';
import type { Config } from './config.js';

export interface Started {
  mqttPort: number;
  mqttsPort: number | null;
  httpPort: number;
  /** path of the generated admin password, when one was generated at this start */
  adminPasswordFile: string | null;
}

export class Service {
  readonly store: Store;
  readonly registry: DeviceRegistry;
  readonly tracker: ConnectionTracker;
  readonly ingest: Ingest;
  readonly broker: Broker;
  readonly users: Users;
  private app: App | null = null;
  private detachUpgrades: (() => void) | null = null;
  private stopping: Promise<void> | null = null;

  constructor(readonly config: Config, private readonly log: Logger) {
    this.store = new DuckDbStore(config.dbPath);
    this.registry = new DeviceRegistry(this.store);
    this.tracker = new ConnectionTracker(this.store, config.ingest.stateFlushIntervalMs,
      (err) => log.error({ err }, 'could not save device connection state'));
    // the broker is the ingest's replier and ingest runs inside the broker: tie the knot lazily
    this.ingest = new Ingest(this.store, { sendError: (f, id, e) => this.broker.sendError(f, id, e) }, {
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      batchMaxRows: config.ingest.batchMaxRows,
      maxPending: config.ingest.maxPending,
      dedupeWindowMs: config.ingest.dedupeWindowMs,
      dedupeMaxEntries: config.ingest.dedupeMaxEntries,
      deadLetterRawMaxBytes: config.ingest.deadLetterRawMaxBytes,
    });
    this.users = new Users(this.store);
    this.broker = new Broker(config.mqtt, this.registry, this.tracker, this.ingest, log.child({ component: 'broker' }), this.users);
  }

  async start(): Promise<Started> {
    const { config, log } = this;
    mkdirSync(config.dataDir, { recursive: true });
    await this.store.open();
    const adminPasswordFile = await this.users.ensureAdmin(config.dataDir, config.auth.adminPassword);
    const tokens = new TokenSigner(await this.tokenKey(), config.auth.tokenTtlS);
    await this.registry.start();
    await this.tracker.start();
    await this.ingest.start();
    logStoreOutcomes(this.ingest, log.child({ component: 'ingest' }));
    await this.broker.start();

    const app = await buildApp({
      config,
      engine: null,
      rescueRule: 'elevator.trapped',
      rescuePolicy: defaultRescuePolicy,
      store: this.store,
      registry: this.registry,
      tracker: this.tracker,
      users: this.users,
      tokens,
      limiter: new LoginLimiter(config.auth.loginMaxAttempts),
      metrics: createMetrics({ ingest: this.ingest, tracker: this.tracker, registry: this.registry, mqttClients: () => this.broker.connectedClients }),
      health: () => this.health(),
      log,
    });
    this.detachUpgrades = attachUpgrades(app.server, {
      '/mqtt': { handler: (ws, req) => this.broker.handleWebSocket(ws, req), protocols: ['mqtt', 'mqttv3.1'], maxPayload: config.mqtt.maxPacketBytes + 16 },
    });
    await app.listen({ port: config.http.port, host: config.http.host });
    this.app = app;
    const httpPort = (app.server.address() as AddressInfo).port;
    log.info({ mqttPort: this.broker.port, mqttsPort: this.broker.tlsPort, httpPort, dataDir: config.dataDir, devices: this.registry.size }, 'service started');
    return { mqttPort: this.broker.port, mqttsPort: this.broker.tlsPort, httpPort, adminPasswordFile };
  }

  /** The HTTP app, once started (tests use its `inject`). */
  get http(): App {
    if (!this.app) throw new Error('service is not started');
    return this.app;
  }

  health(): HealthReport {
    const storeError = this.ingest.lastStoreError;
    const components = {
      store: storeError ? { ok: false, detail: `last commit failed: ${storeError.message}` } : { ok: true },
      broker: this.broker.running ? { ok: true, detail: `${this.broker.connectedClients} clients` } : { ok: false, detail: 'not running' },
      http: { ok: this.app !== null },
    };
    return { ok: Object.values(components).every((c) => c.ok), components };
  }

  /** Stop in reverse order: no new connections, drain ingest, then close the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.detachUpgrades?.();
      if (this.app) await this.app.close();
      await this.broker.stop();
      await this.ingest.stop();
      await this.tracker.stop();
      await this.store.close();
      this.log.info('service stopped');
    })();
    return this.stopping;
  }

  /** The token signing key: generated once per data directory, so tokens survive restarts. */
  private async tokenKey(): Promise<Buffer> {
    const existing = await this.store.getSetting('token_key');
    if (existing) return Buffer.from(existing, 'base64');
    const key = randomBytes(32);
    await this.store.setSetting('token_key', key.toString('base64'));
    return key;
  }
}

/** Log the first failed commit and the recovery, not every failed batch. */
function logStoreOutcomes(ingest: Ingest, log: Logger): void {
  let failing = false;
  ingest.onCommitOutcome((err) => {
    if (err && !failing) log.error({ err }, 'store commit failed: QoS 1 messages are not acknowledged until it recovers');
    if (!err && failing) log.info('store commits succeed again');
    failing = err !== null;
  });
}
