import { z } from 'zod';
import { PayoutId, PayoutView, RecipientId } from '../payouts/schemas.js';
import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';

/** The request and response schemas of the payout routes (src/http/payouts.ts): they validate, and make the OpenAPI document. */
export const IdParams = z.object({ id: PayoutId });
export const Accepted = z
  .object({
    id: PayoutId,
    status: z.enum(PAYOUT_STATES),
    collect_url: z.string().optional().describe('accepted without a card: send this link to the recipient'),
  })
  .meta({ id: 'PayoutAccepted' });
export const WidgetToken = z.object({ public_token: z.string().describe('single use; give it to the Bank 131 widget on your page') });

export const BatchItemResult = z.union([
  z.object({
    index: z.number().int(),
    id: z.string(),
    status: z.enum(['created', 'existing']),
    state: z.enum(PAYOUT_STATES),
    collect_url: z.string().optional(),
  }),
  z.object({
    index: z.number().int(),
    id: z.string(),
    status: z.literal('conflict'),
    state: z.enum(PAYOUT_STATES),
    fields: z.array(z.string()),
  }),
  z.object({
    index: z.number().int(),
    id: z.string().nullable(),
    status: z.literal('invalid'),
    issues: z.array(z.object({ field: z.string(), problem: z.string() })),
  }),
]);
export type BatchItemResult = z.infer<typeof BatchItemResult>;
export const BatchResponse = z.object({
  counts: z.object({ created: z.number().int(), existing: z.number().int(), conflict: z.number().int(), invalid: z.number().int() }),
  results: z.array(BatchItemResult).describe('one per item, in order'),
});

const ONE_OF_STATES = `must be one of ${PAYOUT_STATES.join(', ')}`;

/**
 * `status`: one state or several, comma-separated (`status=succeeded,returned`) or the parameter
 * repeated (`status=succeeded&status=returned`); read as the list of states, each once.
 */
const StatusFilter = z
  .union([z.string(), z.array(z.string())], { error: ONE_OF_STATES })
  .transform((given, ctx) => {
    const names = (Array.isArray(given) ? given : [given]).flatMap((s) => s.split(',')).map((s) => s.trim());
    const unknown = names.filter((s) => !(PAYOUT_STATES as readonly string[]).includes(s));
    if (unknown.length > 0) {
      const shown = unknown.map((s) => JSON.stringify(s)).join(', ');
      ctx.addIssue({ code: 'custom', message: `${ONE_OF_STATES} (not ${shown})`, input: given });
      return z.NEVER;
    }
    return [...new Set(names)] as PayoutState[];
  })
  .describe(
    'payouts in any of these states: one, or several comma-separated (`succeeded,returned`) or repeated (`status=succeeded&status=returned`)',
  );

export const ListQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(10),
  status: StatusFilter.optional(),
  metadata: z
    .string({ error: 'must be given once' })
    .min(1, 'must not be empty')
    .max(1024, 'must be at most 1024 characters')
    .optional()
    .describe("the order's `metadata`, exactly"),
  reference: z
    .string({ error: 'must be given once' })
    .min(1, 'must not be empty')
    .max(256, 'must be at most 256 characters')
    .optional()
    .describe("your reference for the person paid: the order's `customer.reference`, or the saved recipient's `reference`"),
  card_last4: z
    .string({ error: 'must be given once' })
    .regex(/^\d{4}$/, 'must be 4 digits')
    .optional()
    .describe('the last 4 digits of the card paid to, once the payout knows them'),
  recipient_id: RecipientId.optional().describe('the saved recipient paid'),
  created_gte: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time, e.g. 2026-11-26T00:00:00Z' }).optional(),
  created_lte: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time, e.g. 2026-11-26T23:59:59Z' }).optional(),
  starting_after: PayoutId.optional().describe('the id of the last payout of the previous page (its `next_starting_after`)'),
});
export const ListResponse = z.object({
  data: z
    .array(PayoutView)
    .describe(
      'newest first; filtered by `metadata`, `reference`, `card_last4` or `recipient_id`, a page may hold fewer than `limit` and still have more',
    ),
  has_more: z.boolean(),
  next_starting_after: z
    .string()
    .nullable()
    .describe(
      'pass as starting_after for the next page; null on the last. After a short page it may be a payout the page does not show (the last one examined)',
    ),
});
export const CancelResponse = z.object({ id: PayoutId, status: z.enum(['cancelled', 'cancelling']) });

const ReviewReason = z
  .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
  .trim()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters');
export const ApproveBody = z.strictObject({ reason: ReviewReason.optional().describe('kept in the audit entry') }).nullish();
export const RejectBody = z.strictObject({
  reason: ReviewReason.describe('why: kept in the audit entry and the payout’s error description'),
});
export const ReviewResponse = z.object({ id: PayoutId, status: z.enum(['queued', 'rejected']), decided_by: z.string() });
