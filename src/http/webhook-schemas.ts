import { z } from 'zod';
import { callbackUrlProblem } from '../payouts/callback-url.js';
import { Attempt, DELIVERY_STATUSES, DESTINATION_STATUSES } from '../payouts/event-delivery.js';
import { EVENT_TYPES, EndpointId, EventId, EventType } from '../payouts/events.js';
import { PayoutId, PayoutView } from '../payouts/schemas.js';
import { DEFAULT_OVERLAP_SECONDS, MAX_OVERLAP_SECONDS } from '../payouts/webhook-endpoints.js';

/**
 * The request and response schemas of the webhook endpoint and event routes
 * (src/http/webhook-endpoints.ts, src/http/events.ts): they validate, and make the OpenAPI document.
 */

// ---------------------------------------------------------------- webhook endpoints

/** Where an endpoint's deliveries go: the rules of a payout's callback_url (src/payouts/callback-url.ts). */
const WebhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
  .max(2048, 'must be at most 2048 characters')
  .refine(
    (u) => callbackUrlProblem(u, { allowPrivate: true }) === null,
    'must not carry a user name or password (they would be sent, and logged, with every delivery)',
  );

const Events = z
  .array(EventType)
  .min(1, 'must name at least one event type')
  .max(16, 'must hold at most 16 items')
  .transform((types) => [...new Set(types)]);

const Description = z.string().max(256, 'must be at most 256 characters');

export const EndpointCreate = z.strictObject({
  url: WebhookUrl.describe('where to POST; private, loopback and metadata addresses are refused unless CALLBACK_ALLOW_PRIVATE'),
  events: Events.optional().describe(`the event types it takes; default: all (${EVENT_TYPES.join(', ')})`),
  description: Description.optional(),
  disabled: z.boolean().optional().describe('default false; a disabled endpoint is sent nothing'),
});
export const EndpointPatch = z.strictObject({
  url: WebhookUrl.optional(),
  events: Events.optional(),
  description: Description.nullable().optional().describe('null clears it'),
  disabled: z.boolean().optional(),
});
export const RotateRequest = z
  .strictObject({
    overlap_seconds: z
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(0, 'must be at least 0')
      .max(MAX_OVERLAP_SECONDS, `must be at most ${MAX_OVERLAP_SECONDS} (7 days)`)
      .optional()
      .describe(`how long the previous secret still signs beside the new one; default ${DEFAULT_OVERLAP_SECONDS} (a day)`),
  })
  .nullish();
export const EndpointParams = z.object({ id: EndpointId });

export const Endpoint = z
  .object({
    id: EndpointId,
    url: z.string(),
    events: z.array(EventType),
    description: z.string().nullable(),
    disabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
    previous_secret_expires_at: z
      .string()
      .nullable()
      .describe('after a rotation: until when the previous secret still signs beside the new one (`webhook-signature: v1,<new> v1,<old>`)'),
  })
  .meta({ id: 'WebhookEndpoint', description: 'Its secret is shown only when it is made or rotated.' });
export const EndpointWithSecret = Endpoint.extend({
  secret: z.string().describe('the Standard Webhooks signing secret (whsec_…): shown this once; verify deliveries with it'),
}).meta({ id: 'WebhookEndpointWithSecret' });
export const EndpointList = z.object({ data: z.array(Endpoint).describe('oldest first') });
export const EndpointDeleted = z.object({ id: EndpointId, deleted: z.literal(true) });
export const RotatedSecret = z.object({
  id: EndpointId,
  secret: z.string().describe('the new signing secret: shown this once'),
  previous_secret_expires_at: z.string().nullable().describe('until when the previous secret still signs; null: it no longer does'),
});

// ---------------------------------------------------------------- events

export const EventParams = z.object({ id: EventId });
export const EventListQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(10),
  type: EventType.optional(),
  payout: PayoutId.optional().describe('your order id: the events of that payout'),
  starting_after: EventId.optional().describe('the id of the last event of the previous page'),
});

/** What every destination is sent (docs/api.md, Callbacks): the event and the payout as it ended. */
export const EventBody = z
  .object({
    id: z.string(),
    type: EventType,
    created_at: z.string(),
    recipient: z
      .object({
        id: z.string().nullable(),
        card: z.object({
          last4: z.string().nullable(),
          status: z.literal('invalid'),
          invalid_reason: z.object({ code: z.string().nullable(), description: z.string().nullable() }),
        }),
      })
      .optional()
      .describe('`recipient.card_invalid` only: the saved recipient whose card the bank called unusable; it needs a new card link'),
    payout: PayoutView.describe(
      'the payout as it was when the event happened; for `recipient.card_invalid`, the payout that found the card unusable',
    ),
  })
  .meta({ id: 'EventBody', description: 'The body every delivery of the event sends, byte for byte the same each time.' });

const Delivery = z
  .object({
    status: z
      .enum(DELIVERY_STATUSES)
      .describe(
        '`pending`: a destination it is owed to has not acknowledged yet; `delivered`: every one has; `dropped`: each was dropped instead; `no_destination`: it was owed to nobody',
      ),
    delivered_at: z.string().nullable().describe('when the last destination acknowledged'),
  })
  .describe('whether every destination it is owed to has it');

export const EventSummary = z
  .object({
    id: EventId.describe("`evt_<payout>_<event>`: every delivery's `webhook-id`"),
    type: EventType,
    created_at: z.string().describe('when it happened: the payout ended, its money came back, or its saved card was found unusable'),
    payout: PayoutId.describe('your order id'),
    data: EventBody,
    delivery: Delivery,
  })
  .meta({ id: 'Event' });

const DestinationReport = z.object({
  destination: z.string().describe('`callback_url`, or a webhook endpoint id'),
  url: z.string().nullable().describe('where it is sent now; null for an endpoint since deleted'),
  status: z
    .enum(DESTINATION_STATUSES)
    .describe(
      '`pending`, `delivered`, `dropped` (deleted, disabled, or no longer taking the type), or `not_owed`: sent again by hand, not owed',
    ),
  delivered_at: z.string().nullable(),
  dropped_reason: z.string().nullable(),
  attempts: z.array(Attempt).describe('oldest first; the newest 100'),
});

export const EventDetail = EventSummary.extend({
  destinations: z.array(DestinationReport).describe('those it was owed to when the payout ended, then any it was sent to again'),
}).meta({ id: 'EventWithDeliveries' });

export const EventList = z.object({
  data: z.array(EventSummary).describe('newest first'),
  has_more: z.boolean(),
  next_starting_after: z.string().nullable().describe('pass as starting_after for the next page; null on the last'),
});

export const ResendRequest = z
  .strictObject({
    endpoint: EndpointId.optional().describe('only this webhook endpoint; default: every destination that takes the event now'),
  })
  .nullish();
export const ResendAccepted = z.object({
  id: EventId,
  destinations: z.array(z.string()).describe('where it is being sent: `callback_url` and webhook endpoint ids'),
});
