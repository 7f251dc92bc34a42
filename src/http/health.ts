import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RedisClient } from '../store/redis-client.js';
import { z } from 'zod';
import type { BankAccess } from '../store/bank-access.js';
import { redisNotReady } from '../store/redis-ping.js';
import { ErrorBody, errorBody } from './errors.js';

/**
 * The reconciler's heartbeat (src/pipeline/reconcile.ts writes it each sweep): three intervals
 * without one, counted from this process's start when there has been none, is not ready.
 */
export interface SweepWatch {
  lastSwept(): Promise<number | null>;
  intervalMs: number;
  since: number;
}

/** How long the sweep has been missing past three intervals' grace, or null while it runs. */
async function sweepStaleFor(watch: SweepWatch): Promise<number | null> {
  const last = (await watch.lastSwept()) ?? watch.since;
  const age = Date.now() - Math.max(last, 0);
  return age > 3 * watch.intervalMs ? age : null;
}

/** How long /readyz waits for Redis: a load balancer must hear "not ready" fast, not time out. */
export const READY_TIMEOUT_MS = 1_000;

const Ok = z.object({ ok: z.literal(true) });
const NotReady = ErrorBody;

/** /healthz: the process is up. /readyz: it can do its work (Redis takes writes, the bank our credentials). */
export const healthRoutes: FastifyPluginAsync<{
  redis: RedisClient;
  slotKey?: string;
  bankAccess?: BankAccess | undefined;
  sweep?: SweepWatch | undefined;
}> = async (app, { redis, slotKey, bankAccess, sweep }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Ok } } }, async () => ({
    ok: true as const,
  }));
  routes.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: `Redis takes a write within ${READY_TIMEOUT_MS} ms, and Bank 131 accepts our credentials (503 otherwise, saying which)`,
        response: { 200: Ok, 503: NotReady },
      },
    },
    async (_req, reply) => {
      const redisDown = await redisNotReady(redis, READY_TIMEOUT_MS, slotKey);
      if (redisDown) return reply.code(503).send(errorBody('unavailable', `not ready: ${redisDown}`));
      const refusal = await bankAccess?.refusal().catch(() => null);
      if (refusal) {
        return reply
          .code(503)
          .send(
            errorBody(
              'unavailable',
              `not ready: Bank 131 refuses our credentials (${refusal}): check BANK131_PRIVATE_KEY and BANK131_PROJECT; payouts are held, not failed`,
            ),
          );
      }
      const stale = sweep ? await sweepStaleFor(sweep).catch(() => null) : null;
      if (stale !== null) {
        return reply
          .code(503)
          .send(
            errorBody(
              'unavailable',
              `not ready: the reconciler has not swept for ${Math.round(stale / 1000)} s (every ${sweep!.intervalMs / 1000} s expected): is a worker running, and is the payout-reconcile queue resumed? Lost jobs and webhooks are not looked for meanwhile`,
            ),
          );
      }
      return { ok: true as const };
    },
  );
};
