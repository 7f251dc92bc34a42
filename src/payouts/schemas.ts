import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EncryptedCard } from '../bank131/schemas.js';
import type { ReportedFacts } from './confirmation-policy.js';
import { callbackUrlProblem } from './callback-url.js';
import { PAYOUT_STATES, SESSION_STATES, type PayoutState } from './state-machine.js';

/**
 * What upstream systems send (docs/api.md), and what we keep and show. Strict objects: a payments
 * API should refuse `ammount` rather than silently pay without it.
 */

export const PayoutId = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-"');

const name = z.string().trim().min(1, 'must not be empty').max(256, 'must be at most 256 characters');

export const Recipient = z
  .strictObject({ full_name: name.optional(), first_name: name.optional(), last_name: name.optional(), middle_name: name.optional() })
  .refine((r) => Boolean(r.full_name || (r.first_name && r.last_name)), { message: 'needs full_name, or first_name and last_name' });

/** A recipient the tenant saved (POST /v1/recipients), whose saved card a payout may be paid to. */
export const RecipientId = z
  .string({ error: 'must be a string' })
  .regex(/^rcp_[0-9a-f]{16}$/, 'must be a recipient id (rcp_ followed by 16 hexadecimal digits)');

/** A self-employed person's ИНН: 12 digits. */
export const TaxReference = z.string({ error: 'must be a string' }).regex(/^\d{12}$/, 'must be 12 digits (a self-employed person’s ИНН)');

const Kopecks = z
  .number({ error: 'must be a number of kopecks' })
  .int('must be a whole number of kopecks (100 RUB = 10000)')
  .positive('must be greater than 0')
  .max(100_000_000_00, 'must be at most 100,000,000.00 RUB');

/**
 * A payout to a self-employed recipient (НПД): the bank registers the income with the tax service
 * and issues a receipt (docs/bank131-protocol.md §3.6). The services are what the receipt lists;
 * they add up to the payout's amount.
 */
export const Fiscalization = z.strictObject({
  tax_reference: TaxReference.optional().describe("the recipient's ИНН; may be left out when recipient_id names a recipient that has one"),
  services: z
    .array(
      z.strictObject({
        name: z.string().trim().min(1, 'must not be empty').max(256, 'must be at most 256 characters'),
        amount: Kopecks.describe('kopecks per unit'),
        quantity: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(1),
      }),
    )
    .min(1, 'must hold at least one service')
    .max(50, 'must hold at most 50 services'),
  payer_type: z
    .enum(['legal', 'individual', 'foreign'])
    .optional()
    .describe('who pays the income, for the receipt; the bank assumes a company'),
});
export type Fiscalization = z.infer<typeof Fiscalization>;

export const PayoutOrder = z
  .strictObject({
    id: PayoutId,
    amount_details: z.strictObject({
      amount: Kopecks,
      currency: z
        .string()
        .transform((c) => c.toLowerCase())
        .pipe(z.literal('rub', { error: 'must be "rub": card payouts are paid in roubles' })),
    }),
    // Left out when recipient_id names a saved recipient: their name is used.
    recipient: Recipient.optional(),
    /** A saved recipient: paid to their saved card, or, while they have none that works, through a collection link. */
    recipient_id: RecipientId.optional(),
    // Without it (and without recipient_id), the payout waits for the recipient to give a card through a collection link.
    encrypted_card: EncryptedCard.strict().optional(),
    fiscalization: Fiscalization.optional(),
    metadata: z.string().max(1024, 'must be at most 1024 characters').optional(),
    customer: z
      .strictObject({
        reference: z.string().min(1).max(256),
        contacts: z
          .array(z.strictObject({ email: z.email().optional(), phone: z.string().max(32).optional() }))
          .max(5)
          .optional(),
      })
      .optional(),
    callback_url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .refine(
        (u) => callbackUrlProblem(u, { allowPrivate: true }) === null,
        'must not carry a user name or password (they would be sent, and logged, with every callback)',
      )
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.recipient && !o.recipient_id)
      ctx.addIssue({ code: 'custom', path: ['recipient'], message: 'is required, unless recipient_id names a saved recipient' });
    if (o.recipient_id && o.encrypted_card)
      ctx.addIssue({
        code: 'custom',
        path: ['encrypted_card'],
        message: "must not be given with recipient_id: the recipient's saved card is paid (or a new one collected)",
      });
    if (o.fiscalization) {
      const total = o.fiscalization.services.reduce((sum, s) => sum + s.amount * s.quantity, 0);
      if (total !== o.amount_details.amount)
        ctx.addIssue({
          code: 'custom',
          path: ['fiscalization', 'services'],
          message: `must add up to amount_details.amount (${o.amount_details.amount} kopecks): amount × quantity comes to ${total}`,
        });
      if (!o.fiscalization.tax_reference && !o.recipient_id)
        ctx.addIssue({
          code: 'custom',
          path: ['fiscalization', 'tax_reference'],
          message: 'is required, unless recipient_id names a recipient that has a tax_reference',
        });
    }
  });
export type PayoutOrder = z.infer<typeof PayoutOrder>;

export const MAX_BATCH = 10_000;
export const BatchRequest = z.strictObject({
  payouts: z.array(z.unknown()).min(1, 'must hold at least one payout').max(MAX_BATCH, `must hold at most ${MAX_BATCH} payouts`),
});

/** Same order, same fingerprint: key order and whitespace do not matter, values do. */
export function fingerprint(order: PayoutOrder): string {
  return createHash('sha256').update(canonicalJson(order)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Top-level fields whose values differ: what a 409 names. */
export function differingFields(a: PayoutOrder, b: PayoutOrder): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof PayoutOrder>;
  return [...keys].filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).sort();
}

/** What we send the bank as `metadata`: it names the payout, so a stray session is recognised. */
export function bankMetadataFor(payoutId: string): string {
  return `payout:${payoutId}`;
}

/** The audit trail: every state change (from → to), and notes of what moved nothing (in `state`). */
/** `by`: the id of the API key that asked for the move (an acceptance, a cancel), never its secret. */
export type AuditMove = { at: string; from: PayoutState | null; to: PayoutState; why: string; by?: string };
export type AuditNote = { at: string; state: PayoutState; why: string };
export type AuditEvent = AuditMove | AuditNote;
export const isMove = (e: AuditEvent): e is AuditMove => 'to' in e;

/**
 * A payout as stored, typed by state: a payout that reached the bank always has its session id,
 * so no code needs a `!` to read it. Parsed from the Redis hash by the store (src/store/payout-store.ts).
 */
const recordCommon = {
  /** The payout's id in the service: its tenant's order id, prefixed for all but the default tenant (src/tenants/identity.ts). */
  id: z.string().min(1),
  /** The upstream system it belongs to. */
  tenant: z.string(),
  order: z.custom<PayoutOrder>((v) => typeof v === 'object' && v !== null),
  fingerprint: z.string(),
  cardLast4: z.string().nullable(),
  /** The card's last 4 as we learned them ourselves (token/info at the collection link): the policy checks the bank's against it. */
  givenLast4: z.string().nullable(),
  bankPayoutId: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorText: z.string().nullable(),
  /** Times start/payout was sent (or may have been): above 0, ask session/status before sending again. */
  startAttempts: z.number().int(),
  /** What ready_to_confirm said the bank is about to pay: the confirmation policy's input. */
  reported: z.custom<ReportedFacts>().nullable(),
  /** The outcome upstream acknowledged a callback for, if any. */
  notified: z.string().nullable(),
  /** When every destination of its event had acknowledged it (src/store/scripts/mark-notified.lua). */
  notifiedAt: z.string().nullable(),
  /** While the partner wallet is short: when to stop waiting for a top-up (ms since epoch). */
  fundsWaitUntil: z.number().nullable(),
  /** A payout accepted without a card: its single-use collection link token and when it expires (ms). */
  collect: z.object({ token: z.string(), expiresAt: z.number() }).nullable(),
  /** The card hashes the recipient gave through the collection link (never shown, never logged). */
  collectedCard: z.custom<PayoutOrder['encrypted_card'] & object>().nullable(),
  /** Idempotency key generations per bank call (src/payouts/idempotency-key.ts). */
  keyGenerations: z.object({ start: z.number().int(), confirm: z.number().int(), cancel: z.number().int() }),
  /** A payout to a saved recipient: who, the name and saved card they had when it was accepted. */
  recipientId: z.string().nullable(),
  recipientName: z.custom<z.infer<typeof Recipient>>().nullable(),
  cardId: z.string().nullable(),
  /** A self-employed recipient's ИНН: the payout starts with fiscalization. */
  taxReference: z.string().nullable(),
  /** The tenant's reference for the person paid (the order's customer.reference, or the saved recipient's). */
  customerReference: z.string().nullable(),
  /** What a statement is matched by: the bank's fee (kopecks), when the bank and we saw it finish. */
  fee: z.number().int().nullable(),
  bankFinishedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** A self-employed recipient's receipt, once the bank issued it. */
  receipt: z.object({ id: z.string(), link: z.string().nullable() }).nullable(),
  /** Paid money the card's bank sent back. */
  returned: z.object({ amount: z.number().int(), reason: z.string(), at: z.string(), refundId: z.string().nullable() }).nullable(),
  /** Every event its final steps recorded (src/store/scripts/transition.lua). */
  events: z.array(z.string()),
  /** The API key that accepted it ('' for none): it may never approve it. */
  createdBy: z.string().nullable(),
  /**
   * Held or refused by an approval rule, or reviewed: the rules and why, when an unreviewed hold
   * expires (ms), and the decision (`approved`, `rejected`, `expired`), by whom and why.
   */
  review: z
    .object({
      rules: z.array(z.string()),
      reason: z.string(),
      expiresAt: z.number().nullable(),
      decision: z.enum(['approved', 'rejected', 'expired']).nullable(),
      decidedBy: z.string().nullable(),
      decisionReason: z.string().nullable(),
    })
    .nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
};

const NO_SESSION_YET = ['awaiting_card', 'queued', 'awaiting_review'] as const;
const ENDED_MAYBE_WITHOUT_SESSION = ['failed', 'cancelled', 'expired', 'rejected'] as const;

export const PayoutRecordSchema = z.discriminatedUnion('state', [
  z.object({ ...recordCommon, state: z.enum(NO_SESSION_YET), sessionId: z.null() }),
  z.object({ ...recordCommon, state: z.enum([...SESSION_STATES, 'succeeded', 'returned']), sessionId: z.string().min(1) }),
  z.object({ ...recordCommon, state: z.enum(ENDED_MAYBE_WITHOUT_SESSION), sessionId: z.string().min(1).nullable() }),
]);
type RecordOf<S extends PayoutState> = Omit<z.infer<typeof PayoutRecordSchema>, 'state' | 'sessionId'> & {
  state: S;
  sessionId: S extends (typeof NO_SESSION_YET)[number]
    ? null
    : S extends (typeof ENDED_MAYBE_WITHOUT_SESSION)[number]
      ? string | null
      : string;
};
/** One member per state, so that checking `state` narrows `sessionId` (the schema above checks the same). */
export type PayoutRecord = { [S in PayoutState]: RecordOf<S> }[PayoutState];
/** A payout the bank knows: it has a session. */
export type PayoutWithSession = Extract<PayoutRecord, { sessionId: string }>;
/** A payout in one of the given states, with the fields those states guarantee. */
export type PayoutIn<S extends PayoutState> = Extract<PayoutRecord, { state: S }>;

const State = z.enum(PAYOUT_STATES);
export const AuditEntry = z.union([
  z
    .object({
      at: z.string(),
      from: State.nullable(),
      to: State,
      why: z.string(),
      by: z.string().optional().describe('the API key that asked for it'),
    })
    .meta({ description: 'a change of state' }),
  z
    .object({ at: z.string(), state: State, why: z.string() })
    .meta({ description: 'a note that changed nothing (a webhook seen, a check made)' }),
]);

/** Whether upstream has been told a final payout's outcome (src/payouts/event-delivery.ts deliveryOf). */
export const DELIVERY_STATUSES = ['pending', 'delivered', 'dropped', 'no_destination'] as const;
const Notification = z
  .object({
    event_id: z.string().describe("the outcome's event (GET /v1/events/{id}): its id is every delivery's `webhook-id`"),
    status: z
      .enum(DELIVERY_STATUSES)
      .describe(
        '`pending`: a destination it is owed to (the callback_url, a webhook endpoint) has not acknowledged yet; `delivered`: every one has; `dropped`: each was dropped instead (its endpoint deleted or disabled); `no_destination`: nobody was to be told',
      ),
    delivered_at: z.string().nullable().describe('when the last destination acknowledged'),
  })
  .meta({ id: 'PayoutNotification' });

/** What upstream sees of a payout (reads, lists, callbacks): never the card hashes. */
export const PayoutView = z
  .object({
    id: PayoutId,
    status: State,
    amount_details: z.object({ amount: z.number().int().describe('kopecks: 100 RUB = 10000'), currency: z.string() }),
    recipient: z.object({
      full_name: z.string().optional(),
      first_name: z.string().optional(),
      last_name: z.string().optional(),
      middle_name: z.string().optional(),
    }),
    metadata: z.string().nullable(),
    customer: z.looseObject({ reference: z.string() }).nullable(),
    callback_url: z.string().nullable(),
    recipient_id: z.string().nullable().describe('the saved recipient paid, when the order named one'),
    card: z.object({ last4: z.string().nullable() }),
    collect_url: z.string().nullable().describe('while the payout waits for its card: the link to send the recipient'),
    fiscalization: z
      .object({
        tax_reference: z.string(),
        receipt: z
          .object({ id: z.string(), link: z.string().nullable() })
          .nullable()
          .describe("the tax receipt the bank registered for the recipient's income, once it did"),
      })
      .nullable()
      .describe('a payout to a self-employed recipient (НПД)'),
    bank: z.object({
      session_id: z.string().nullable(),
      payout_id: z.string().nullable(),
      finished_at: z.string().nullable().describe('when the bank says it finished the payout'),
    }),
    fee: z
      .object({ amount: z.number().int().describe('kopecks'), currency: z.string() })
      .nullable()
      .describe("the bank's fee for the payout, once it said (`amounts.fee.merchant_fee`)"),
    returned: z
      .object({ amount: z.number().int().describe('kopecks'), reason: z.string(), at: z.string() })
      .nullable()
      .describe("money the card's bank sent back after the payout succeeded (status `returned`)"),
    error: z.object({ code: z.string(), description: z.string().nullable() }).nullable(),
    review: z
      .object({
        rules: z.array(z.string()).describe('the approval rules that held or refused it (`review_above` for REVIEW_ABOVE)'),
        reason: z.string().describe('each rule’s limit, in words'),
        expires_at: z.string().nullable().describe('while `awaiting_review`: when it is rejected unless a reviewer decides first'),
        decision: z.enum(['approved', 'rejected', 'expired']).nullable(),
        decided_by: z.string().nullable().describe('the reviewer: an API key id, or `operator:<name>`'),
        decision_reason: z.string().nullable(),
      })
      .nullable()
      .describe('held for review or refused by an approval rule (docs/operations.md, Approval rules and review)'),
    created_at: z.string(),
    updated_at: z.string(),
    finished_at: z.string().nullable().describe('when the payout first reached a final state'),
    audit: z.array(AuditEntry).optional().describe('every change of state and every webhook seen; in GET /v1/payouts/{id} only'),
    notification: Notification.nullable()
      .optional()
      .describe('in GET /v1/payouts/{id} only: whether upstream has been told the outcome; null while the payout is not final'),
  })
  .meta({ id: 'Payout' });
export type PayoutView = z.infer<typeof PayoutView>;

/** Where a collection link points: `<PUBLIC_URL>/collect/<token>`. */
export function collectUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/collect/${token}`;
}

export function publicView(record: PayoutRecord, audit?: AuditEvent[], publicUrl?: string): PayoutView {
  const { order } = record;
  return {
    // the tenant's own order id: the tenant part of the service's id is never shown
    id: order.id,
    status: record.state,
    amount_details: order.amount_details,
    recipient: order.recipient ?? record.recipientName ?? {},
    metadata: order.metadata ?? null,
    customer: order.customer ?? null,
    callback_url: order.callback_url ?? null,
    recipient_id: record.recipientId,
    card: { last4: record.cardLast4 },
    collect_url: record.state === 'awaiting_card' && record.collect && publicUrl ? collectUrl(publicUrl, record.collect.token) : null,
    fiscalization: record.taxReference ? { tax_reference: record.taxReference, receipt: record.receipt } : null,
    bank: { session_id: record.sessionId, payout_id: record.bankPayoutId, finished_at: record.bankFinishedAt },
    fee: record.fee === null ? null : { amount: record.fee, currency: order.amount_details.currency },
    returned: record.returned ? { amount: record.returned.amount, reason: record.returned.reason, at: record.returned.at } : null,
    error: record.errorCode ? { code: record.errorCode, description: record.errorText } : null,
    review: record.review
      ? {
          rules: record.review.rules,
          reason: record.review.reason,
          expires_at: record.review.expiresAt === null ? null : new Date(record.review.expiresAt).toISOString(),
          decision: record.review.decision,
          decided_by: record.review.decidedBy,
          decision_reason: record.review.decisionReason,
        }
      : null,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    finished_at: record.finishedAt,
    ...(audit ? { audit } : {}),
  };
}

// ---------------------------------------------------------------- job data (docs/architecture.md, Queues and jobs)

/** The service's id of a payout in job data: a tenant's order id, after its tenant for all but the default one (src/tenants/identity.ts). */
const PayoutKey = z.string().regex(/^(?:[a-z0-9][a-z0-9-]{0,31}~)?[A-Za-z0-9._-]{1,64}$/, 'is not a payout id');

export const StartJob = z.object({ payoutId: PayoutKey });
export type StartJob = z.infer<typeof StartJob>;

/**
 * A Bank 131 webhook as received: the exact signed bytes and the signature, which the worker
 * verifies again before it believes a word (a job can be added or edited by anyone who can write
 * to Redis). `body` is the UTF-8 text when the bytes are valid UTF-8, else their base64
 * (`encoding`), so the bytes the bank signed are always the bytes checked. `type` only names the
 * job for operators; the worker reads the type from the verified body.
 */
export const WebhookJob = z.object({
  type: z.string(),
  body: z.string(),
  encoding: z.enum(['utf8', 'base64']),
  signature: z.string(),
  receivedAt: z.string(),
});
export type WebhookJob = z.infer<typeof WebhookJob>;

/** The bytes a webhook job carries, as the bank signed them. */
export function webhookBytes(job: Pick<WebhookJob, 'body' | 'encoding'>): Buffer {
  return Buffer.from(job.body, job.encoding);
}

/** How a received body travels in a job: as text when that keeps every byte, else as base64. */
export function webhookBody(raw: Buffer): Pick<WebhookJob, 'body' | 'encoding'> {
  const text = raw.toString('utf8');
  return Buffer.byteLength(text, 'utf8') === raw.length && Buffer.from(text, 'utf8').equals(raw)
    ? { body: text, encoding: 'utf8' }
    : { body: raw.toString('base64'), encoding: 'base64' };
}

/**
 * A decision to take, or a cancel to send, for this payout's session. Nothing the policy reads is
 * here: it reads the payout record, which only steps write (docs/architecture.md).
 */
export const ConfirmJob = z.object({ payoutId: PayoutKey, sessionId: z.string() });
export type ConfirmJob = z.infer<typeof ConfirmJob>;

/** A status check for one payout (the reconciler's, or one a webhook asked for). */
export const CheckJob = z.object({ payoutId: PayoutKey, reason: z.string() });
export type CheckJob = z.infer<typeof CheckJob>;

/** A payout's events by name: its final states, and `card_invalid` (its saved card found unusable). */
export const NOTIFY_EVENTS = ['succeeded', 'failed', 'cancelled', 'expired', 'returned', 'rejected', 'card_invalid'] as const;
export const NotifyJob = z.object({ payoutId: PayoutKey, event: z.enum(NOTIFY_EVENTS) });
export type NotifyJob = z.infer<typeof NotifyJob>;
