import { z } from 'zod';

/**
 * Bank 131 wire shapes (docs/bank131-protocol.md §3–§6), as our client reads and writes them. The
 * sandbox bank reads the wire with schemas of its own (sandbox/src/requests.ts), so the tests that
 * run against it check these against a second reading of the protocol.
 *
 * - Incoming objects are loose: the bank adds fields without notice and we must not reject them.
 * - Sessions and payouts come in v1 (`payments`, `payment_method`) or v2 (`payout_list`,
 *   `payout_details`) spelling; parsing normalises both into `payouts` and `details`.
 */

// ---------------------------------------------------------------- building blocks

/** Fields the bank may send as `null` (or leave out): both read as absent. */
const absent = <S extends z.ZodType>(schema: S) => schema.nullish().transform((v) => v ?? undefined);

export const Currency = z.string().regex(/^[a-z]{3,4}$/i, 'must be a currency code such as rub');

export const AmountDetails = z.looseObject({
  amount: z.number().int('must be an integer number of minor units (kopecks)').positive('must be greater than 0'),
  currency: Currency,
});
export type AmountDetails = z.infer<typeof AmountDetails>;

export const EncryptedCard = z.looseObject({
  number_hash: z.string().min(1, 'is required'),
  expiration_date_hash: z.string().min(1).optional(),
  security_code_hash: z.string().min(1).optional(),
  cardholder_name_hash: z.string().min(1).optional(),
});
export type EncryptedCard = z.infer<typeof EncryptedCard>;

/** What we send as the payout destination: a widget-tokenized card. */
export const EncryptedCardDetails = z.object({
  type: z.literal('card'),
  card: z.object({ type: z.literal('encrypted_card'), encrypted_card: EncryptedCard }),
});

/** What the bank echoes as a payout's destination: masked card data, never hashes we must keep. */
export const PaymentDetailsOut = z.looseObject({
  type: absent(z.string()),
  card: absent(
    z.looseObject({
      type: absent(z.string()),
      brand: absent(z.string()),
      last4: absent(z.string()),
      bin: absent(z.string()),
      country_iso3: absent(z.string()),
      card_id: absent(z.string()),
    }),
  ),
});

export const Participant = z.looseObject({
  full_name: z.string().min(1).optional(),
  first_name: z.string().min(1).optional(),
  last_name: z.string().min(1).optional(),
  middle_name: z.string().min(1).optional(),
});

export const ParticipantDetails = z.looseObject({
  recipient: Participant.refine((p) => Boolean(p.full_name || (p.first_name && p.last_name)), {
    message: 'needs full_name, or first_name and last_name',
  }),
  sender: Participant.optional(),
});

export const Customer = z.looseObject({
  reference: z.string().min(1),
  contacts: z.array(z.looseObject({ email: z.email().optional(), phone: z.string().optional() })).optional(),
});

/** Metadata is free-form and echoed back; we send a string that identifies the payout. */
export const Metadata = z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]);

export const BankErrorBody = z.looseObject({
  code: z.string(),
  description: z
    .string()
    .nullish()
    .transform((v) => v ?? undefined),
  reject_reasons: z
    .array(z.looseObject({ rule_alias: z.string().optional(), list_alias: z.string().optional(), expiration_date: z.string().optional() }))
    .optional(),
});
export type BankErrorBody = z.infer<typeof BankErrorBody>;

// ---------------------------------------------------------------- session and payout objects

/**
 * Statuses docs/bank131-protocol.md §4 lists. The wire schemas accept any string: the bank may add
 * statuses without notice, and a correctly signed webhook must never be refused for its content;
 * code that acts on a status compares against these and treats anything else as "not final yet".
 */
export const SESSION_STATUSES = ['created', 'in_progress', 'accepted', 'cancelled', 'error'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export const PAYOUT_STATUSES = ['pending', 'in_progress', 'succeeded', 'failed'] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

const LooseAmount = z.looseObject({ amount: absent(z.number()), currency: absent(z.string()) });

/** A refund of a payout (SDK `src/DTO/PayoutRefund.php`): the card's bank sent the money back. */
export const BankRefund = z.looseObject({
  id: absent(z.string()),
  status: absent(z.string()),
  created_at: absent(z.string()),
  finished_at: absent(z.string()),
  amount_details: absent(LooseAmount),
  // not in the SDK's DTO: read where the bank may say why (docs/bank131-protocol.md, Returned payouts)
  reason: absent(z.string()),
  metadata: z.unknown().optional(),
  error: absent(BankErrorBody),
});
export type BankRefund = z.output<typeof BankRefund>;

/** A self-employed recipient's tax details on a payout; `receipt` once the bank registered the income. */
export const ProfessionalIncomeTaxpayerOut = z.looseObject({
  tax_reference: absent(z.string()),
  receipt: absent(z.looseObject({ id: absent(z.string()), link: absent(z.string()) })),
});

const PayoutWire = z.looseObject({
  id: absent(z.string()),
  status: absent(z.string()),
  created_at: absent(z.string()),
  finished_at: absent(z.string()),
  amount_details: absent(z.looseObject({ amount: absent(z.number()), currency: absent(z.string()) })),
  payout_details: absent(PaymentDetailsOut),
  payment_method: absent(PaymentDetailsOut),
  participant_details: absent(z.looseObject({})),
  customer: absent(z.looseObject({})),
  metadata: z.unknown().optional(),
  error: absent(BankErrorBody),
  transaction_info: absent(z.looseObject({})),
  amounts: absent(
    z.looseObject({
      gross: absent(LooseAmount),
      net: absent(LooseAmount),
      fee: absent(z.looseObject({ merchant_fee: absent(LooseAmount) })),
    }),
  ),
  fiscalization_details: absent(z.looseObject({ professional_income_taxpayer: absent(ProfessionalIncomeTaxpayerOut) })),
  refunds: absent(z.array(BankRefund)),
});

export const BankPayout = PayoutWire.transform((p) => ({ ...p, details: p.payout_details ?? p.payment_method }));
export type BankPayout = z.output<typeof BankPayout>;

const SessionWire = z.looseObject({
  id: z.string().min(1),
  status: absent(z.string()),
  created_at: absent(z.string()),
  updated_at: absent(z.string()),
  finished_at: absent(z.string()),
  next_action: absent(z.string()),
  payout_list: absent(z.array(BankPayout)),
  payments: absent(z.array(BankPayout)),
  payment_list: absent(z.array(z.unknown())),
  acquiring_payments: absent(z.array(z.unknown())),
  error: absent(BankErrorBody),
});

export const BankSession = SessionWire.transform((s) => ({ ...s, payouts: s.payout_list ?? s.payments ?? [] }));
export type BankSession = z.output<typeof BankSession>;

// ---------------------------------------------------------------- requests (what we send)

/** Canonical (v2) payout request fields; the client renames them for v1 on the way out. */
export const PayoutFields = z.object({
  payout_details: EncryptedCardDetails,
  amount_details: AmountDetails,
  participant_details: ParticipantDetails,
  customer: Customer.optional(),
  metadata: Metadata.optional(),
});
export type PayoutFields = z.infer<typeof PayoutFields>;

export const SessionCreateRequest = z.object({
  metadata: Metadata.optional(),
  customer: Customer.optional(),
  amount_details: AmountDetails.optional(),
});
export type SessionCreateRequest = z.infer<typeof SessionCreateRequest>;

export const StartPayoutRequest = PayoutFields.extend({ session_id: z.string().min(1) });
export type StartPayoutRequest = z.infer<typeof StartPayoutRequest>;

/** A service a self-employed recipient is paid for, as the receipt lists it (SDK `FiscalizationService.php`). */
export const FiscalizationService = z.object({
  name: z.string().min(1),
  amount_details: AmountDetails,
  quantity: z.number().int().positive(),
});

/** An НПД payout's tax details (docs/bank131-protocol.md §3.6): the bank registers the income and issues a receipt. */
export const FiscalizationDetails = z.object({
  professional_income_taxpayer: z.object({
    tax_reference: z.string().regex(/^\d{12}$/, 'must be 12 digits'),
    services: z.array(FiscalizationService).min(1),
    payer_type: z.enum(['legal', 'individual', 'foreign']).optional(),
    payer_tax_number: z.string().min(1).optional(),
    payer_name: z.string().min(1).optional(),
  }),
});
export type FiscalizationDetails = z.infer<typeof FiscalizationDetails>;

export const StartFiscalPayoutRequest = StartPayoutRequest.extend({ fiscalization_details: FiscalizationDetails });
export type StartFiscalPayoutRequest = z.infer<typeof StartFiscalPayoutRequest>;

export const InitPayoutRequest = PayoutFields;
export type InitPayoutRequest = z.infer<typeof InitPayoutRequest>;

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
  card: z.object({ type: z.literal('encrypted_card'), encrypted_card: z.looseObject({ number_hash: z.string().min(1) }) }),
});

export const WalletBalanceRequest = z.object({ request_datetime: z.string().min(1) });

// ---------------------------------------------------------------- responses (what the bank answers)

export const ErrorResponse = z.looseObject({ status: z.literal('error'), error: BankErrorBody });

export const SessionResponse = z.looseObject({ status: z.literal('ok'), session: BankSession });
export const WidgetTokenResponse = z.looseObject({ status: z.literal('ok'), public_token: z.string().min(1) });
export const TokenInfo = z.looseObject({
  number_hash: z.string().optional(),
  brand: z.string().optional(),
  last4: z.string().regex(/^\d{4}$/, 'must be 4 digits'),
  country_iso3: z.string().optional(),
  type: z.string().optional(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;
export const TokenInfoResponse = z.looseObject({ status: z.literal('ok'), info: TokenInfo });
export const Wallet = z.looseObject({ id: z.string(), amount_details: z.looseObject({ amount: z.number().int(), currency: Currency }) });
export type Wallet = z.infer<typeof Wallet>;
export const WalletBalanceResponse = z.looseObject({ status: z.literal('ok'), wallets: z.array(Wallet) });

// ---------------------------------------------------------------- webhooks (bank -> us)

export const KNOWN_WEBHOOK_TYPES = [
  'ready_to_confirm',
  'payment_finished',
  'action_required',
  'ready_to_capture',
  'payment_refunded',
] as const;
export type KnownWebhookType = (typeof KNOWN_WEBHOOK_TYPES)[number];

const webhookOf = <T extends KnownWebhookType>(type: T) => z.looseObject({ type: z.literal(type), session: BankSession });

export const KnownWebhook = z.discriminatedUnion('type', [
  webhookOf('ready_to_confirm').extend({ confirm_information: z.looseObject({}).optional() }),
  webhookOf('payment_finished'),
  webhookOf('action_required'),
  webhookOf('ready_to_capture'),
  webhookOf('payment_refunded'),
]);

/** The bank may introduce webhook types; they are accepted (answered 200) and only logged. */
export const UnknownWebhook = z.looseObject({
  type: z.string().refine((t) => !(KNOWN_WEBHOOK_TYPES as readonly string[]).includes(t)),
  session: z.looseObject({ id: z.string().optional() }).optional(),
});

export const Webhook = z.union([KnownWebhook, UnknownWebhook]);
export type Webhook = z.output<typeof Webhook>;
export type KnownWebhook = z.output<typeof KnownWebhook>;

export function isKnownWebhook(w: Webhook): w is KnownWebhook {
  return (KNOWN_WEBHOOK_TYPES as readonly string[]).includes(w.type);
}

/** Parses with the schema the `type` selects, so a bad webhook's error names the bad field. */
export function parseWebhook(json: unknown) {
  const type = (json as { type?: unknown } | null)?.type;
  const known = typeof type === 'string' && (KNOWN_WEBHOOK_TYPES as readonly string[]).includes(type);
  return known ? KnownWebhook.safeParse(json) : UnknownWebhook.safeParse(json);
}

// ---------------------------------------------------------------- v1 / v2 spelling

export type ApiVersion = 'v1' | 'v2';

/** Renames our canonical v2 payout destination to the v1 spelling when talking v1. */
export function toWireNames<T extends { payout_details?: unknown }>(body: T, version: ApiVersion): Record<string, unknown> {
  if (version === 'v2' || !('payout_details' in body)) return body;
  const { payout_details, ...rest } = body;
  return { ...rest, payment_method: payout_details };
}

/** Accepts a payout request in either spelling and returns the canonical (v2) form. */
export function fromWireNames(body: unknown): unknown {
  if (body && typeof body === 'object' && !Array.isArray(body) && 'payment_method' in body && !('payout_details' in body)) {
    const { payment_method, ...rest } = body as Record<string, unknown>;
    return { ...rest, payout_details: payment_method };
  }
  return body;
}
