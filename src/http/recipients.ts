import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { collectUrl } from '../payouts/schemas.js';
import type { StepDeps } from '../pipeline/pipeline-deps.js';
import { differingFields, nameOf, type RecipientInput } from '../store/recipient-store.js';
import { callerOf } from './auth.js';
import { ErrorBody, HttpError, errorResponses } from './errors.js';
import {
  CardLink,
  RecipientCreate,
  RecipientList,
  RecipientListQuery,
  RecipientParams,
  RecipientView,
  recipientView,
} from './recipient-schemas.js';

const tags = ['recipients'];
const security = [{ apiKey: [] }];

/**
 * Saved recipients (docs/api.md, Recipients): the people a tenant pays again and again, each with the
 * card they saved through a collection link, so that a payout to them (`recipient_id`) needs no
 * new link. A tenant sees only its own: another's recipient is not found. The card's hashes never
 * leave the service: the views show its brand, last 4 and whether it still works.
 */
export const recipientRoutes: FastifyPluginAsync<{ steps: StepDeps; publicUrl: () => string }> = async (app, { steps, publicUrl }) => {
  const recipients = steps.store.recipients;
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const notFound = (id: string) => new HttpError('not_found', `no recipient ${id}`);

  routes.post(
    '/v1/recipients',
    {
      schema: {
        tags,
        security,
        summary: 'Save a recipient',
        description:
          'Idempotent on `reference`: a new one answers 201; the same reference with the same body answers 200 with the recipient as it stands (its card included); with another body, 409 naming the fields that differ. The card comes later, from the recipient: `POST /v1/recipients/{id}/card-links`, or the collection link of a payout to them.',
        body: RecipientCreate,
        response: {
          201: RecipientView.describe('saved'),
          200: RecipientView.describe('already saved with this body'),
          409: ErrorBody,
          ...errorResponses('invalid_request', 'invalid_json', 'unauthorized', 'body_too_large', 'unsupported_media_type', 'unavailable'),
        },
      },
    },
    async (req, reply) => {
      const { reference, tax_reference, ...name } = req.body;
      const input: RecipientInput = { reference, name: nameOf(name), taxReference: tax_reference ?? null };
      const { created, recipient } = await recipients.create(callerOf(req).tenant, input);
      if (!created) {
        const fields = differingFields(recipient, input);
        if (fields.length > 0)
          throw new HttpError('conflict', `recipient ${reference} exists with a different ${fields.join(', ')}`, { fields });
      }
      return reply.code(created ? 201 : 200).send(recipientView(recipient));
    },
  );

  routes.get(
    '/v1/recipients',
    {
      schema: {
        tags,
        security,
        summary: 'List recipients, newest first',
        description:
          'Page with `limit` and `starting_after` (the `next_starting_after` of the previous page); `reference` finds the one with your id. Served from an index, not a scan.',
        querystring: RecipientListQuery,
        response: { 200: RecipientList, ...errorResponses('invalid_request', 'unauthorized', 'unavailable') },
      },
    },
    async (req) => {
      const q = req.query;
      const page = await recipients.list(callerOf(req).tenant, { limit: q.limit, startingAfter: q.starting_after, reference: q.reference });
      if ('unknownCursor' in page)
        throw new HttpError('invalid_request', `query.starting_after: no recipient ${q.starting_after}`, {
          issues: [{ field: 'query.starting_after', problem: `no recipient ${q.starting_after}` }],
        });
      const data = page.recipients.map(recipientView);
      return { data, has_more: page.hasMore, next_starting_after: page.hasMore ? (data.at(-1)?.id ?? null) : null };
    },
  );

  routes.get(
    '/v1/recipients/:id',
    {
      schema: {
        tags,
        security,
        summary: 'One recipient, with the card they saved',
        params: RecipientParams,
        response: { 200: RecipientView, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'unavailable') },
      },
    },
    async (req) => {
      const recipient = await recipients.get(callerOf(req).tenant, req.params.id);
      if (!recipient) throw notFound(req.params.id);
      return recipientView(recipient);
    },
  );

  routes.post(
    '/v1/recipients/:id/card-links',
    {
      schema: {
        tags,
        security,
        summary: 'A link through which the recipient saves a card',
        description:
          "A single-use collection link (`<PUBLIC_URL>/collect/<token>`) for the recipient: the same page and Bank 131 widget as a payout's, with no amount. The card saved through it replaces the one they had (a card marked `invalid` included), and the next payout to them is paid to it. Several links may be out at once; each takes one card, and expires after COLLECT_TTL.",
        params: RecipientParams,
        response: { 201: CardLink, ...errorResponses('invalid_request', 'unauthorized', 'not_found', 'unavailable') },
      },
    },
    async (req, reply) => {
      const link = await recipients.createCardLink(callerOf(req).tenant, req.params.id, steps.timing.collectTtlMs);
      if (!link) throw notFound(req.params.id);
      return reply.code(201).send({ url: collectUrl(publicUrl(), link.token), expires_at: new Date(link.expiresAt).toISOString() });
    },
  );
};
