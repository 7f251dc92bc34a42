import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { cardBrand, cardDigits, luhnValid, widgetNumberHash } from './test-cards.js';

/**
 * The sandbox's Bank 131 tokenization widget (docs/widget.md has the contract and what of it is
 * confirmed). Served from the sandbox's own origin, at paths that mirror the bank's widget host,
 * so BANK131_WIDGET_URL can be the sandbox's base URL:
 *
 *   GET  /tokenize.js       the script a partner page loads: defines window.Bank131Tokenize
 *   GET  /tokenize.css      its stylesheet (the container, and the form inside the frame)
 *   GET  /tokenize/frame    the card form, rendered in an iframe on the widget's origin
 *   GET  /tokenize/frame.js the form's behaviour
 *   POST /widget/tokenize   the form's call: public token + typed card in, card hashes out
 *
 * The card form lives in an iframe on the widget's origin, so the partner page never sees card
 * data; the frame posts the outcome to the page with window.postMessage.
 */

export const WIDGET_CONTAINER_ID = 'bank131-tokenize';
export const WIDGET_MESSAGE_SOURCE = 'bank131-tokenize';

export type Locale = 'ru' | 'en';
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
export function validateCard(card: TypedCard, now = new Date()): { ok: true; digits: string; month: string; year: string; cvc: string; name: string } | { ok: false; fields: FieldError[] } {
  const fields: FieldError[] = [];
  const digits = cardDigits(text(card.card_number));
  if (digits === '') fields.push({ field: 'card_number', code: 'required', description: 'card_number: is required' });
  else if (!/^\d{13,19}$/.test(digits)) fields.push({ field: 'card_number', code: 'invalid', description: 'card_number: must be 13 to 19 digits' });
  else if (!luhnValid(digits)) fields.push({ field: 'card_number', code: 'luhn', description: 'card_number: fails the Luhn check (a typo?)' });

  const expiry = text(card.expiry).replace(/\s/g, '');
  const m = /^(\d{2})\/?(\d{2})$/.exec(expiry);
  let month = '';
  let year = '';
  if (expiry === '') fields.push({ field: 'expiry', code: 'required', description: 'expiry: is required (MM/YY)' });
  else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) fields.push({ field: 'expiry', code: 'invalid', description: 'expiry: must be MM/YY with a month 01 to 12' });
  else {
    month = m[1] ?? '';
    year = m[2] ?? '';
    // A card is valid to the end of its expiry month.
    const endOfMonth = Date.UTC(2000 + Number(year), Number(month), 1);
    if (endOfMonth <= now.getTime()) fields.push({ field: 'expiry', code: 'expired', description: 'expiry: the card has expired' });
  }

  const cvc = text(card.security_code);
  if (cvc === '') fields.push({ field: 'security_code', code: 'required', description: 'security_code: is required' });
  else if (!/^\d{3,4}$/.test(cvc)) fields.push({ field: 'security_code', code: 'invalid', description: 'security_code: must be 3 or 4 digits' });

  const name = text(card.cardholder_name).replace(/\s+/g, ' ');
  if (name !== '' && !/^[A-Za-z][A-Za-z .'-]{0,63}$/.test(name)) {
    fields.push({ field: 'cardholder_name', code: 'invalid', description: 'cardholder_name: Latin letters as on the card, up to 64' });
  }
  return fields.length > 0 ? { ok: false, fields } : { ok: true, digits, month, year, cvc, name };
}

const opaque = (): string => `sbx_${randomBytes(16).toString('hex')}`;

/** Spends the public token and answers the card's hashes, or throws a SandboxError. */
export async function tokenize(bank: SandboxBank, body: unknown): Promise<{ status: 'ok'; card: EncryptedCardHashes; brand: string; last4: string }> {
  const req = (body && typeof body === 'object' ? body : {}) as TypedCard & { public_token?: unknown };
  const token = text(req.public_token);
  if (token === '') throw new SandboxError('invalid_request', 'public_token: is required', 400);
  const state = await bank.lookupPublicToken(token);
  if (state !== 'fresh') await bank.consumePublicToken(token); // throws the right refusal
  const checked = validateCard(req);
  if (!checked.ok) throw new CardRefused(checked.fields);
  await bank.consumePublicToken(token);
  const card: EncryptedCardHashes = { number_hash: widgetNumberHash(checked.digits), expiration_date_hash: opaque(), security_code_hash: opaque() };
  if (checked.name) card.cardholder_name_hash = opaque();
  return { status: 'ok', card, brand: cardBrand(checked.digits), last4: checked.digits.slice(-4) };
}

export class CardRefused extends SandboxError {
  constructor(readonly fields: FieldError[]) {
    super('invalid_card', fields.map((f) => f.description).join('; '), 400);
  }
}

// ------------------------------------------------------------------ the HTTP side

export function registerWidget(server: FastifyInstance, bank: SandboxBank): void {
  const cors = (reply: FastifyReply) =>
    reply.header('access-control-allow-origin', '*').header('access-control-allow-methods', 'POST, OPTIONS').header('access-control-allow-headers', 'content-type').header('access-control-max-age', '600');
  const asset = (reply: FastifyReply, type: string, body: string) =>
    reply
      .type(type)
      .header('cache-control', 'no-cache')
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('x-content-type-options', 'nosniff')
      .send(body);

  server.get('/tokenize.js', async (_req, reply) => asset(reply, 'application/javascript; charset=utf-8', LOADER_JS));
  server.get('/tokenize.css', async (_req, reply) => asset(reply, 'text/css; charset=utf-8', WIDGET_CSS));
  server.get('/tokenize/frame.js', async (_req, reply) => asset(reply, 'application/javascript; charset=utf-8', FRAME_JS));
  server.get<{ Querystring: Record<string, string | undefined> }>('/tokenize/frame', async (req, reply) => {
    const locale: Locale = req.query.locale === 'en' ? 'en' : 'ru';
    const token = req.query.public_token ?? '';
    const parentOrigin = originOf(req.query.origin);
    const state = token ? await bank.lookupPublicToken(token) : 'unknown';
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      // Any partner page may frame the form; the form itself runs only its own script.
      .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors *")
      .send(frameHtml({ locale, token, parentOrigin, tokenError: state === 'fresh' ? null : state === 'used' ? 'public_token_used' : 'public_token_unknown' }));
  });

  server.options('/widget/tokenize', async (_req, reply) => cors(reply).code(204).send());
  server.post('/widget/tokenize', async (req, reply) => {
    cors(reply).header('cache-control', 'no-store');
    try {
      return reply.code(200).send(await tokenize(bank, req.body));
    } catch (err) {
      if (err instanceof CardRefused) {
        return reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description, fields: err.fields } });
      }
      if (err instanceof SandboxError) return reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description } });
      throw err;
    }
  });
}

/** An http(s) origin, or null (the frame then posts with targetOrigin "*"). */
function originOf(value: string | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null;
  } catch {
    return null;
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STRINGS: Record<Locale, Record<string, string>> = {
  ru: {
    title: 'Данные карты',
    card_number: 'Номер карты',
    expiry: 'Срок действия',
    expiry_placeholder: 'ММ/ГГ',
    security_code: 'CVC',
    cardholder_name: 'Имя на карте (необязательно)',
    cardholder_name_placeholder: 'IVAN IVANOV',
    submit: 'Сохранить карту',
    sending: 'Сохраняем…',
    secured: 'Данные карты передаются в Банк 131 и не сохраняются на сайте получателя.',
    done: 'Карта •••• {last4} сохранена',
    'card_number.required': 'Введите номер карты',
    'card_number.invalid': 'Номер карты — от 13 до 19 цифр',
    'card_number.luhn': 'В номере карты ошибка, проверьте его',
    'expiry.required': 'Введите срок действия',
    'expiry.invalid': 'Срок действия в формате ММ/ГГ',
    'expiry.expired': 'Срок действия карты истёк',
    'security_code.required': 'Введите CVC',
    'security_code.invalid': 'CVC — 3 или 4 цифры',
    'cardholder_name.invalid': 'Имя латиницей, как на карте',
    public_token_used: 'Эта форма уже использована. Обновите страницу.',
    public_token_unknown: 'Форма недействительна. Обновите страницу.',
    network_error: 'Не удалось связаться с банком. Попробуйте ещё раз.',
    internal_error: 'Банк не смог обработать карту. Попробуйте ещё раз.',
  },
  en: {
    title: 'Card details',
    card_number: 'Card number',
    expiry: 'Expiry date',
    expiry_placeholder: 'MM/YY',
    security_code: 'CVC',
    cardholder_name: 'Name on card (optional)',
    cardholder_name_placeholder: 'IVAN IVANOV',
    submit: 'Save card',
    sending: 'Saving…',
    secured: 'Card details go to Bank 131 and are not stored by the site you are on.',
    done: 'Card •••• {last4} saved',
    'card_number.required': 'Enter the card number',
    'card_number.invalid': 'A card number has 13 to 19 digits',
    'card_number.luhn': 'The card number has a typo, please check it',
    'expiry.required': 'Enter the expiry date',
    'expiry.invalid': 'Expiry date as MM/YY',
    'expiry.expired': 'The card has expired',
    'security_code.required': 'Enter the CVC',
    'security_code.invalid': 'The CVC is 3 or 4 digits',
    'cardholder_name.invalid': 'The name in Latin letters, as on the card',
    public_token_used: 'This form was already used. Please reload the page.',
    public_token_unknown: 'This form is not valid. Please reload the page.',
    network_error: 'Could not reach the bank. Please try again.',
    internal_error: 'The bank could not process the card. Please try again.',
  },
};

function frameHtml(o: { locale: Locale; token: string; parentOrigin: string | null; tokenError: string | null }): string {
  const t = STRINGS[o.locale];
  const s = (k: string) => escapeHtml(t[k] ?? k);
  const field = (id: string, name: CardField, label: string, attrs: string) => `
    <div class="bank131-field bank131-field--${name}">
      <label for="${id}">${s(label)}</label>
      <input id="${id}" name="${name}" ${attrs} aria-describedby="${id}-error" aria-invalid="false">
      <p class="bank131-field__error" id="${id}-error" aria-live="polite"></p>
    </div>`;
  const i18n = JSON.stringify(t).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="${o.locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${s('title')}</title>
<link rel="stylesheet" href="../tokenize.css">
</head>
<body class="bank131-frame" data-public-token="${escapeHtml(o.token)}" data-parent-origin="${escapeHtml(o.parentOrigin ?? '')}" data-token-error="${escapeHtml(o.tokenError ?? '')}">
<form id="bank131-tokenize-form" class="bank131-form" novalidate aria-label="${s('title')}">
  ${field('bank131-card-number', 'card_number', 'card_number', 'type="text" inputmode="numeric" autocomplete="cc-number" placeholder="0000 0000 0000 0000" maxlength="23" required')}
  <div class="bank131-row">
    ${field('bank131-card-expiry', 'expiry', 'expiry', `type="text" inputmode="numeric" autocomplete="cc-exp" placeholder="${s('expiry_placeholder')}" maxlength="7" required`)}
    ${field('bank131-card-cvc', 'security_code', 'security_code', 'type="password" inputmode="numeric" autocomplete="cc-csc" placeholder="•••" maxlength="4" required')}
  </div>
  ${field('bank131-cardholder-name', 'cardholder_name', 'cardholder_name', `type="text" autocomplete="cc-name" autocapitalize="characters" spellcheck="false" placeholder="${s('cardholder_name_placeholder')}" maxlength="64"`)}
  <p id="bank131-form-error" class="bank131-form__error" role="alert"></p>
  <button id="bank131-submit" class="bank131-submit" type="submit">${s('submit')}</button>
  <p class="bank131-form__note">${s('secured')}</p>
</form>
<p id="bank131-success" class="bank131-success" role="status" hidden></p>
<script type="application/json" id="bank131-i18n">${i18n}</script>
<script src="frame.js"></script>
</body>
</html>
`;
}

// ------------------------------------------------------------------ browser assets (plain ES2017, no build step)

/** The script partner pages load: window.Bank131Tokenize, which renders the form's iframe. */
const LOADER_JS = String.raw`/* Bank 131 sandbox tokenization widget: see docs/widget.md */
(function () {
  'use strict';
  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : location.href;
  var frameUrl = new URL('tokenize/frame', scriptUrl).href;
  var widgetOrigin = new URL(scriptUrl).origin;
  var SOURCE = 'bank131-tokenize';

  function Bank131Tokenize(options) {
    if (!(this instanceof Bank131Tokenize)) throw new TypeError('Bank131Tokenize: use new Bank131Tokenize({ publicToken })');
    options = options || {};
    if (typeof options.publicToken !== 'string' || options.publicToken === '') throw new TypeError('Bank131Tokenize: publicToken is required');
    this.publicToken = options.publicToken;
    this.locale = options.locale === 'en' ? 'en' : 'ru';
    this.container = options.container || 'bank131-tokenize';
    this.frame = null;
    this._onMessage = null;
  }

  Bank131Tokenize.prototype.render = function () {
    var container = typeof this.container === 'string' ? document.getElementById(this.container) : this.container;
    if (!container) throw new Error('Bank131Tokenize: no container #' + this.container + ' on the page');
    this.destroy();
    var frame = document.createElement('iframe');
    var pageOrigin = location.origin && location.origin !== 'null' ? location.origin : '';
    frame.src = frameUrl + '?public_token=' + encodeURIComponent(this.publicToken) + '&locale=' + this.locale + (pageOrigin ? '&origin=' + encodeURIComponent(pageOrigin) : '');
    frame.className = 'bank131-tokenize__frame';
    frame.title = this.locale === 'en' ? 'Card details' : 'Данные карты';
    frame.setAttribute('scrolling', 'no');
    container.classList.add('bank131-tokenize');
    container.appendChild(frame);
    this.frame = frame;
    this._onMessage = function (event) {
      if (event.origin !== widgetOrigin || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (data && data.source === SOURCE && data.type === 'tokenize_resize' && typeof data.height === 'number') {
        frame.style.height = Math.ceil(data.height) + 'px';
      }
    };
    window.addEventListener('message', this._onMessage);
    return this;
  };

  Bank131Tokenize.prototype.destroy = function () {
    if (this._onMessage) window.removeEventListener('message', this._onMessage);
    if (this.frame && this.frame.parentNode) this.frame.parentNode.removeChild(this.frame);
    this.frame = null;
    this._onMessage = null;
  };

  Bank131Tokenize.ORIGIN = widgetOrigin;
  Bank131Tokenize.SOURCE = SOURCE;
  Bank131Tokenize.EVENTS = { ready: 'tokenize_ready', success: 'tokenize_success', error: 'tokenize_error' };
  window.Bank131Tokenize = Bank131Tokenize;
})();
`;

/** The form's behaviour inside the frame: checks, the tokenize call, messages to the page. */
const FRAME_JS = String.raw`/* Bank 131 sandbox tokenization widget, the card form: see docs/widget.md */
(function () {
  'use strict';
  var SOURCE = 'bank131-tokenize';
  var body = document.body;
  var t = JSON.parse(document.getElementById('bank131-i18n').textContent);
  var token = body.getAttribute('data-public-token') || '';
  var parentOrigin = body.getAttribute('data-parent-origin') || '*';
  var form = document.getElementById('bank131-tokenize-form');
  var submit = document.getElementById('bank131-submit');
  var formError = document.getElementById('bank131-form-error');
  var success = document.getElementById('bank131-success');
  var inputs = {
    card_number: document.getElementById('bank131-card-number'),
    expiry: document.getElementById('bank131-card-expiry'),
    security_code: document.getElementById('bank131-card-cvc'),
    cardholder_name: document.getElementById('bank131-cardholder-name')
  };

  function post(message) {
    message.source = SOURCE;
    if (window.parent && window.parent !== window) window.parent.postMessage(message, parentOrigin);
  }
  function resize() {
    post({ type: 'tokenize_resize', height: Math.ceil(body.getBoundingClientRect().height) });
  }
  function say(key, fallback) {
    return t[key] || fallback || key;
  }

  function luhn(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits.charAt(digits.length - 1 - i));
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }
  function check(values) {
    var fields = [];
    var digits = values.card_number.replace(/[\s-]/g, '');
    if (digits === '') fields.push({ field: 'card_number', code: 'required' });
    else if (!/^\d{13,19}$/.test(digits)) fields.push({ field: 'card_number', code: 'invalid' });
    else if (!luhn(digits)) fields.push({ field: 'card_number', code: 'luhn' });
    var expiry = values.expiry.replace(/\s/g, '');
    var m = /^(\d{2})\/?(\d{2})$/.exec(expiry);
    if (expiry === '') fields.push({ field: 'expiry', code: 'required' });
    else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) fields.push({ field: 'expiry', code: 'invalid' });
    else if (Date.UTC(2000 + Number(m[2]), Number(m[1]), 1) <= Date.now()) fields.push({ field: 'expiry', code: 'expired' });
    if (values.security_code === '') fields.push({ field: 'security_code', code: 'required' });
    else if (!/^\d{3,4}$/.test(values.security_code)) fields.push({ field: 'security_code', code: 'invalid' });
    var name = values.cardholder_name.replace(/\s+/g, ' ');
    if (name !== '' && !/^[A-Za-z][A-Za-z .'-]{0,63}$/.test(name)) fields.push({ field: 'cardholder_name', code: 'invalid' });
    return fields;
  }

  function clearErrors() {
    Object.keys(inputs).forEach(function (name) {
      inputs[name].setAttribute('aria-invalid', 'false');
      document.getElementById(inputs[name].id + '-error').textContent = '';
    });
    formError.textContent = '';
  }
  function showFieldErrors(fields) {
    fields.forEach(function (f) {
      var input = inputs[f.field];
      if (!input) return;
      input.setAttribute('aria-invalid', 'true');
      document.getElementById(input.id + '-error').textContent = say(f.field + '.' + f.code, f.description);
    });
    var first = fields.length && inputs[fields[0].field];
    if (first) first.focus();
  }
  function fail(error, final) {
    if (error.fields && error.fields.length) showFieldErrors(error.fields);
    else formError.textContent = say(error.code, error.description);
    if (final) {
      Object.keys(inputs).forEach(function (name) { inputs[name].disabled = true; });
      submit.disabled = true;
    }
    post({ type: 'tokenize_error', error: error });
    resize();
  }

  // Gentle formatting while typing: groups of four, and MM/YY.
  inputs.card_number.addEventListener('input', function () {
    var digits = inputs.card_number.value.replace(/\D/g, '').slice(0, 19);
    inputs.card_number.value = digits.replace(/(\d{4})(?=\d)/g, '$1 ');
  });
  inputs.expiry.addEventListener('input', function (e) {
    var digits = inputs.expiry.value.replace(/\D/g, '').slice(0, 4);
    var deleting = e && e.inputType && e.inputType.indexOf('delete') === 0;
    inputs.expiry.value = digits.length > 2 || (digits.length === 2 && !deleting) ? digits.slice(0, 2) + '/' + digits.slice(2) : digits;
  });

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    clearErrors();
    var values = {};
    Object.keys(inputs).forEach(function (name) { values[name] = inputs[name].value.trim(); });
    var fields = check(values);
    if (fields.length) {
      fail({ code: 'invalid_card', description: 'the card details are not valid', fields: fields.map(function (f) {
        return { field: f.field, code: f.code, description: f.field + ': ' + f.code };
      }) }, false);
      return;
    }
    submit.disabled = true;
    submit.textContent = say('sending');
    var request = { public_token: token };
    Object.keys(values).forEach(function (name) { request[name] = values[name]; });
    fetch(new URL('../widget/tokenize', location.href).href, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(request),
      credentials: 'omit'
    }).then(function (res) {
      return res.json().catch(function () { return { status: 'error', error: { code: 'internal_error', description: 'HTTP ' + res.status } }; });
    }).then(function (answer) {
      submit.textContent = say('submit');
      if (answer && answer.status === 'ok') {
        form.hidden = true;
        success.hidden = false;
        success.textContent = say('done').replace('{last4}', answer.last4);
        post({ type: 'tokenize_success', encrypted_card: answer.card });
        resize();
        return;
      }
      var error = (answer && answer.error) || { code: 'internal_error', description: 'no answer' };
      var final = error.code === 'public_token_used' || error.code === 'public_token_unknown';
      submit.disabled = final;
      fail(error, final);
    }, function () {
      submit.disabled = false;
      submit.textContent = say('submit');
      fail({ code: 'network_error', description: 'the bank could not be reached' }, false);
    });
  });

  if (typeof ResizeObserver === 'function') new ResizeObserver(resize).observe(body);
  window.addEventListener('load', resize);
  var tokenError = body.getAttribute('data-token-error');
  if (tokenError) {
    fail({ code: tokenError, description: tokenError === 'public_token_used' ? 'this public token was already used' : 'this public token was not issued by the bank' }, true);
  } else {
    post({ type: 'tokenize_ready' });
    resize();
  }
})();
`;

/** One stylesheet for both sides: the container on the partner page and the form in the frame. */
const WIDGET_CSS = `/* Bank 131 sandbox tokenization widget: see docs/widget.md */
.bank131-tokenize { width: 100%; max-width: 100%; }
.bank131-tokenize__frame { display: block; width: 100%; height: 420px; border: 0; background: transparent; }

.bank131-frame { margin: 0; padding: 2px; font: 16px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; background: transparent; }
.bank131-frame [hidden] { display: none !important; }
.bank131-form { display: flex; flex-direction: column; gap: 12px; }
.bank131-row { display: flex; gap: 12px; flex-wrap: wrap; }
.bank131-row > .bank131-field { flex: 1 1 8em; }
.bank131-field { display: flex; flex-direction: column; gap: 4px; min-width: 0; }
.bank131-field label { font-size: 14px; color: #4a5361; }
.bank131-field input { box-sizing: border-box; width: 100%; font: inherit; padding: 12px; border: 1px solid #b8c0cc; border-radius: 8px; background: #fff; color: inherit; }
.bank131-field input:focus { outline: 2px solid #2f6fed; outline-offset: 1px; border-color: #2f6fed; }
.bank131-field input[aria-invalid="true"] { border-color: #c62828; }
.bank131-field__error, .bank131-form__error { margin: 0; min-height: 0; font-size: 14px; color: #c62828; }
.bank131-field__error:empty, .bank131-form__error:empty { display: none; }
.bank131-submit { font: inherit; font-weight: 600; padding: 14px; border: 0; border-radius: 8px; background: #2f6fed; color: #fff; cursor: pointer; width: 100%; }
.bank131-submit:disabled { opacity: 0.6; cursor: default; }
.bank131-form__note { margin: 0; font-size: 12px; color: #6b7480; }
.bank131-success { margin: 0; padding: 16px; border-radius: 8px; background: #e8f5e9; color: #1b5e20; font-weight: 600; }
`;
