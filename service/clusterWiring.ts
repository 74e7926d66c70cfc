/**
 * Cluster mode's cache coherence (docs/cluster.md): the device registry, the cylinder registry,
 * users and sessions are held in memory on every node, so a change made through one node's API
 * is announced on the change bus (cluster/changeBus.ts) once its store write committed, and every
 * other node re-reads those records from the shared store. Made only when the service runs on
 * the shared store and MQTT over Redis together (that is cluster mode); the embedded default has
 * neither, and no change bus.
 */
import type { Logger } from 'pino';
import type { Sessions } from '../accounts/sessions.js';
import type { Users } from '../accounts/users.js';
import type { BrokerCluster } from '../broker/broker.js';
import { ChangeBus, type ChangeKind } from '../cluster/changeBus.js';
import type { CylinderRegistry } from '../cylinders/cylinderRegistry.js';
import type { DeviceRegistry } from '../devices/deviceRegistry.js';
import type { PostgresStore } from '../store/postgresStore.js';

/** The parts whose caches follow the other nodes' changes. */
export interface CachedParts {
  shared: PostgresStore | null;
  registry: DeviceRegistry;
  cylinders: CylinderRegistry;
  users: Users;
  sessions: Sessions;
}

export interface ClusterChanges {
  readonly bus: ChangeBus;
  /** Subscribe, and announce this node's writes from now on; before the caches load. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The change bus of cluster mode, or null on the embedded default (no shared store, or no Redis). */
export function clusterChanges(parts: CachedParts, mqttCluster: BrokerCluster | null, log: Logger): ClusterChanges | null {
  const { shared, registry, cylinders, users, sessions } = parts;
  if (!shared || !mqttCluster) return null;
  const bus = new ChangeBus({
    redisUrl: mqttCluster.redisUrl,
    nodeId: mqttCluster.nodeId,
    log: log.child({ component: 'clusterChanges' }),
    refresh: (kind: ChangeKind, ids) => {
      switch (kind) {
        case 'devices': return registry.refresh(ids, (some) => shared.devices.loadByIds(some));
        case 'cylinders': return cylinders.refresh(ids, (some) => shared.cylinders.loadByCodes(some));
        // users are few and read one by one through the store's own lookup
        case 'users': return users.refresh(ids);
        case 'sessions': return sessions.refresh(ids, (names) => shared.accounts.sessionsOf(names));
      }
    },
  });
  let offs: Array<() => void> = [];
  return {
    bus,
    async start() {
      offs = [
        registry.onWritten((ids) => bus.publish('devices', ids)),
        cylinders.onWritten((codes) => bus.publish('cylinders', codes)),
        users.onWritten((names) => bus.publish('users', names)),
        sessions.onWritten((names) => bus.publish('sessions', names)),
      ];
      // a token another node issued before its notice arrived is read from the store by its hash
      sessions.useLookup((hash) => shared.accounts.sessionByHash(hash));
      await bus.start();
    },
    async stop() {
      sessions.useLookup(null);
      for (const off of offs) off();
      offs = [];
      await bus.stop();
    },
  };
}
