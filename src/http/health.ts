import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisClient } from '../store/redis-client.js';
import { z } from 'zod';
import type { BankAccess } from '../store/bank-access.js';
import { pingWithin } from '../store/redis-ping.js';
import { ErrorBody, errorBody } from './errors.js';

/** How long /readyz waits for Redis: a load balancer must hear "not ready" fast, not time out. */
export const READY_TIMEOUT_MS = 1_000;

const Ok = z.object({ ok: z.literal(true) });
const NotReady = ErrorBody;

/** /healthz: the process is up. /readyz: it can do its work (Redis answers). */
export const healthRoutes: FastifyPluginAsync<{ redis: RedisClient; slotKey?: string; bankAccess?: BankAccess | undefined }> = async (app, { redis, slotKey, bankAccess }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Ok } } }, async () => ({ ok: true as const }));
  routes.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: `Redis answers within ${READY_TIMEOUT_MS} ms, and Bank 131 accepts our credentials (503 otherwise, saying which)`,
        response: { 200: Ok, 503: NotReady },
      },
    },
    async (_req, reply) => {
      if (!(await pingWithin(redis, READY_TIMEOUT_MS, slotKey))) return reply.code(503).send(errorBody('unavailable', 'not ready: Redis does not answer'));
      const refusal = await bankAccess?.refusal().catch(() => null);
      if (refusal) {
        return reply.code(503).send(errorBody('unavailable', `not ready: Bank 131 refuses our credentials (${refusal}): check BANK131_PRIVATE_KEY and BANK131_PROJECT; payouts are held, not failed`));
      }
      return { ok: true as const };
    },
  );
};
