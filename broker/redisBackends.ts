/**
 * MQTT across nodes (docs/cluster.md): aedes over mqemitter-redis, which carries every
 * publish to the nodes whose clients subscribed, and aedes-persistence-redis, which keeps
 * sessions, subscriptions, QoS 1 messages in flight and retained messages where every node
 * finds them. Both, not the persistence alone: with a node-local emitter a publish on one node
 * never reaches a subscriber connected to another (aedes #531). The versions are the pair
 * aedes 1.2 names (its optional peer aedes-persistence-redis ^11.2.1).
 *
 * The connections are ours (ioredis, three of them: the emitter's publisher and subscriber,
 * the persistence's own), so that a stop closes them and a Redis outage is logged, not thrown:
 * ioredis reconnects by itself, with a bounded retry per command meanwhile.
 */
import createPersistence from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import createEmitter from 'mqemitter-redis';
import type { Logger } from 'pino';

export interface RedisBackends {
  /** aedes' `mq` */
  mq: ReturnType<typeof createEmitter>;
  /** aedes' `persistence` */
  persistence: unknown;
  /** After aedes closed (which closes the emitter): the persistence and every connection. */
  close(): Promise<void>;
  /** whether each connection is ready (for /healthz) */
  ready(): boolean;
}

/** Refused before any connection: what the URL must be. */
export function checkRedisUrl(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL (redis://[:password@]host:port[/db])';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return `scheme ${u.protocol} is not redis: or rediss:`;
  if (!u.hostname) return 'no host';
  if (u.pathname && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) return `database ${u.pathname.slice(1)} is not a number`;
  return null;
}

export function redisBackends(url: string, log: Logger): RedisBackends {
  const problem = checkRedisUrl(url);
  if (problem) throw new Error(`REDIS_URL: ${problem}`);
  const connect = (role: string): Redis => {
    const conn = new Redis(url, { maxRetriesPerRequest: 20, lazyConnect: false });
    let failing = false;
    conn.on('error', (err: Error) => {
      // one line per outage, not one per retry
      if (!failing) log.error({ err: err.message, role }, 'Redis connection failing; retrying');
      failing = true;
    });
    conn.on('ready', () => {
      if (failing) log.info({ role }, 'Redis connection back');
      failing = false;
    });
    return conn;
  };
  const pubConn = connect('mqtt emitter (publish)');
  const subConn = connect('mqtt emitter (subscribe)');
  const persistConn = connect('mqtt persistence');
  const mq = createEmitter({ pubConn, subConn });
  // mqemitter-redis re-emits its connections' errors on `state`; an EventEmitter's 'error'
  // with no listener is thrown, which would end the process at every Redis outage. The
  // outage is logged once by the connections' own listeners above.
  (mq as unknown as { state: { on(event: 'error', l: () => void): void } }).state.on('error', () => undefined);
  const persistence = createPersistence({ conn: persistConn });
  const all = [pubConn, subConn, persistConn];
  return {
    mq,
    persistence,
    ready: () => all.every((c) => c.status === 'ready'),
    async close() {
      // not persistence.destroy(): it first unsubscribes from the emitter, which aedes' close
      // has already closed, and would wait for ever; its state is in Redis, its connection ours
      await Promise.all(all.map(async (c) => {
        if (c.status === 'end') return;
        await c.quit().catch(() => c.disconnect());
      }));
    },
  };
}
