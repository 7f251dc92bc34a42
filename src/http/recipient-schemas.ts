import { z } from 'zod';
import { Recipient, RecipientId, TaxReference } from '../payouts/schemas.js';
import type { RecipientRecord } from '../store/recipient-store.js';

/**
 * The request and response schemas of the recipient routes (src/http/recipients.ts): they validate,
 * and make the OpenAPI document.
 */

/** The tenant's own id for the person: the idempotency key of a create. */
export const RecipientReference = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') })
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9._:-]+$/, 'may hold only letters, digits, ".", "_", ":" and "-"');

export const RecipientCreate = z
  .strictObject({
    reference: RecipientReference.describe('your own id for the person; the same reference again is the same recipient'),
    // the name exactly as a payout order's `recipient` takes it
    ...Recipient.shape,
    tax_reference: TaxReference.optional().describe('a self-employed person’s ИНН (12 digits): their payouts may carry fiscalization'),
  })
  .refine((r) => Boolean(r.full_name || (r.first_name && r.last_name)), {
    message: 'needs full_name, or first_name and last_name',
    path: ['full_name'],
  });
export type RecipientCreate = z.infer<typeof RecipientCreate>;

export const RecipientParams = z.object({ id: RecipientId });

export const RecipientListQuery = z.strictObject({
  reference: RecipientReference.optional().describe('only the recipient with this reference'),
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(10),
  starting_after: RecipientId.optional().describe('the id of the last recipient of the previous page'),
});

const InvalidReason = z.object({ code: z.string(), description: z.string() });

export const RecipientView = z
  .object({
    id: RecipientId,
    reference: z.string(),
    full_name: z.string().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    middle_name: z.string().optional(),
    tax_reference: z.string().nullable(),
    card: z
      .object({
        brand: z.string().describe('as Bank 131 names it: visa, mastercard, mir, …'),
        last4: z.string(),
        status: z
          .enum(['active', 'invalid'])
          .describe(
            '`invalid`: a payout to it failed with a code that says the card cannot be paid to; give a new one through a card link',
          ),
        invalid_reason: InvalidReason.nullable().describe('the bank’s code and words, while `invalid`'),
        saved_at: z.string(),
      })
      .nullable()
      .describe('the saved card (never its hashes); null until the recipient gives one through a collection link'),
    self_employed: z
      .enum(['bound', 'unknown'])
      .describe('`bound`: they allowed Bank 131 to register their income, through the self-employed step of a collection page'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Recipient' });
export type RecipientView = z.infer<typeof RecipientView>;

export const RecipientList = z.object({
  data: z.array(RecipientView).describe('newest first'),
  has_more: z.boolean(),
  next_starting_after: z.string().nullable().describe('pass as starting_after for the next page; null on the last'),
});

export const CardLink = z
  .object({
    url: z.string().describe('`<PUBLIC_URL>/collect/<token>`: send it to the recipient; single use'),
    expires_at: z.string().describe('after COLLECT_TTL'),
  })
  .meta({ id: 'RecipientCardLink' });

/** What a tenant sees of its recipient: never the card's hashes or its id. */
export function recipientView(r: RecipientRecord): RecipientView {
  const card = r.card;
  return {
    id: r.id,
    reference: r.reference,
    ...r.name,
    tax_reference: r.taxReference,
    card: card
      ? {
          brand: card.brand,
          last4: card.last4,
          status: card.status,
          invalid_reason:
            card.status === 'invalid'
              ? { code: card.invalidCode ?? 'card_invalid', description: card.invalidText ?? card.invalidCode ?? '' }
              : null,
          saved_at: card.savedAt,
        }
      : null,
    self_employed: r.selfEmployed,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}
