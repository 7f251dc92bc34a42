import type { LinkFacts, RecipientFacts } from '../../src/http/collect-page.js';

/**
 * What a card page is rendered from (src/http/collect-page.ts viewOf), made for the page tests: a
 * payout's link or a saved recipient's card link at a fixed moment, with any field overridden.
 */
export const NOW = Date.parse('2026-12-01T12:00:00Z');
export const LATER = NOW + 3_600_000;

type PayoutLink = Extract<LinkFacts, { kind: 'payout' }>;
type CardLink = Extract<LinkFacts, { kind: 'recipient' }>;

export const recipient = (over: Partial<RecipientFacts> = {}): RecipientFacts => ({
  bound: false,
  taxReference: null,
  card: { id: 'card_0000000000000001', status: 'active', last4: '4242', savedAt: '2026-12-01T10:00:00.000Z' },
  ...over,
});

export const payout = (over: Partial<PayoutLink> = {}): LinkFacts => ({
  kind: 'payout',
  now: NOW,
  state: 'awaiting_card',
  expiresAt: LATER,
  errorCode: null,
  cardLast4: null,
  cardId: null,
  finishedAt: null,
  taxReference: null,
  recipient: null,
  marks: { selfEmployed: null, replaced: null },
  ...over,
});

/** A payout that failed with the bank's `errorCode`, to a card ending 4242. */
export const failed = (errorCode: string, over: Partial<PayoutLink> = {}) =>
  payout({ state: 'failed', errorCode, cardLast4: '4242', finishedAt: '2026-12-01T11:00:00.000Z', ...over });

export const cardLink = (over: Partial<CardLink> = {}): LinkFacts => ({
  kind: 'recipient',
  now: NOW,
  expiresAt: LATER,
  live: true,
  spent: null,
  recipient: recipient({ card: null }),
  ...over,
});

/** A recipient whose saved card the bank found unusable. */
export const invalidCard = recipient({
  card: { id: 'card_0000000000000001', status: 'invalid', last4: '0069', savedAt: '2026-12-01T10:00:00.000Z' },
});
