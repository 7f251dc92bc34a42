import { createHash } from 'node:crypto';

/**
 * Card hashes with scripted outcomes, in the spirit of Stripe's test cards. Any other hash pays
 * out normally. sandbox/README.md lists these for users.
 */
export type CardBehaviour =
  | { kind: 'ok' }
  /** start/payout is refused at once with this error code. */
  | { kind: 'reject'; code: string }
  /** start, ready_to_confirm and confirm go through; payment_finished reports a failure with this code. */
  | { kind: 'decline'; code: string }
  /** ready_to_confirm reports an amount one rouble higher than the session was started with. */
  | { kind: 'mismatch_amount' }
  /** ready_to_confirm reports other metadata than the session was started with. */
  | { kind: 'mismatch_metadata' };

export const TEST_CARDS = {
  ok: 'sandbox_ok_4242',
  declinedByIssuer: 'sandbox_decline_declined_by_issuer_bank',
  expired: 'sandbox_decline_bank_card_expired',
  declinedNoSuchCard: 'sandbox_decline_card_number_does_not_exist',
  rejectNoSuchCard: 'sandbox_reject_card_number_does_not_exist',
  rejectForeign: 'sandbox_reject_provider_foreign_transfer_prohibited',
  mismatchAmount: 'sandbox_mismatch_amount',
  mismatchMetadata: 'sandbox_mismatch_metadata',
} as const;

export function cardBehaviour(numberHash: string): CardBehaviour {
  const widget = decodeWidgetHash(numberHash);
  if (widget) return widget.behaviour;
  if (numberHash === TEST_CARDS.mismatchAmount) return { kind: 'mismatch_amount' };
  if (numberHash === TEST_CARDS.mismatchMetadata) return { kind: 'mismatch_metadata' };
  const decline = /^sandbox_decline_([a-zA-Z0-9_]+)$/.exec(numberHash);
  if (decline?.[1]) return { kind: 'decline', code: decline[1] };
  const reject = /^sandbox_reject_([a-zA-Z0-9_]+)$/.exec(numberHash);
  if (reject?.[1]) return { kind: 'reject', code: reject[1] };
  return { kind: 'ok' };
}

/** Masked card facts for a hash: its trailing 4 digits when it ends in 4, else derived from it. */
export function cardFacts(numberHash: string): { brand: string; last4: string } {
  const widget = decodeWidgetHash(numberHash);
  if (widget) return { brand: widget.brand, last4: widget.last4 };
  const trailing = /(\d{4})$/.exec(numberHash)?.[1];
  const digest = createHash('sha256').update(numberHash).digest();
  const last4 = trailing ?? String(digest.readUInt32BE(0) % 10_000).padStart(4, '0');
  return { brand: (digest[4] ?? 0) % 2 === 0 ? 'visa' : 'mir', last4 };
}

// ------------------------------------------------------------------ card numbers typed into the sandbox widget

/**
 * Card numbers to type into the sandbox tokenization widget (sandbox/src/widget-card.ts), with what the
 * sandbox bank does with the hash it gets for them. Any other Luhn-valid number pays out, with its
 * own last 4 digits. docs/widget.md lists these for users.
 */
export const TEST_CARD_NUMBERS: ReadonlyArray<{ number: string; behaviour: CardBehaviour; outcome: string }> = [
  { number: '4242424242424242', behaviour: { kind: 'ok' }, outcome: 'pays out (visa, last 4 4242)' },
  { number: '5555555555554444', behaviour: { kind: 'ok' }, outcome: 'pays out (mastercard, last 4 4444)' },
  { number: '2200000000000004', behaviour: { kind: 'ok' }, outcome: 'pays out (mir, last 4 0004)' },
  {
    number: '4000000000000002',
    behaviour: { kind: 'decline', code: 'declined_by_issuer_bank' },
    outcome: 'starts, then payment_finished fails with declined_by_issuer_bank',
  },
  {
    number: '4000000000000069',
    behaviour: { kind: 'decline', code: 'bank_card_expired' },
    outcome: 'starts, then payment_finished fails with bank_card_expired',
  },
  {
    number: '4000000000000135',
    behaviour: { kind: 'decline', code: 'card_number_does_not_exist' },
    outcome: 'starts, then payment_finished fails with card_number_does_not_exist (the card is not found)',
  },
  {
    number: '4000000000000127',
    behaviour: { kind: 'reject', code: 'card_number_does_not_exist' },
    outcome: 'session/start/payout is refused with card_number_does_not_exist',
  },
  {
    number: '4000000000000101',
    behaviour: { kind: 'reject', code: 'provider_foreign_transfer_prohibited' },
    outcome: 'session/start/payout is refused with provider_foreign_transfer_prohibited',
  },
];

/** Digits only: what a typed card number is once spaces and dashes are gone. */
export function cardDigits(typed: string): string {
  return typed.replace(/[\s-]/g, '');
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The payment system by the number's first digits (the brands Bank 131 reports). */
export function cardBrand(digits: string): string {
  if (/^220[0-4]/.test(digits)) return 'mir';
  if (/^4/.test(digits)) return 'visa';
  if (/^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/.test(digits)) return 'mastercard';
  return 'unknown';
}

const WIDGET_HASH_PREFIX = 'sbx_';

/**
 * The number_hash the sandbox widget hands out for a card number: `sbx_` and base64url of a small
 * JSON (a fingerprint of the number, its last 4, brand and scripted outcome). Opaque to the
 * service, stable for one card, decodable by the sandbox bank; the number itself is not in it.
 */
export function widgetNumberHash(digits: string): string {
  const scripted = TEST_CARD_NUMBERS.find((c) => c.number === digits)?.behaviour ?? { kind: 'ok' };
  const payload = {
    f: createHash('sha256').update(`sandbox-card:${digits}`).digest('hex').slice(0, 16),
    l: digits.slice(-4),
    b: cardBrand(digits),
    o: scripted.kind === 'reject' || scripted.kind === 'decline' ? `${scripted.kind}:${scripted.code}` : scripted.kind,
  };
  return WIDGET_HASH_PREFIX + Buffer.from(JSON.stringify(payload)).toString('base64url');
}

function decodeWidgetHash(hash: string): { last4: string; brand: string; behaviour: CardBehaviour } | undefined {
  if (!hash.startsWith(WIDGET_HASH_PREFIX)) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(hash.slice(WIDGET_HASH_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const p = payload as { l?: unknown; b?: unknown; o?: unknown } | null;
  if (!p || typeof p.l !== 'string' || !/^\d{4}$/.test(p.l) || typeof p.b !== 'string' || typeof p.o !== 'string') return undefined;
  const [kind, code] = p.o.split(':');
  const behaviour: CardBehaviour =
    (kind === 'reject' || kind === 'decline') && code
      ? { kind, code }
      : kind === 'mismatch_amount' || kind === 'mismatch_metadata'
        ? { kind }
        : { kind: 'ok' };
  return { last4: p.l, brand: p.b, behaviour };
}
