import { TERMINAL_STATES, type PayoutState } from '../payouts/state-machine.js';
import type { RedisClient } from './redis-client.js';
import type { ScriptCommands } from './scripts.js';

/** The store's keys retention reads and writes. */
interface Keys {
  prefix: string;
  dueKey: string;
  listKey(state?: PayoutState | '', tenant?: string): string;
  tenants(): Promise<string[]>;
}

/**
 * Removes finished payouts whose last change, and the moment upstream acknowledged their
 * outcome, are at or before `cutoff` (they have left the due index), oldest first, `chunk` per
 * script call; each leaves a tombstone that keeps its id taken (scripts/retire-payouts.lua).
 * Returns how many were removed.
 */
export async function retirePayouts(redis: RedisClient & ScriptCommands, store: Keys, cutoff: Date, chunk: number): Promise<number> {
  let retired = 0;
  const top = String(cutoff.getTime() * 1000 + 999);
  for (const tenant of await store.tenants()) {
    for (const state of TERMINAL_STATES) {
      // Listed by creation time: a payout created after the cutoff cannot have ended before it.
      // Paged by score, not offset, so payouts left behind (upstream not told yet) cost one pass;
      // one sharing the last score of a page (rare: same millisecond and sequence) waits an hour.
      let from = '-inf';
      for (;;) {
        const page = await redis.zrangebyscore(store.listKey(state, tenant), from, top, 'WITHSCORES', 'LIMIT', 0, chunk);
        const ids = page.filter((_, i) => i % 2 === 0);
        if (ids.length === 0) break;
        retired += await redis.b131RetirePayouts(store.dueKey, store.prefix, cutoff.toISOString(), ...ids);
        if (ids.length < chunk) break;
        from = `(${page[page.length - 1]}`;
      }
    }
  }
  return retired;
}
