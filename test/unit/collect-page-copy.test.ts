import { describe, expect, it } from 'vitest';
import { NOW, cardLink, failed, invalidCard, payout, recipient } from '../support/link-facts.js';
import {
  COLLECT_PHASES,
  COLLECT_TEXT,
  EXPLAINED_REASONS,
  WIDGET_TIMEOUT_MS,
  collectPage,
  hintText,
  messagePage,
  payerName,
  reasonText,
  statusText,
  viewOf,
  type CollectPageData,
  type CollectPhase,
  type Lang,
  type LinkFacts,
} from '../../src/http/collect-page.js';

/**
 * What the recipient reads (src/http/collect-page.ts): who pays them, named as the operator set it
 * or by the host name; the card notice said once on every phase; and the same facts in Russian and
 * English, in short sentences with one word for each thing.
 */
const LANGS = ['ru', 'en'] as const;

/** A page in every phase, and the failed page in each of the ways it goes on. */
const PAGES: Array<{ name: string; facts: LinkFacts }> = [
  { name: 'card', facts: payout() },
  { name: 'self_employed', facts: payout({ taxReference: '771234567891' }) },
  { name: 'paying', facts: payout({ state: 'queued', cardLast4: '4242' }) },
  { name: 'succeeded', facts: payout({ state: 'succeeded', cardLast4: '4242' }) },
  { name: 'failed, a new link next time', facts: failed('declined_by_issuer_bank') },
  { name: 'failed, the same card next time', facts: failed('declined_by_issuer_bank', { recipient: recipient() }) },
  { name: 'failed, a new card here', facts: failed('bank_card_expired', { recipient: invalidCard }) },
  {
    name: 'failed, a new card saved',
    facts: failed('bank_card_expired', { recipient: recipient(), marks: { selfEmployed: null, replaced: { last4: '4444' } } }),
  },
  { name: 'failed, ask for a card link', facts: failed('bank_card_expired', { recipient: invalidCard, expiresAt: NOW - 1 }) },
  { name: 'failed, the self-employed step here', facts: failed('taxpayer_not_bound', { taxReference: '771234567891' }) },
  {
    name: 'failed, bound since',
    facts: failed('taxpayer_not_bound', { taxReference: '771234567891', marks: { selfEmployed: 'rebound', replaced: null } }),
  },
  { name: 'failed, the payer told', facts: failed('taxpayer_unknown', { taxReference: '771234567891' }) },
  { name: 'cancelled', facts: payout({ state: 'cancelled' }) },
  { name: 'cancelled by a rule', facts: payout({ state: 'rejected' }) },
  { name: 'expired', facts: payout({ state: 'expired' }) },
  { name: 'returned', facts: payout({ state: 'returned', cardLast4: '4242' }) },
  { name: 'a card link', facts: cardLink() },
  { name: 'a card link, self-employed first', facts: cardLink({ recipient: recipient({ taxReference: '771234567891', card: null }) }) },
  { name: 'a card link, saved', facts: cardLink({ spent: { last4: '4242' } }) },
  { name: 'a card link, expired', facts: cardLink({ live: false }) },
];

const WIDGETS: NonNullable<CollectPageData['widgets']> = {
  origin: 'https://widget.example',
  card: { publicToken: 'pt', scriptUrl: 'https://widget.example/tokenize.js', cssUrl: 'https://widget.example/tokenize.css' },
  selfEmployed: {
    publicToken: 'se',
    scriptUrl: 'https://widget.example/self-employed.js',
    cssUrl: 'https://widget.example/self-employed.css',
    taxReference: '771234567891',
  },
};

function render(facts: LinkFacts, lang: Lang, payer = 'ACME'): string {
  const view = viewOf(facts);
  return collectPage({
    lang,
    payer,
    amountText: facts.kind === 'payout' ? (lang === 'ru' ? '100,00 ₽' : 'RUB 100.00') : null,
    token: 'tok',
    view,
    reason: view.phase === 'failed' && facts.kind === 'payout' ? reasonText(facts.errorCode, lang) : null,
    widgets: view.ask ? WIDGETS : null,
  });
}

/** The page as a person reads it: tags, the script's words (#collect-text) and attributes gone. */
const visible = (html: string) =>
  html
    .replace(/<head>[\s\S]*<\/head>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ');
const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

describe('who the page says pays', () => {
  it('the name the operator set; unset, the host name of PUBLIC_URL, else of the request; never the software', () => {
    expect(payerName('Romashka LLC', 'payouts.example.com', 'other.example')).toBe('Romashka LLC');
    expect(payerName(null, 'payouts.example.com', 'other.example')).toBe('payouts.example.com');
    expect(payerName(null, null, 'Pay.Example.COM')).toBe('pay.example.com');
    expect(payerName(null, null, '127.0.0.1')).toBe('127.0.0.1');
    expect(payerName(null, null, '[::1]')).toBe('[::1]');
    // anyone can send any Host: what is no host name is not echoed into the page
    for (const junk of ['<script>', 'a b', 'evil.example/ path', '', 'x'.repeat(300), 'a..b'])
      expect(payerName(null, null, junk)).toBe('localhost');
    expect(payerName(null, null, undefined)).toBe('localhost');
  });

  it('reads naturally with a host name, in both languages', () => {
    const host = 'payouts.example.com';
    expect(visible(render(payout(), 'ru', host))).toContain('Выплата от payouts.example.com 100,00 ₽');
    expect(visible(render(payout(), 'en', host))).toContain('A payout from payouts.example.com RUB 100.00');
    expect(visible(render(cardLink(), 'ru', host))).toContain('Выплаты от payouts.example.com будут приходить на эту карту');
    expect(visible(render(cardLink(), 'en', host))).toContain('Payouts from payouts.example.com will go to this card');
    for (const lang of LANGS) expect(render(payout(), lang, host)).not.toContain('bank131-payouts');
  });
});

describe('the card notice', () => {
  it('is said once, in one place, on every phase of the page, in both languages', () => {
    const seen = new Set<CollectPhase>();
    for (const { name, facts } of PAGES)
      for (const lang of LANGS) {
        const html = render(facts, lang);
        seen.add(viewOf(facts).phase);
        const notice = COLLECT_TEXT[lang].notice;
        expect(count(html, notice), `${name} (${lang})`).toBe(1);
        expect(count(html, 'class="notice"'), `${name} (${lang})`).toBe(1);
        expect(html, `${name} (${lang})`).toContain(`<p class="notice" id="notice">${notice}</p>`);
        // and in no other words anywhere else on the page
        expect(visible(html).replace(notice, ''), `${name} (${lang})`).not.toMatch(
          /видит только|не передаются|не получает|не сохраняются|only bank 131|never reach|never sees|not stored/i,
        );
      }
    expect([...seen].sort()).toEqual([...COLLECT_PHASES].sort());
  });
});

describe('the words, in Russian and English', () => {
  /** Every string the page can say: fixed ones, and functions called with recognisable arguments. */
  const sayings = (lang: Lang): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (node: unknown, path: string) => {
      if (typeof node === 'string') out[path] = node;
      else if (typeof node === 'function') out[path] = (node as (...a: string[]) => string)('PAYER', '4242');
      else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(COLLECT_TEXT[lang], '');
    // the amount-taking ones again, with an amount where it goes
    const t = COLLECT_TEXT[lang];
    out.paying = t.paying('AMOUNT', '4242');
    out.succeeded = t.succeeded('AMOUNT', '4242');
    out.returned = t.returned('AMOUNT', '4242', 'PAYER');
    out.saved = t.saved('4242', 'PAYER');
    out['next.card_saved'] = t.next.card_saved('PAYER', '4242');
    for (const code of [...EXPLAINED_REASONS, 'something_new']) out[`reason.${code}`] = reasonText(code, lang);
    return out;
  };
  const ru = sayings('ru');
  const en = sayings('en');

  it('say the same things: the same keys, each naming the payer, the amount and the card where the other does', () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(ru))
      for (const fact of ['PAYER', 'AMOUNT', '•••• 4242', 'Банк[а-я]* 131|Bank 131', 'Мой налог', '2,4|2.4'])
        expect(new RegExp(fact).test(ru[key]!), `${key}: ${fact} in one language only`).toBe(new RegExp(fact).test(en[key]!));
  });

  it('use one word for each thing: карта and выплата, card and payout; never transfer or sender', () => {
    for (const [key, text] of Object.entries(ru)) expect(text, key).not.toMatch(/перевод|отправител|сервис/i);
    for (const [key, text] of Object.entries(en))
      expect(text, key).not.toMatch(/transfer|sender|service unavailable|give a card|give another/i);
  });

  it('in short sentences, fit for a phone', () => {
    for (const [lang, all] of [
      ['ru', ru],
      ['en', en],
    ] as const)
      for (const [key, text] of Object.entries(all))
        for (const sentence of text.split(/(?<=[.!?…])\s+/))
          expect(sentence.split(/\s+/).length, `${lang} ${key}: "${sentence}"`).toBeLessThanOrEqual(18);
  });

  it('every phase says something whole in both languages: no placeholders left, no doubled or trailing spaces', () => {
    for (const { name, facts } of PAGES)
      for (const lang of LANGS) {
        const view = viewOf(facts);
        const d = { lang, payer: 'ACME', view, amountText: '100,00 ₽', reason: view.phase === 'failed' ? reasonText('x', lang) : null };
        for (const text of [statusText(d), hintText(lang, 'ACME', view)]) {
          expect(text, name).not.toMatch(/undefined|null|\$\{|\s$|\s\s/);
          if (view.phase !== 'card' && view.phase !== 'self_employed') expect(statusText(d), name).not.toBe('');
        }
      }
  });
});

describe('the page and its script', () => {
  it("hands the script its words in the page's language, with a retry button and the widget's time limit", () => {
    const ru = render(payout(), 'ru');
    expect(ru).toContain('data-widget-problem="Форма Банка 131 не загрузилась. Проверьте интернет и попробуйте снова."');
    expect(ru).toContain('data-checking="Проверяем карту…"');
    expect(ru).toContain('<button type="button" id="retry" class="retry" hidden>Попробовать снова</button>');
    expect(ru).toContain(`data-widget-timeout-ms="${WIDGET_TIMEOUT_MS}"`);
    const en = render(payout(), 'en');
    expect(en).toContain('data-widget-problem="Bank 131’s form did not load. Check your internet connection and try again."');
    expect(en).toContain('>Try again</button>');
    for (const lang of LANGS)
      for (const key of Object.keys(COLLECT_TEXT[lang].script))
        expect(render(payout(), lang)).toContain(`data-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}="`);
  });

  it('keeps no inline script or handler on any phase, for the content security policy', () => {
    for (const { facts } of PAGES)
      for (const lang of LANGS) {
        const html = render(facts, lang);
        expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
        expect(html).not.toMatch(/<[a-z]+[^>]* on[a-z]+=/i);
        expect(html).not.toContain('style=');
      }
  });

  it('the pages of one message say it in the language asked for', () => {
    expect(messagePage('ru', 'notFound')).toContain('Ссылка не найдена. Проверьте, что она скопирована целиком.');
    expect(messagePage('en', 'unavailable')).toContain('This page is unavailable right now. Reload it in a minute.');
  });
});
