import { z } from 'zod';
import { NOTIFY_EVENTS, NotifyJob, publicView, type PayoutRecord } from './schemas.js';
import { isTerminal } from './state-machine.js';

/**
 * Events (docs/api.md, Events; docs/architecture.md, Events): every outcome of a payout is one event,
 * recorded in the payout's terminal transition (src/store/scripts/transition.lua) whether or not
 * anyone is told, under a stable id that is also every delivery's `webhook-id`. It is owed to its
 * destinations: the payout's own `callback_url`, and each webhook endpoint of its tenant that was
 * enabled and took its type when the payout ended. A payout may have more than its outcome's event:
 * `payout.returned` after `payout.succeeded`, and `recipient.card_invalid` beside the
 * `payout.failed` that found a saved card unusable; each is recorded by the step that causes it. Pure.
 */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const EVENT_TYPES = [
  'payout.succeeded',
  'payout.failed',
  'payout.cancelled',
  'payout.expired',
  'payout.returned',
  'payout.rejected',
  'recipient.card_invalid',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EventType = z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` });

export const typeOf = (event: NotifyEvent): EventType => (event === 'card_invalid' ? 'recipient.card_invalid' : `payout.${event}`);

/** The destination that is a payout's own `callback_url` (any other is a webhook endpoint's id). */
export const CALLBACK_URL = 'callback_url';

export const EndpointId = z
  .string({ error: 'must be a string' })
  .regex(/^we_[0-9a-f]{16}$/, 'must be a webhook endpoint id (we_ followed by 16 hexadecimal digits)');

export const Destination = z.union([z.literal(CALLBACK_URL), EndpointId]);
export type Destination = z.infer<typeof Destination>;

/**
 * A notify job: the payout and, when it is not the payout's callback_url, the webhook endpoint to
 * tell. Like every job it is a pointer, never a witness (docs/architecture.md, What a job may
 * carry): what is sent is the payout's own outcome, and only to a destination of its own tenant.
 */
export const DeliveryJob = NotifyJob.extend({
  destination: Destination.optional().describe('a webhook endpoint of the payout’s tenant; absent: its callback_url'),
});
export type DeliveryJob = z.infer<typeof DeliveryJob>;

/** `evt_<payout id>_<event>`: the event's id and every delivery's `webhook-id`. */
export function eventIdOf(payoutId: string, event: NotifyEvent): string {
  return `evt_${payoutId}_${event}`;
}

export const EventId = z
  .string({ error: 'must be a string' })
  .max(160, 'must be at most 160 characters')
  .regex(
    /^evt_[A-Za-z0-9._~-]+_(succeeded|failed|cancelled|expired|returned|rejected|card_invalid)$/,
    'must be an event id (evt_<payout>_<event>)',
  );

/** The payout and event an event id names, or null when it names none. */
export function parseEventId(id: string): { payoutId: string; event: NotifyEvent } | null {
  const m = /^evt_(.+)_(succeeded|failed|cancelled|expired|returned|rejected|card_invalid)$/.exec(id);
  return m ? { payoutId: m[1]!, event: m[2] as NotifyEvent } : null;
}

/** The event a payout's own state calls for: only a final payout has one. */
export function eventOf(payout: Pick<PayoutRecord, 'state'>): NotifyEvent | null {
  const state = payout.state as NotifyEvent;
  return isTerminal(payout.state) && NOTIFY_EVENTS.includes(state) ? state : null;
}

/**
 * Every event a payout has, as its final steps recorded them (the record's `events`, written only by
 * src/store/scripts/transition.lua); for a payout that ended before that was kept, its state's own.
 */
export function eventsOf(payout: Pick<PayoutRecord, 'state' | 'events'>): NotifyEvent[] {
  const own = eventOf(payout);
  if (payout.events.length > 0) return payout.events.filter((e): e is NotifyEvent => (NOTIFY_EVENTS as readonly string[]).includes(e));
  return own ? [own] : [];
}

/**
 * What every destination is sent: the event and the payout as `GET /v1/payouts/{id}` shows it,
 * without its audit. It is stored with the event the first time it is needed
 * (src/store/event-store.ts) and sent from there, so every delivery and resend is the same text. A
 * final record changes only when money comes back (`returned`), so a `payout.succeeded` body made
 * after that still says `succeeded`, and carries no return.
 */
export function eventBody(payout: PayoutRecord, event: NotifyEvent): string {
  const view = publicView(payout);
  const id = eventIdOf(payout.id, event);
  if (event === 'card_invalid') {
    return JSON.stringify({
      id,
      type: typeOf(event),
      created_at: payout.finishedAt ?? payout.updatedAt,
      recipient: {
        id: payout.order.recipient_id ?? null,
        card: { last4: payout.cardLast4, status: 'invalid', invalid_reason: { code: payout.errorCode, description: payout.errorText } },
      },
      payout: view,
    });
  }
  // `payout.succeeded` delivered after the money came back still says what it said when it happened
  const asThen = event === 'succeeded' && payout.state === 'returned' ? { ...view, status: 'succeeded' as const, returned: null } : view;
  return JSON.stringify({
    id,
    type: typeOf(event),
    created_at: event === 'returned' ? (payout.returned?.at ?? payout.updatedAt) : (payout.finishedAt ?? payout.updatedAt), // when it happened
    payout: asThen,
  });
}
