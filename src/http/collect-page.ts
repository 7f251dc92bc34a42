/**
 * The recipient's card collection page, as HTML: pure rendering, no I/O. Russian by default,
 * English when the browser prefers it. Everything dynamic is escaped; the page's own script and
 * style are served from /collect/assets/ so that the content security policy needs no inline code.
 */
export type Lang = 'ru' | 'en';

/** The browser's first language decides: English for `en*`, Russian otherwise. */
export function languageOf(acceptLanguage: string | undefined): Lang {
  const first = (acceptLanguage ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('en') ? 'en' : 'ru';
}

/** 10000 kopecks → "100,00 ₽" (ru) or "RUB 100.00" (en). */
export function formatAmount(kopecks: number, lang: Lang): string {
  return new Intl.NumberFormat(lang === 'ru' ? 'ru-RU' : 'en-US', { style: 'currency', currency: 'RUB', minimumFractionDigits: 2 }).format(
    kopecks / 100,
  );
}

const TEXT = {
  ru: {
    title: 'Получение выплаты',
    pays: (payer: string) => `${payer} отправляет вам`,
    enterCard: 'Введите данные карты, на которую перевести деньги.',
    paying: (amount: string, last4: string) => `Отправляем ${amount} на карту •••• ${last4}`,
    succeeded: (amount: string, last4: string) => `Готово: ${amount} отправлены на карту •••• ${last4}.`,
    failed: 'Перевод не удался',
    cancelled: 'Выплата отменена отправителем.',
    expired: 'Срок действия ссылки истёк. Попросите отправителя прислать новую.',
    notFound: 'Ссылка не найдена. Проверьте, что она скопирована целиком.',
    used: 'Карта по этой ссылке уже указана.',
    unavailable: 'Сервис временно недоступен. Обновите страницу через минуту.',
    noScript: 'Для ввода карты нужен JavaScript.',
    secure: 'Данные карты вводятся в форме Банка 131 и не передаются отправителю.',
  },
  en: {
    title: 'Receive a payout',
    pays: (payer: string) => `${payer} is paying you`,
    enterCard: 'Enter the card the money should go to.',
    paying: (amount: string, last4: string) => `Paying ${amount} to card •••• ${last4}`,
    succeeded: (amount: string, last4: string) => `Done: ${amount} sent to card •••• ${last4}.`,
    failed: 'The payout failed',
    cancelled: 'The sender cancelled this payout.',
    expired: 'This link has expired. Ask the sender for a new one.',
    notFound: 'This link was not found. Check that it was copied whole.',
    used: 'A card has already been given through this link.',
    unavailable: 'The service is unavailable for a moment. Reload the page in a minute.',
    noScript: 'Entering a card needs JavaScript.',
    secure: 'Card details are typed into Bank 131’s form and never reach the sender.',
  },
} as const;

/** Why a payout failed, in words a recipient can act on; the code stays in the page for support. */
const REASONS: Record<string, { ru: string; en: string }> = {
  declined_by_issuer_bank: {
    ru: 'банк, выпустивший карту, отклонил перевод. Попробуйте другую карту или обратитесь в банк.',
    en: 'the bank that issued the card declined it. Try another card or call your bank.',
  },
  not_permitted_by_issuer_bank: { ru: 'банк карты не разрешает такие переводы.', en: 'the card’s bank does not allow this transfer.' },
  card_number_does_not_exist: { ru: 'такой карты не существует.', en: 'no such card exists.' },
  bank_card_expired: { ru: 'срок действия карты истёк.', en: 'the card has expired.' },
  provider_exceeds_amount_limit: { ru: 'сумма превышает лимит для этой карты.', en: 'the amount is over this card’s limit.' },
  provider_foreign_transfer_prohibited: {
    ru: 'переводы на карты иностранных банков недоступны.',
    en: 'transfers to foreign cards are not possible.',
  },
};

export function reasonText(code: string | null, lang: Lang): string {
  const known = code ? REASONS[code]?.[lang] : undefined;
  return known ?? (lang === 'ru' ? 'обратитесь к отправителю.' : 'please contact the sender.');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** What the page's script needs, handed over as data attributes (no inline script). */
export interface CollectPageData {
  lang: Lang;
  payer: string;
  amountText: string;
  token: string;
  /** Present while the card is still wanted: the widget's single-use public token. */
  widget: { publicToken: string; scriptUrl: string; cssUrl: string; origin: string } | null;
  /** The payout as it stands, for a page opened after the card was given. */
  phase: CollectPhase;
  last4: string | null;
  reason: string | null;
}

export type CollectPhase = 'card' | 'paying' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

/** The phase a payout's state shows to the recipient. */
export function phaseOf(state: string): CollectPhase {
  if (state === 'awaiting_card') return 'card';
  if (state === 'succeeded' || state === 'failed' || state === 'cancelled' || state === 'expired') return state;
  return 'paying';
}

export function collectPage(d: CollectPageData): string {
  const t = TEXT[d.lang];
  const attrs = {
    'data-token': d.token,
    'data-lang': d.lang,
    'data-phase': d.phase,
    'data-amount': d.amountText,
    'data-last4': d.last4 ?? '',
    'data-reason': d.reason ?? '',
    ...(d.widget ? { 'data-public-token': d.widget.publicToken, 'data-widget-origin': d.widget.origin } : {}),
  };
  const dataAttrs = Object.entries(attrs)
    .map(([k, v]) => `${k}="${escapeHtml(v)}"`)
    .join(' ');
  return `<!doctype html>
<html lang="${d.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(t.title)}</title>
<link rel="stylesheet" href="/collect/assets/collect.css">
${d.widget ? `<link rel="stylesheet" href="${escapeHtml(d.widget.cssUrl)}">` : ''}
</head>
<body>
<main id="collect" ${dataAttrs}>
  <p class="payer">${escapeHtml(t.pays(d.payer))}</p>
  <p class="amount" id="amount">${escapeHtml(d.amountText)}</p>
  <p class="hint" id="hint">${d.phase === 'card' ? escapeHtml(t.enterCard) : ''}</p>
  <div id="bank131-tokenize"${d.phase === 'card' ? '' : ' hidden'}></div>
  <div id="status" role="status" aria-live="polite">${escapeHtml(statusText(d))}</div>
  <noscript><p>${escapeHtml(t.noScript)}</p></noscript>
  <p class="secure">${escapeHtml(t.secure)}</p>
</main>
${d.widget ? `<script src="${escapeHtml(d.widget.scriptUrl)}"></script>` : ''}
<script src="/collect/assets/collect.js"></script>
</body>
</html>`;
}

/** The status line as the server first renders it; the script updates it as the payout moves. */
export function statusText(d: Pick<CollectPageData, 'lang' | 'phase' | 'amountText' | 'last4' | 'reason'>): string {
  const t = TEXT[d.lang];
  switch (d.phase) {
    case 'card':
      return '';
    case 'paying':
      return t.paying(d.amountText, d.last4 ?? '····');
    case 'succeeded':
      return t.succeeded(d.amountText, d.last4 ?? '····');
    case 'failed':
      return `${t.failed}: ${d.reason ?? reasonText(null, d.lang)}`;
    case 'cancelled':
      return t.cancelled;
    case 'expired':
      return t.expired;
  }
}

/** A page with one message: an unknown link, or the service unavailable. */
export function messagePage(lang: Lang, kind: 'notFound' | 'unavailable'): string {
  const t = TEXT[lang];
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><title>${escapeHtml(t.title)}</title>
<link rel="stylesheet" href="/collect/assets/collect.css"></head>
<body><main id="collect"><p class="message" id="status">${escapeHtml(t[kind])}</p></main></body>
</html>`;
}

export const COLLECT_TEXT = TEXT;
