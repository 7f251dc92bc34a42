import { UNUSABLE_CARD_CODES } from '../recipients/unusable-card.js';

/**
 * The recipient's collection page, as HTML: pure rendering and the pure decision of what the page
 * asks for, no I/O. Russian by default, English when the browser prefers it. Everything dynamic is
 * escaped; the page's own script and style are served from /collect/assets/ so that the content
 * security policy needs no inline code.
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

/**
 * Every word the page says, in both languages: the same facts in each, in short sentences. The
 * recipient reads "карта"/"card" and "выплата"/"payout", never "transfer" or "sender": the payer
 * is named. The payer's name is never the subject of a Russian past-tense verb, whose ending
 * would have to agree with a gender no name tells. `script` is what the page's script says (handed
 * to it in #collect-text, so that both languages are reviewed here, in one place).
 */
const TEXT = {
  ru: {
    title: 'Ваша выплата',
    titleCard: 'Карта для выплат',
    pays: (payer: string) => `Выплата от ${payer}`,
    saves: (payer: string) => `Выплаты от ${payer} будут приходить на эту карту`,
    enterCard: 'Введите данные карты для этой выплаты.',
    enterCardToSave: 'Введите данные карты для выплат.',
    enterNewCard: (payer: string) => `Выплаты от ${payer} будут приходить на новую карту.`,
    selfEmployed:
      'Вы получаете выплату как самозанятый. Сначала разрешите Банку 131 регистрировать ваш доход и выдавать чеки. Это нужно сделать один раз.',
    selfEmployedAgain: (payer: string) => `Разрешите Банку 131 регистрировать ваш доход. Затем попросите ${payer} отправить выплату снова.`,
    bound: 'Готово: Банк 131 может регистрировать ваш доход.',
    paying: (amount: string, last4: string) => `Отправляем ${amount} на карту •••• ${last4}`,
    succeeded: (amount: string, last4: string) => `Готово: ${amount} отправлены на карту •••• ${last4}.`,
    returned: (amount: string, last4: string, payer: string) =>
      `${amount} отправлены на карту •••• ${last4}, но банк карты вернул их. ${payer} уже знает об этом.`,
    saved: (last4: string, payer: string) => `Карта •••• ${last4} сохранена. Выплаты от ${payer} будут приходить на неё.`,
    failed: 'Выплата не прошла',
    cancelled: (payer: string) => `Выплата отменена. Причину может назвать ${payer}.`,
    expired: (payer: string) => `Срок действия ссылки истёк. Попросите у ${payer} новую.`,
    notFound: 'Ссылка не найдена. Проверьте, что она скопирована целиком.',
    unavailable: 'Страница временно недоступна. Обновите её через минуту.',
    noScript: 'Чтобы ввести карту, включите JavaScript в браузере.',
    notice: 'Данные карты видит только Банк 131.',
    next: {
      new_link: (payer: string) => `${payer} уже знает об этом. Если выплату отправят снова, вы получите новую ссылку.`,
      same_card: (payer: string) => `${payer} уже знает об этом. Если выплату отправят снова, она придёт на ту же карту.`,
      give_card: (payer: string) => `Введите новую карту ниже, и ${payer} сможет отправить выплату снова.`,
      card_saved: (payer: string, last4: string) => `Новая карта •••• ${last4} сохранена. Теперь ${payer} может отправить выплату снова.`,
      card_link: (payer: string) => `${payer} уже знает об этом и может прислать ссылку для новой карты.`,
      // the hint under it says what to do (selfEmployedAgain): said once
      bind: () => '',
      bound: (payer: string) => `Готово: Банк 131 может регистрировать ваш доход. Попросите ${payer} отправить выплату снова.`,
      told: (payer: string) => `${payer} уже знает об этом.`,
    },
    script: {
      checking: 'Проверяем карту…',
      binding: 'Сохраняем разрешение…',
      again: 'Что-то пошло не так. Попробуйте снова.',
      used: 'Карта по этой ссылке уже указана.',
      cardRefused: 'Банк 131 не принял эту карту. Попробуйте снова.',
      widgetProblem: 'Форма Банка 131 не загрузилась. Проверьте интернет и попробуйте снова.',
      taxpayerUnknown: 'Налоговая служба не знает вас как самозанятого. Зарегистрируйтесь в приложении «Мой налог» и обновите страницу.',
      retry: 'Попробовать снова',
    },
  },
  en: {
    title: 'Your payout',
    titleCard: 'Card for your payouts',
    pays: (payer: string) => `A payout from ${payer}`,
    saves: (payer: string) => `Payouts from ${payer} will go to this card`,
    enterCard: 'Enter the card for this payout.',
    enterCardToSave: 'Enter the card for your payouts.',
    enterNewCard: (payer: string) => `Payouts from ${payer} will go to the new card.`,
    selfEmployed:
      'You are paid as self-employed. First, allow Bank 131 to register your income and issue receipts. You only need to do this once.',
    selfEmployedAgain: (payer: string) => `Allow Bank 131 to register your income. Then ask ${payer} to send the payout again.`,
    bound: 'Done: Bank 131 can register your income.',
    paying: (amount: string, last4: string) => `Sending ${amount} to card •••• ${last4}`,
    succeeded: (amount: string, last4: string) => `Done: ${amount} sent to card •••• ${last4}.`,
    returned: (amount: string, last4: string, payer: string) =>
      `${amount} was sent to card •••• ${last4}, but the card’s bank sent it back. ${payer} has been told.`,
    saved: (last4: string, payer: string) => `Card •••• ${last4} saved. Payouts from ${payer} will go to it.`,
    failed: 'The payout failed',
    cancelled: (payer: string) => `This payout was cancelled. ${payer} can tell you why.`,
    expired: (payer: string) => `This link has expired. Ask ${payer} for a new one.`,
    notFound: 'This link was not found. Check that you copied all of it.',
    unavailable: 'This page is unavailable right now. Reload it in a minute.',
    noScript: 'To enter a card, turn on JavaScript in your browser.',
    notice: 'Only Bank 131 sees your card details.',
    next: {
      new_link: (payer: string) => `${payer} has been told. If they send the payout again, you will get a new link.`,
      same_card: (payer: string) => `${payer} has been told. If they send the payout again, it will go to the same card.`,
      give_card: (payer: string) => `Enter a new card below, and ${payer} can send the payout again.`,
      card_saved: (payer: string, last4: string) => `New card •••• ${last4} saved. ${payer} can now send the payout again.`,
      card_link: (payer: string) => `${payer} has been told and can send you a link for a new card.`,
      bind: () => '',
      bound: (payer: string) => `Done: Bank 131 can register your income. Ask ${payer} to send the payout again.`,
      told: (payer: string) => `${payer} has been told.`,
    },
    script: {
      checking: 'Checking the card…',
      binding: 'Saving your permission…',
      again: 'Something went wrong. Please try again.',
      used: 'A card was already entered through this link.',
      cardRefused: 'Bank 131 did not accept this card. Please try again.',
      widgetProblem: 'Bank 131’s form did not load. Check your internet connection and try again.',
      taxpayerUnknown:
        'The tax service does not know you as self-employed. Register in the “Мой налог” (My Tax) app, then reload this page.',
      retry: 'Try again',
    },
  },
} as const;

/**
 * Why a payout failed, in words a recipient can act on; the code stays in the page for support.
 * None of them says "try another card": the page offers one only where it can take it (viewOf).
 */
const REASONS: Record<string, { ru: string; en: string }> = {
  declined_by_issuer_bank: {
    ru: 'банк карты отклонил выплату. Узнайте причину в своём банке.',
    en: 'the card’s bank declined it. Ask your bank why.',
  },
  not_permitted_by_issuer_bank: {
    ru: 'банк карты не принимает такие выплаты.',
    en: 'the card’s bank does not accept this kind of payout.',
  },
  card_number_does_not_exist: { ru: 'карты с таким номером нет.', en: 'there is no card with this number.' },
  bank_card_expired: { ru: 'срок действия карты истёк.', en: 'the card has expired.' },
  binding_is_deactivated: { ru: 'карта больше не принимает выплаты.', en: 'the card no longer accepts payouts.' },
  account_not_found: { ru: 'банк не нашёл счёт этой карты.', en: 'the bank could not find this card’s account.' },
  provider_exceeds_amount_limit: { ru: 'сумма больше лимита этой карты.', en: 'the amount is over this card’s limit.' },
  provider_foreign_transfer_prohibited: {
    ru: 'выплаты на карты иностранных банков невозможны.',
    en: 'payouts to cards of foreign banks are not possible.',
  },
  activity_count_exceeded: { ru: 'по карте исчерпан лимит операций.', en: 'the card has reached its limit of operations.' },
  taxpayer_not_bound: {
    ru: 'вы не разрешили Банку 131 регистрировать ваш доход как самозанятого.',
    en: 'you had not allowed Bank 131 to register your income as self-employed.',
  },
  taxpayer_unknown: {
    ru: 'налоговая служба не знает вас как самозанятого. Зарегистрируйтесь в приложении «Мой налог».',
    en: 'the tax service does not know you as self-employed. Register in the “Мой налог” (My Tax) app.',
  },
  taxpayer_income_exceeds_amount_limit: {
    ru: 'с этой выплатой ваш доход самозанятого за год превысил бы лимит 2,4 млн ₽.',
    en: 'with this payout, your self-employed income this year would go over the limit of RUB 2.4 million.',
  },
};

/** The failure codes the page explains in words of its own; any other reads "the bank did not say why". */
export const EXPLAINED_REASONS = Object.keys(REASONS);

export function reasonText(code: string | null, lang: Lang): string {
  const known = code ? REASONS[code]?.[lang] : undefined;
  return known ?? (lang === 'ru' ? 'банк не назвал причину.' : 'the bank did not say why.');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ---------------------------------------------------------------- what the page asks for

/**
 * The phases the page (and GET /collect/:token/status) shows. A payout link's: `card` (waiting for
 * it), `paying`, then `succeeded`, `failed`, `cancelled`, `expired` or `returned`. A card link's:
 * `card`, then `saved`, or `expired`. Either may start with `self_employed`, the bank's binding step.
 */
export type CollectPhase = 'card' | 'self_employed' | 'paying' | 'succeeded' | 'failed' | 'cancelled' | 'expired' | 'returned' | 'saved';
export const COLLECT_PHASES = [
  'card',
  'self_employed',
  'paying',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
  'returned',
  'saved',
] as const satisfies readonly CollectPhase[];

/** What a failed payout's page says happens next. */
export type NextStep = 'new_link' | 'same_card' | 'give_card' | 'card_saved' | 'card_link' | 'bind' | 'bound' | 'told';

/** The phase a payout's state shows to the recipient. */
export function phaseOf(state: string): CollectPhase {
  if (state === 'awaiting_card') return 'card';
  if (state === 'succeeded' || state === 'failed' || state === 'cancelled' || state === 'expired' || state === 'returned') return state;
  // the sender's approval rules are the sender's business: to the recipient it is a payout called off
  if (state === 'rejected') return 'cancelled';
  return 'paying';
}

/** The saved recipient behind a link, as far as the page needs it. */
export interface RecipientFacts {
  bound: boolean;
  taxReference: string | null;
  card: { id: string; status: 'active' | 'invalid'; last4: string; savedAt: string } | null;
}

/** What a link's page is decided from. */
export type LinkFacts =
  | {
      kind: 'payout';
      now: number;
      state: string;
      /** The link's expiry (ms); null for a payout that never had a link. */
      expiresAt: number | null;
      errorCode: string | null;
      cardLast4: string | null;
      /** The saved card the payout was paid to, if any. */
      cardId: string | null;
      /** When the payout ended, if it did. */
      finishedAt: string | null;
      taxReference: string | null;
      recipient: RecipientFacts | null;
      /** What this link's page recorded (src/store/collect-links.ts LinkMarks). */
      marks: { selfEmployed: 'bound' | 'rebound' | null; replaced: { last4: string } | null };
    }
  | {
      kind: 'recipient';
      now: number;
      expiresAt: number;
      /** Null once the link expired. */
      live: boolean;
      spent: { last4: string } | null;
      recipient: RecipientFacts | null;
    };

/** What the page shows and asks for now. */
export interface CollectView {
  phase: CollectPhase;
  /** The widget shown now: the card widget, the self-employed one, or none. */
  ask: 'card' | 'self_employed' | null;
  /** Once the self-employed step is done: the card widget, or asking the payer to send the payout again. */
  afterBind: 'card' | 'again' | null;
  /** A failed payout: what happens next. */
  next: NextStep | null;
  /** The card to name, if any. */
  last4: string | null;
  /** What the card taken now is for: the payout, saving it for the recipient, or replacing one a payout found unusable. */
  cardFor: 'payout' | 'recipient' | 'replacement' | null;
}

const TAXPAYER_TOLD = new Set(['taxpayer_unknown', 'taxpayer_income_exceeds_amount_limit']);

/**
 * What the page asks for: the self-employed step first when the payout (or the card link's
 * recipient) is for a self-employed person not known to have bound, then the card widget while a
 * card is wanted. A failed payout's page offers a widget only when it can take what it asks for:
 * a new card when the payout's saved recipient's card is now invalid (the bank called it unusable)
 * and the link has not expired; the binding when the bank said `taxpayer_not_bound`. Otherwise it
 * says what happens next. Pure.
 */
export function viewOf(f: LinkFacts): CollectView {
  const none = { ask: null, afterBind: null, next: null, cardFor: null } as const;
  if (f.kind === 'recipient') {
    if (f.spent) return { ...none, phase: 'saved', last4: f.spent.last4 };
    if (!f.live || f.now >= f.expiresAt) return { ...none, phase: 'expired', last4: null };
    const needsBind = Boolean(f.recipient?.taxReference) && !f.recipient?.bound;
    return needsBind
      ? { ...none, phase: 'self_employed', ask: 'self_employed', afterBind: 'card', last4: null, cardFor: 'recipient' }
      : { ...none, phase: 'card', ask: 'card', last4: null, cardFor: 'recipient' };
  }
  const live = f.expiresAt !== null && f.now < f.expiresAt;
  const phase = phaseOf(f.state);
  if (f.state === 'expired' || (phase === 'card' && !live)) return { ...none, phase: 'expired', last4: null };
  if (phase === 'card') {
    const bound = f.recipient ? f.recipient.bound : f.marks.selfEmployed !== null;
    return f.taxReference && !bound
      ? { ...none, phase: 'self_employed', ask: 'self_employed', afterBind: 'card', last4: null, cardFor: 'payout' }
      : { ...none, phase: 'card', ask: 'card', last4: null, cardFor: 'payout' };
  }
  if (phase !== 'failed') return { ...none, phase, last4: f.cardLast4 };
  const failed = { ...none, phase: 'failed' as const, last4: f.cardLast4 };
  const code = f.errorCode ?? '';
  if (code === 'taxpayer_not_bound') {
    if (f.marks.selfEmployed === 'rebound') return { ...failed, next: 'bound' };
    return live && f.taxReference ? { ...failed, ask: 'self_employed', afterBind: 'again', next: 'bind' } : { ...failed, next: 'told' };
  }
  if (TAXPAYER_TOLD.has(code)) return { ...failed, next: 'told' };
  const r = f.recipient;
  if (!r) return { ...failed, next: 'new_link' };
  if (!UNUSABLE_CARD_CODES.has(code)) return { ...failed, next: 'same_card' };
  if (f.marks.replaced) return { ...failed, next: 'card_saved', last4: f.marks.replaced.last4 };
  if (r.card?.status === 'invalid')
    return live ? { ...failed, ask: 'card', next: 'give_card', cardFor: 'replacement' } : { ...failed, next: 'card_link' };
  // active: saved since (through a card link), in place of the one the payout found unusable
  const since = r.card && (f.cardId ? r.card.id !== f.cardId : f.finishedAt !== null && r.card.savedAt > f.finishedAt);
  return since ? { ...failed, next: 'card_saved', last4: r.card!.last4 } : { ...failed, next: 'card_link' };
}

// ---------------------------------------------------------------- rendering

/**
 * Who the page says pays the recipient: COLLECT_PAYER_NAME as the operator set it; unset, the host
 * name the recipient reached the page by (PUBLIC_URL's, else the request's Host), never this
 * software's name. A Host that is no host name (anyone may send any) is not echoed: "localhost".
 */
export function payerName(configured: string | null, publicHost: string | null, requestHost: string | undefined): string {
  if (configured) return configured;
  if (publicHost) return publicHost;
  const host = (requestHost ?? '').toLowerCase();
  const valid = host.length <= 253 && (/^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*$/.test(host) || /^\[[0-9a-f:.]{2,45}\]$/.test(host));
  return valid ? host : 'localhost';
}

/**
 * Why the page could not use a Bank 131 widget, as its script reports it (POST
 * /collect/:token/widget-problem): the widget's script did not load (its constructor is missing),
 * constructing or rendering it threw, the widget reported an error that is not the recipient's
 * typing, or it said nothing within WIDGET_TIMEOUT_MS of being rendered.
 */
export const WIDGET_PROBLEMS = ['script_load_failed', 'render_failed', 'widget_error', 'timeout'] as const;
export type WidgetProblem = (typeof WIDGET_PROBLEMS)[number];
/** How long a rendered widget may stay silent before the page says it did not load (a slow phone network included). */
export const WIDGET_TIMEOUT_MS = 20_000;

/** What the page's script needs, handed over as data attributes (no inline script). */
export interface CollectPageData {
  lang: Lang;
  payer: string;
  /** A payout link's amount; null on a card link (no amount). */
  amountText: string | null;
  token: string;
  view: CollectView;
  reason: string | null;
  /** The widgets' scripts, styles and public tokens, for what the page asks for. */
  widgets: {
    origin: string;
    card: { publicToken: string; scriptUrl: string; cssUrl: string } | null;
    selfEmployed: { publicToken: string; scriptUrl: string; cssUrl: string; taxReference: string } | null;
  } | null;
}

/** The hint above the widget the page shows first. */
export function hintText(lang: Lang, payer: string, view: CollectView): string {
  const t = TEXT[lang];
  if (view.ask === 'self_employed') return view.afterBind === 'again' ? t.selfEmployedAgain(payer) : t.selfEmployed;
  if (view.ask === 'card') return cardHint(lang, payer, view);
  return '';
}

/** The hint above the card widget. */
export function cardHint(lang: Lang, payer: string, view: Pick<CollectView, 'cardFor'>): string {
  const t = TEXT[lang];
  if (view.cardFor === 'recipient') return t.enterCardToSave;
  if (view.cardFor === 'replacement') return t.enterNewCard(payer);
  return t.enterCard;
}

export function collectPage(d: CollectPageData): string {
  const t = TEXT[d.lang];
  const { view } = d;
  const w = d.widgets;
  const attrs: Record<string, string> = {
    'data-token': d.token,
    'data-lang': d.lang,
    'data-phase': view.phase,
    'data-ask': view.ask ?? '',
    'data-card-for': view.cardFor ?? '',
    'data-amount': d.amountText ?? '',
    'data-last4': view.last4 ?? '',
    'data-reason': d.reason ?? '',
    'data-widget-timeout-ms': String(WIDGET_TIMEOUT_MS),
    ...(w ? { 'data-widget-origin': w.origin } : {}),
    ...(w?.card ? { 'data-public-token': w.card.publicToken } : {}),
    ...(w?.selfEmployed ? { 'data-bind-token': w.selfEmployed.publicToken, 'data-tax-reference': w.selfEmployed.taxReference } : {}),
  };
  const dataAttrs = (a: Record<string, string>) =>
    Object.entries(a)
      .map(([k, v]) => `${k}="${escapeHtml(v)}"`)
      .join(' ');
  // what the script says, in the page's language: data-checking, data-widget-problem, …
  const scriptText = Object.fromEntries(
    Object.entries(t.script).map(([k, v]) => [`data-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, v]),
  );
  const styles = [w?.selfEmployed?.cssUrl, w?.card?.cssUrl].filter((u): u is string => Boolean(u));
  const scripts = [w?.selfEmployed?.scriptUrl, w?.card?.scriptUrl].filter((u): u is string => Boolean(u));
  const savesCard = d.amountText === null;
  const status = `<div id="status" role="status" aria-live="polite">${escapeHtml(statusText({ ...d, amountText: d.amountText ?? '' }))}</div>
  <button type="button" id="retry" class="retry" hidden>${escapeHtml(t.script.retry)}</button>`;
  // a failed payout's page that asks for something says why first, above the widget
  const statusFirst = view.phase === 'failed' && view.ask !== null;
  return `<!doctype html>
<html lang="${d.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(savesCard ? t.titleCard : t.title)}</title>
<link rel="stylesheet" href="/collect/assets/collect.css">
${styles.map((u) => `<link rel="stylesheet" href="${escapeHtml(u)}">`).join('\n')}
</head>
<body>
<main id="collect" ${dataAttrs(attrs)}>
  ${savesCard ? `<h1 class="headline">${escapeHtml(t.titleCard)}</h1>` : ''}
  <p class="payer">${escapeHtml(savesCard ? t.saves(d.payer) : t.pays(d.payer))}</p>
  ${savesCard ? '' : `<p class="amount" id="amount">${escapeHtml(d.amountText ?? '')}</p>`}
  ${statusFirst ? status : ''}
  <p class="hint" id="hint">${escapeHtml(hintText(d.lang, d.payer, view))}</p>
  <div id="bank131-self-employed"${view.ask === 'self_employed' ? '' : ' hidden'}></div>
  <div id="bank131-tokenize"${view.ask === 'card' ? '' : ' hidden'}></div>
  ${statusFirst ? '' : status}
  <noscript><p>${escapeHtml(t.noScript)}</p></noscript>
  <p class="notice" id="notice">${escapeHtml(t.notice)}</p>
  <div id="collect-text" hidden ${dataAttrs(scriptText)}></div>
</main>
${scripts.map((u) => `<script src="${escapeHtml(u)}"></script>`).join('\n')}
<script src="/collect/assets/collect.js"></script>
</body>
</html>`;
}

/** The status line: what the server first renders, and what /status and the card and binding answers tell the script. */
export function statusText(d: { lang: Lang; payer: string; view: CollectView; amountText: string; reason: string | null }): string {
  const t = TEXT[d.lang];
  const last4 = d.view.last4 ?? '····';
  switch (d.view.phase) {
    case 'card':
    case 'self_employed':
      return '';
    case 'paying':
      return t.paying(d.amountText, last4);
    case 'succeeded':
      return t.succeeded(d.amountText, last4);
    case 'returned':
      return t.returned(d.amountText, last4, d.payer);
    case 'saved':
      return t.saved(last4, d.payer);
    case 'failed': {
      const said = `${t.failed}: ${d.reason ?? reasonText(null, d.lang)}`;
      const next = d.view.next ? nextText(d.lang, d.payer, d.view.next, last4) : '';
      return next ? `${said} ${next}` : said;
    }
    case 'cancelled':
      return t.cancelled(d.payer);
    case 'expired':
      return t.expired(d.payer);
  }
}

export function nextText(lang: Lang, payer: string, next: NextStep, last4: string): string {
  return TEXT[lang].next[next](payer, last4);
}

/** Said once the self-employed step is done and the card widget comes next. */
export function boundText(lang: Lang): string {
  return TEXT[lang].bound;
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
