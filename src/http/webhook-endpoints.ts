import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { callbackUrlProblem } from '../payouts/callback-url.js';
import { EVENT_TYPES } from '../payouts/events.js';
import { DEFAULT_OVERLAP_SECONDS, type WebhookEndpoint } from '../payouts/webhook-endpoints.js';
import type { PayoutStore } from '../store/payout-store.js';
import { callerOf } from './auth.js';
import { HttpError, errorResponses, invalidRequest } from './errors.js';
import {
  Endpoint,
  EndpointCreate,
  EndpointDeleted,
  EndpointList,
  EndpointParams,
  EndpointPatch,
  EndpointWithSecret,
  RotateRequest,
  RotatedSecret,
} from './webhook-schemas.js';

const tags = ['webhooks'];
const security = [{ apiKey: [] }];

/** An endpoint as its tenant sees it: never its secrets. */
function viewOf(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    description: e.description,
    disabled: e.disabled,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
    previous_secret_expires_at:
      e.previousSecret && e.previousSecretUntil !== null && e.previousSecretUntil > Date.now()
        ? new Date(e.previousSecretUntil).toISOString()
        : null,
  };
}

/**
 * A tenant's webhook endpoints (docs/api.md, Webhook endpoints): where every outcome of its payouts is sent,
 * beside each payout's own callback_url. A tenant sees and changes only its own: another's is not
 * found. A secret is in the answer that makes it (creation, rotation) and in no other.
 */
export const webhookEndpointRoutes: FastifyPluginAsync<{ store: PayoutStore; allowPrivate: boolean }> = async (
  app,
  { store, allowPrivate },
) => {
  const endpoints = store.endpoints;
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // the rule a payout's callback_url meets when it is accepted, with the same setting
  const checkUrl = (url: string | undefined) => {
    const problem = url === undefined ? null : callbackUrlProblem(url, { allowPrivate });
    if (problem) throw invalidRequest([{ field: 'url', problem }]);
  };
  const notFound = (id: string) => new HttpError('not_found', `no webhook endpoint ${id}`);
  const refusals = ['invalid_request', 'invalid_json', 'unauthorized', 'not_found', 'unsupported_media_type', 'unavailable'] as const;

  routes.post(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags,
        security,
        summary: 'Add a webhook endpoint',
        description:
          "Every outcome of the tenant's payouts whose type it takes is POSTed there, signed as Standard Webhooks ask with the endpoint's own secret (in this answer, and never again). Events owed when a payout ends go to the endpoints enabled and taking the type then.",
        body: EndpointCreate,
        response: {
          201: EndpointWithSecret,
          ...errorResponses(
            'invalid_request',
            'invalid_json',
            'unauthorized',
            'unsupported_media_type',
            'too_many_endpoints',
            'unavailable',
          ),
        },
      },
    },
    async (req, reply) => {
      checkUrl(req.body.url);
      const made = await endpoints.create(callerOf(req).tenant, {
        url: req.body.url,
        events: req.body.events ?? [...EVENT_TYPES],
        description: req.body.description ?? null,
        disabled: req.body.disabled ?? false,
      });
      if (made === 'limit') throw new HttpError('too_many_endpoints');
      return reply.code(201).send({ ...viewOf(made), secret: made.secret });
    },
  );

  routes.get(
    '/v1/webhook-endpoints',
    {
      schema: {
        tags,
        security,
        summary: "The tenant's webhook endpoints",
        response: { 200: EndpointList, ...errorResponses('unauthorized', 'unavailable') },
      },
    },
    async (req) => ({ data: (await endpoints.list(callerOf(req).tenant)).map(viewOf) }),
  );

  routes.get(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One webhook endpoint',
        params: EndpointParams,
        response: { 200: Endpoint, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'unavailable') },
      },
    },
    async (req) => {
      const found = await endpoints.ofTenant(callerOf(req).tenant, req.params.id);
      if (!found) throw notFound(req.params.id);
      return viewOf(found);
    },
  );

  routes.patch(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Change a webhook endpoint',
        description:
          'Only the fields given change. Events already owed to it stay owed; one disabled or no longer taking a type is dropped from what it is owed.',
        params: EndpointParams,
        body: EndpointPatch,
        response: { 200: Endpoint, ...errorResponses(...refusals) },
      },
    },
    async (req) => {
      checkUrl(req.body.url);
      const changed = await endpoints.update(callerOf(req).tenant, req.params.id, req.body);
      if (!changed) throw notFound(req.params.id);
      return viewOf(changed);
    },
  );

  routes.delete(
    '/v1/webhook-endpoints/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Remove a webhook endpoint',
        description: 'It is sent nothing more; events still owed to it no longer wait for it.',
        params: EndpointParams,
        response: { 200: EndpointDeleted, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'unavailable') },
      },
    },
    async (req) => {
      if (!(await endpoints.delete(callerOf(req).tenant, req.params.id))) throw notFound(req.params.id);
      return { id: req.params.id, deleted: true as const };
    },
  );

  routes.post(
    '/v1/webhook-endpoints/:id/rotate-secret',
    {
      schema: {
        tags,
        security,
        summary: "Replace a webhook endpoint's signing secret",
        description:
          'The new secret is in this answer and never again. Until `overlap_seconds` have passed (default a day, at most 7 days; 0: not at all) every delivery carries both signatures in its `webhook-signature` header (`v1,<new> v1,<old>`), so a receiver holding either secret verifies it: switch yours within that time.',
        params: EndpointParams,
        body: RotateRequest,
        response: { 200: RotatedSecret, ...errorResponses(...refusals) },
      },
    },
    async (req) => {
      const overlapSeconds = req.body?.overlap_seconds ?? DEFAULT_OVERLAP_SECONDS;
      const rotated = await endpoints.rotateSecret(callerOf(req).tenant, req.params.id, overlapSeconds * 1000);
      if (!rotated) throw notFound(req.params.id);
      return {
        id: rotated.endpoint.id,
        secret: rotated.secret,
        previous_secret_expires_at: viewOf(rotated.endpoint).previous_secret_expires_at,
      };
    },
  );
};
