import type { PayoutRecord } from '../payouts/schemas.js';
import type { PayoutState } from '../payouts/state-machine.js';
import { DEFAULT_TENANT } from '../tenants/identity.js';
import type { RedisClient } from './redis-client.js';

/**
 * Reading the list indexes that the create and transition scripts keep (sorted sets scored by
 * creation, `ms * 1000 + seq`: all payouts, one per state, one per metadata and one per customer
 * reference; and the finished index, scored by the ms a payout first ended): pages for
 * `GET /v1/payouts`, the rows of `bank131-payouts export`, counts for the metrics. Never a scan:
 * several indexes are read at once as one k-way merge (`IndexMerge`).
 */
export interface ListQuery {
  /** Whose payouts (its own list indexes); the default tenant when unset. */
  tenant?: string | undefined;
  limit: number;
  /** Payouts in any of these states; all states when unset or empty. */
  states?: readonly PayoutState[] | undefined;
  /** The order's metadata, exactly. */
  metadata?: string | undefined;
  /** The tenant's reference for the person paid (the order's `customer.reference`, or the saved recipient's). */
  reference?: string | undefined;
  /** The card's last 4, as the payout shows them (a saved card's, the collected card's, or the bank's). */
  last4?: string | undefined;
  /** The saved recipient paid (the order's `recipient_id`). */
  recipient?: string | undefined;
  startingAfter?: string | undefined;
  createdGte?: Date | undefined;
  createdLte?: Date | undefined;
}

/**
 * One page. `next` is the payout to pass as the cursor for the next page (the service's id), null
 * on the last page. A page read through the metadata or reference index may hold fewer than
 * `limit` payouts and still have more (`hasMore`): at most `EXAMINE_PER_ITEM × limit` candidates
 * are read for one page, and `next` is then the last one examined.
 */
export interface ListPage {
  payouts: PayoutRecord[];
  hasMore: boolean;
  next: string | null;
}

export interface StateCount {
  count: number;
  oldestCreatedMs: number | null;
}

/** The store's keys and record reads these need (src/store/payout-store.ts). */
interface Records {
  listKey(state?: PayoutState | '', tenant?: string): string;
  metadataKey(tenant: string, metadata: string): string;
  referenceKey(tenant: string, reference: string): string;
  last4Key(tenant: string, last4: string): string;
  recipientIndexKey(tenant: string, recipientId: string): string;
  tenants(): Promise<string[]>;
  key(id: string): string;
  getMany(ids: string[]): Promise<Array<PayoutRecord | null>>;
}

/** A filtered page examines at most this many candidates per payout asked for (`limit`). */
export const EXAMINE_PER_ITEM = 20;

/** One member of an index, with its score and which of the merged indexes it came from. */
export interface IndexEntry {
  id: string;
  score: number;
  source: number;
}

/**
 * Where a merge starts and ends, in the order it reads: `start` is the first score it may return,
 * `end` the last. Inclusive unless marked exclusive; null is unbounded. `after` is a member at
 * `start` already seen (a cursor): entries at `start` up to and including it are skipped.
 */
export interface MergeRange {
  order: 'asc' | 'desc';
  start: number | null;
  startExclusive?: boolean;
  end: number | null;
  endExclusive?: boolean;
  after?: { score: number; id: string } | undefined;
}

interface Source {
  key: string;
  buffer: Array<[string, number]>;
  at: number;
  /** The bound the next read starts at: a score (inclusive once a read has moved it) or none. */
  from: string;
  /** Members at `from` already read (or skipped): the next read's offset. */
  skip: number;
  /** Members at the `from` score up to this id (in the read's order) are behind us. */
  passedId: string | null;
  passedScore: number | null;
  done: boolean;
}

/**
 * Several sorted sets read as one, in score order (newest first: `desc`; oldest first: `asc`), ties
 * broken by member as Redis orders them (reverse byte order in `desc`, byte order in `asc`), so a
 * cursor `(score, id)` is a position in the merge as in any one of them. Each index is read in
 * chunks (`chunk` members per read, the reads of all indexes that need one in one pipeline), and
 * paged by score rather than by offset, so the millionth member costs what the first does. A
 * member seen in two indexes (a payout that moved between two per-state indexes while being read)
 * is returned once.
 */
export class IndexMerge {
  private readonly sources: Source[];
  private last: { score: number; id: string } | null = null;
  private readonly end: string;

  constructor(
    private readonly redis: RedisClient,
    keys: readonly string[],
    private readonly range: MergeRange,
    private readonly chunk = 1000,
  ) {
    const desc = range.order === 'desc';
    const bound = (score: number | null, exclusive: boolean | undefined, unbounded: string) =>
      score === null ? unbounded : `${exclusive ? '(' : ''}${score}`;
    this.end = bound(range.end, range.endExclusive, desc ? '-inf' : '+inf');
    const after = range.after;
    this.sources = keys.map((key) => ({
      key,
      buffer: [],
      at: 0,
      from: after ? String(after.score) : bound(range.start, range.startExclusive, desc ? '+inf' : '-inf'),
      skip: 0,
      passedId: after ? after.id : null,
      passedScore: after ? after.score : null,
      done: false,
    }));
  }

  /** The next `n` members in order; fewer only when every index is read to its end. */
  async take(n: number): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    while (out.length < n) {
      // every index not read to its end must offer its next member (a read may find only members behind a cursor)
      for (let empty = this.sources.filter(this.starved); empty.length > 0; empty = empty.filter(this.starved)) await this.fill(empty);
      let best = -1;
      for (let i = 0; i < this.sources.length; i++) {
        const s = this.sources[i]!;
        if (s.at >= s.buffer.length) continue;
        if (best < 0 || this.before(s.buffer[s.at]!, this.sources[best]!.buffer[this.sources[best]!.at]!)) best = i;
      }
      if (best < 0) break;
      const s = this.sources[best]!;
      const [id, score] = s.buffer[s.at++]!;
      if (s.at >= s.buffer.length) {
        s.buffer = [];
        s.at = 0;
      }
      if (this.last && this.last.score === score && this.last.id === id) continue;
      this.last = { score, id };
      out.push({ id, score, source: best });
    }
    return out;
  }

  private readonly starved = (s: Source) => !s.done && s.at >= s.buffer.length;

  /** Whether `a` comes before `b` in the merge's order. */
  private before(a: [string, number], b: [string, number]): boolean {
    const desc = this.range.order === 'desc';
    if (a[1] !== b[1]) return desc ? a[1] > b[1] : a[1] < b[1];
    return desc ? a[0] > b[0] : a[0] < b[0];
  }

  /** One round trip: the next chunk of each of these indexes. */
  private async fill(sources: Source[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    const command = this.range.order === 'desc' ? 'zrevrangebyscore' : 'zrangebyscore';
    for (const s of sources) pipeline[command](s.key, s.from, this.end, 'WITHSCORES', 'LIMIT', s.skip, this.chunk);
    const replies = (await pipeline.exec()) ?? [];
    sources.forEach((s, i) => {
      const [err, flat] = replies[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const members = flat as string[];
      const read: Array<[string, number]> = [];
      for (let j = 0; j + 1 < members.length; j += 2) read.push([members[j]!, Number(members[j + 1])]);
      if (read.length < this.chunk) s.done = true;
      if (read.length > 0) {
        const [lastId, lastScore] = read[read.length - 1]!;
        const atLast = read.filter(([, score]) => score === lastScore).length;
        s.skip = String(lastScore) === s.from ? s.skip + atLast : atLast;
        s.from = String(lastScore);
        // What is behind us at the cursor's score: members at it up to the cursor (in read order).
        const { passedId, passedScore } = s;
        s.buffer =
          passedId === null ? read : read.filter(([id, score]) => score !== passedScore || this.before([passedId, score], [id, score]));
        // the read's last member is behind us now, unless the cursor is further still
        if (passedId === null || !this.before([lastId, lastScore], [passedId, passedScore!])) {
          s.passedId = lastId;
          s.passedScore = lastScore;
        }
      } else s.buffer = [];
      s.at = 0;
    });
  }
}

/** Creation scores (`ms * 1000 + seq`) of `GET /v1/payouts`' `created_gte`/`created_lte`: both inclusive. */
function createdBounds(q: ListQuery): { min: number | null; max: number | null } {
  return {
    min: q.createdGte ? q.createdGte.getTime() * 1000 : null,
    max: q.createdLte ? (q.createdLte.getTime() + 1) * 1000 - 1 : null,
  };
}

/**
 * A page of `GET /v1/payouts`, newest first. Without metadata, reference, card last 4 or recipient
 * it is read straight from the per-state indexes (one, several merged, or `list:all`); with any,
 * from one of theirs (recipient, reference, last 4, metadata: the first given), and the states and
 * the other filters are checked on the records read, at most `EXAMINE_PER_ITEM × limit` of them per page.
 */
export async function listPayouts(redis: RedisClient, store: Records, q: ListQuery): Promise<ListPage | { unknownCursor: true }> {
  const tenant = q.tenant ?? DEFAULT_TENANT;
  const { min, max } = createdBounds(q);
  let after: { score: number; id: string } | undefined;
  if (q.startingAfter) {
    const stored = await redis.hget(store.key(q.startingAfter), 'list_score');
    if (stored === null) return { unknownCursor: true };
    const score = Number(stored);
    // A cursor beyond created_lte does not move the page: the bound is lower.
    if (max === null || score <= max) after = { score, id: q.startingAfter };
  }
  const range: MergeRange = { order: 'desc', start: after ? after.score : max, end: min, after };
  const states = q.states?.length ? [...new Set(q.states)] : null;
  const filtered = q.metadata !== undefined || q.reference !== undefined || q.last4 !== undefined || q.recipient !== undefined;

  if (!filtered) {
    const keys = states ? states.map((s) => store.listKey(s, q.tenant)) : [store.listKey(undefined, q.tenant)];
    const entries = await new IndexMerge(redis, keys, range, q.limit + 1).take(q.limit + 1);
    const page = entries.slice(0, q.limit);
    const payouts = (await store.getMany(page.map((e) => e.id))).filter((r): r is PayoutRecord => r !== null);
    const hasMore = entries.length > q.limit;
    // the cursor is a payout that still exists (one retired meanwhile could not be resolved)
    return { payouts, hasMore, next: hasMore ? (payouts.at(-1)?.id ?? page.at(-1)!.id) : null };
  }

  // the narrowest index read; every other filter is checked on the records
  const key =
    q.recipient !== undefined
      ? store.recipientIndexKey(tenant, q.recipient)
      : q.reference !== undefined
        ? store.referenceKey(tenant, q.reference)
        : q.last4 !== undefined
          ? store.last4Key(tenant, q.last4)
          : store.metadataKey(tenant, q.metadata!);
  const matches = (r: PayoutRecord) =>
    (states === null || states.includes(r.state)) &&
    (q.metadata === undefined || r.order.metadata === q.metadata) &&
    (q.reference === undefined || r.customerReference === q.reference) &&
    (q.last4 === undefined || r.cardLast4 === q.last4) &&
    (q.recipient === undefined || r.recipientId === q.recipient);
  const budget = EXAMINE_PER_ITEM * q.limit;
  const merge = new IndexMerge(redis, [key], range, Math.min(budget, 1000));
  const found: PayoutRecord[] = [];
  let examined = 0;
  let lastExamined: string | null = null;
  let want = Math.min(budget, 2 * (q.limit + 1));
  while (examined < budget) {
    const n = Math.min(want, budget - examined);
    want *= 2;
    const entries = await merge.take(n);
    const records = await store.getMany(entries.map((e) => e.id));
    for (let i = 0; i < entries.length; i++) {
      const record = records[i];
      if (record && matches(record)) {
        if (found.length === q.limit) return { payouts: found, hasMore: true, next: found.at(-1)!.id };
        found.push(record);
      }
      examined += 1;
      // a candidate removed since it was indexed cannot be a cursor
      if (record) lastExamined = entries[i]!.id;
    }
    if (entries.length < n) return { payouts: found, hasMore: false, next: null };
  }
  return { payouts: found, hasMore: true, next: lastExamined ?? found.at(-1)?.id ?? null };
}

/** Over every tenant: how many wait in each state, and since when the oldest. */
export async function countByState(
  redis: RedisClient,
  store: Pick<Records, 'listKey' | 'tenants'>,
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
