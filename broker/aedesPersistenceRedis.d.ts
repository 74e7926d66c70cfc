/** aedes-persistence-redis ships no types: the part broker/redisBackends.ts uses (its README's API). */
declare module 'aedes-persistence-redis' {
  import type { Redis, RedisOptions } from 'ioredis';

  interface PersistenceOptions extends RedisOptions {
    /** a connection made by the caller (closed by the caller) */
    conn?: Redis;
    /** offline messages delivered at a client's CONNECT, at most (default 1000) */
    maxSessionDelivery?: number;
  }

  function aedesPersistenceRedis(opts?: PersistenceOptions): unknown;
  export = aedesPersistenceRedis;
}
