/**
 * Which alerts the service runs: the single engine (alerts/engine.ts) on the embedded default,
 * on the shared store alone too (the API suites run against PostgreSQL), or, in cluster mode
 * (the shared store and Redis together), an engine per slot of rule keys this node owns behind
 * the same face (cluster/clusterAlerts.ts, docs/cluster.md).
 */
import type { Logger } from 'pino';
import { AlertEngine } from '../alerts/engine.js';
import type { AlertService } from '../alerts/alertService.js';
import type { EngineEvents } from '../alerts/engineTypes.js';
import type { BrokerCluster } from '../broker/broker.js';
import { ClusterAlerts } from '../cluster/clusterAlerts.js';
import type { CylinderRecord } from '../core/alerts/types.js';
import { deadlinePolicy, rescuePolicy, ruleOverrides, storeListPolicy } from '../core/alerts/policy.js';
import type { Subscriber } from '../core/eventBus.js';
import { allRules, RESCUE_RULE } from '../core/rules/index.js';
import type { PostgresStore } from '../store/postgresStore.js';
import type { DeviceRecord, Store } from '../store/types.js';
import type { Config } from './config.js';
import type { ServiceBus, ServiceEvents } from './events.js';

export interface AlertsParts {
  config: Config;
  store: Store;
  shared: PostgresStore | null;
  mqttCluster: BrokerCluster | null;
  bus: ServiceBus;
  device(id: string): DeviceRecord | undefined;
  devices(): Iterable<DeviceRecord>;
  cylinder(code: string): CylinderRecord | undefined;
  publish(topic: string, payload: string, qos: 0 | 1): void;
  log: Logger;
  onRulesStopped(err: Error): void;
}

export interface Alerts {
  /** what the API, the wall and ingest use */
  alerts: AlertService;
  /** the single engine; null in cluster mode */
  engine: AlertEngine | null;
  /** cluster mode's engines per slot; null otherwise */
  cluster: ClusterAlerts | null;
  /** what the /ws hub hears: the service bus, with every other node's alert events too in cluster mode */
  wallEvents: Subscriber<ServiceEvents>;
}

export function makeAlerts(p: AlertsParts): Alerts {
  const { config, log } = p;
  const rules = {
    rules: allRules,
    ruleOverrides: ruleOverrides(allRules, config.alerts.overrides),
    deadlinePolicy: deadlinePolicy(config.alerts.overrides),
    rescuePolicy: rescuePolicy(config.alerts.overrides),
    rescueRule: RESCUE_RULE,
    tickMs: config.alerts.tickMs,
    checkpointMs: config.alerts.checkpointMs,
    storeListPolicy: storeListPolicy(config.alerts.overrides),
  };
  const alertLog = log.child({ component: 'alerts' });
  if (p.shared && p.mqttCluster) {
    const cluster = new ClusterAlerts({ ...rules, nodeId: p.mqttCluster.nodeId, redisUrl: p.mqttCluster.redisUrl }, {
      shared: p.shared, store: p.store, device: p.device, cylinder: p.cylinder, publish: p.publish, events: p.bus, log: alertLog,
    });
    const engineEvents = new Set<string>(['alert', 'rescueCase', 'storeFlag']);
    const wallEvents: Subscriber<ServiceEvents> = {
      on: (type, listener) => (engineEvents.has(type) ? cluster.wall.on(type as keyof EngineEvents, listener as never) : p.bus.on(type, listener)),
    };
    return { alerts: cluster, engine: null, cluster, wallEvents };
  }
  const engine = new AlertEngine({ ...rules, replyMaxAgeMs: 10_000, ruleThread: config.alerts.worker }, {
    store: p.store, device: p.device, devices: p.devices, cylinder: p.cylinder, publish: p.publish, events: p.bus, log: alertLog, onRulesStopped: p.onRulesStopped,
  });
  return { alerts: engine, engine, cluster: null, wallEvents: p.bus };
}
