import { randomBytes } from 'node:crypto';
import type { PayoutOrder } from '../payouts/schemas.js';
import { enqueueStarts } from '../queues.js';
import type { CreatePlan, CreateResult } from '../store/payout-store.js';
import type { StepDeps } from './pipeline-deps.js';
import { DEFAULT_TENANT, payoutKeyOf, type Caller } from '../tenants/identity.js';
import { planFor, type RecipientPlan } from './saved-recipients.js';

/** Orders accepted with no caller named (the CLI's import goes through the API, so only tests and tools). */
const DEFAULT_CALLER: Caller = { tenant: DEFAULT_TENANT, keyId: '' };

/** Start jobs per addBulk call: one round trip each. */
const ENQUEUE_CHUNK = 1_000;

/**
 * Accepting orders is the payout's first step: each new order is recorded `queued` and due for the
 * reconciler in the same script, then its start job is enqueued. A process that dies in between
 * leaves payouts the reconciler starts. An order already accepted and still queued gets its
 * start job again (the job id dedupes it), since the request that recorded it may have died there.
 */
export async function acceptPayouts(deps: StepDeps, orders: PayoutOrder[], caller: Caller = DEFAULT_CALLER): Promise<CreateResult[]> {
  const now = Date.now();
  const expiresAt = now + deps.timing.collectTtlMs;
  // Without a card, the payout waits for its recipient behind a random, single-use link, and is
  // due when the link expires (the reconciler expires it then).
  const collect = () => ({ token: randomBytes(24).toString('base64url'), expiresAt });
  const named = [...new Set(orders.flatMap((o) => (o.recipient_id ? [o.recipient_id] : [])))];
  const recipients = await deps.store.savedRecipients(caller.tenant, named);
  const plans = orders.map((o): { ok: true; plan: CreatePlan } | Extract<RecipientPlan, { ok: false }> =>
    !o.recipient_id && !o.fiscalization
      ? { ok: true, plan: o.encrypted_card ? 'queued' : { state: 'awaiting_card', dueAt: expiresAt, collect: collect() } }
      : planFor(o, o.recipient_id ? recipients.get(o.recipient_id) : null, collect),
  );
  const planOf = new Map<PayoutOrder, CreatePlan>();
  orders.forEach((o, i) => {
    const p = plans[i]!;
    if (p.ok) planOf.set(o, p.plan);
  });
  const accepted = orders.filter((o) => planOf.has(o));
  const stored = await deps.store.createMany(accepted, (o) => planOf.get(o)!, now + deps.timing.reconcileAfterMs, caller);
  let next = 0;
  const results: CreateResult[] = orders.map((o, i) => {
    const p = plans[i]!;
    return p.ok ? stored[next++]! : { id: payoutKeyOf(caller.tenant, o.id), status: 'invalid', issues: p.issues };
  });
  // acceptance is the payout's first state change: one line each, like every step's (src/pipeline/take-step.ts)
  for (const r of results)
    if (r.status === 'created')
      deps.log.info({ payoutId: r.id, tenant: caller.tenant, step: 'accept', from: null, to: r.state }, 'payout moved');
  const toStart = results.filter((r) => (r.status === 'created' || r.status === 'existing') && r.state === 'queued').map((r) => r.id);
  deps.crashPoints?.afterRecord?.(toStart);
  for (let i = 0; i < toStart.length; i += ENQUEUE_CHUNK) await enqueueStarts(deps.queues, toStart.slice(i, i + ENQUEUE_CHUNK));
  return results;
}

/**
 * Single orders arriving together are accepted together: every `POST /v1/payouts` received in
 * the same turn of the event loop joins one `acceptPayouts` call (one create script, one addBulk)
 * instead of two Redis round trips each. Under load a turn carries many requests, so the socket
 * writes (most of the ingress's CPU in bench/results.md) are shared; alone, a request waits for
 * nothing but the end of the turn. Each caller still gets its own order's result, exactly as the
 * batch route answers per item; the same id twice in one turn is taken in arrival order (the
 * second is `existing` or a conflict, as two requests one after the other would be).
 */
export function acceptTogether(deps: StepDeps): (order: PayoutOrder, caller?: Caller) => Promise<CreateResult> {
  type Waiting = { order: PayoutOrder; caller: Caller; resolve: (r: CreateResult) => void; reject: (err: unknown) => void };
  let pending: Waiting[] = [];
  const accept = (batch: Waiting[]) =>
    acceptPayouts(
      deps,
      batch.map((p) => p.order),
      batch[0]!.caller,
    ).then(
      (results) =>
        batch.forEach((p, i) => (results[i] ? p.resolve(results[i]) : p.reject(new Error(`no result for payout ${p.order.id}`)))),
      (err: unknown) => batch.forEach((p) => p.reject(err)),
    );
  const flush = () => {
    // one accept per caller (its tenant's ids and lists, its key in the audit)
    const byCaller = new Map<string, Waiting[]>();
    for (const p of pending) {
      const key = `${p.caller.tenant} ${p.caller.keyId}`;
      byCaller.set(key, [...(byCaller.get(key) ?? []), p]);
    }
    pending = [];
    for (const batch of byCaller.values()) void accept(batch);
  };
  return (order, caller = DEFAULT_CALLER) =>
    new Promise<CreateResult>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ order, caller, resolve, reject });
    });
}
