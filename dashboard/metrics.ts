/**
 * Prometheus metrics. Ingest keeps plain counters (no per-message allocation); the collectors
 * here read them at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { coverageOf, registeredDevices, type ConnectionTracker, type CoverageReport } from '../devices/connectionState.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { Ingest } from '../ingest/ingest.js';
import { batchLatencyBucketsMs } from '../ingest/metrics.js';
import type { InfluxForwarder } from '../store/influx/forwarder.js';
import type { PostgresStatus } from '../store/postgres/database.js';
import type { ClusterStatus } from '../cluster/clusterAlerts.js';
import type { CheckpointStatus } from '../store/duckdbStore.js';
import type { JournalStatus } from '../store/journal/journaledStore.js';
import type { HttpRefusals } from './httpLimits.js';
import type { ConnectionLimitStatus } from '../broker/connectionLimits.js';
import type { EnginePersistStatus } from '../alerts/engine.js';
import type { HealthReport } from './app.js';

export type MqttConnectionStatus = ConnectionLimitStatus & { connectRefused: Readonly<Record<string, number>> };
import type { CheckCounts } from '../accounts/users.js';

export interface MetricSources {
  ingest: Ingest;
  tracker: ConnectionTracker;
  registry: DeviceRegistry;
  mqttClients: () => number;
  /** the broker's connection caps and what strangers sent before authenticating (broker/connectionLimits.ts) */
  mqtt?: () => MqttConnectionStatus;
  /** the dashboard's live push: open /ws clients and those dropped for being too slow */
  live?: () => { clients: number; dropped: number } | null;
  /** absent or null when InfluxDB forwarding is off */
  influx?: InfluxForwarder | null;
  /** device-clustered history (store/readingRuns.ts); absent when HISTORY_RUN_ROWS is 0 */
  history?: (() => { runs: number; readings: number; seals: number; merges: number; failures: number }) | null;
  /** the ingest journal (store/journal); absent when INGEST_JOURNAL is false */
  journal?: (() => JournalStatus) | null;
  /** DuckDB's memory in use, all of its buffers (duckdb_memory()) */
  duckdbMemory?: (() => Promise<number>) | null;
  /** DuckDB's checkpoints, run by the store (store/duckdbStore.ts checkpointIfDue) */
  duckdb?: (() => CheckpointStatus) | null;
  /** cluster mode's shared store: its connection pool (store/postgres/database.ts) */
  postgres?: (() => PostgresStatus) | null;
  /** cluster mode: this node's slots, its peers, Redis (cluster/clusterAlerts.ts) */
  cluster?: (() => ClusterStatus) | null;
  /** the alert engine's checkpoints of alerts, cases and rule state (alerts/engine.ts) */
  alerts?: (() => EnginePersistStatus) | null;
  /** what /healthz reports: component_up per component */
  health?: (() => HealthReport) | null;
  /** HTTP connections closed at once by the caps (dashboard/httpLimits.ts) */
  httpRefusals?: HttpRefusals;
  /** password checks by outcome (accounts/users.ts) */
  passwordChecks?: CheckCounts;
}

export function createMetrics(src: MetricSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const m = src.ingest.metrics;

  const counter = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [registry],
    collect() { this.reset(); this.inc(read()); },
  });
  counter('ingest_received_total', 'MQTT PUBLISH packets handed to ingest', () => m.received);
  counter('ingest_duplicates_total', 'Readings acknowledged but not stored again (same device and msgId)', () => m.duplicates);
  counter('ingest_batches_total', 'Group commits attempted', () => m.batches);
  counter('ingest_store_failures_total', 'Group commits that failed (nothing of them acknowledged)', () => m.storeFailures);
  counter('ingest_lost_qos0_total', 'QoS 0 readings in failed commits (QoS 0 has no resend)', () => m.lostQos0);
  const checks = src.passwordChecks;
  if (checks) {
    new Counter({
      name: 'auth_password_checks_total', help: 'Password checks (HTTP login and MQTT) by outcome: ok, refused, limited (before any hash), busy (too many waiting)',
      labelNames: ['outcome'], registers: [registry],
      collect() {
        this.reset();
        for (const outcome of ['ok', 'refused', 'limited', 'busy'] as const) this.inc({ outcome }, checks[outcome]);
      },
    });
    counter('auth_password_hashes_total', 'scrypt runs of password checks (real and dummy)', () => checks.hashes);
    counter('auth_unknown_user_unhashed_total', 'Checks of unknown usernames answered without a hash (LOGIN_UNKNOWN_PER_MINUTE spent)', () => checks.unknownUnhashed);
  }
  const refusals = src.httpRefusals;
  if (refusals) {
    new Counter({
      name: 'http_connections_refused_total', help: 'HTTP connections closed at once: HTTP_MAX_CONNECTIONS (total) or HTTP_MAX_CONNECTIONS_PER_ADDRESS (per_address)',
      labelNames: ['reason'], registers: [registry],
      collect() {
        this.reset();
        this.inc({ reason: 'total' }, refusals.total);
        this.inc({ reason: 'per_address' }, refusals.perAddress);
      },
    });
  }

  new Counter({
    name: 'ingest_stored_total', help: 'Readings durably stored', labelNames: ['family', 'channel'], registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of m.storedByChannel) {
        const [family, channel] = key.split('/') as [string, string];
        this.inc({ family, channel }, n);
      }
    },
  });
  new Counter({
    name: 'ingest_dead_letters_total', help: 'Messages dead-lettered, by reason code', labelNames: ['reason'], registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of m.deadLettersByReason) this.inc({ reason }, n);
    },
  });

  const gauge = (name: string, help: string, read: () => number) => new Gauge({
    name, help, registers: [registry],
    collect() { this.set(read()); },
  });
  gauge('ingest_pending_rows', 'Readings and dead letters waiting for a commit', () => src.ingest.pending);
  gauge('ingest_dedupe_entries', 'Remembered (device, msgId) pairs', () => src.ingest.dedupeSize);
  gauge('mqtt_connected_clients', 'Open MQTT connections', src.mqttClients);
  const mqtt = src.mqtt;
  if (mqtt) {
    gauge('mqtt_open_connections', 'MQTT connections open on any transport, authenticated or not (MQTT_MAX_CONNECTIONS caps them)', () => mqtt().open);
    gauge('mqtt_unauthenticated_connections', 'MQTT connections that have not yet sent CONNECT and been authenticated', () => mqtt().unauthenticated);
    const labelled = (name: string, help: string, read: () => Readonly<Record<string, number>>) => new Counter({
      name, help, labelNames: ['reason'], registers: [registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(read())) this.inc({ reason }, n);
      },
    });
    labelled('mqtt_connections_refused_total', 'MQTT connections refused by a cap: max_connections and address_unauthenticated closed at accept, address_connections with CONNACK 3', () => mqtt().refused);
    labelled('mqtt_preauth_closed_total', 'MQTT connections closed before they authenticated, by what they did (connect_timeout, packet_too_large, invalid_packet); nothing of them is stored', () => mqtt().preAuthClosed);
    labelled('mqtt_connect_refused_total', 'CONNECTs refused with a CONNACK return code: identifier_rejected (2), server_unavailable (3), bad_credentials (4), not_authorized (5)', () => mqtt().connectRefused);
  }
  gauge('devices_connected', 'Registered devices with at least one open connection', () => src.tracker.connectedDevices);
  gauge('devices_registered', 'Devices in the registry', () => src.registry.size);
  // connection coverage (devices/connectionState.ts coverageOf): counted once per scrape, read by each gauge
  let coverage: CoverageReport | null = null;
  const coverageNow = (): CoverageReport => {
    if (!coverage) {
      coverage = coverageOf(registeredDevices(src.registry), (id) => src.tracker.get(id));
      setImmediate(() => { coverage = null; });
    }
    return coverage;
  };
  gauge('devices_never_connected', 'Registered devices with no connection ever recorded (not watched by the offline rules)', () => coverageNow().total.neverConnected);
  const byFamily = (name: string, help: string, read: (c: CoverageReport['byFamily'][number]) => number) => new Gauge({
    name, help, labelNames: ['family'], registers: [registry],
    collect() {
      this.reset();
      for (const row of coverageNow().byFamily) this.set({ family: row.family }, read(row));
    },
  });
  byFamily('devices_registered_by_family', 'Devices in the registry, per family', (c) => c.registered);
  byFamily('devices_connected_by_family', 'Registered devices with at least one open connection, per family', (c) => c.connectedNow);
  byFamily('devices_never_connected_by_family', 'Registered devices with no connection ever recorded, per family (coverage = 1 - never / registered)', (c) => c.neverConnected);

  const live = src.live;
  if (live) {
    gauge('ws_connected_clients', 'Open dashboard WebSocket (/ws) connections', () => live()?.clients ?? 0);
    counter('ws_dropped_clients_total', 'Dashboard WebSocket clients dropped for being too slow or not answering pings', () => live()?.dropped ?? 0);
  }

  const influx = src.influx;
  if (influx) {
    counter('influx_forwarded_total', 'Readings confirmed by InfluxDB', () => influx.status().forwarded);
    counter('influx_write_failures_total', 'InfluxDB write requests that failed (the batch is sent again)', () => influx.status().failures);
    gauge('influx_lag_readings', 'Readings stored but not yet confirmed by InfluxDB (seq difference, an upper bound)', () => influx.status().lagReadings);
    gauge('influx_lag_seconds', 'Age of the oldest stored reading not yet confirmed by InfluxDB (0 when caught up)', () => influx.status().lagSeconds);
    gauge('influx_position', 'Seq of the last reading confirmed by InfluxDB (persisted)', () => influx.status().position);
    gauge('influx_up', '1 when the last InfluxDB write succeeded, 0 while writes fail', () => (influx.status().consecutiveFailures === 0 ? 1 : 0));
  }

  const history = src.history;
  if (history) {
    gauge('history_runs', 'Device-sorted runs of readings (device-clustered history)', () => history().runs);
    gauge('history_clustered_readings', 'Readings sorted by device into runs (the rest are in arrival order, awaiting the next seal)', () => history().readings);
    counter('history_seals_total', 'Readings sorted out of arrival order into a new run', () => history().seals);
    counter('history_merges_total', 'Runs merged into a larger one', () => history().merges);
    counter('history_failures_total', 'Seals or merges that failed (rolled back, retried)', () => history().failures);
  }

  const journal = src.journal;
  if (journal) {
    gauge('journal_backlog_rows', 'Readings and dead letters acknowledged from the journal, not yet written to DuckDB', () => journal().backlogRows);
    gauge('journal_bytes', 'Size of the journal segments on disk', () => journal().bytes);
    gauge('journal_segments', 'Journal segment files on disk', () => journal().segments);
    counter('journal_applied_batches_total', 'Batches moved from the journal into DuckDB', () => journal().appliedBatches);
    counter('journal_apply_failures_total', 'Failed writes from the journal to DuckDB (retried; nothing leaves the journal until written)', () => journal().applyFailures);
    gauge('journal_oldest_pending_seconds', 'Age of the oldest journaled batch not yet written to DuckDB (0 when none waits)', () => {
      const at = journal().oldestPendingAt;
      return at === null ? 0 : Math.max(0, (Date.now() - at) / 1000);
    });
  }

  const duckdb = src.duckdb;
  if (duckdb) {
    counter('duckdb_checkpoints_total', 'CHECKPOINTs run once the DuckDB write-ahead log passed 16 MiB (off the event loop)', () => duckdb().checkpoints);
    counter('duckdb_checkpoint_failures_total', 'CHECKPOINTs that failed; retried after the next commit, at most once a second', () => duckdb().failures);
    gauge('duckdb_checkpoint_consecutive_failures', 'CHECKPOINTs failed since the last one that succeeded (the store is reported down past 5, or 2 spanning 30 s)', () => duckdb().consecutiveFailures);
  }

  const postgres = src.postgres;
  if (postgres) {
    gauge('postgres_pool_connections', 'Connections open to the shared PostgreSQL (at most its pool size)', () => postgres().connections);
    gauge('postgres_pool_idle_connections', 'Open connections to PostgreSQL waiting for a job', () => postgres().idle);
    gauge('postgres_pool_waiting', 'Jobs waiting for a PostgreSQL connection (the pool is full)', () => postgres().waiting);
    counter('postgres_failures_total', 'Statements and connections failed for want of the server (refusals it answered, such as a duplicate key, not counted)', () => postgres().failures);
  }
  const cluster = src.cluster;
  if (cluster) {
    gauge('cluster_slots_held', 'Slots of rule keys this node holds now (of 256; each is evaluated by one node at a time)', () => cluster().held);
    gauge('cluster_peers', 'Live nodes of the cluster as this node last saw them, itself included', () => cluster().peers.length);
    gauge('redis_up', '1 while the cluster\'s Redis is reachable (reading feed, calls between nodes, walls), 0 when not', () => (cluster().redis.ok ? 1 : 0));
  }
  const duckdbMemory = src.duckdbMemory;
  if (duckdbMemory) {
    new Gauge({
      name: 'duckdb_memory_bytes', help: 'Memory DuckDB holds (buffer pool, tables, indexes), bounded by DUCKDB_MEMORY_LIMIT', registers: [registry],
      async collect() { this.set(await duckdbMemory()); },
    });
  }

  const alerts = src.alerts;
  if (alerts) {
    counter('alerts_persist_failures_total', 'Alert engine checkpoints (alerts, rescue cases, rule state) that could not be written to the store; retried', () => alerts().failures);
    gauge('alerts_persist_consecutive_failures', 'Alert engine checkpoints failed since the last one that succeeded (0 while they succeed)', () => alerts().consecutiveFailures);
  }

  const health = src.health;
  if (health) {
    new Gauge({
      name: 'component_up', help: '1 when the component is ok on /healthz, 0 when not (store, journal, alerts, broker, http, postgres, cluster: any 0 makes /healthz 503; influx only degrades)',
      labelNames: ['component'], registers: [registry],
      collect() {
        this.reset();
        for (const [component, c] of Object.entries(health().components)) this.set({ component }, c.ok ? 1 : 0);
      },
    });
  }

  const hist = new Histogram({ name: 'ingest_batch_commit_seconds', help: 'Group commit latency: journal append + fsync (with INGEST_JOURNAL), else DuckDB append + COMMIT with WAL fsync', buckets: batchLatencyBucketsMs.map((b) => b / 1000), registers: [registry] });
  m.observeBatchLatency = (ms) => hist.observe(ms / 1000);
  return registry;
}
