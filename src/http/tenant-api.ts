import type { FastifyPluginAsync } from 'fastify';
import type { Bank131Client } from '../bank131/client.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import type { WebSettings } from '../settings/web.js';
import type { TenantCache } from '../tenants/tenant-cache.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { identifyCaller } from './auth.js';
import { eventRoutes } from './events.js';
import { fundingRoutes } from './funding.js';
import type { RedisClient } from '../store/redis-client.js';
import { payoutRoutes } from './payouts.js';
import { recipientRoutes } from './recipients.js';
import { limitTenantRate } from './tenant-rate-limit.js';
import { webhookEndpointRoutes } from './webhook-endpoints.js';

/**
 * Every /v1 route a tenant calls: its payouts, its webhook endpoints, its events, its recipients,
 * and (the operator's keys only) the wallet's balance and resuming payouts waiting for it. The key says
 * which tenant a request is (src/http/auth.ts), and the tenant has one budget of requests per
 * minute across them all (src/http/tenant-rate-limit.ts), so these hooks sit here, once, around
 * the plugins.
 */
export const tenantApi: FastifyPluginAsync<{
  steps: StepDeps;
  settings: Pick<WebSettings, 'apiKeys' | 'apiRateLimitPerMinute' | 'balanceCacheMs'>;
  bank: Bank131Client;
  redis: RedisClient;
  tenants: { store: TenantStore; cache: TenantCache };
  publicUrl: () => string;
}> = async (app, { steps, settings, bank, redis, tenants, publicUrl }) => {
  app.addHook('onRequest', identifyCaller(settings.apiKeys, tenants.store));
  app.addHook('preHandler', limitTenantRate(tenants.cache, settings.apiRateLimitPerMinute));
  await app.register(payoutRoutes, { steps, bank, publicUrl });
  await app.register(webhookEndpointRoutes, { store: steps.store, allowPrivate: steps.allowPrivateCallbacks ?? false });
  await app.register(eventRoutes, { steps });
  await app.register(recipientRoutes, { steps, publicUrl });
  await app.register(fundingRoutes, { steps, bank, redis, balanceCacheMs: settings.balanceCacheMs });
};
