import type { PayoutStore } from '../store/payout-store.js';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Bank131Client } from '../bank131/client.js';
import { BatchRequest, MAX_BATCH, PayoutOrder, PayoutView, collectUrl, publicView } from '../payouts/schemas.js';
import {
  Accepted,
  BatchResponse,
  CancelResponse,
  IdParams,
  ApproveBody,
  RejectBody,
  ReviewResponse,
  ListQuery,
  ListResponse,
  WidgetToken,
  type BatchItemResult,
} from './payout-schemas.js';
import { callbackUrlProblem } from '../payouts/callback-url.js';
import { CANCELLABLE_AT_BANK, CANCELLABLE_DIRECTLY, isTerminal, type PayoutState } from '../payouts/state-machine.js';
import { acceptPayouts, acceptTogether } from '../pipeline/accept-payouts.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { takeStep } from '../pipeline/take-step.js';
import { decideReview, type ReviewResult } from '../pipeline/review.js';
import { callerOf } from './auth.js';
import { payoutKeyOf, tenantOf } from '../tenants/identity.js';
import { EXAMINE_PER_ITEM } from '../store/payout-list.js';
import { notificationOf } from '../payouts/event-delivery.js';
import { eventIdOf, eventOf } from '../payouts/events.js';
import type { PayoutRecord } from '../payouts/schemas.js';
import { ErrorBody, HttpError, errorResponses, invalidRequest, issuesOf } from './errors.js';
import { forbiddenKeysByItem } from './json-body.js';

const tags = ['payouts'];
const security = [{ apiKey: [] }];

/**
 * The upstream API (docs/api.md, Payouts): accept payouts singly or in batches, read, list
 * and cancel them. It validates, records and enqueues; workers make every call that moves money
 * (of the bank, the web asks only for widget tokens: `POST /v1/widget-tokens` and the card pages).
 * Every route here is a tenant's (src/http/tenant-api.ts checks the key): a payout of another
 * tenant is not found.
 */
export const payoutRoutes: FastifyPluginAsync<{
  steps: StepDeps;
  bank: Bank131Client;
  publicUrl: () => string;
}> = async (app, { steps, bank, publicUrl }) => {
  const { store } = steps;
  const acceptOne = acceptTogether(steps);
  const linkOf = (token: string | undefined) => (token ? { collect_url: collectUrl(publicUrl(), token) } : {});
  const idOf = (req: FastifyRequest, orderId: string) => payoutKeyOf(callerOf(req).tenant, orderId);
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // the payout each route is about, for its access line: by the id in the path or the single order's body
  app.addHook('preHandler', async (req) => {
    const id =
      (req.params as { id?: unknown } | undefined)?.id ??
      (req.routeOptions.url === '/v1/payouts' ? (req.body as { id?: unknown })?.id : undefined);
    if (typeof id === 'string' && req.caller) req.payoutId = payoutKeyOf(req.caller.tenant, id);
  });

  routes.post(
    '/v1/payouts',
    {
      schema: {
        tags,
        security,
        summary: 'Accept one payout',
        description:
          "The `id` is your order id and the idempotency key: the same id with the same body answers 200 with the payout as it stands; with another body, 409 naming the fields that differ. Without `encrypted_card` the payout waits in `awaiting_card`, and the answer carries a `collect_url`: a single-use link for the recipient to give a card through the bank's widget (it expires after COLLECT_TTL).",
        body: PayoutOrder,
        response: {
          202: Accepted.describe('accepted'),
          200: Accepted.describe('already accepted with this body'),
          409: ErrorBody,
          ...errorResponses('invalid_request', 'invalid_json', 'unauthorized', 'body_too_large', 'unsupported_media_type', 'unavailable'),
        },
      },
    },
    async (req, reply) => {
      const problem = req.body.callback_url
        ? callbackUrlProblem(req.body.callback_url, { allowPrivate: steps.allowPrivateCallbacks ?? false })
        : null;
      if (problem) throw invalidRequest([{ field: 'callback_url', problem }]);
      const result = await acceptOne(req.body, callerOf(req));
      if (result.status === 'invalid') throw invalidRequest(result.issues);
      if (result.status === 'conflict') {
        throw new HttpError('conflict', `payout ${req.body.id} exists with a different ${result.fields.join(', ') || 'body'}`, {
          fields: result.fields,
        });
      }
      return reply
        .code(result.status === 'created' ? 202 : 200)
        .send({ id: req.body.id, status: result.state, ...(result.state === 'awaiting_card' ? linkOf(result.collectToken) : {}) });
    },
  );

  routes.post(
    '/v1/payouts/batch',
    {
      bodyLimit: 32 * 1024 * 1024,
      // a `__proto__` inside one item refuses that item only (src/http/json-body.ts)
      config: { jsonItems: 'payouts' },
      schema: {
        tags,
        security,
        summary: `Accept up to ${MAX_BATCH.toLocaleString('en')} payouts`,
        description:
          'Each item is a body of `POST /v1/payouts`, checked on its own: one bad item is answered `invalid` and the others go ahead. Recorded with one Redis round trip per 500 payouts.',
        body: BatchRequest,
        response: {
          200: BatchResponse,
          ...errorResponses('invalid_request', 'invalid_json', 'unauthorized', 'body_too_large', 'unsupported_media_type', 'unavailable'),
        },
      },
    },
    async (req) => {
      const items = req.body.payouts;
      const answers: BatchItemResult[] = new Array(items.length);
      const valid: Array<{ at: number; order: PayoutOrder }> = [];
      const seen = new Map<string, number>();
      const forbidden = forbiddenKeysByItem(req);
      items.forEach((item, at) => {
        const keys = forbidden.get(at);
        if (keys) {
          const id = (item as { id?: unknown } | null)?.id;
          answers[at] = { index: at, id: typeof id === 'string' ? id : null, status: 'invalid', issues: keys };
          return;
        }
        const parsed = PayoutOrder.safeParse(item);
        if (!parsed.success) {
          const id = (item as { id?: unknown } | null)?.id;
          answers[at] = { index: at, id: typeof id === 'string' ? id : null, status: 'invalid', issues: issuesOf(parsed.error.issues) };
          return;
        }
        const callbackProblem = parsed.data.callback_url
          ? callbackUrlProblem(parsed.data.callback_url, { allowPrivate: steps.allowPrivateCallbacks ?? false })
          : null;
        if (callbackProblem) {
          answers[at] = { index: at, id: parsed.data.id, status: 'invalid', issues: [{ field: 'callback_url', problem: callbackProblem }] };
          return;
        }
        const first = seen.get(parsed.data.id);
        if (first !== undefined) {
          answers[at] = {
            index: at,
            id: parsed.data.id,
            status: 'invalid',
            issues: [{ field: 'id', problem: `repeats item ${first} of this batch` }],
          };
          return;
        }
        seen.set(parsed.data.id, at);
        valid.push({ at, order: parsed.data });
      });
      const results = await acceptPayouts(
        steps,
        valid.map((v) => v.order),
        callerOf(req),
      );
      results.forEach((r, j) => {
        const { at, order } = valid[j]!;
        answers[at] =
          r.status === 'invalid'
            ? { index: at, id: order.id, status: 'invalid', issues: r.issues }
            : r.status === 'conflict'
              ? { index: at, id: order.id, status: 'conflict', state: r.state, fields: r.fields }
              : {
                  index: at,
                  id: order.id,
                  status: r.status,
                  state: r.state,
                  ...(r.state === 'awaiting_card' ? linkOf(r.collectToken) : {}),
                };
      });
      const counts = { created: 0, existing: 0, conflict: 0, invalid: 0 };
      for (const a of answers) counts[a.status] += 1;
      return { counts, results: answers };
    },
  );

  routes.get(
    '/v1/payouts',
    {
      schema: {
        tags,
        security,
        summary: 'List payouts, newest first',
        description: [
          "Filter by `status` (one state, or several: `status=succeeded,returned`), `metadata` (the order's, exactly), `reference` (the order's `customer.reference`, or the saved recipient's) and creation time, in any combination; page with `limit` and `starting_after` (the `next_starting_after` of the previous page).",
          `Served from indexes, never a scan. With \`metadata\` or \`reference\`, at most ${EXAMINE_PER_ITEM} × \`limit\` candidates are examined for one page: a page may then hold fewer than \`limit\` payouts with \`has_more\` true, and \`next_starting_after\` names the last payout examined; go on from it.`,
        ].join(' '),
        querystring: ListQuery,
        response: { 200: ListResponse, ...errorResponses('invalid_request', 'unauthorized', 'unavailable') },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await store.list({
        tenant: callerOf(req).tenant,
        limit: q.limit,
        states: q.status,
        metadata: q.metadata,
        reference: q.reference,
        last4: q.card_last4,
        recipient: q.recipient_id,
        startingAfter: q.starting_after === undefined ? undefined : idOf(req, q.starting_after),
        createdGte: q.created_gte ? new Date(q.created_gte) : undefined,
        createdLte: q.created_lte ? new Date(q.created_lte) : undefined,
      });
      if ('unknownCursor' in page)
        throw new HttpError('invalid_request', `query.starting_after: no payout ${q.starting_after}`, {
          issues: [{ field: 'query.starting_after', problem: `no payout ${q.starting_after}` }],
        });
      const data = page.payouts.map((p) => publicView(p, undefined, publicUrl()));
      // the cursor is the caller's own order id, as every id it sees
      return { data, has_more: page.hasMore, next_starting_after: page.next === null ? null : tenantOf(page.next).orderId };
    },
  );

  routes.get(
    '/v1/payouts/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One payout, with its audit trail and whether upstream has been told its outcome',
        description:
          "`notification` says whether every destination of the outcome's event (the payout's `callback_url`, and each webhook endpoint that takes the event) has acknowledged it, and when; the event itself, with every delivery attempt, is `GET /v1/events/{id}`.",
        params: IdParams,
        response: { 200: PayoutView, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'payout_retired', 'unavailable') },
      },
    },
    async (req) => {
      const id = idOf(req, req.params.id);
      const payout = await store.get(id);
      if (!payout) throw await notFoundOrRetired(store, id, req.params.id);
      const [audit, notification] = await Promise.all([store.audit(id), notificationFor(store, payout)]);
      return { ...publicView(payout, audit, publicUrl()), notification };
    },
  );

  routes.post(
    '/v1/widget-tokens',
    {
      schema: {
        tags,
        security,
        summary: 'A Bank 131 widget public token, for a page of yours that hosts the widget',
        description: 'Single use. The widget returns the card hashes to your page; send them as `encrypted_card` in `POST /v1/payouts`.',
        response: { 201: WidgetToken, ...errorResponses('unauthorized', 'unavailable') },
      },
    },
    async (_req, reply) => reply.code(201).send({ public_token: await bank.issueWidgetToken() }),
  );

  routes.post(
    '/v1/payouts/:id/cancel',
    {
      schema: {
        tags,
        security,
        summary: 'Cancel a payout until the decision to confirm is taken',
        description:
          'Before the bank is involved the payout is `cancelled` at once (202); while the bank prepares it, `cancelling` (202) and a worker calls `session/cancel`. Asked again: 200 with the same answer. Once `confirming` or later: 409 `not_cancellable` with the current `state`.',
        params: IdParams,
        response: {
          202: CancelResponse,
          200: CancelResponse,
          409: ErrorBody,
          ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'payout_retired', 'unavailable'),
        },
      },
    },
    async (req, reply) => {
      const orderId = req.params.id;
      const payout = await store.get(idOf(req, orderId));
      if (!payout) throw await notFoundOrRetired(store, idOf(req, orderId), orderId);
      const state = payout.state;
      const by = { by: callerOf(req).keyId };
      if (state === 'cancelled' || state === 'cancelling') return reply.code(200).send({ id: orderId, status: state });
      if ((CANCELLABLE_DIRECTLY as PayoutState[]).includes(state)) {
        const r = await takeStep(steps, 'cancel', payout, by);
        if (r.ok) return reply.code(202).send({ id: orderId, status: 'cancelled' as const });
      } else if ((CANCELLABLE_AT_BANK as PayoutState[]).includes(state)) {
        const r = await takeStep(steps, 'requestCancel', payout, by);
        if (r.ok) return reply.code(202).send({ id: orderId, status: 'cancelling' as const });
      }
      const now = (await store.get(payout.id))?.state ?? state;
      // someone else's cancel won the race: the same answer as asking again
      if (now === 'cancelled' || now === 'cancelling') return reply.code(200).send({ id: orderId, status: now });
      throw new HttpError('not_cancellable', `payout ${orderId} is ${now}: it can be cancelled only before it is confirmed`, {
        state: now,
      });
    },
  );

  // Four eyes (docs/api.md, Approving and rejecting held payouts): a key with the review right decides a held
  // payout of its own tenant, never one it accepted itself; operators decide in the console.
  const review = async (req: FastifyRequest, orderId: string, approve: boolean, reason: string | undefined) => {
    const caller = callerOf(req);
    if (!caller.canReview) throw new HttpError('review_right_required');
    const id = idOf(req, orderId);
    const r = await decideReview(steps, id, { approve, by: caller.keyId, reason });
    if (!r.ok) throw await reviewRefusal(store, r, id, orderId);
    return { id: orderId, status: r.state as 'queued' | 'rejected', decided_by: caller.keyId };
  };
  const reviewResponses = {
    200: ReviewResponse,
    409: ErrorBody,
    ...errorResponses(
      'invalid_request',
      'unauthorized',
      'review_right_required',
      'self_approval',
      'not_found',
      'payout_retired',
      'unavailable',
    ),
  };

  routes.post(
    '/v1/payouts/:id/approve',
    {
      schema: {
        tags,
        security,
        summary: 'Approve a payout held for review',
        description:
          'A payout in `awaiting_review` (held by an approval rule, or over REVIEW_ABOVE) goes on to the bank: it is `queued` again and a worker sends it, never holding it again. Only a key made with the review right (`keys create --review`), of the payout’s tenant, and never the key that accepted the payout (403 `self_approval`). Not waiting for review: 409 `not_awaiting_review` with its `state`. The audit names the key and the reason.',
        params: IdParams,
        body: ApproveBody,
        response: reviewResponses,
      },
    },
    async (req, reply) => reply.code(200).send(await review(req, req.params.id, true, req.body?.reason)),
  );

  routes.post(
    '/v1/payouts/:id/reject',
    {
      schema: {
        tags,
        security,
        summary: 'Reject a payout held for review',
        description:
          'A payout in `awaiting_review` ends `rejected` (error `rejected_by_reviewer`, the reason as its description); nothing was sent to the bank, and its callback says `payout.rejected`. Only a key made with the review right (`keys create --review`) of the payout’s tenant. Not waiting for review: 409 `not_awaiting_review` with its `state`.',
        params: IdParams,
        body: RejectBody,
        response: reviewResponses,
      },
    },
    async (req, reply) => reply.code(200).send(await review(req, req.params.id, false, req.body.reason)),
  );
};

/** A review decision that did not land, as the API says it. */
async function reviewRefusal(store: PayoutStore, r: Extract<ReviewResult, { ok: false }>, id: string, orderId: string): Promise<HttpError> {
  switch (r.problem) {
    case 'not_found':
      return notFoundOrRetired(store, id, orderId);
    case 'self_approval':
      return new HttpError('self_approval', `payout ${orderId} was accepted with this key: another reviewer must approve it`);
    case 'reason_required':
      return invalidRequest([{ field: 'reason', problem: 'is required' }]);
    case 'not_awaiting_review':
      return new HttpError('not_awaiting_review', `payout ${orderId} is ${r.state ?? 'no longer held'}: it is not waiting for a reviewer`, {
        ...(r.state ? { state: r.state } : {}),
      });
  }
}

/** Whether upstream has been told a payout's outcome: null until it is final. */
async function notificationFor(store: PayoutStore, payout: PayoutRecord) {
  const event = isTerminal(payout.state) ? eventOf(payout) : null;
  return notificationOf(payout, event ? await store.events.get(eventIdOf(payout.id, event)) : null);
}

/**
 * A payout we never had (or another tenant's) is 404; one retired after PAYOUT_RETENTION_DAYS is
 * 410 with how it ended. `id` is the service's id, `orderId` the caller's.
 */
async function notFoundOrRetired(store: PayoutStore, id: string, orderId: string): Promise<HttpError> {
  const retired = await store.retired(id);
  if (!retired) return new HttpError('not_found', `no payout ${orderId}`);
  return new HttpError(
    'payout_retired',
    `payout ${orderId} ended ${retired.state} at ${retired.finishedAt}; its record was removed after the retention period, and its id stays taken`,
    {
      state: retired.state,
      created_at: retired.createdAt,
      finished_at: retired.finishedAt,
    },
  );
}
