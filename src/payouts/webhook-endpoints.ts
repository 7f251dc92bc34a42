import { randomBytes } from 'node:crypto';
import { SECRET_PREFIX } from './callback-signature.js';
import type { EventType } from './events.js';

/**
 * A tenant's webhook endpoints (docs/api.md, Webhook endpoints): account-level destinations that receive every
 * event of the types they take, beside each payout's own `callback_url`. Each signs with its own
 * Standard Webhooks secret; after a rotation the previous secret signs too until the overlap ends,
 * so a receiver may switch secrets whenever it likes within it. Pure, apart from making a secret.
 */
export interface WebhookEndpoint {
  id: string;
  tenant: string;
  url: string;
  /** The event types it takes. */
  events: EventType[];
  description: string | null;
  disabled: boolean;
  secret: string;
  /** The secret before the last rotation, and until when (ms since epoch) it still signs. */
  previousSecret: string | null;
  previousSecretUntil: number | null;
  createdAt: string;
  updatedAt: string;
}

/** At most this many per tenant: each terminal transition reads them all (src/store/scripts/transition.lua). */
export const MAX_ENDPOINTS_PER_TENANT = 16;

/** How long the previous secret still signs after a rotation, unless the caller says: a day. */
export const DEFAULT_OVERLAP_SECONDS = 86_400;
/** The longest overlap a rotation may ask for: a week. */
export const MAX_OVERLAP_SECONDS = 7 * 86_400;

/** A new endpoint id: `we_` and 16 hexadecimal digits. */
export function newEndpointId(): string {
  return `we_${randomBytes(8).toString('hex')}`;
}

/** A new signing secret in the Standard Webhooks form: `whsec_` and the base64 of 32 random bytes. */
export function newEndpointSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** Whether the endpoint is to be told of an event of this type now. */
export function takes(endpoint: Pick<WebhookEndpoint, 'disabled' | 'events'>, type: EventType): boolean {
  return !endpoint.disabled && endpoint.events.includes(type);
}

/**
 * The secrets a delivery to this endpoint is signed with at `now` (ms): its secret, then, during
 * a rotation's overlap, the previous one, so that `webhook-signature` reads `v1,<new> v1,<old>`.
 */
export function signingSecrets(
  endpoint: Pick<WebhookEndpoint, 'secret' | 'previousSecret' | 'previousSecretUntil'>,
  now: number,
): string[] {
  const { secret, previousSecret, previousSecretUntil } = endpoint;
  return previousSecret && previousSecretUntil !== null && now < previousSecretUntil ? [secret, previousSecret] : [secret];
}
