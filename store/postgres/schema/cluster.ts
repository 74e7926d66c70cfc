/**
 * Migration 8: what the nodes of a cluster know of each other (cluster/slotOwnership.ts).
 *
 *  - `cluster_nodes`: a row per node id, with the advisory-lock key it holds while alive and
 *    the server process (backend pid) of the connection holding it. Alive means that lock is
 *    held now (pg_locks), not a heartbeat: a node killed with -9 loses its connection and so
 *    its locks at once, and a row left by a dead node says nothing.
 *  - `slot_epochs`: each slot of rule keys with the number of times it has been taken and by
 *    whom. A node that takes a slot gets the next epoch; what it writes for the slot's keys
 *    carries it, so a node that lost the slot without knowing yet cannot overwrite its
 *    successor (a fencing token).
 */
import type { Migration } from '../migrations.js';

export const clusterMigration: Migration = {
  version: 8,
  name: 'cluster',
  statements: [
    `CREATE TABLE cluster_nodes (node_id TEXT COLLATE "C" PRIMARY KEY, lock_key INTEGER NOT NULL, backend_pid INTEGER NOT NULL,
      started_at BIGINT NOT NULL)`,
    'CREATE TABLE slot_epochs (slot INTEGER PRIMARY KEY, epoch BIGINT NOT NULL, node_id TEXT COLLATE "C" NOT NULL, since BIGINT NOT NULL)',
  ],
};
