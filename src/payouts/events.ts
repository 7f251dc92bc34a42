import { z } from 'zod';
import { NOTIFY_EVENTS, NotifyJob, publicView, type PayoutRecord } from './schemas.js';
import { isTerminal } from './state-machine.js';

/**
 * Events (README, Callbacks; docs/architecture.md, Events): every outcome of a payout is one event,
 * recorded in the payout's terminal transition (src/store/scripts/transition.lua) whether or not
 * anyone is told, under a stable id that is also every delivery's `webhook-id`. It is owed to its
 * destinations: the payout's own `callback_url`, and each webhook endpoint of its tenant that was
 * enabled and took its type when the payout ended. Pure.
 */
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

export const EVENT_TYPES = ['payout.succeeded', 'payout.failed', 'payout.cancelled', 'payout.expired'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const EventType = z.enum(EVENT_TYPES, { error: `must be one of ${EVENT_TYPES.join(', ')}` });

export const typeOf = (event: NotifyEvent): EventType => `payout.${event}`;

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
  .regex(/^evt_[A-Za-z0-9._~-]+_(succeeded|failed|cancelled|expired)$/, 'must be an event id (evt_<payout>_<outcome>)');

/** The payout and outcome an event id names, or null when it names none. */
export function parseEventId(id: string): { payoutId: string; event: NotifyEvent } | null {
  const m = /^evt_(.+)_(succeeded|failed|cancelled|expired)$/.exec(id);
  return m ? { payoutId: m[1]!, event: m[2] as NotifyEvent } : null;
}

/** The event a payout's own state calls for: only a final payout has one. */
export function eventOf(payout: Pick<PayoutRecord, 'state'>): NotifyEvent | null {
  const state = payout.state as NotifyEvent;
  return isTerminal(payout.state) && NOTIFY_EVENTS.includes(state) ? state : null;
}

/**
 * What every destination is sent: the event and the payout as `GET /v1/payouts/{id}` shows it,
 * without its audit. A final record never changes, so this is the same text whenever it is made;
 * it is stored with the event the first time it is needed all the same (src/store/event-store.ts),
 * and sent from there.
 */
export function eventBody(payout: PayoutRecord, event: NotifyEvent): string {
  return JSON.stringify({
    id: eventIdOf(payout.id, event),
    type: typeOf(event),
    created_at: payout.updatedAt, // when the payout ended
    payout: publicView(payout),
  });
}
