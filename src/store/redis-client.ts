import type { Cluster, Redis } from 'ioredis';

/**
 * A connection to Redis: one server (REDIS_URL) or a cluster (REDIS_CLUSTER=true). Everything the
 * service keeps shares one hash tag (REDIS_PREFIX), so every script and pipeline touches one slot
 * and runs the same on both.
 */
export type RedisClient = Redis | Cluster;
