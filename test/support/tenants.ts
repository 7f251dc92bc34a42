import type { RedisClient } from '../../src/store/redis-client.js';
import { TenantCache } from '../../src/tenants/tenant-cache.js';
import { TenantStore } from '../../src/tenants/tenant-store.js';

/** Tenants on a test's own Redis and prefix, as a runtime wires them (src/runtime.ts). */
export function tenantsOn(redis: RedisClient, prefix: string): { store: TenantStore; cache: TenantCache } {
  const store = new TenantStore(redis, prefix);
  return { store, cache: new TenantCache(store) };
}
