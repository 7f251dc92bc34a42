import { z } from 'zod';
import { CALLBACK_URL, eventIdOf, eventOf, type EventType, type NotifyEvent } from './events.js';
import { DELIVERY_STATUSES, type PayoutRecord } from './schemas.js';
import { signingSecrets, takes, type WebhookEndpoint } from './webhook-endpoints.js';

/**
 * Who an event is owed to, who has it, and where a delivery goes: the decisions behind
 * workers/payout-notify.ts, the reconciler's re-drive (src/pipeline/redrive-notify.ts) and the
 * events API (src/http/events.ts). Pure.
 */

/** One delivery attempt, as kept beside its event (newest last). */
export const Attempt = z.object({
  destination: z.string().describe('`callback_url` or a webhook endpoint id'),
  at: z.string().describe('when it was sent'),
  status: z.number().int().nullable().describe('the HTTP status answered; null when there was no complete answer'),
  latency_ms: z.number().int().describe('from sending to the end of the answer (or to giving up)'),
  error: z.string().nullable().describe('why it did not count as delivered; null when it did'),
});
export type Attempt = z.infer<typeof Attempt>;

/** An event's delivery bookkeeping, as src/store/event-store.ts reads it. */
export interface EventState {
  /** Owed when the payout ended: its callback_url, and the endpoints that then took the type. */
  destinations: string[];
  /** Owed and not acknowledged yet. */
  pending: string[];
  /** Destination → when it last acknowledged. */
  delivered: Record<string, string>;
  /** Destination → why it was no longer owed (its endpoint deleted, disabled, or no longer taking the type). */
  dropped: Record<string, string>;
  /** When the last owed destination acknowledged or was dropped. */
  notifiedAt: string | null;
}

export { DELIVERY_STATUSES };
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * Whether upstream has been told: `pending` while a destination it is owed to has not acknowledged;
 * `delivered` once every one has (at least one by answering 2xx), `delivered_at` when the last did;
 * `dropped` when every one was dropped instead; `no_destination` when it was owed to nobody.
 */
export function deliveryOf(e: EventState): { status: DeliveryStatus; delivered_at: string | null } {
  if (e.pending.length > 0) return { status: 'pending', delivered_at: null };
  if (e.destinations.length === 0) return { status: 'no_destination', delivered_at: null };
  if (e.destinations.some((d) => e.delivered[d] !== undefined)) return { status: 'delivered', delivered_at: e.notifiedAt };
  return { status: 'dropped', delivered_at: null };
}

/**
 * A payout's `notification` in `GET /v1/payouts/{id}`: null until it is final. `event` is null for
 * a payout that ended before events were recorded; its callback_url was then its only destination.
 */
export function notificationOf(
  payout: Pick<PayoutRecord, 'id' | 'state' | 'order' | 'notified' | 'notifiedAt'>,
  event: EventState | null,
): { event_id: string; status: DeliveryStatus; delivered_at: string | null } | null {
  const outcome = eventOf(payout);
  if (!outcome) return null;
  const event_id = eventIdOf(payout.id, outcome);
  if (event) return { event_id, ...deliveryOf(event) };
  if (!payout.order.callback_url) return { event_id, status: 'no_destination', delivered_at: null };
  return payout.notified === outcome
    ? { event_id, status: 'delivered', delivered_at: payout.notifiedAt }
    : { event_id, status: 'pending', delivered_at: null };
}

/**
 * The destinations a final payout still owes one of its events (`recorded`: that event as stored):
 * what the reconciler re-drives. A payout that ended before events were recorded owes only its
 * outcome, and only to its callback_url.
 */
export function owedDestinations(
  payout: Pick<PayoutRecord, 'state' | 'order' | 'notified'>,
  event: NotifyEvent,
  recorded: EventState | null,
): string[] {
  if (recorded) return [...recorded.pending].sort(destinationOrder);
  const outcome = eventOf(payout);
  return outcome === event && payout.order.callback_url && payout.notified !== outcome ? [CALLBACK_URL] : [];
}

/** callback_url first, then endpoints by id. */
function destinationOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === CALLBACK_URL) return -1;
  if (b === CALLBACK_URL) return 1;
  return a < b ? -1 : 1;
}

export const DESTINATION_STATUSES = ['pending', 'delivered', 'dropped', 'not_owed'] as const;
export type DestinationStatus = (typeof DESTINATION_STATUSES)[number];

export interface DestinationReport {
  destination: string;
  status: DestinationStatus;
  delivered_at: string | null;
  dropped_reason: string | null;
  attempts: Attempt[];
}

/**
 * Each destination of an event with its attempts: those it was owed to, in their order, then any
 * other it was sent to again by hand (`not_owed` until one acknowledges).
 */
export function destinationReports(e: EventState, attempts: Attempt[]): DestinationReport[] {
  const names = [...e.destinations];
  for (const a of attempts) if (!names.includes(a.destination)) names.push(a.destination);
  return names.map((destination) => ({
    destination,
    status: e.pending.includes(destination)
      ? 'pending'
      : e.delivered[destination] !== undefined
        ? 'delivered'
        : e.dropped[destination] !== undefined
          ? 'dropped'
          : 'not_owed',
    delivered_at: e.delivered[destination] ?? null,
    dropped_reason: e.dropped[destination] ?? null,
    attempts: attempts.filter((a) => a.destination === destination),
  }));
}

type EndpointChoice = Pick<WebhookEndpoint, 'id' | 'disabled' | 'events'>;

/**
 * Where `POST /v1/events/{id}/resend` sends: the one endpoint asked for, or every destination that
 * should have the event now (the payout's callback_url, and each endpoint of its tenant that is
 * enabled and takes the type). A problem names what is wrong.
 */
export function resendTargets(input: {
  hasCallbackUrl: boolean;
  endpoints: EndpointChoice[];
  type: EventType;
  requested?: string | undefined;
}): { ok: true; destinations: string[] } | { ok: false; field: 'endpoint' | null; problem: string } {
  const { requested, type } = input;
  if (requested !== undefined) {
    const endpoint = input.endpoints.find((e) => e.id === requested);
    if (!endpoint) return { ok: false, field: 'endpoint', problem: 'is not one of your webhook endpoints' };
    if (endpoint.disabled) return { ok: false, field: 'endpoint', problem: 'is disabled: enable it first' };
    if (!endpoint.events.includes(type))
      return { ok: false, field: 'endpoint', problem: `does not take ${type}: add it to its events first` };
    return { ok: true, destinations: [requested] };
  }
  const destinations = [...(input.hasCallbackUrl ? [CALLBACK_URL] : []), ...input.endpoints.filter((e) => takes(e, type)).map((e) => e.id)];
  if (destinations.length === 0)
    return {
      ok: false,
      field: null,
      problem: `nobody takes it: the payout has no callback_url and no enabled webhook endpoint takes ${type}`,
    };
  return { ok: true, destinations };
}

/** Where one delivery goes, decided from the payout, the destination a job names and that endpoint as stored. */
export type Target =
  | {
      kind: 'send';
      destination: string;
      url: string;
      /** null: the payout's callback secret (its tenant's, else CALLBACK_SECRET) */ secrets: string[] | null;
    }
  /** the payout has no callback_url */
  | { kind: 'none' }
  /** the endpoint is another tenant's: a job no step made */
  | { kind: 'foreign' }
  /** the endpoint can no longer take it */
  | { kind: 'dropped'; why: string };

export function targetOf(
  payout: Pick<PayoutRecord, 'tenant' | 'order'>,
  type: EventType,
  destination: string,
  endpoint: WebhookEndpoint | null,
  now: number,
): Target {
  if (destination === CALLBACK_URL) {
    const url = payout.order.callback_url;
    return url ? { kind: 'send', destination, url, secrets: null } : { kind: 'none' };
  }
  if (!endpoint) return { kind: 'dropped', why: 'the webhook endpoint was deleted' };
  if (endpoint.tenant !== payout.tenant) return { kind: 'foreign' };
  if (endpoint.disabled) return { kind: 'dropped', why: 'the webhook endpoint is disabled' };
  if (!endpoint.events.includes(type)) return { kind: 'dropped', why: `the webhook endpoint no longer takes ${type}` };
  return { kind: 'send', destination, url: endpoint.url, secrets: signingSecrets(endpoint, now) };
}
