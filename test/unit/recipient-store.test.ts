import { describe, expect, it } from 'vitest';
import { RecipientCreate, recipientView } from '../../src/http/recipient-schemas.js';
import { issuesOf } from '../../src/http/errors.js';
import { differingFields, newCardId, newRecipientId, toRecipient } from '../../src/store/recipient-store.js';

/** The pure parts of saved recipients: ids, the stored hash read back, what a 409 names, the view (never the card's hashes), the body's rules. */
const HASHES = { number_hash: 'sbx_secret_number_hash', expiration_date_hash: 'sbx_secret_expiry' };
const stored = (over: Record<string, string> = {}) => ({
  id: 'rcp_0123456789abcdef',
  tenant: 'acme',
  reference: 'user:42',
  name: JSON.stringify({ first_name: 'Ivan', last_name: 'Ivanov' }),
  created_at: '2026-12-01T10:00:00.000Z',
  updated_at: '2026-12-01T10:00:00.000Z',
  ...over,
});
const withCard = (over: Record<string, string> = {}) =>
  stored({
    card_id: 'card_0123456789abcdef',
    card_brand: 'visa',
    card_last4: '4242',
    card_saved_at: '2026-12-01T11:00:00.000Z',
    card_hashes: JSON.stringify(HASHES),
    card_status: 'active',
    ...over,
  });

describe('ids', () => {
  it('rcp_ and card_ with 16 hex digits, new each time', () => {
    expect(newRecipientId()).toMatch(/^rcp_[0-9a-f]{16}$/);
    expect(newCardId()).toMatch(/^card_[0-9a-f]{16}$/);
    expect(newRecipientId()).not.toBe(newRecipientId());
  });
});

describe('a stored recipient', () => {
  it('reads back without a card, then with one, its hashes kept for payouts', () => {
    expect(toRecipient(stored())).toEqual({
      id: 'rcp_0123456789abcdef',
      tenant: 'acme',
      reference: 'user:42',
      name: { first_name: 'Ivan', last_name: 'Ivanov' },
      taxReference: null,
      selfEmployed: 'unknown',
      card: null,
      createdAt: '2026-12-01T10:00:00.000Z',
      updatedAt: '2026-12-01T10:00:00.000Z',
    });
    const r = toRecipient(withCard({ tax_reference: '771234567891', self_employed: 'bound' }));
    expect(r).toMatchObject({ taxReference: '771234567891', selfEmployed: 'bound' });
    expect(r.card).toEqual({
      id: 'card_0123456789abcdef',
      brand: 'visa',
      last4: '4242',
      status: 'active',
      invalidCode: null,
      invalidText: null,
      invalidAt: null,
      savedAt: '2026-12-01T11:00:00.000Z',
      hashes: HASHES,
    });
  });

  it('a card marked invalid (transition.lua) reads as invalid, with the bank’s code and words', () => {
    const r = toRecipient(
      withCard({
        card_status: 'invalid',
        card_invalid_code: 'bank_card_expired',
        card_invalid_text: 'card expired',
        card_invalid_at: '2026-12-02T00:00:00.000Z',
      }),
    );
    expect(r.card).toMatchObject({ status: 'invalid', invalidCode: 'bank_card_expired', invalidText: 'card expired' });
    expect(recipientView(r).card).toEqual({
      brand: 'visa',
      last4: '4242',
      status: 'invalid',
      invalid_reason: { code: 'bank_card_expired', description: 'card expired' },
      saved_at: '2026-12-01T11:00:00.000Z',
    });
  });

  it('a hash in a shape it may not have is said loudly, without its card hashes', () => {
    expect(() => toRecipient(withCard({ card_status: 'broken' }))).toThrow(/recipient rcp_0123456789abcdef is stored in a shape/);
    try {
      toRecipient(withCard({ card_status: 'broken' }));
    } catch (err) {
      expect((err as Error).message).not.toContain('sbx_secret');
    }
  });
});

describe('the view', () => {
  it('shows the name, card brand and last 4, never the hashes or the card id', () => {
    const view = recipientView(toRecipient(withCard()));
    expect(view).toEqual({
      id: 'rcp_0123456789abcdef',
      reference: 'user:42',
      first_name: 'Ivan',
      last_name: 'Ivanov',
      tax_reference: null,
      card: { brand: 'visa', last4: '4242', status: 'active', invalid_reason: null, saved_at: '2026-12-01T11:00:00.000Z' },
      self_employed: 'unknown',
      created_at: '2026-12-01T10:00:00.000Z',
      updated_at: '2026-12-01T10:00:00.000Z',
    });
    const text = JSON.stringify(view);
    expect(text).not.toContain('sbx_secret');
    expect(text).not.toContain('card_0123456789abcdef');
  });
});

describe('the same reference again', () => {
  const r = toRecipient(stored({ tax_reference: '771234567891' }));
  it('names the fields that differ, none for the same body', () => {
    expect(
      differingFields(r, { reference: 'user:42', name: { first_name: 'Ivan', last_name: 'Ivanov' }, taxReference: '771234567891' }),
    ).toEqual([]);
    expect(differingFields(r, { reference: 'user:42', name: { full_name: 'Ivanov Ivan' }, taxReference: null })).toEqual([
      'full_name',
      'first_name',
      'last_name',
      'tax_reference',
    ]);
    expect(
      differingFields(r, {
        reference: 'user:42',
        name: { first_name: 'Ivan', last_name: 'Ivanov', middle_name: 'I' },
        taxReference: '771234567891',
      }),
    ).toEqual(['middle_name']);
  });
});

describe('the body of POST /v1/recipients', () => {
  const problems = (body: unknown) => {
    const r = RecipientCreate.safeParse(body);
    return r.success ? [] : issuesOf(r.error.issues);
  };
  it('takes a reference, a name as a payout order takes it, and an optional 12-digit tax reference', () => {
    expect(problems({ reference: 'user-1', full_name: 'Ivanov Ivan' })).toEqual([]);
    expect(
      problems({ reference: 'a.b_c:d-9', first_name: 'Ivan', last_name: 'Ivanov', middle_name: 'I', tax_reference: '771234567891' }),
    ).toEqual([]);
    expect(RecipientCreate.parse({ reference: 'u', full_name: '  Ivanov Ivan  ' }).full_name).toBe('Ivanov Ivan');
  });
  it('names each bad field', () => {
    expect(problems({ full_name: 'x' })).toEqual([{ field: 'reference', problem: 'is required' }]);
    expect(problems({ reference: 'has space', full_name: 'x' })).toEqual([
      { field: 'reference', problem: 'may hold only letters, digits, ".", "_", ":" and "-"' },
    ]);
    expect(problems({ reference: 'r'.repeat(129), full_name: 'x' })).toEqual([
      { field: 'reference', problem: 'must be at most 128 characters' },
    ]);
    expect(problems({ reference: 'u', first_name: 'Ivan' })).toEqual([
      { field: 'full_name', problem: 'needs full_name, or first_name and last_name' },
    ]);
    expect(problems({ reference: 'u', full_name: 'x', tax_reference: '12345' })).toEqual([
      { field: 'tax_reference', problem: 'must be 12 digits (a self-employed person’s ИНН)' },
    ]);
    expect(problems({ reference: 'u', full_name: 'x', card: {} })).toEqual([
      { field: '(body)', problem: 'has unknown field card: check the spelling' },
    ]);
  });
});
