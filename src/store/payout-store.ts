import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  differingFields,
  fingerprint,
  type AuditEvent,
  type PayoutOrder,
  type PayoutRecord,
} from '../payouts/schemas.js';
import type { ReportedFacts } from '../payouts/confirmation-policy.js';
import { PAYOUT_STATES, canMove, type PayoutState } from '../payouts/state-machine.js';
import { CREATE_PAYOUTS, MARK_START_ATTEMPT, TRANSITION } from './lua.js';

/** Orders per create-payouts script call: one round trip each. */
export const CREATE_CHUNK = 500;

export type CreateResult =
  | { id: string; status: 'created' | 'existing'; state: PayoutState }
  | { id: string; status: 'conflict'; state: PayoutState; fields: string[] };

/** `from` is 'replayed' when a re-sent call found its own earlier, already applied, move. */
export type TransitionResult = { ok: true; from: PayoutState | 'replayed' } | { ok: false; current: PayoutState | null };

export interface Transition {
  from: readonly PayoutState[];
  to: PayoutState;
  why: string;
  set?: Partial<Record<'session_id' | 'card_last4' | 'bank_payout_id' | 'error_code' | 'error_text' | 'reported', string>>;
  /** Index this bank session to the payout in the same atomic step. */
  indexSession?: string;
}

interface ScriptCommands {
  b131CreatePayouts(numKeys: number, ...args: string[]): Promise<string[]>;
  b131Transition(...args: string[]): Promise<[string, string]>;
  b131MarkStartAttempt(key: string, sessionId: string): Promise<number>;
}

/**
 * Payout records in Redis: one hash per upstream order id, an audit list beside it, and a
 * session → payout index for webhook routing. Every state change is a compare-and-set script.
 */
export class PayoutStore {
  private readonly redis: Redis & ScriptCommands;

  constructor(
    redis: Redis,
    readonly prefix: string,
  ) {
    this.redis = redis as Redis & ScriptCommands;
    if (!('b131Transition' in redis)) {
      redis.defineCommand('b131CreatePayouts', { lua: CREATE_PAYOUTS });
      redis.defineCommand('b131Transition', { lua: TRANSITION, numberOfKeys: 3 });
      redis.defineCommand('b131MarkStartAttempt', { lua: MARK_START_ATTEMPT, numberOfKeys: 1 });
    }
  }

  key(id: string): string {
    return `${this.prefix}:payout:${id}`;
  }
  private auditKey(id: string): string {
    return `${this.prefix}:payout:${id}:audit`;
  }
  private sessionKey(sessionId: string): string {
    return `${this.prefix}:session:${sessionId}`;
  }

  /**
   * Accepts orders idempotently, one script call per chunk: a new id is created, the same id with
   * the same order is "existing", the same id with another order is a conflict naming the fields.
   */
  async createMany(orders: PayoutOrder[], initialState: (o: PayoutOrder) => PayoutState): Promise<CreateResult[]> {
    const results: CreateResult[] = [];
    for (let i = 0; i < orders.length; i += CREATE_CHUNK) {
      const chunk = orders.slice(i, i + CREATE_CHUNK);
      const now = new Date().toISOString();
      const keys: string[] = [];
      const args: string[] = [now];
      for (const order of chunk) {
        const state = initialState(order);
        const audit: AuditEvent = { at: now, from: null, to: state, why: 'accepted' };
        keys.push(this.key(order.id), this.auditKey(order.id));
        args.push(order.id, fingerprint(order), JSON.stringify(order), state, JSON.stringify(audit));
      }
      const out = await this.redis.b131CreatePayouts(keys.length, ...keys, ...args);
      const conflicts: number[] = [];
      out.forEach((entry, j) => {
        const [status, state] = entry.split(':') as ['created' | 'existing' | 'conflict', PayoutState];
        const id = chunk[j]!.id;
        if (status === 'conflict') conflicts.push(results.length);
        results.push(status === 'conflict' ? { id, status, state, fields: [] } : { id, status, state });
      });
      // Rare path: read the stored orders, in one round trip, to name what differs.
      const stored = await this.getMany(conflicts.map((at) => results[at]!.id));
      conflicts.forEach((at, k) => {
        const result = results[at] as Extract<CreateResult, { status: 'conflict' }>;
        const existing = stored[k];
        const incoming = orders[at];
        if (existing && incoming) result.fields = differingFields(existing.order, incoming);
      });
    }
    return results;
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
    const [outcome, state] = await this.redis.b131Transition(
      this.key(id),
      this.auditKey(id),
      this.sessionKey(t.indexSession ?? '-'),
      t.from.join(','),
      t.to,
      new Date().toISOString(),
      t.why,
      JSON.stringify(fields),
      t.indexSession ?? '',
      id,
      randomUUID(),
    );
    if (outcome === 'ok') return { ok: true, from: state as PayoutState | 'replayed' };
    return { ok: false, current: outcome === 'missing' ? null : (state as PayoutState) };
  }

  /** See lua.ts MARK_START_ATTEMPT: returns how many times start was sent, or null if it must not be. */
  async markStartAttempt(id: string, sessionId: string): Promise<number | null> {
    const n = await this.redis.b131MarkStartAttempt(this.key(id), sessionId);
    return n < 0 ? null : n;
  }
}

function toRecord(h: Record<string, string>): PayoutRecord {
  const state = h.state as PayoutState;
  if (!PAYOUT_STATES.includes(state)) throw new Error(`payout ${h.id} has unknown state ${h.state}`);
  return {
    id: h.id!,
    state,
    order: JSON.parse(h.order!) as PayoutOrder,
    fingerprint: h.fingerprint!,
    sessionId: h.session_id ?? null,
    cardLast4: h.card_last4 ?? null,
    bankPayoutId: h.bank_payout_id ?? null,
    errorCode: h.error_code ?? null,
    errorText: h.error_text ?? null,
    startAttempts: Number(h.start_attempts ?? 0),
    reported: h.reported ? (JSON.parse(h.reported) as ReportedFacts) : null,
    createdAt: h.created_at!,
    updatedAt: h.updated_at!,
  };
}
