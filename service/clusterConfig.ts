/**
 * Cluster mode's settings (docs/cluster.md): REDIS_URL and DATABASE_URL turn it on together,
 * NODE_ID names this node among the others. Unset, the service runs on the embedded default
 * and needs neither Redis nor PostgreSQL.
 */
import { hostname } from 'node:os';
import { z } from 'zod';

/** A node id: what other nodes, PostgreSQL rows and Redis channel names carry; kept to a safe alphabet. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const clusterSettings = {
  REDIS_URL: { schema: z.string().optional(), default: undefined, doc: 'Cluster mode, with DATABASE_URL (both or neither; docs/cluster.md): the Redis every node shares, redis://[user:password@]host:port[/db] (rediss:// for TLS). MQTT sessions, subscriptions and deliveries cross nodes through it, readings reach the owner of their rule keys through it, and caches and walls follow the other nodes\' changes.' },
  DATABASE_URL: { schema: z.string().optional(), default: undefined, doc: 'Cluster mode, with REDIS_URL: the PostgreSQL (12 or later; 15 tested) every node shares, postgres://user:password@host:port/db, in place of the embedded DuckDB: devices, accounts, alerts, rescue cases, cylinders, readings, dead letters. Its commits must be durable (synchronous_commit and fsync on).' },
  NODE_ID: { schema: z.string().optional(), default: undefined, doc: 'Cluster mode: this node\'s name, unique among the live nodes (a second node with a live one\'s id is refused); 1-64 of A-Z a-z 0-9 . _ -. Default: the host name.' },
} as const;

export interface ClusterConfig {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly nodeId: string;
}

/** The cluster part of the config, or null on the embedded default; problems name the setting. */
export function parseCluster(v: Record<string, unknown>, problems: string[], host: () => string = hostname): ClusterConfig | null {
  const redisUrl = v.REDIS_URL as string | undefined;
  const databaseUrl = v.DATABASE_URL as string | undefined;
  if (!redisUrl && !databaseUrl) {
    if (v.NODE_ID) problems.push('NODE_ID names a node of a cluster: set REDIS_URL and DATABASE_URL with it (or unset it for the embedded default)');
    return null;
  }
  if (!redisUrl || !databaseUrl) {
    problems.push(`cluster mode needs REDIS_URL and DATABASE_URL together: ${redisUrl ? 'DATABASE_URL' : 'REDIS_URL'} is not set (unset both for the embedded default)`);
    return null;
  }
  const urlProblem = (name: string, value: string, protocols: string[]): void => {
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      problems.push(`${name} is not a URL (expected ${protocols.join(' or ')}//host:port...)`);
      return;
    }
    if (!protocols.includes(u.protocol) || !u.hostname) problems.push(`${name} must be a ${protocols.join(' or ')}// URL with a host`);
  };
  urlProblem('REDIS_URL', redisUrl, ['redis:', 'rediss:']);
  urlProblem('DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']);
  const nodeId = (v.NODE_ID as string | undefined) ?? host();
  if (!NODE_ID_PATTERN.test(nodeId)) {
    problems.push(`NODE_ID=${JSON.stringify(nodeId)}${v.NODE_ID ? '' : ' (the host name)'}: 1-64 of A-Z a-z 0-9 . _ -, beginning with a letter or digit`);
  }
  return { redisUrl, databaseUrl, nodeId };
}
