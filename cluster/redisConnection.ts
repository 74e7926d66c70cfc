/**
 * A Redis connection of one of the cluster's pub/sub parts (changeBus.ts, alertReplica.ts,
 * nodeCalls.ts): ioredis reconnects by itself and fails a command after 20 retries meanwhile;
 * an outage is logged once when it begins and once when it ends, not once per retry.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export function clusterRedis(
  redisUrl: string, log: Logger, role: string,
  options: Pick<RedisOptions, 'enableOfflineQueue' | 'autoResubscribe' | 'autoResendUnfulfilledCommands'>,
): Redis {
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: 20, lazyConnect: false, ...options });
  let failing = false;
  conn.on('error', (err: Error) => {
    if (!failing) log.error({ err: err.message, role }, 'Redis connection failing; retrying');
    failing = true;
  });
  conn.on('ready', () => {
    if (failing) log.info({ role }, 'Redis connection back');
    failing = false;
  });
  return conn;
}
