import { z } from 'zod';
import { Attempt, type EventState } from '../payouts/event-delivery.js';
import { EventType, eventIdOf, type NotifyEvent } from '../payouts/events.js';
import type { RedisClient } from './redis-client.js';
import type { ScriptCommands } from './scripts.js';

/** Attempts kept per event, newest last: a destination down for days is retried every RECONCILE_AFTER_MS. */
export const ATTEMPTS_KEPT = 100;

/** An event as stored (src/store/scripts/transition.lua records it when its payout ends). */
export interface EventRecord extends EventState {
  id: string;
  type: EventType;
  /** The service's id of its payout. */
  payoutId: string;
  tenant: string;
  createdAt: string;
  /** Its place in the tenant's event indexes: creation time (µs-like: ms × 1000 + a sequence). */
  score: number;
  /** The body every delivery sends, once stored (src/store/scripts/store-payload.lua). */
  payload: string | null;
}

const EventHash = z.looseObject({
  id: z.string(),
  type: EventType,
  payout: z.string(),
  tenant: z.string(),
  created_at: z.string(),
  score: z.string(),
  destinations: z.string(),
  payload: z.string().optional(),
  notified_at: z.string().optional(),
});

function toEvent(h: Record<string, string>, pending: string[]): EventRecord {
  const e = EventHash.parse(h);
  const byPrefix = (prefix: string) =>
    Object.fromEntries(Object.entries(h).flatMap(([k, v]) => (k.startsWith(prefix) ? [[k.slice(prefix.length), v]] : [])));
  return {
    id: e.id,
    type: e.type,
    payoutId: e.payout,
    tenant: e.tenant,
    createdAt: e.created_at,
    score: Number(e.score),
    destinations: e.destinations.split(',').filter(Boolean),
    pending: [...pending].sort(),
    delivered: byPrefix('delivered:'),
    dropped: byPrefix('dropped:'),
    notifiedAt: e.notified_at ?? null,
    payload: e.payload ?? null,
  };
}

/** The store's keys this uses. */
interface Keys {
  prefix: string;
  dueKey: string;
  key(payoutId: string): string;
}

/**
 * Payouts' events in Redis (docs/architecture.md, Events): `event:<evt>` (a hash: what the event
 * is, who it is owed to, who has it, its body once stored), `event:<evt>:pending` (owed and not
 * acknowledged), `event:<evt>:attempts` (a list of attempts, capped), and per tenant
 * `events:<tenant>` and `events:<tenant>:type:<type>` (sorted sets by creation) for the listing.
 */
export class EventStore {
  constructor(
    private readonly redis: RedisClient & ScriptCommands,
    private readonly keys: Keys,
  ) {}

  key(evt: string): string {
    return `${this.keys.prefix}:event:${evt}`;
  }
  private pendingKey(evt: string): string {
    return `${this.key(evt)}:pending`;
  }
  private attemptsKey(evt: string): string {
    return `${this.key(evt)}:attempts`;
  }
  /** A tenant's events, newest first, all or of one type. */
  indexKey(tenant: string, type?: EventType): string {
    return `${this.keys.prefix}:events:${tenant}${type ? `:type:${type}` : ''}`;
  }

  async get(evt: string): Promise<EventRecord | null> {
    return (await this.getMany([evt]))[0] ?? null;
  }

  /** Many events in one round trip; null for each one there is not. */
  async getMany(evts: string[]): Promise<Array<EventRecord | null>> {
    if (evts.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const evt of evts) pipeline.hgetall(this.key(evt)).smembers(this.pendingKey(evt));
    const replies = (await pipeline.exec()) ?? [];
    return evts.map((_, i) => {
      const [[err, h], [err2, pending]] = [replies[2 * i]!, replies[2 * i + 1]!];
      if (err || err2) throw err ?? err2;
      const hash = h as Record<string, string>;
      return hash.id ? toEvent(hash, pending as string[]) : null;
    });
  }

  /** Its delivery attempts, oldest first (the newest ATTEMPTS_KEPT). */
  async attempts(evt: string): Promise<Attempt[]> {
    const raw = await this.redis.lrange(this.attemptsKey(evt), 0, -1);
    return raw.flatMap((json) => {
      const parsed = Attempt.safeParse(JSON.parse(json));
      return parsed.success ? [parsed.data] : [];
    });
  }

  /** Stores the event's body if none is stored yet; answers the body stored, or null when there is no such event. */
  async storePayload(evt: string, body: string): Promise<string | null> {
    const stored = await this.redis.b131StorePayload(this.key(evt), body);
    return stored === '' ? null : stored;
  }

  /** An attempt that did not settle its destination. */
  async recordAttempt(evt: string, attempt: Attempt): Promise<void> {
    await this.redis.b131RecordAttempt(this.key(evt), this.attemptsKey(evt), JSON.stringify(attempt), String(ATTEMPTS_KEPT));
  }

  /**
   * A destination settled: it acknowledged (`how` 'delivered', with the attempt that did it), or
   * is dropped (`how` says why). `destination` '' settles them all. True when the payout is done
   * with: every destination settled, so it leaves the due index (scripts/mark-notified.lua).
   */
  async settle(payoutId: string, event: NotifyEvent, destination: string, how: string, attempt?: Attempt): Promise<boolean> {
    const evt = eventIdOf(payoutId, event);
    const done = await this.redis.b131MarkNotified(
      this.keys.key(payoutId),
      this.keys.dueKey,
      this.key(evt),
      this.pendingKey(evt),
      this.attemptsKey(evt),
      event,
      payoutId,
      new Date().toISOString(),
      destination,
      how,
      attempt ? JSON.stringify(attempt) : '',
      String(ATTEMPTS_KEPT),
      this.keys.prefix,
    );
    return done === 1;
  }

  /**
   * A page of a tenant's event ids, newest first, from its indexes (never a scan); `startingAfter`
   * is the last id of the previous page, which must be one of the tenant's events.
   */
  async page(
    tenant: string,
    q: { limit: number; type?: EventType | undefined; startingAfter?: string | undefined },
  ): Promise<{ ids: string[]; hasMore: boolean } | { unknownCursor: true }> {
    const key = this.indexKey(tenant, q.type);
    let max = '+inf';
    let skip = 0;
    if (q.startingAfter !== undefined) {
      const [score, owner] = await this.redis.hmget(this.key(q.startingAfter), 'score', 'tenant');
      if (!score || owner !== tenant) return { unknownCursor: true };
      max = score;
      // Events of one score (rare) come in the index's order: skip up to and including the cursor.
      const tied = await this.redis.zrevrangebyscore(key, score, score);
      const at = tied.indexOf(q.startingAfter);
      skip = at >= 0 ? at + 1 : tied.filter((id) => id > q.startingAfter!).length;
    }
    const ids = (await this.redis.zrevrangebyscore(key, max, '-inf', 'LIMIT', 0, skip + q.limit + 1)).slice(skip);
    return { ids: ids.slice(0, q.limit), hasMore: ids.length > q.limit };
  }

  /** The job that last carried the event to a webhook endpoint (`<queue>/<job id>`): the reconciler checks it first. */
  async lastJob(evt: string, destination: string): Promise<string | null> {
    return this.redis.hget(this.key(evt), `last_job:${destination}`);
  }
  /** Only for an event still owed to this destination: its payout is due, so retention leaves the event be. */
  async setLastJob(evt: string, destination: string, job: string): Promise<void> {
    await this.redis.hset(this.key(evt), `last_job:${destination}`, job);
  }
}
