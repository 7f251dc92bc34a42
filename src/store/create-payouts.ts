import type { AuditEvent, PayoutOrder, PayoutRecord } from '../payouts/schemas.js';
import { differingFields, fingerprint } from '../payouts/schemas.js';
import type { PayoutState } from '../payouts/state-machine.js';
import { DEFAULT_TENANT, payoutKeyOf, type Caller } from '../tenants/identity.js';
import type { RedisClient } from './redis-client.js';
import type { ScriptCommands } from './scripts.js';

/** Orders per create-payouts script call: one round trip each. */
export const CREATE_CHUNK = 500;

export type CreateResult =
  | { id: string; status: 'created' | 'existing'; state: PayoutState; collectToken?: string }
  | { id: string; status: 'conflict'; state: PayoutState; fields: string[] }
  /** Refused before anything was stored: what it names does not hold (a recipient that is not the tenant's). */
  | { id: string; status: 'invalid'; issues: Array<{ field: string; problem: string }> };

/**
 * How one order is accepted: its first state, for one without a card its collection link, and
 * fields the record starts with besides the order (a saved recipient's name and card).
 */
export type CreatePlan =
  | PayoutState
  | {
      state: PayoutState;
      dueAt?: number;
      collect?: { token: string; expiresAt: number } | undefined;
      fields?: Record<string, string>;
      /** The person's reference when the order gives none (a saved recipient's): indexed for `GET /v1/payouts?reference=`. */
      reference?: string | null;
    };

/** The store's keys and record reads this needs (src/store/payout-store.ts). */
interface Keys {
  prefix: string;
  dueKey: string;
  listKey(state?: PayoutState | '', tenant?: string): string;
  collectKey(token: string): string;
  metadataKey(tenant: string, metadata: string): string;
  referenceKey(tenant: string, reference: string): string;
  last4Key(tenant: string, last4: string): string;
  recipientIndexKey(tenant: string, recipientId: string): string;
  retiredKey(id: string): string;
  key(id: string): string;
  auditKey(id: string): string;
  getMany(ids: string[]): Promise<Array<PayoutRecord | null>>;
}

/**
 * Accepts orders idempotently, one script call per chunk (scripts/create-payouts.lua): a new id is
 * created, the same id with the same order is "existing", the same id with another order is a
 * conflict naming the fields.
 */
export async function createPayouts(
  redis: RedisClient & ScriptCommands,
  store: Keys,
  orders: PayoutOrder[],
  planFor: (o: PayoutOrder) => CreatePlan,
  dueAt: number,
  caller: Caller,
): Promise<CreateResult[]> {
  const { tenant } = caller;
  const by = caller.keyId ? { by: caller.keyId } : {};
  const results: CreateResult[] = [];
  for (let i = 0; i < orders.length; i += CREATE_CHUNK) {
    const chunk = orders.slice(i, i + CREATE_CHUNK);
    const now = new Date().toISOString();
    const keys: string[] = [store.dueKey, store.listKey(undefined, tenant), `${store.prefix}:list:seq`, `${store.prefix}:tenants`];
    const args: string[] = [
      now,
      String(dueAt),
      String(Date.parse(now)),
      store.listKey('', tenant),
      store.collectKey(''),
      store.retiredKey(''),
      tenant === DEFAULT_TENANT ? '' : tenant,
    ];
    for (const order of chunk) {
      const plan = planFor(order);
      const { state, dueAt: itemDue, collect, fields, reference } = typeof plan === 'string' ? { state: plan } : plan;
      const customerReference = order.customer?.reference ?? reference ?? null;
      const extra: Record<string, string> = { amount: String(order.amount_details.amount), ...fields };
      // the key that accepted it may never approve it (src/pipeline/review.ts)
      if (caller.keyId) extra.created_by = caller.keyId;
      if (customerReference) extra.customer_reference = customerReference;
      const indexes = [
        ...(order.metadata !== undefined ? [store.metadataKey(tenant, order.metadata)] : []),
        ...(customerReference ? [store.referenceKey(tenant, customerReference)] : []),
        ...(extra.card_last4 ? [store.last4Key(tenant, extra.card_last4)] : []),
        ...(extra.recipient_id ? [store.recipientIndexKey(tenant, extra.recipient_id)] : []),
      ];
      const audit: AuditEvent = {
        at: now,
        from: null,
        to: state,
        why: collect ? 'accepted without a card: collection link issued' : 'accepted',
        ...by,
      };
      const id = payoutKeyOf(tenant, order.id);
      keys.push(store.key(id), store.auditKey(id));
      args.push(
        id,
        fingerprint(order),
        JSON.stringify(order),
        state,
        JSON.stringify(audit),
        order.callback_url ? '1' : '0',
        itemDue === undefined ? '' : String(itemDue),
        collect?.token ?? '',
        collect ? String(collect.expiresAt) : '',
        JSON.stringify(Object.entries(extra).flat()),
        JSON.stringify(indexes),
      );
    }
    const out = await redis.b131CreatePayouts(keys.length, ...keys, ...args);
    const conflicts: number[] = [];
    out.forEach((entry, j) => {
      const [status, state, token] = entry.split(':') as ['created' | 'existing' | 'conflict', PayoutState, string];
      const id = payoutKeyOf(tenant, chunk[j]!.id);
      if (status === 'conflict') conflicts.push(results.length);
      results.push(
        status === 'conflict' ? { id, status, state, fields: [] } : { id, status, state, ...(token ? { collectToken: token } : {}) },
      );
    });
    // Rare path: read the stored orders, in one round trip, to name what differs.
    const stored = await store.getMany(conflicts.map((at) => results[at]!.id));
    conflicts.forEach((at, k) => {
      const result = results[at] as Extract<CreateResult, { status: 'conflict' }>;
      const existing = stored[k];
      const incoming = orders[at];
      if (existing && incoming) result.fields = differingFields(existing.order, incoming);
    });
  }
  return results;
}
