import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient } from './redis-client.js';
import type { AuditEvent, PayoutOrder, PayoutRecord } from '../payouts/schemas.js';
import type { KeyedAction } from '../payouts/idempotency-key.js';
import type { RecordField } from '../payouts/steps.js';
import { canMove, isTerminal, type PayoutState } from '../payouts/state-machine.js';
import { withScripts, type ScriptCommands } from './scripts.js';
import { countByState, listPayouts, type ListPage, type ListQuery, type StateCount } from './payout-list.js';
import { toRecord } from './payout-record.js';
import { DEFAULT_TENANT, type Caller } from '../tenants/identity.js';
import { retirePayouts } from './retention.js';
import { CollectLinks } from './collect-links.js';
import { createPayouts, type CreatePlan, type CreateResult } from './create-payouts.js';
import { EventStore } from './event-store.js';
import { WebhookEndpointStore } from './webhook-endpoint-store.js';
import { RecipientStore } from './recipient-store.js';
import type { NotifyEvent } from '../payouts/events.js';
import type { SavedRecipient } from '../pipeline/saved-recipients.js';

export { CREATE_CHUNK, type CreatePlan, type CreateResult } from './create-payouts.js';

/**
 * `from` is 'replayed' when a re-sent call found its own earlier, already applied, move.
 * `events`: after a move that ends the payout, each of its events and who it is still owed to:
 * `callback_url` and webhook endpoint ids (scripts/transition.lua).
 */
export type TransitionResult =
  | { ok: true; from: PayoutState | 'replayed'; events?: Array<{ event: NotifyEvent; destinations: string[] }> }
  | { ok: false; current: PayoutState | null };

/** One compare-and-set move; only src/pipeline/take-step.ts builds these, from a named step. */
export interface Transition {
  from: readonly PayoutState[];
  to: PayoutState;
  why: string;
  set?: Partial<Record<RecordField, string>>;
  /** Index this bank session to the payout in the same atomic step. */
  indexSession?: string;
  /** The follow-up job this step enqueues (`<queue>/<job id>`), recorded with the move (see lastJob). */
  lastJob?: string;
  /** When the reconciler must look at the payout next, if nothing moves it first (ms since epoch). */
  dueAt: number;
  /** Who asked for it, when a caller did (an API key's id): kept in the audit entry. */
  by?: string | undefined;
  /** A failure that makes a saved card unusable: mark it invalid on its recipient (if it is still theirs) in the same step. */
  invalidateCard?: { tenant: string; recipientId: string; cardId: string } | undefined;
}

/** A call made to the bank for a payout: which, how it ended (the bank's status, or its error code), how long it took. */
export interface BankCall {
  at: string;
  /** What was called, by the bank's name: `session/create`. */
  call: string;
  ok: boolean;
  outcome: string;
  ms: number;
}

export interface HourlyStats {
  /** The hour's start (ISO). */
  hour: string;
  states: Partial<Record<PayoutState, number>>;
  paidKopecks: number;
}

const HOUR_MS = 3_600_000;

/** One approval-rule counter or duplicate guard to check and take (src/rules/screening.ts plans them). */
export interface ScreenCheck {
  kind: 'counter' | 'duplicate';
  /** After the prefix: `rules:…`. */
  key: string;
  count: number | null;
  sum: number | null;
  ttlMs: number;
}
export type ScreenResult =
  | { kind: 'moved'; state: PayoutState | null }
  /** Cleared: `counted` when this call took its slots, false when an earlier run had. */
  | { kind: 'pass'; counted: boolean; how: string }
  /** Nothing counted: which checks were full (`check`: index in the checks given). */
  | { kind: 'breach'; found: Array<{ check: number; which: 'count' | 'sum' | 'duplicate'; held: { count: number; sum: number } }> };

/**
 * Payout records in Redis: one hash per upstream order id, an audit list beside it, a
 * session → payout index for webhook routing, and the due index (a sorted set of payout id → when
 * to look at it next) that the reconciler reads. Every state change is a compare-and-set script
 * (src/store/scripts/) that also writes the due time.
 */
export class PayoutStore {
  private readonly redis: RedisClient & ScriptCommands;

  constructor(
    redis: RedisClient,
    readonly prefix: string,
  ) {
    this.redis = withScripts(redis);
    this.collectLinks = new CollectLinks(redis, (token) => this.collectKey(token));
    this.events = new EventStore(this.redis, this);
    this.endpoints = new WebhookEndpointStore(this.redis, prefix);
    this.recipients = new RecipientStore(this.redis, prefix);
  }

  /** Payouts' outcome events, their destinations and delivery attempts. */
  readonly events: EventStore;
  /** Tenants' webhook endpoints. */
  readonly endpoints: WebhookEndpointStore;
  /** Tenants' saved recipients and their cards (src/store/recipient-store.ts). */
  readonly recipients: RecipientStore;

  /** Card collection links: token → payout, and each link's widget token. */
  readonly collectLinks: CollectLinks;

  /** List indexes, scored by creation: all payouts, or (with a state, '' for the prefix) those in one state. */
  listKey(state?: PayoutState | '', tenant: string = DEFAULT_TENANT): string {
    const lists = `${this.prefix}:list:${tenant === DEFAULT_TENANT ? '' : `t:${tenant}:`}`;
    return state === undefined ? `${lists}all` : `${lists}state:${state}`;
  }

  /** The tenant's payouts by the time they first reached a final state (ms): what a statement is cut by. */
  finishedKey(tenant: string = DEFAULT_TENANT): string {
    return `${this.listKey('', tenant).slice(0, -'state:'.length)}finished`;
  }

  /** The tenant's payouts with this metadata, scored like the list indexes (the value is hashed into the key). */
  metadataKey(tenant: string, metadata: string): string {
    return `${this.listKey('', tenant).slice(0, -'state:'.length)}meta:${sha1(metadata)}`;
  }

  /** The tenant's payouts to a card with these last 4 (indexed when a step or the acceptance learns them). */
  last4Key(tenant: string, last4: string): string {
    return `${this.listKey('', tenant).slice(0, -'state:'.length)}last4:${last4}`;
  }

  /** The tenant's payouts to one saved recipient. */
  recipientIndexKey(tenant: string, recipientId: string): string {
    return `${this.listKey('', tenant).slice(0, -'state:'.length)}rcp:${recipientId}`;
  }

  /** The tenant's payouts to the person with this reference (the order's customer.reference, or a saved recipient's). */
  referenceKey(tenant: string, reference: string): string {
    return `${this.listKey('', tenant).slice(0, -'state:'.length)}ref:${sha1(reference)}`;
  }

  /**
   * Payouts waiting for a top-up, over all tenants: how many, and their sum in kopecks. The count
   * is the state indexes'; the sum is read from `funds:waiting` (payout → amount, kept by
   * scripts/transition.lua), where a payout that was waiting before that was kept joins at its
   * next retry.
   */
  async awaitingFunds(): Promise<{ count: number; amount: number }> {
    const tenants = await this.tenants();
    const pipeline = this.redis.pipeline().hvals(`${this.prefix}:funds:waiting`);
    for (const tenant of tenants) pipeline.zcard(this.listKey('awaiting_funds', tenant));
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const [amounts, ...counts] = replies.map(([, v]) => v);
    return {
      count: counts.reduce((a: number, b) => a + Number(b ?? 0), 0),
      amount: (amounts as string[]).reduce((a, b) => a + Number(b), 0),
    };
  }

  /** Every tenant that has payouts or keys, the default one included (src/tenants/tenant-store.ts). */
  async tenants(): Promise<string[]> {
    return [...new Set([DEFAULT_TENANT, ...(await this.redis.smembers(`${this.prefix}:tenants`))])];
  }

  /**
   * A page of payouts, newest first, from the list indexes (never a scan): `startingAfter` is the
   * id of the last payout of the previous page; `createdGte`/`createdLte` bound the creation time.
   */
  list(q: ListQuery): Promise<ListPage | { unknownCursor: true }> {
    return listPayouts(this.redis, this, q);
  }

  /** How many payouts are in each state, and when the oldest of them was created (ms), in one round trip. */
  countByState(states: readonly PayoutState[]): Promise<Partial<Record<PayoutState, StateCount>>> {
    return countByState(this.redis, this, states);
  }

  /** Collection link token → payout id. */
  collectKey(token: string): string {
    return `${this.prefix}:collect:${token}`;
  }

  /** The due index: payout id → when to look at it next (ms since epoch). */
  get dueKey(): string {
    return `${this.prefix}:due`;
  }

  /** A retired payout's tombstone: `<state>|<fingerprint>|<created_at>|<finished_at>`. */
  retiredKey(id: string): string {
    return `${this.prefix}:retired:${id}`;
  }

  key(id: string): string {
    return `${this.prefix}:payout:${id}`;
  }
  auditKey(id: string): string {
    return `${this.prefix}:payout:${id}:audit`;
  }
  /** A saved recipient (src/store/recipient-store.ts keeps it; a failing payout may mark its card invalid). */
  recipientKey(tenant: string, recipientId: string): string {
    return `${this.prefix}:recipient:${tenant}:${recipientId}`;
  }
  private sessionKey(sessionId: string): string {
    return `${this.prefix}:session:${sessionId}`;
  }

  /**
   * Accepts orders idempotently, one script call per chunk: a new id is created, the same id with
   * the same order is "existing", the same id with another order is a conflict naming the fields.
   */
  createMany(
    orders: PayoutOrder[],
    planFor: (o: PayoutOrder) => CreatePlan,
    dueAt: number,
    caller: Caller = { tenant: DEFAULT_TENANT, keyId: '' },
  ): Promise<CreateResult[]> {
    return createPayouts(this.redis, this, orders, planFor, dueAt, caller);
  }

  /**
   * The saved recipients payouts name, as a payout takes them at acceptance (src/pipeline/saved-recipients.ts),
   * in one round trip. The recipient store (src/store/recipient-store.ts) writes these hashes.
   */
  async savedRecipients(tenant: string, ids: string[]): Promise<Map<string, SavedRecipient>> {
    const found = new Map<string, SavedRecipient>();
    if (ids.length === 0) return found;
    const fields = ['id', 'reference', 'name', 'tax_reference', 'card_id', 'card_last4', 'card_status', 'card_hashes'] as const;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.recipientKey(tenant, id), ...fields);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, values], i) => {
      if (err) throw err;
      const [id, reference, name, taxReference, cardId, last4, status, hashes] = values as Array<string | null>;
      if (!id || id !== ids[i]) return;
      found.set(id, {
        id,
        reference: reference || null,
        name: name ? (JSON.parse(name) as Record<string, string>) : {},
        taxReference: taxReference || null,
        card: cardId && last4 && status && hashes ? { id: cardId, last4, status, hashes } : null,
      });
    });
    return found;
  }

  async get(id: string): Promise<PayoutRecord | null> {
    const h = await this.redis.hgetall(this.key(id));
    return h.state ? toRecord(h) : null;
  }

  async getMany(ids: string[]): Promise<Array<PayoutRecord | null>> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, h]) => {
      if (err) throw err;
      const hash = h as Record<string, string>;
      return hash.state ? toRecord(hash) : null;
    });
  }

  /** The calls made to the bank for this payout, oldest first (src/pipeline/bank-for.ts records them). */
  bankCallsKey(id: string): string {
    return `${this.key(id)}:calls`;
  }
  async bankCalls(id: string): Promise<BankCall[]> {
    return (await this.redis.lrange(this.bankCallsKey(id), 0, -1)).map((e) => JSON.parse(e) as BankCall);
  }
  /** Best effort, like a log line: a payout's story misses a call rather than the call failing for it. */
  async recordBankCall(id: string, call: BankCall): Promise<void> {
    await this.redis.rpush(this.bankCallsKey(id), JSON.stringify(call));
  }

  /**
   * Per hour, oldest first, the last `hours` hours: how many payouts entered each state that
   * scripts/transition.lua counts (awaiting_review and the final ones), and the kopecks paid
   * (payouts that succeeded in that hour).
   */
  async hourlyStats(hours: number, now = Date.now()): Promise<HourlyStats[]> {
    const last = Math.floor(now / HOUR_MS);
    const pipeline = this.redis.pipeline();
    for (let h = last - hours + 1; h <= last; h++) pipeline.hgetall(this.statsKey(h));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, value], i) => {
      if (err) throw err;
      const { paid, ...states } = value as Record<string, string>;
      return {
        hour: new Date((last - hours + 1 + i) * HOUR_MS).toISOString(),
        states: Object.fromEntries(Object.entries(states).map(([s, n]) => [s, Number(n)])) as Partial<Record<PayoutState, number>>,
        paidKopecks: Number(paid ?? 0),
      };
    });
  }
  /** One hour's counts (scripts/transition.lua writes them): the hour is `floor(ms / 3600000)`. */
  private statsKey(hour: number): string {
    return `${this.prefix}:stats:h:${hour}`;
  }

  /**
   * The approval rules' counters for one payout (scripts/screen-payout.lua): checked and taken at
   * once, so no slot is given twice; a payout already counted is never counted again.
   */
  async screen(id: string, checks: readonly ScreenCheck[], hold: boolean): Promise<ScreenResult> {
    const args = checks.flatMap((c) => [
      c.kind === 'duplicate' ? 'd' : 'c',
      c.count === null ? '' : String(c.count),
      c.sum === null ? '' : String(c.sum),
      String(Math.max(1, Math.round(c.ttlMs))),
    ]);
    const keys = [this.key(id), ...checks.map((c) => `${this.prefix}:${c.key}`)];
    const [outcome, ...rest] = await this.redis.b131ScreenPayout(keys.length, ...keys, hold ? '1' : '0', ...args);
    if (outcome === 'moved') return { kind: 'moved', state: (rest[0] || null) as PayoutState | null };
    if (outcome === 'counted' || outcome === 'pass') return { kind: 'pass', counted: outcome === 'pass', how: rest[0] ?? '' };
    return {
      kind: 'breach',
      found: rest.map((r) => {
        const [index, which, count, sum] = r.split(':') as [string, 'count' | 'sum' | 'duplicate', string?, string?];
        return { check: Number(index) - 1, which, held: { count: Number(count ?? 0), sum: Number(sum ?? 0) } };
      }),
    };
  }

  async audit(id: string): Promise<AuditEvent[]> {
    return (await this.redis.lrange(this.auditKey(id), 0, -1)).map((e) => JSON.parse(e) as AuditEvent);
  }

  async payoutIdForSession(sessionId: string): Promise<string | null> {
    return this.redis.get(this.sessionKey(sessionId));
  }

  /** One compare-and-set step of the state machine; refuses (throws) a move the machine forbids. */
  async transition(id: string, t: Transition): Promise<TransitionResult> {
    const illegal = t.from.filter((f) => !canMove(f, t.to));
    if (illegal.length > 0) throw new Error(`illegal payout transition ${illegal.join('|')} -> ${t.to}`);
    const fields = Object.entries(t.set ?? {}).flat();
    if (t.lastJob) fields.push('last_job', t.lastJob);
    const now = new Date();
    const [outcome, state, ...destinations] = await this.redis.b131Transition(
      this.key(id),
      this.auditKey(id),
      this.sessionKey(t.indexSession ?? '-'),
      this.dueKey,
      t.from.join(','),
      t.to,
      now.toISOString(),
      t.why,
      JSON.stringify(fields),
      t.indexSession ?? '',
      id,
      randomBytes(9).toString('base64url'),
      String(t.dueAt),
      isTerminal(t.to) ? '1' : '0',
      // the payout's tenant's part is added in the script, from the record
      `${this.prefix}:list:`,
      t.by ?? '',
      this.prefix,
      String(now.getTime()),
      t.invalidateCard ? `${this.recipientKey(t.invalidateCard.tenant, t.invalidateCard.recipientId)}|${t.invalidateCard.cardId}` : '',
    );
    if (outcome === 'ok')
      return { ok: true, from: state as PayoutState | 'replayed', ...(isTerminal(t.to) ? { events: eventsIn(destinations) } : {}) };
    return { ok: false, current: outcome === 'missing' ? null : (state as PayoutState) };
  }

  /** See scripts/mark-start-attempt.lua: how many times start was sent, or null if it must not be. */
  async markStartAttempt(id: string, sessionId: string): Promise<number | null> {
    const n = await this.redis.b131MarkStartAttempt(this.key(id), sessionId);
    return n < 0 ? null : n;
  }

  /** The bank remembers a key whose call never acted: later tries use the next generation. */
  async nextKeyGeneration(id: string, action: KeyedAction, why: string): Promise<void> {
    await this.redis.hincrby(this.key(id), `key_gen_${action}`, 1);
    await this.note(id, why);
  }

  /** An audit entry that moves nothing (a webhook seen, a check made). Returns the state, or null. */
  async note(id: string, why: string): Promise<PayoutState | null> {
    const state = await this.redis.b131Note(this.key(id), this.auditKey(id), new Date().toISOString(), why);
    return state ? (state as PayoutState) : null;
  }

  /**
   * A webhook's audit note on the payout of this session, and that payout as it is now, in one
   * round trip (scripts/note-by-session.lua); null when the session is not ours.
   */
  async noteBySession(sessionId: string, why: string): Promise<PayoutRecord | null> {
    const flat = await this.redis.b131NoteBySession(this.sessionKey(sessionId), this.key(''), new Date().toISOString(), why);
    if (flat.length === 0) return null;
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
    return toRecord(h);
  }

  /**
   * Every destination of the payout's `event` has it: the payout leaves the due index. One
   * destination at a time is `events.settle` (scripts/mark-notified.lua).
   */
  async markNotified(id: string, event: NotifyEvent): Promise<void> {
    await this.events.settle(id, event, '', 'delivered');
  }

  /** Up to `limit` payouts due by `now`, each pushed to `nextDue` in the same step. */
  async takeDue(now: number, nextDue: number, limit: number): Promise<string[]> {
    return this.redis.b131TakeDue(this.dueKey, String(now), String(nextDue), String(limit));
  }

  /**
   * Removes finished payouts that upstream has heard of and that have not changed since `cutoff`,
   * each leaving a tombstone (src/store/retention.ts); how many were removed.
   */
  retireFinished(cutoff: Date, chunk = 500): Promise<number> {
    return retirePayouts(this.redis, this, cutoff, chunk);
  }

  /** What a retired payout left: its final state and when it was created and finished; null if it was not retired. */
  async retired(id: string): Promise<{ state: PayoutState; createdAt: string; finishedAt: string } | null> {
    const tomb = await this.redis.get(this.retiredKey(id));
    if (!tomb) return null;
    const [state, , createdAt, finishedAt] = tomb.split('|') as [PayoutState, string, string, string];
    return { state, createdAt, finishedAt };
  }

  /** Look at this payout next at `at` (ms since epoch), if it is still due at all. */
  async setDue(id: string, at: number): Promise<void> {
    await this.redis.zadd(this.dueKey, 'XX', at, id);
  }

  /** Nothing is left to do for this payout. */
  async notDue(id: string): Promise<void> {
    await this.redis.zrem(this.dueKey, id);
  }

  /** How many payouts are due by `at`: what an operator (and a test) watches drain. */
  async dueCount(at = Number.POSITIVE_INFINITY): Promise<number> {
    return this.redis.zcount(this.dueKey, '-inf', Number.isFinite(at) ? at : '+inf');
  }

  /** When the reconciler last swept (ms since epoch): readiness and a metric watch it. */
  private get sweptKey(): string {
    return `${this.prefix}:reconcile:swept`;
  }
  async markSwept(at: number): Promise<void> {
    await this.redis.set(this.sweptKey, String(at));
  }
  async lastSwept(): Promise<number | null> {
    const at = await this.redis.get(this.sweptKey);
    return at === null ? null : Number(at);
  }

  /** The job that last drove this payout on, as `<queue>/<job id>`: the reconciler checks it first. */
  async lastJob(id: string): Promise<string | null> {
    return this.redis.hget(this.key(id), 'last_job');
  }
  async setLastJob(id: string, job: string): Promise<void> {
    await this.redis.hset(this.key(id), 'last_job', job);
  }
}

/** transition.lua's list of `=<event>` markers, each followed by the destinations still owed it. */
function eventsIn(flat: string[]): Array<{ event: NotifyEvent; destinations: string[] }> {
  const out: Array<{ event: NotifyEvent; destinations: string[] }> = [];
  for (const item of flat) {
    if (item.startsWith('=')) out.push({ event: item.slice(1) as NotifyEvent, destinations: [] });
    else out.at(-1)?.destinations.push(item);
  }
  return out;
}

function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}
