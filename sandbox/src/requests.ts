import { z } from 'zod';
import { SandboxError } from './errors.js';
import { describeIssues } from './issues.js';

/**
 * The partner requests the sandbox bank takes (docs/bank131-protocol.md §3), as it reads them. They
 * follow the bank's guide rather than any one client: session/create may carry the amount,
 * start/payout then needs only the session and the card, and a recipient may come without a name.
 * Unknown fields of the objects the bank echoes (amount, card, customer) are kept.
 */

export type ApiVersion = 'v1' | 'v2';

const Amount = z.looseObject({
  amount: z.number().int('must be an integer number of minor units (kopecks)').positive('must be greater than 0'),
  currency: z.string().regex(/^[a-z]{3,4}$/i, 'must be a currency code such as rub'),
});

const EncryptedCard = z.looseObject({ number_hash: z.string().min(1, 'is required') });

const CardDestination = z.object({
  type: z.literal('card'),
  card: z.object({ type: z.literal('encrypted_card'), encrypted_card: EncryptedCard }),
});

const Person = z.looseObject({
  full_name: z.string().min(1).optional(),
  first_name: z.string().min(1).optional(),
  last_name: z.string().min(1).optional(),
  middle_name: z.string().min(1).optional(),
});

/** The guide sends a recipient only sometimes, and not always with a name: any block is taken. */
const Participants = z.looseObject({ recipient: Person.optional(), sender: Person.optional() });

const Customer = z.looseObject({
  reference: z.string().min(1),
  contacts: z.array(z.looseObject({ email: z.email().optional(), phone: z.string().optional() })).optional(),
});

const Metadata = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);

/** session/create: `{}`, `{"metadata":"good"}`, or with the amount; what it carries is the session's defaults for start. */
export const SandboxCreateRequest = z.object({
  metadata: Metadata.optional(),
  customer: Customer.optional(),
  amount_details: Amount.optional(),
  participant_details: Participants.optional(),
});
export type SandboxCreateRequest = z.infer<typeof SandboxCreateRequest>;

/** init/payout: the payout without a session (it makes one). The amount may be left out here and refused later, by name. */
export const SandboxInitRequest = z.object({
  payout_details: CardDestination,
  amount_details: Amount.optional(),
  participant_details: Participants.optional(),
  customer: Customer.optional(),
  metadata: Metadata.optional(),
});
export type SandboxInitRequest = z.infer<typeof SandboxInitRequest>;

/** start/payout: as the guide sends it, only `session_id` and the card; sandbox/src/session-rules.ts decides which amount counts. */
export const SandboxStartRequest = SandboxInitRequest.extend({ session_id: z.string().min(1) });
export type SandboxStartRequest = z.infer<typeof SandboxStartRequest>;

/** One service of a self-employed payout's receipt: its price per unit and how many. */
const FiscalizationService = z.looseObject({
  name: z.string().min(1, 'is required'),
  amount_details: Amount,
  quantity: z.number().int('must be a whole number').min(1, 'must be 1 or more'),
});

/** fiscalization_details.professional_income_taxpayer (bank131/php-sdk ProfessionalIncomeTaxpayer); `receipt` is the bank's to add. */
const ProfessionalIncomeTaxpayer = z
  .looseObject(
    {
      tax_reference: z.string({ error: 'is required' }).regex(/^\d{12}$/, 'must be 12 digits (the self-employed person’s INN)'),
      services: z.array(FiscalizationService, { error: 'is required' }).min(1, 'must list at least one service'),
      payer_type: z.enum(['legal', 'individual', 'foreign'], { error: 'must be legal, individual or foreign' }).optional(),
      payer_tax_number: z.string().min(1).optional(),
      payer_name: z.string().min(1).optional(),
    },
    { error: 'is required' },
  )
  .transform(({ receipt: _receipt, ...sent }) => sent);

const FiscalizationDetails = z.object(
  { professional_income_taxpayer: ProfessionalIncomeTaxpayer },
  { error: 'is required for a self-employed payout' },
);

/** init/payout/fiscalization: init/payout plus the self-employed person's receipt details. */
export const SandboxFiscalInitRequest = SandboxInitRequest.extend({ fiscalization_details: FiscalizationDetails });
export type SandboxFiscalInitRequest = z.infer<typeof SandboxFiscalInitRequest>;

/** start/payout/fiscalization: start/payout plus the self-employed person's receipt details. */
export const SandboxFiscalStartRequest = SandboxStartRequest.extend({ fiscalization_details: FiscalizationDetails });
export type SandboxFiscalStartRequest = z.infer<typeof SandboxFiscalStartRequest>;

export const SessionIdRequest = z.object({ session_id: z.string().min(1, 'is required') });

export const WidgetTokenRequest = z
  .object({
    tokenize_widget: z.object({ access: z.literal(true) }).optional(),
    acquiring_widget: z.looseObject({ session_id: z.string() }).optional(),
    self_employed_widget: z.looseObject({ tax_reference: z.string().regex(/^\d{12}$/) }).optional(),
  })
  .refine((r) => r.tokenize_widget || r.acquiring_widget || r.self_employed_widget, { message: 'needs at least one widget' });

export const TokenInfoRequest = z.object({
  type: z.literal('card'),
  card: z.object({ type: z.literal('encrypted_card'), encrypted_card: EncryptedCard }),
});

export const WalletBalanceRequest = z.object({ request_datetime: z.string().min(1) });

/** A v1 payout names its card `payment_method`; v2 says `payout_details`. Read either as v2. */
export function fromWireNames(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  if (!('payment_method' in body) || 'payout_details' in body) return body;
  const { payment_method, ...rest } = body as Record<string, unknown>;
  return { ...rest, payout_details: payment_method };
}

/**
 * Parses a request, or refuses it in the bank's error shape naming each bad field. A v1 caller sent
 * `payment_method`, so that is the name its refusal must use.
 */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown, version: ApiVersion): z.output<S> {
  const result = schema.safeParse(fromWireNames(body));
  if (result.success) return result.data;
  const issues = describeIssues(result.error).map((line) =>
    version === 'v1' ? line.replace(/^payout_details\b/, 'payment_method') : line,
  );
  throw new SandboxError('invalid_request', issues.join('; '));
}

/** POST /sandbox/sessions/:id/refund (a control route's body): the card's bank returns (part of) a paid payout. */
export const RefundOrder = z.object({
  amount: z.number().int('must be a whole number of kopecks').positive('must be greater than 0').optional(),
  reason: z.string().min(1, 'must not be empty').default("the card's bank returned the transfer"),
});
export type RefundOrder = z.infer<typeof RefundOrder>;
