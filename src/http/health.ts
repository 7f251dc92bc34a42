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
const Check = z.object({ ok: z.boolean(), detail: z.string() });
const Checks = z.object({ redis: Check, bank: Check, reconciler: Check });
type Checks = z.infer<typeof Checks>;
const Ready = z.object({ ok: z.literal(true), checks: Checks });
const NotReady = ErrorBody;

/** /healthz: the process is up. /readyz: it can do its work, each dependency it needs checked and named. */
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
        summary: `Each dependency: Redis takes a write within ${READY_TIMEOUT_MS} ms, Bank 131 answers and accepts our credentials, the reconciler sweeps (503 naming each that fails)`,
        description:
          'The bank is judged by the last calls any process made to it (workers, and the web’s own signed `wallet/balance` probe at start and every BANK_PROBE_MS): refused credentials name the settings to fix, no answer names BANK131_BASE_URL. `checks` says what each dependency came to; a 503 carries it too.',
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (_req, reply) => {
      const checks = await readiness(redis, slotKey, bankAccess, sweep);
      // what could not be checked (without Redis) is in `checks`, not in the message
      const failing = Object.values(checks).filter((c) => !c.ok && c.detail !== NOT_CHECKED);
      if (failing.length === 0) return { ok: true as const, checks };
      return reply.code(503).send(errorBody('unavailable', `not ready: ${failing.map((c) => c.detail).join('; ')}`, { checks }));
    },
  );
};

const NOT_CHECKED = 'not checked: Redis is away';

/** Each dependency, in words; without Redis the others cannot be read, and say so. */
async function readiness(
  redis: RedisClient,
  slotKey: string | undefined,
  bankAccess: BankAccess | undefined,
  sweep: SweepWatch | undefined,
): Promise<Checks> {
  const redisDown = await redisNotReady(redis, READY_TIMEOUT_MS, slotKey);
  if (redisDown) {
    const unknown = { ok: false, detail: NOT_CHECKED };
    return { redis: { ok: false, detail: redisDown }, bank: unknown, reconciler: unknown };
  }
  const standing = (await bankAccess?.standing().catch(() => null)) ?? { refused: null, unreachable: null };
  const bank = standing.refused
    ? {
        ok: false,
        detail: `Bank 131 refuses our credentials (${standing.refused}): check BANK131_PRIVATE_KEY and BANK131_PROJECT; payouts are held, not failed`,
      }
    : standing.unreachable
      ? {
          ok: false,
          detail: `Bank 131 cannot be reached (${standing.unreachable}): check BANK131_BASE_URL and the network to the bank; payouts wait and are tried again`,
        }
      : { ok: true, detail: 'Bank 131 answers and accepts our credentials' };
  const stale = sweep ? await sweepStaleFor(sweep).catch(() => null) : null;
  const reconciler =
    stale === null
      ? { ok: true, detail: 'the reconciler sweeps' }
      : {
          ok: false,
          detail: `the reconciler has not swept for ${Math.round(stale / 1000)} s (every ${sweep!.intervalMs / 1000} s expected): is a worker running, and is the payout-reconcile queue resumed? Lost jobs and webhooks are not looked for meanwhile`,
        };
  return { redis: { ok: true, detail: 'Redis takes writes' }, bank, reconciler };
}
