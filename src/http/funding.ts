import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Bank131Client } from '../bank131/client.js';
import { Bank131Error } from '../bank131/errors.js';
import { BalanceCache } from '../funding/balance-cache.js';
import { FundingStore } from '../funding/funding-store.js';
import { WalletBalance, walletsOf } from '../funding/wallets.js';
import { observeFunding } from '../metrics.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { resumeWaitingForFunds } from '../pipeline/resume-funds.js';
import { RETRY_AFTER_S } from '../store/redis-errors.js';
import type { RedisClient } from '../store/redis-client.js';
import { DEFAULT_TENANT } from '../tenants/identity.js';
import { callerOf } from './auth.js';
import { HttpError, errorResponses } from './errors.js';

const tags = ['payouts'];
const security = [{ apiKey: [] }];

export const BalanceView = z
  .object({
    wallets: z.array(WalletBalance).describe("the bank's wallet/balance answer: each partner wallet, its amount in minor units (kopecks)"),
    fetched_at: z.string().describe('when the bank gave this answer (it is reused for BALANCE_CACHE_MS)'),
    waiting_for_funds: z
      .object({ count: z.number().int(), amount: z.number().int().describe('kopecks') })
      .describe('payouts in awaiting_funds, over every tenant, and the sum of their amounts'),
  })
  .meta({ id: 'Balance' });
export const Resumed = z.object({ resumed: z.number().int().describe('payouts in awaiting_funds given a start job now') });

export interface FundingOptions {
  steps: StepDeps;
  /** The web's bank client: the balance is the one call to the bank these routes make. */
  bank: Bank131Client;
  /** The per-state list indexes (resume) and the kept balance (metrics) are read here. */
  redis: RedisClient;
  /** BALANCE_CACHE_MS. */
  balanceCacheMs: number;
}

/**
 * The operator's view of the partner wallet, and the one lever on payouts that wait for it
 * (docs/api.md, "Funding"): `GET /v1/balance` and `POST /v1/payouts/resume`. Operator only: a key of
 * API_KEYS (the default tenant); any other tenant's key is answered 403 `operator_only`, since the
 * wallet and the waiting payouts are every tenant's. Registered inside src/http/tenant-api.ts,
 * after its key check.
 */
export const fundingRoutes: FastifyPluginAsync<FundingOptions> = async (app, { steps, bank, redis, balanceCacheMs }) => {
  const funding = new FundingStore(redis, steps.store.prefix);
  observeFunding(funding);
  const balance = new BalanceCache(async () => walletsOf(await bank.walletBalance()), balanceCacheMs);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/balance',
    {
      preHandler: operatorOnly,
      schema: {
        tags,
        security,
        summary: 'The partner wallet balance, and what waits for it (operator only)',
        description:
          "Bank 131's `wallet/balance`, reused for BALANCE_CACHE_MS (requests meanwhile share one call), beside the payouts in `awaiting_funds` over every tenant and the sum of their amounts. When the bank does not answer: 503 `unavailable`, and the next request asks again. Only the operator's keys (API_KEYS): 403 `operator_only` for a tenant's.",
        response: { 200: BalanceView, ...errorResponses('unauthorized', 'operator_only', 'rate_limited', 'unavailable') },
      },
    },
    async (_req, reply) => {
      const [known, waiting] = await Promise.all([
        balance.get().catch((err: unknown) => bankUnavailable(err, reply)),
        steps.store.awaitingFunds(),
      ]);
      return { wallets: known.wallets, fetched_at: known.fetchedAt.toISOString(), waiting_for_funds: waiting };
    },
  );

  routes.post(
    '/v1/payouts/resume',
    {
      preHandler: operatorOnly,
      schema: {
        tags,
        security,
        summary: 'Try every payout waiting for funds again now, after a top-up (operator only)',
        description:
          "Every payout in `awaiting_funds`, of every tenant, gets a start job now instead of at its next WALLET_RETRY_MS retry. Safe to call any number of times: the start job asks `session/status` first and never moves money by itself, so a payout is still paid at most once. The workers do the same by themselves when their balance poll (BALANCE_POLL_MS) sees the wallet rise. Only the operator's keys (API_KEYS): 403 `operator_only` for a tenant's.",
        response: { 202: Resumed, ...errorResponses('unauthorized', 'operator_only', 'rate_limited', 'unavailable') },
      },
    },
    async (req, reply) => {
      const resumed = await resumeWaitingForFunds({ store: steps.store, queues: steps.queues, redis });
      req.log.info({ resumed, by: callerOf(req).keyId }, `resumed ${resumed} payouts waiting for funds`);
      return reply.code(202).send({ resumed });
    },
  );
};

/** The wallet and every tenant's waiting payouts are the operator's business only. */
async function operatorOnly(req: FastifyRequest): Promise<void> {
  if (callerOf(req).tenant !== DEFAULT_TENANT) throw new HttpError('operator_only');
}

/** The bank did not tell the balance: a passing fault as far as the caller can act on it, never a 500. */
function bankUnavailable(err: unknown, reply: FastifyReply): never {
  if (!(err instanceof Bank131Error)) throw err;
  reply.header('retry-after', String(RETRY_AFTER_S));
  throw new HttpError('unavailable', `Bank 131 did not tell the wallet balance (${err.message}); retry`);
}
