import type { PayoutRecord } from '../payouts/schemas.js';
import type { PayoutState } from '../payouts/state-machine.js';
import type { RedisClient } from './redis-client.js';

/**
 * Reading the list indexes that the create and transition scripts keep (sorted sets by creation
 * time: all payouts, and one per state): pages for `GET /v1/payouts`, counts for the metrics.
 */
export interface ListQuery {
  /** Whose payouts (its own list indexes); the default tenant when unset. */
  tenant?: string | undefined;
  limit: number;
  state?: PayoutState | undefined;
  startingAfter?: string | undefined;
  createdGte?: Date | undefined;
  createdLte?: Date | undefined;
}

export interface StateCount {
  count: number;
  oldestCreatedMs: number | null;
}

/** The store's keys and record reads these need. */
interface Records {
  listKey(state?: PayoutState | '', tenant?: string): string;
  tenants(): Promise<string[]>;
  key(id: string): string;
  getMany(ids: string[]): Promise<Array<PayoutRecord | null>>;
}

export async function listPayouts(
  redis: RedisClient,
  store: Records,
  q: ListQuery,
): Promise<{ payouts: PayoutRecord[]; hasMore: boolean } | { unknownCursor: true }> {
  const key = store.listKey(q.state, q.tenant);
  let max = q.createdLte ? (q.createdLte.getTime() + 1) * 1000 - 1 : Number.POSITIVE_INFINITY;
  const min = q.createdGte ? `${q.createdGte.getTime() * 1000}` : '-inf';
  let skip = 0;
  if (q.startingAfter) {
    const stored = await redis.hget(store.key(q.startingAfter), 'list_score');
    if (stored === null) return { unknownCursor: true };
    const score = Number(stored);
    if (score <= max) {
      // Inclusive of the cursor's score: payouts that share it (rare) come after the cursor in
      // the index's order, so skip up to and including the cursor itself.
      max = score;
      const tied = await redis.zrevrangebyscore(key, score, score);
      const at = tied.indexOf(q.startingAfter);
      skip = at >= 0 ? at + 1 : tied.filter((id) => id > q.startingAfter!).length;
    }
  }
  const top = Number.isFinite(max) ? String(max) : '+inf';
  const ids = (await redis.zrevrangebyscore(key, top, min, 'LIMIT', 0, skip + q.limit + 1)).slice(skip);
  const records = await store.getMany(ids.slice(0, q.limit));
  return { payouts: records.filter((r): r is PayoutRecord => r !== null), hasMore: ids.length > q.limit };
}

/** Over every tenant: how many wait in each state, and since when the oldest. */
export async function countByState(
  redis: RedisClient,
  store: Records,
  states: readonly PayoutState[],
): Promise<Partial<Record<PayoutState, StateCount>>> {
  const tenants = await store.tenants();
  const pipeline = redis.pipeline();
  for (const tenant of tenants) {
    for (const state of states) {
      pipeline.zcard(store.listKey(state, tenant));
      pipeline.zrange(store.listKey(state, tenant), '0', '0', 'WITHSCORES');
    }
  }
  const replies = (await pipeline.exec()) ?? [];
  const out: Partial<Record<PayoutState, StateCount>> = {};
  tenants.forEach((_, t) => {
    states.forEach((state, s) => {
      const at = 2 * (t * states.length + s);
      const oldest = replies[at + 1]?.[1] as string[] | undefined;
      const oldestMs = oldest && oldest[1] ? Math.floor(Number(oldest[1]) / 1000) : null;
      const sum = out[state] ?? { count: 0, oldestCreatedMs: null };
      sum.count += Number(replies[at]?.[1] ?? 0);
      if (oldestMs !== null && (sum.oldestCreatedMs === null || oldestMs < sum.oldestCreatedMs)) sum.oldestCreatedMs = oldestMs;
      out[state] = sum;
    });
  });
  return out;
}
