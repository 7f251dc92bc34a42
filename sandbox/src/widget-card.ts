import { randomBytes } from 'node:crypto';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { cardBrand, cardDigits, luhnValid, widgetNumberHash } from './test-cards.js';

/**
 * What the sandbox's tokenization widget does with a typed card (docs/widget.md has the contract):
 * the checks the card form also runs in the browser (sandbox/assets/frame.js), and the tokenize
 * call that spends a public token and answers the card's hashes. The routes are in
 * sandbox/src/widget-routes.ts.
 */

export type CardField = 'card_number' | 'expiry' | 'security_code' | 'cardholder_name';

export interface FieldError {
  field: CardField;
  code: 'required' | 'invalid' | 'luhn' | 'expired';
  description: string;
}

export interface TypedCard {
  card_number?: unknown;
  expiry?: unknown;
  security_code?: unknown;
  cardholder_name?: unknown;
}

export interface EncryptedCardHashes {
  number_hash: string;
  expiration_date_hash: string;
  security_code_hash: string;
  cardholder_name_hash?: string;
}

const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

/** Checks what the recipient typed; the same rules run in the browser before the call. */
export function validateCard(
  card: TypedCard,
  now = new Date(),
): { ok: true; digits: string; month: string; year: string; cvc: string; name: string } | { ok: false; fields: FieldError[] } {
  const fields: FieldError[] = [];
  const digits = cardDigits(text(card.card_number));
  if (digits === '') fields.push({ field: 'card_number', code: 'required', description: 'card_number: is required' });
  else if (!/^\d{13,19}$/.test(digits))
    fields.push({ field: 'card_number', code: 'invalid', description: 'card_number: must be 13 to 19 digits' });
  else if (!luhnValid(digits))
    fields.push({ field: 'card_number', code: 'luhn', description: 'card_number: fails the Luhn check (a typo?)' });

  const expiry = text(card.expiry).replace(/\s/g, '');
  const m = /^(\d{2})\/?(\d{2})$/.exec(expiry);
  let month = '';
  let year = '';
  if (expiry === '') fields.push({ field: 'expiry', code: 'required', description: 'expiry: is required (MM/YY)' });
  else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12)
    fields.push({ field: 'expiry', code: 'invalid', description: 'expiry: must be MM/YY with a month 01 to 12' });
  else {
    month = m[1] ?? '';
    year = m[2] ?? '';
    // A card is valid to the end of its expiry month.
    const endOfMonth = Date.UTC(2000 + Number(year), Number(month), 1);
    if (endOfMonth <= now.getTime()) fields.push({ field: 'expiry', code: 'expired', description: 'expiry: the card has expired' });
  }

  const cvc = text(card.security_code);
  if (cvc === '') fields.push({ field: 'security_code', code: 'required', description: 'security_code: is required' });
  else if (!/^\d{3,4}$/.test(cvc))
    fields.push({ field: 'security_code', code: 'invalid', description: 'security_code: must be 3 or 4 digits' });

  const name = text(card.cardholder_name).replace(/\s+/g, ' ');
  if (name !== '' && !/^[A-Za-z][A-Za-z .'-]{0,63}$/.test(name)) {
    fields.push({ field: 'cardholder_name', code: 'invalid', description: 'cardholder_name: Latin letters as on the card, up to 64' });
  }
  return fields.length > 0 ? { ok: false, fields } : { ok: true, digits, month, year, cvc, name };
}

const opaque = (): string => `sbx_${randomBytes(16).toString('hex')}`;

/** Spends the public token and answers the card's hashes, or throws a SandboxError. */
export async function tokenize(
  bank: SandboxBank,
  body: unknown,
): Promise<{ status: 'ok'; card: EncryptedCardHashes; brand: string; last4: string }> {
  const req = (body && typeof body === 'object' ? body : {}) as TypedCard & { public_token?: unknown };
  const token = text(req.public_token);
  if (token === '') throw new SandboxError('invalid_request', 'public_token: is required', 400);
  const state = await bank.lookupPublicToken(token);
  if (state !== 'fresh') await bank.consumePublicToken(token); // throws the right refusal
  const checked = validateCard(req);
  if (!checked.ok) throw new CardRefused(checked.fields);
  await bank.consumePublicToken(token);
  const card: EncryptedCardHashes = {
    number_hash: widgetNumberHash(checked.digits),
    expiration_date_hash: opaque(),
    security_code_hash: opaque(),
  };
  if (checked.name) card.cardholder_name_hash = opaque();
  return { status: 'ok', card, brand: cardBrand(checked.digits), last4: checked.digits.slice(-4) };
}

export class CardRefused extends SandboxError {
  constructor(readonly fields: FieldError[]) {
    super('invalid_card', fields.map((f) => f.description).join('; '), 400);
  }
}
