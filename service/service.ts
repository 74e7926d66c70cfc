/**
 * The composition root: builds every part from one config, starts them in dependency order
 * and stops them in reverse. Constructors only assign; sockets and timers belong to start().
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { CylinderRegistry } from '../cylinders/cylinderRegistry.js';
import type { AlertEngine } from '../alerts/engine.js';
import type { AlertService } from '../alerts/alertService.js';
import type { ClusterAlerts } from '../cluster/clusterAlerts.js';
import type { Subscriber } from '../core/eventBus.js';
import { rescuePolicy } from '../core/alerts/policy.js';
import { RESCUE_RULE } from '../core/rules/index.js';
import { makeAlerts } from './alertsWiring.js';
import { Webhooks } from '../alerts/webhooks.js';
import { Broker, type BrokerCluster } from '../broker/broker.js';
import { ConnectionTracker } from '../devices/connectionState.js';
import { DeviceRegistry } from '../devices/deviceRegistry.js';
import { ImportJobs } from '../devices/importJobs.js';
import { buildApp, type App, type HealthReport } from '../dashboard/app.js';
import { limitHttpConnections, type HttpRefusals } from '../dashboard/httpLimits.js';
import { createMetrics } from '../dashboard/metrics.js';
import { PasswordGuard } from '../accounts/passwordGuard.js';
import { AuditLog, auditImportJobs } from '../accounts/auditLog.js';
import { Sessions } from '../accounts/sessions.js';
import { attachUpgrades } from '../dashboard/upgrade.js';
import { Users } from '../accounts/users.js';
import { LiveHub } from '../dashboard/ws/hub.js';
import { Ingest } from '../ingest/ingest.js';
import { DeadLetterReplay } from '../ingest/replay.js';
import type { EmbeddedStore } from '../store/duckdbStore.js';
import type { PostgresStore } from '../store/postgresStore.js';
import { InfluxForwarder, positionKeyOf } from '../store/influx/forwarder.js';
import { JournaledStore, replayJournal } from '../store/journal/journaledStore.js';
import { ReadingArchiver } from '../store/readingArchiver.js';
import { HISTORY_FANOUT, HISTORY_MAX_LEVEL } from '../store/readingRuns.js';
import type { Store } from '../store/types.js';
import type { Config } from './config.js';
import { wireDataPath } from './dataPath.js';
import { serviceBus, type ServiceBus, type ServiceEvents } from './events.js';
import { alertsHealth, checkpointFailure, clusterHealth, journalHealth, postgresHealth, type ComponentHealth } from './health.js';
import { chooseStores, type SharedStoreChoice } from './stores.js';
import { clusterChanges, type ClusterChanges } from './clusterWiring.js';

export interface Started {
  mqttPort: number;
  mqttsPort: number | null;
  httpPort: number;
  /** path of the generated admin password, when one was generated at this start */
  adminPasswordFile: string | null;
}

/** What tests reach that configuration does not (yet). */
export interface ServiceSeams {
  /** the store accepts fault injection (tests of failures inside DuckDB's thread) */
  store?: boolean;
  /** MQTT across nodes over Redis (broker/redisBackends.ts); with sharedStore it is cluster mode (service/clusterWiring.ts) */
  mqttCluster?: BrokerCluster;
  /** Cluster mode's shared store (store/postgresStore.ts) in place of DuckDB, also for the API suites run against both stores */
  sharedStore?: SharedStoreChoice;
}

export class Service {
  /** the one event bus: ingest, connections, the engine, imports and accounts tell it; service/dataPath.ts wires who listens */
  readonly bus: ServiceBus;
  /** the bus subscriptions taken at start, removed at stop */
  private subscriptions: Array<() => void> = [];
  readonly store: Store;
  /** null when HISTORY_RUN_ROWS is 0 */
  readonly archiver: ReadingArchiver | null;
  /** DuckDB, in its worker thread (DUCKDB_WORKER) or in this one, for what only it has (history runs, checkpoints); null in cluster mode */
  readonly duckdb: EmbeddedStore | null;
  /** cluster mode's shared PostgreSQL store; null on the embedded default */
  readonly shared: PostgresStore | null;
  /** the ingest journal in front of DuckDB; null when INGEST_JOURNAL is false */
  readonly journal: JournaledStore | null;
  readonly registry: DeviceRegistry;
  /** device imports as background jobs, one at a time */
  readonly imports: ImportJobs;
  readonly tracker: ConnectionTracker;
  readonly ingest: Ingest;
  readonly broker: Broker;
  readonly users: Users;
  /** API bearer tokens (opaque sessions) */
  readonly sessions: Sessions;
  /** who did what, from where (docs/security.md, Audit log) */
  readonly audit: AuditLog;
  readonly cylinders: CylinderRegistry;
  /** cluster mode's change notices between the nodes' caches; null on the embedded default */
  readonly changes: ClusterChanges | null;
  /** the alerts as the API, the wall and ingest use them: the engine, or cluster mode's engines per slot */
  readonly alerts: AlertService;
  /** the single engine; null in cluster mode */
  readonly engine: AlertEngine | null;
  /** cluster mode's engines per slot of rule keys (cluster/clusterAlerts.ts); null otherwise */
  readonly clusterAlerts: ClusterAlerts | null;
  private readonly wallEvents: Subscriber<ServiceEvents>;
  readonly webhooks: Webhooks;
  /** rectification requests to the stores' contact gateway (STORE_CONTACT_WEBHOOKS) */
  readonly storeContact: Webhooks;
  /** null unless INFLUX_URL is set */
  readonly influx: InfluxForwarder | null;
  private app: App | null = null;
  private detachUpgrades: (() => void) | null = null;
  /** the dashboard's live push (GET /ws), once started */
  live: LiveHub | null = null;
  private stopping: Promise<void> | null = null;
  private readonly fatalListeners = new Set<(err: Error) => void>();
  /** when the current run of failed group commits began (null while they succeed) */
  private commitsFailingSince: number | null = null;

  constructor(readonly config: Config, private readonly log: Logger, seams: ServiceSeams = {}) {
    this.bus = serviceBus((type, err) => log.error({ err, event: type }, 'an event listener failed'));
    // cluster mode from the configuration (REDIS_URL with DATABASE_URL), or the tests' seams
    const mqttCluster = seams.mqttCluster ?? (config.cluster ? { redisUrl: config.cluster.redisUrl, nodeId: config.cluster.nodeId } : null);
    const sharedChoice = seams.sharedStore ?? (config.cluster ? { url: config.cluster.databaseUrl, nodeId: config.cluster.nodeId } : null);
    const { store, duckdb, shared } = chooseStores(config, log, sharedChoice, seams.store === true);
    this.duckdb = duckdb;
    this.shared = shared;
    const journalLog = log.child({ component: 'journal' });
    this.journal = config.ingest.journal
      ? new JournaledStore(store, { ...config.ingest.journal, onError: (err) => journalLog.error({ err }, `writing journaled readings to ${storeName(this)} failed; they stay in the journal and are retried`) })
      : null;
    this.store = this.journal ?? store;
    this.registry = new DeviceRegistry(this.store);
    this.imports = new ImportJobs(this.registry, this.bus);
    this.tracker = new ConnectionTracker(this.store, config.ingest.stateFlushIntervalMs,
      (err) => log.error({ err }, 'could not save device connection state'), this.bus);
    // the broker is the ingest's replier and ingest runs inside the broker: tie the knot lazily
    this.ingest = new Ingest(this.store, { sendError: (f, id, e) => this.broker.sendError(f, id, e) }, {
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      batchMaxRows: config.ingest.batchMaxRows,
      maxPending: config.ingest.maxPending,
      dedupeWindowMs: config.ingest.dedupeWindowMs,
      dedupeMaxEntries: config.ingest.dedupeMaxEntries,
      deadLetterRawMaxBytes: config.ingest.deadLetterRawMaxBytes,
    }, this.bus);
    const guard = new PasswordGuard({
      maxPerUserAddress: config.auth.loginMaxAttempts,
      maxPerAddress: config.auth.loginMaxAttemptsPerAddress,
      unknownPerMinute: config.auth.loginUnknownPerMinute,
    });
    this.users = new Users(this.store, guard, this.bus);
    this.sessions = new Sessions(this.store, (name) => this.users.get(name), config.auth.tokenTtlS, this.bus);
    const auditLog = log.child({ component: 'audit' });
    this.audit = new AuditLog(this.store, config.audit, (err, what) => auditLog.error({ err }, what));
    this.broker = new Broker(config.mqtt, this.registry, this.tracker, this.ingest, log.child({ component: 'broker' }), this.users, mqttCluster);
    this.cylinders = new CylinderRegistry(this.store);
    this.changes = clusterChanges(this, mqttCluster, log);
    this.webhooks = new Webhooks({ urls: config.alerts.webhooks, maxAttempts: 6, timeoutMs: 5000, maxQueue: 10_000, backoffMs: 1000 }, log.child({ component: 'webhooks' }));
    this.storeContact = new Webhooks({ urls: config.alerts.storeContactWebhooks, maxAttempts: 6, timeoutMs: 5000, maxQueue: 10_000, backoffMs: 1000 }, log.child({ component: 'storeContact' }));
    const made = makeAlerts({
      config, store: this.store, shared, mqttCluster, bus: this.bus, log,
      device: (id) => this.registry.get(id), devices: () => this.registry.all(), cylinder: (code) => this.cylinders.get(code),
      publish: (topic, payload, qos) => this.broker.publish(topic, payload, qos), onRulesStopped: (err) => this.fatal(err),
    });
    ({ alerts: this.alerts, engine: this.engine, cluster: this.clusterAlerts, wallEvents: this.wallEvents } = made);
    this.influx = config.influx
      ? new InfluxForwarder(this.store, { ...config.influx, pollMs: 1000, positionKey: positionKeyOf(shared?.options.nodeId ?? null) }, (id) => this.registry.get(id), log.child({ component: 'influx' }))
      : null;
    const archiveLog = log.child({ component: 'history' });
    this.archiver = duckdb && config.history.runRows > 0
      ? new ReadingArchiver(duckdb, {
        policy: { runRows: config.history.runRows, sealAfterMs: config.history.sealAfterMs, fanout: HISTORY_FANOUT, maxLevel: HISTORY_MAX_LEVEL },
        intervalMs: 1000,
        // what a restart would replay, and what InfluxDB has not confirmed, stays in arrival order
        safeSeq: () => Math.min(this.engine?.replayFromSeq ?? 0, this.influx ? this.influx.status().position : Infinity),
        onError: (err) => archiveLog.error({ err }, 'sorting readings by device failed; will retry'),
        onStep: (step, ms) => archiveLog.debug({ step: step.kind, table: step.base, runs: step.kind === 'merge' ? step.runs.length : 1, ms: Math.round(ms) }, 'history step'),
      })
      : null;
  }

  async start(): Promise<Started> {
    const { config, log } = this;
    // nobody else on the machine reads the data: devices' secret hashes, users, sessions
    // (docs/security.md). The umask covers what DuckDB creates later (its WAL, spill files).
    restrictUmask();
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(config.dataDir, 0o700);
    this.subscriptions = [
      ...wireDataPath(this.bus, { engine: this.alerts, influx: this.influx, broker: this.broker, webhooks: this.webhooks, storeContact: this.storeContact }),
      // what the rules may know of devices follows the registry (the rules' worker keeps a copy)
      this.registry.onChange((devices) => this.alerts.devicesChanged(devices)),
      this.bus.on('commit.outcome', (err) => { this.commitsFailingSince = err ? (this.commitsFailingSince ?? Date.now()) : null; }),
      logStoreOutcomes(this.bus, log.child({ component: 'ingest' })),
      auditImportJobs(this.bus, this.audit),
      // a new password, a disabled or deleted user, a new role or district: every token of
      // theirs ends, and their MQTT connections (an integration account logs in with the same
      // password). The role is read from the user on each request anyway; ending them on a role
      // change too means no MQTT subscription, live push or open screen goes on under the old one
      this.bus.on('user.changed', ({ username }) => {
        void this.sessions.revokeUser(username).catch((err: Error) => log.error({ err, username }, 'could not delete ended sessions'));
        this.broker.disconnectUser(username);
      }),
    ];
    await this.store.open();
    restrictFiles(config.dataDir);
    await this.audit.start();
    // with the journal off, one left by a crash while it was on is still written to the store
    const recovered = this.journal ? this.journal.status().recovered : await replayJournal(this.store, path.join(config.dataDir, 'journal'));
    if (recovered?.segments) log.info(recovered, 'journal replayed into the store');
    // subscribed before the caches load: a change committed after their load is heard
    await this.changes?.start();
    await this.users.start();
    const adminPasswordFile = await this.users.ensureAdmin(config.dataDir, config.auth.adminPassword);
    await this.sessions.start();
    await this.registry.start();
    await this.cylinders.start();
    await this.tracker.start();
    await this.ingest.start();
    // before the broker: replay what was stored after the last checkpoint, then take live readings
    await this.alerts.start();
    await this.influx?.start();
    this.archiver?.start();
    await this.broker.start();

    const httpRefusals: HttpRefusals = { total: 0, perAddress: 0 };
    const app = await buildApp({
      config,
      engine: this.alerts,
      cylinders: this.cylinders,
      rescueRule: RESCUE_RULE,
      rescuePolicy: rescuePolicy(config.alerts.overrides),
      store: this.store,
      registry: this.registry,
      importJobs: this.imports,
      deadLetterReplay: new DeadLetterReplay({ store: this.store, device: (id) => this.registry.get(id), ingest: this.ingest }),
      tracker: this.tracker,
      users: this.users,
      sessions: this.sessions,
      audit: this.audit,
      metrics: createMetrics({ httpRefusals, passwordChecks: this.users.counts, ingest: this.ingest, tracker: this.tracker, registry: this.registry, mqttClients: () => this.broker.connectedClients, mqtt: () => this.broker.status(), influx: this.influx,
        live: () => (this.live ? { clients: this.live.connectedClients, dropped: this.live.dropped } : null),
        history: this.duckdb && this.archiver ? historyStatus(this.duckdb, this.archiver) : null,
        journal: this.journal ? () => this.journal!.status() : null,
        duckdb: this.duckdb ? () => this.duckdb!.checkpointStatus() : null,
        duckdbMemory: this.duckdb ? () => this.duckdb!.memoryBytes() : null,
        postgres: this.shared ? () => this.shared!.db.status() : null, cluster: this.clusterAlerts ? () => this.clusterAlerts!.status() : null,
        alerts: () => this.alerts.persistStatus(),
        health: () => this.health() }),
      health: () => this.health(),
      log,
    });
    limitHttpConnections(app.server, config.http, httpRefusals);
    const live = new LiveHub({ engine: this.alerts, events: this.wallEvents, sessions: this.sessions, tracker: this.tracker, registry: this.registry, store: this.store, rescuePolicy: rescuePolicy(config.alerts.overrides), log: log.child({ component: 'live' }) });
    await live.start();
    this.live = live;
    this.detachUpgrades = attachUpgrades(app.server, {
      '/ws': { handler: (ws, req) => live.handle(ws, req), maxPayload: 64 * 1024 },
      '/mqtt': { handler: (ws, req) => this.broker.handleWebSocket(ws, req), admit: (req, socket) => this.broker.admitWebSocket(socket, req), protocols: ['mqtt', 'mqttv3.1'], maxPayload: config.mqtt.maxPacketBytes + 16 },
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

  /** Each component's real state (service/health.ts); 503 when any but InfluxDB is not ok. */
  health(): HealthReport {
    const now = Date.now();
    const journal = this.journal?.status() ?? null;
    const components: Record<string, ComponentHealth> = {
      alerts: alertsHealth(this.alerts.persistStatus(), { alerts: this.alerts.activeAlerts().length, cases: this.alerts.activeRescueCases().length }),
      store: this.storeHealth(journal, now),
      ...(journal ? { journal: journalHealth(journal, now) } : {}),
      ...(this.shared ? { postgres: postgresHealth(this.shared.db.status()) } : {}),
      ...(this.clusterAlerts ? { cluster: clusterHealth(this.clusterAlerts.status()) } : {}),
      broker: this.broker.running ? { ok: true, detail: `${this.broker.connectedClients} clients` } : { ok: false, detail: 'not running', error: 'not running' },
      http: this.app !== null ? { ok: true } : { ok: false, detail: 'not listening', error: 'not listening' },
      ...(this.influx ? { influx: influxHealth(this.influx) } : {}),
    };
    // InfluxDB is downstream of the store: its outage degrades, it does not fail the service
    return { ok: Object.entries(components).every(([name, c]) => c.ok || name === 'influx'), components };
  }

  private storeHealth(journal: ReturnType<JournaledStore['status']> | null, now: number): ComponentHealth {
    const storeError = this.ingest.lastStoreError;
    const since = (ms: number | null) => (ms !== null ? { since: new Date(ms).toISOString() } : {});
    if (storeError) return { ok: false, detail: `last commit failed: ${storeError.message}`, error: storeError.message, ...since(this.commitsFailingSince) };
    if (journal?.lastError) {
      return {
        ok: false, detail: `writing to ${storeName(this)} fails: ${journal.lastError.message}; ${journal.backlogRows} readings are kept in the journal and retried`,
        error: journal.lastError.message, ...since(journal.failingSince),
      };
    }
    if (!this.duckdb) return { ok: true };
    const checkpoints = this.duckdb.checkpointStatus();
    const failing = checkpointFailure(checkpoints, now);
    if (failing) return failing;
    const detail = checkpoints.consecutiveFailures > 0 ? `${checkpoints.consecutiveFailures} DuckDB CHECKPOINT attempts failed (${checkpoints.lastError ?? 'unknown error'}); retried after the next commit` : undefined;
    return detail ? { ok: true, detail } : { ok: true };
  }

  /**
   * Something the service cannot run without stopped on its own (the rules' worker thread): the
   * entry point (main.ts) logs it, stops the service and exits non-zero, for its supervisor to
   * restart it. Returns the unsubscribe.
   */
  onFatal(listener: (err: Error) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  private fatal(err: Error): void {
    for (const l of this.fatalListeners) l(err);
  }

  /** Stop in reverse order: no new connections, drain ingest, then close the store. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.live?.stop();
      this.detachUpgrades?.();
      // an import in progress fails (nothing written) and its waiting GETs answer, before HTTP closes
      await this.imports.stop();
      if (this.app) await this.app.close();
      await this.broker.stop();
      await this.ingest.stop();
      // a last checkpoint that fails (a failing store, the rules' worker gone) does not keep the
      // store from closing: a restart replays from the checkpoint before it
      await this.alerts.stop().catch((err: unknown) => this.log.error({ err }, 'the alert engine\'s last checkpoint failed; the next start replays from the one before'));
      await this.influx?.stop();
      await this.archiver?.stop();
      this.webhooks.stop();
      this.storeContact.stop();
      this.sessions.stop();
      // after HTTP and the imports: everything they recorded is written
      await this.audit.stop();
      await this.tracker.stop();
      await this.changes?.stop();
      await this.store.close();
      for (const off of this.subscriptions) off();
      this.subscriptions = [];
      this.log.info('service stopped');
    })();
    return this.stopping;
  }

}

/** umask 077 for the process the service runs in; a worker thread may not set it (its files are then made 0600 at start only). */
function restrictUmask(): void {
  try {
    process.umask(process.umask() | 0o077);
  } catch { /* ERR_WORKER_UNSUPPORTED_OPERATION */ }
}

/**
 * Files the service finds in DATA_DIR (written by an older build, or by DuckDB before the
 * umask of main.ts applied) are made readable by the service's user only.
 */
function restrictFiles(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    chmodSync(p, entry.isDirectory() ? 0o700 : 0o600);
    if (entry.isDirectory()) restrictFiles(p);
  }
}

/** `ok: false` while writes fail (the service stays up: /healthz answers 200 with this component degraded). */
function influxHealth(f: InfluxForwarder): { ok: boolean; detail: string } {
  const s = f.status();
  const lag = `lag ${s.lagReadings} readings, ${s.lagSeconds.toFixed(1)} s`;
  return s.consecutiveFailures > 0
    ? { ok: false, detail: `degraded: ${s.consecutiveFailures} failed writes (${s.lastError ?? 'unknown error'}); ${lag}; readings are kept and sent when it recovers` }
    : { ok: true, detail: lag };
}

function historyStatus(store: EmbeddedStore, archiver: ReadingArchiver): () => { runs: number; readings: number; seals: number; merges: number; failures: number } {
  return () => {
    const tables = store.readingRuns();
    return { runs: tables.reduce((n, t) => n + t.runs, 0), readings: tables.reduce((n, t) => n + t.rows, 0), ...archiver.status() };
  };
}

/** What the journal writes into, in messages. */
function storeName(s: Service): string {
  return s.shared ? 'PostgreSQL' : 'DuckDB';
}

/** Log the first failed commit and the recovery, not every failed batch. */
function logStoreOutcomes(bus: ServiceBus, log: Logger): () => void {
  let failing = false;
  return bus.on('commit.outcome', (err) => {
    if (err && !failing) log.error({ err }, 'store commit failed: QoS 1 messages are not acknowledged until it recovers');
    if (!err && failing) log.info('store commits succeed again');
    failing = err !== null;
  });
}
