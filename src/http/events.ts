import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { eventIdOf, typeOf, type EventType } from '../payouts/events.js';
import { NOTIFY_EVENTS } from '../payouts/schemas.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { resendEvent } from '../pipeline/resend-event.js';
import type { EventRecord } from '../store/event-store.js';
import { payoutKeyOf } from '../tenants/identity.js';
import { callerOf } from './auth.js';
import { HttpError, errorResponses, invalidRequest } from './errors.js';
import { eventDetail, eventViews } from './event-views.js';
import { EventDetail, EventList, EventListQuery, EventParams, ResendAccepted, ResendRequest } from './webhook-schemas.js';

const tags = ['webhooks'];
const security = [{ apiKey: [] }];

/**
 * A tenant's events (docs/api.md, Events): every outcome of its payouts, recorded whether or not
 * anyone was to be told, with the body sent and every delivery attempt per destination; and a
 * resend. Another tenant's event is not found.
 */
export const eventRoutes: FastifyPluginAsync<{ steps: StepDeps }> = async (app, { steps }) => {
  const { store } = steps;
  const routes = app.withTypeProvider<ZodTypeProvider>();
  /** The caller's own event, or 404. */
  const ownEvent = async (req: FastifyRequest, id: string): Promise<EventRecord> => {
    const event = await store.events.get(id);
    if (!event || event.tenant !== callerOf(req).tenant) throw new HttpError('not_found', `no event ${id}`);
    return event;
  };
  const unknownCursor = (id: string) =>
    new HttpError('invalid_request', `query.starting_after: no event ${id}`, {
      issues: [{ field: 'query.starting_after', problem: `no event ${id}` }],
    });

  /** A payout has one event at most (its outcome): found by its id, not through the index. */
  const eventsOfPayout = async (tenant: string, orderId: string, type: EventType | undefined, after: EventRecord | null) => {
    const ids = NOTIFY_EVENTS.filter((e) => type === undefined || typeOf(e) === type).map((e) =>
      eventIdOf(payoutKeyOf(tenant, orderId), e),
    );
    return (await store.events.getMany(ids)).filter(
      (e): e is EventRecord => e !== null && e.tenant === tenant && (!after || e.score < after.score),
    );
  };

  routes.get(
    '/v1/events',
    {
      schema: {
        tags,
        security,
        summary: 'List events, newest first',
        description:
          'Every outcome of your payouts is an event, whether or not anyone was to be told. Filter by `type` and by `payout` (your order id); page with `limit` and `starting_after` (the `next_starting_after` of the previous page).',
        querystring: EventListQuery,
        response: { 200: EventList, ...errorResponses('invalid_request', 'unauthorized', 'unavailable') },
      },
    },
    async (req) => {
      const q = req.query;
      const { tenant } = callerOf(req);
      let events: EventRecord[];
      let hasMore = false;
      if (q.payout !== undefined) {
        const after = q.starting_after === undefined ? null : await store.events.get(q.starting_after);
        if (q.starting_after !== undefined && (!after || after.tenant !== tenant)) throw unknownCursor(q.starting_after);
        events = (await eventsOfPayout(tenant, q.payout, q.type, after)).slice(0, q.limit);
      } else {
        const page = await store.events.page(tenant, { limit: q.limit, type: q.type, startingAfter: q.starting_after });
        if ('unknownCursor' in page) throw unknownCursor(q.starting_after ?? '');
        events = (await store.events.getMany(page.ids)).filter((e): e is EventRecord => e !== null);
        hasMore = page.hasMore;
      }
      const data = await eventViews(store, events);
      return { data, has_more: hasMore, next_starting_after: hasMore ? (data.at(-1)?.id ?? null) : null };
    },
  );

  routes.get(
    '/v1/events/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One event, with its delivery attempts per destination',
        description:
          'The body every delivery sends, and per destination (`callback_url` or a webhook endpoint id) whether it has acknowledged, and every attempt: when, the HTTP status or none, the latency, and why it did not count.',
        params: EventParams,
        response: { 200: EventDetail, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'unavailable') },
      },
    },
    async (req) => {
      const detail = await eventDetail(store, await ownEvent(req, req.params.id));
      if (!detail) throw new HttpError('not_found', `no event ${req.params.id}`);
      return detail;
    },
  );

  routes.post(
    '/v1/events/:id/resend',
    {
      schema: {
        tags,
        security,
        summary: 'Send an event again',
        description:
          'To every destination that takes it now (the payout\'s `callback_url`, and each enabled webhook endpoint that takes its type), or with `{"endpoint": "we_…"}` to that one. The same body and `webhook-id`, with a new timestamp and signature; deduplicate on `webhook-id`.',
        params: EventParams,
        body: ResendRequest,
        response: {
          202: ResendAccepted,
          ...errorResponses(
            'invalid_request',
            'invalid_json',
            'unauthorized',
            'not_found',
            'unsupported_media_type',
            'no_destination',
            'unavailable',
          ),
        },
      },
    },
    async (req, reply) => {
      const event = await ownEvent(req, req.params.id);
      const sent = await resendEvent(steps, event, req.body?.endpoint);
      if (!sent.ok) {
        if (sent.field) throw invalidRequest([{ field: sent.field, problem: sent.problem }]);
        throw new HttpError('no_destination', `event ${event.id} has nowhere to go: ${sent.problem}`);
      }
      return reply.code(202).send({ id: event.id, destinations: sent.destinations });
    },
  );
};
