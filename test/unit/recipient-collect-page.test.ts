import { describe, expect, it } from 'vitest';
import { collectPage, reasonText, statusText, viewOf, type CollectView, type LinkFacts } from '../../src/http/collect-page.js';
import { UNUSABLE_CARD_CODES } from '../../src/recipients/unusable-card.js';
import { NOW, cardLink, failed, invalidCard, payout, recipient } from '../support/link-facts.js';

/**
 * What a collection page asks for (src/http/collect-page.ts viewOf): the self-employed step, the
 * card widget, or neither, with what happens next in words. A failed payout's page offers a widget
 * only where it can take what it asks for.
 */
const EARLIER = NOW - 1_000;

describe('a payout link', () => {
  it('asks for the card while it waits for one, and says expired once the link is', () => {
    expect(viewOf(payout())).toMatchObject({ phase: 'card', ask: 'card', cardFor: 'payout' });
    expect(viewOf(payout({ expiresAt: EARLIER }))).toMatchObject({ phase: 'expired', ask: null });
    expect(viewOf(payout({ state: 'expired' }))).toMatchObject({ phase: 'expired', ask: null });
  });

  it('asks for the self-employed step first when the payout has a tax reference and nobody is known bound', () => {
    expect(viewOf(payout({ taxReference: '771234567891' }))).toMatchObject({
      phase: 'self_employed',
      ask: 'self_employed',
      afterBind: 'card',
    });
    // bound through this link (a payout without a saved recipient), or a recipient already bound
    expect(viewOf(payout({ taxReference: '771234567891', marks: { selfEmployed: 'bound', replaced: null } }))).toMatchObject({
      ask: 'card',
    });
    expect(viewOf(payout({ taxReference: '771234567891', recipient: recipient({ bound: true }) }))).toMatchObject({ ask: 'card' });
    // the recipient's own record decides when there is one: a mark on the link does not
    expect(
      viewOf(payout({ taxReference: '771234567891', recipient: recipient(), marks: { selfEmployed: 'bound', replaced: null } })),
    ).toMatchObject({ ask: 'self_employed' });
  });

  it('shows the payout going, then its outcome, with no widget', () => {
    for (const [state, phase] of [
      ['queued', 'paying'],
      ['confirmed', 'paying'],
      ['succeeded', 'succeeded'],
      ['cancelled', 'cancelled'],
      ['returned', 'returned'],
    ] as const) {
      expect(viewOf(payout({ state, cardLast4: '4242' }))).toEqual({
        phase,
        ask: null,
        afterBind: null,
        next: null,
        last4: '4242',
        cardFor: null,
      });
    }
  });
});

describe("a failed payout's page", () => {
  it('without a saved recipient: no widget; a payout sent again brings a new link', () => {
    for (const code of ['declined_by_issuer_bank', 'bank_card_expired', 'something_new'])
      expect(viewOf(failed(code))).toMatchObject({ phase: 'failed', ask: null, next: 'new_link' });
  });

  it('with a recipient, for a reason not about the card: no widget, the same card next time', () => {
    expect(viewOf(failed('declined_by_issuer_bank', { recipient: recipient() }))).toMatchObject({ ask: null, next: 'same_card' });
  });

  it('with a recipient whose card the bank called unusable: the card widget, while the link lives', () => {
    for (const code of UNUSABLE_CARD_CODES)
      expect(viewOf(failed(code, { recipient: invalidCard }))).toMatchObject({
        phase: 'failed',
        ask: 'card',
        next: 'give_card',
        cardFor: 'replacement',
      });
    expect(viewOf(failed('bank_card_expired', { recipient: invalidCard, expiresAt: EARLIER }))).toMatchObject({
      ask: null,
      next: 'card_link',
    });
    expect(viewOf(failed('bank_card_expired', { recipient: invalidCard, expiresAt: null }))).toMatchObject({
      ask: null,
      next: 'card_link',
    });
  });

  it('once a new card is saved (on this page, or through a card link since) it says so, and asks nothing', () => {
    expect(
      viewOf(failed('bank_card_expired', { recipient: recipient(), marks: { selfEmployed: null, replaced: { last4: '4444' } } })),
    ).toMatchObject({ ask: null, next: 'card_saved', last4: '4444' });
    const since = recipient({
      card: { id: 'card_0000000000000002', status: 'active', last4: '5555', savedAt: '2026-12-01T11:30:00.000Z' },
    });
    expect(viewOf(failed('bank_card_expired', { recipient: since, cardId: 'card_0000000000000001' }))).toMatchObject({
      ask: null,
      next: 'card_saved',
      last4: '5555',
    });
    expect(viewOf(failed('bank_card_expired', { recipient: since }))).toMatchObject({ next: 'card_saved' });
    // the same card, still active (never marked): nothing to offer here
    expect(viewOf(failed('bank_card_expired', { recipient: recipient(), cardId: 'card_0000000000000001' }))).toMatchObject({
      ask: null,
      next: 'card_link',
    });
  });

  it('taxpayer_not_bound: the self-employed widget, then "ask the payer again"; once bound, no widget', () => {
    const f = failed('taxpayer_not_bound', { taxReference: '771234567891' });
    expect(viewOf(f)).toMatchObject({ ask: 'self_employed', afterBind: 'again', next: 'bind' });
    // bound before the card (the mark `bound`) does not count: the bank says otherwise
    expect(viewOf({ ...f, marks: { selfEmployed: 'bound', replaced: null } } as LinkFacts)).toMatchObject({ ask: 'self_employed' });
    expect(viewOf({ ...f, marks: { selfEmployed: 'rebound', replaced: null } } as LinkFacts)).toMatchObject({ ask: null, next: 'bound' });
    expect(viewOf({ ...f, expiresAt: EARLIER } as LinkFacts)).toMatchObject({ ask: null, next: 'told' });
  });

  it('taxpayer_unknown and the income limit: plain words, no widget', () => {
    for (const code of ['taxpayer_unknown', 'taxpayer_income_exceeds_amount_limit'])
      expect(viewOf(failed(code, { taxReference: '000012345678', recipient: recipient() }))).toMatchObject({ ask: null, next: 'told' });
  });
});

describe("a recipient's card link", () => {
  it('asks for the card, says saved once spent, and expired after its time', () => {
    expect(viewOf(cardLink())).toMatchObject({ phase: 'card', ask: 'card', cardFor: 'recipient' });
    expect(viewOf(cardLink({ spent: { last4: '4242' } }))).toMatchObject({ phase: 'saved', ask: null, last4: '4242' });
    expect(viewOf(cardLink({ live: false }))).toMatchObject({ phase: 'expired', ask: null });
    expect(viewOf(cardLink({ expiresAt: EARLIER }))).toMatchObject({ phase: 'expired' });
    // spent and then expired: still "saved"
    expect(viewOf(cardLink({ live: false, spent: { last4: '4242' } }))).toMatchObject({ phase: 'saved' });
  });

  it('asks a self-employed recipient not yet bound to bind first', () => {
    expect(viewOf(cardLink({ recipient: recipient({ taxReference: '771234567891', card: null }) }))).toMatchObject({
      phase: 'self_employed',
      ask: 'self_employed',
      afterBind: 'card',
    });
    expect(viewOf(cardLink({ recipient: recipient({ taxReference: '771234567891', bound: true }) }))).toMatchObject({ ask: 'card' });
  });
});

describe('the words', () => {
  const say = (view: CollectView, lang: 'ru' | 'en', code: string | null = null) =>
    statusText({ lang, payer: 'ACME', view, amountText: '100,00 ₽', reason: view.phase === 'failed' ? reasonText(code, lang) : null });

  it('a failed page says what failed and what happens next, never "try another card" without a widget', () => {
    expect(say(viewOf(failed('declined_by_issuer_bank')), 'en', 'declined_by_issuer_bank')).toBe(
      'The payout failed: the card’s bank declined it. Ask your bank why. ACME has been told. If they send the payout again, you will get a new link.',
    );
    expect(say(viewOf(failed('declined_by_issuer_bank')), 'ru', 'declined_by_issuer_bank')).toBe(
      'Выплата не прошла: банк карты отклонил выплату. Узнайте причину в своём банке. ACME уже знает об этом. Если выплату отправят снова, вы получите новую ссылку.',
    );
    expect(say(viewOf(failed('bank_card_expired', { recipient: invalidCard })), 'en', 'bank_card_expired')).toBe(
      'The payout failed: the card has expired. Enter a new card below, and ACME can send the payout again.',
    );
    expect(
      say(
        viewOf(failed('bank_card_expired', { recipient: recipient(), marks: { selfEmployed: null, replaced: { last4: '4444' } } })),
        'en',
        'bank_card_expired',
      ),
    ).toBe('The payout failed: the card has expired. New card •••• 4444 saved. ACME can now send the payout again.');
    expect(say(viewOf(failed('taxpayer_unknown')), 'en', 'taxpayer_unknown')).toMatch(
      /^The payout failed: the tax service does not know you/,
    );
    for (const code of ['declined_by_issuer_bank', 'bank_card_expired', 'card_number_does_not_exist', 'taxpayer_not_bound', 'x'])
      for (const lang of ['ru', 'en'] as const)
        expect(reasonText(code, lang)).not.toMatch(/another card|new card|другую карту|новую карту/i);
    // taxpayer_not_bound: the hint above the widget says what to do; the status line does not say it again
    expect(say(viewOf(failed('taxpayer_not_bound', { taxReference: '771234567891' })), 'en', 'taxpayer_not_bound')).toBe(
      'The payout failed: you had not allowed Bank 131 to register your income as self-employed.',
    );
  });

  it('a card link says the card is saved, and for whom', () => {
    expect(say(viewOf(cardLink({ spent: { last4: '4242' } })), 'en')).toBe('Card •••• 4242 saved. Payouts from ACME will go to it.');
    expect(say(viewOf(cardLink({ spent: { last4: '4242' } })), 'ru')).toBe(
      'Карта •••• 4242 сохранена. Выплаты от ACME будут приходить на неё.',
    );
  });
});

describe('the page', () => {
  const widgets = {
    origin: 'https://widget.example',
    card: { publicToken: 'pt"<', scriptUrl: 'https://widget.example/tokenize.js', cssUrl: 'https://widget.example/tokenize.css' },
    selfEmployed: {
      publicToken: 'se',
      scriptUrl: 'https://widget.example/self-employed.js',
      cssUrl: 'https://widget.example/self-employed.css',
      taxReference: '771234567891',
    },
  };

  it('a card link: worded for saving a card, no amount, the payer escaped, no inline script', () => {
    const html = collectPage({
      lang: 'en',
      payer: '<ACME & Co>',
      amountText: null,
      token: 'tok',
      view: viewOf(cardLink()),
      reason: null,
      widgets: { ...widgets, selfEmployed: null },
    });
    expect(html).toContain('Payouts from &lt;ACME &amp; Co&gt; will go to this card');
    expect(html).toContain('Enter the card for your payouts.');
    expect(html).not.toContain('class="amount"');
    expect(html).toContain('data-public-token="pt&quot;&lt;"');
    expect(html).toContain('data-ask="card"');
    expect(html).not.toContain('self-employed.js');
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(html).not.toMatch(/<[a-z]+[^>]* on[a-z]+=/i);
  });

  it('the self-employed step: both widgets loaded, the bind one shown, the card one hidden until bound', () => {
    const html = collectPage({
      lang: 'ru',
      payer: 'ACME',
      amountText: '100,00 ₽',
      token: 'tok',
      view: viewOf(payout({ taxReference: '771234567891' })),
      reason: null,
      widgets,
    });
    expect(html).toContain('<div id="bank131-self-employed"></div>');
    expect(html).toContain('<div id="bank131-tokenize" hidden></div>');
    expect(html).toContain('data-bind-token="se"');
    expect(html).toContain('data-tax-reference="771234567891"');
    expect(html).toContain('<script src="https://widget.example/self-employed.js"></script>');
    expect(html).toContain('<script src="https://widget.example/tokenize.js"></script>');
    expect(html).toContain('Сначала разрешите Банку 131 регистрировать ваш доход');
  });
});
