import { describe, expect, it } from 'vitest';
import { TEST_CARDS, TEST_CARD_NUMBERS } from '../../src/test-cards.js';
import type { EncryptedCardHashes as EncryptedCard } from '../../src/widget-card.js';
import { clientFor, startPayoutRequest, useSandboxWithReceiver } from '../support/sandbox.js';

// The sandbox's tokenization widget over HTTP (docs/widget.md): the assets it serves, the
// tokenize call the form makes, and hashes the sandbox bank understands. The browser run is
// elsewhere.

const env = useSandboxWithReceiver();
const { waitForWebhook } = env;

/** An expiry a year and a bit ahead, as MM/YY. */
const future = (() => {
  const d = new Date();
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String((d.getUTCFullYear() + 2) % 100).padStart(2, '0')}`;
})();

const card = (card_number: string, more: Record<string, string> = {}) => ({ card_number, expiry: future, security_code: '123', ...more });

async function tokenizeCall(body: unknown, origin = 'https://payouts.example') {
  const res = await fetch(`${env.sandbox.url}/widget/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify(body),
  });
  return {
    res,
    json: (await res.json()) as {
      status: string;
      card?: EncryptedCard;
      last4?: string;
      brand?: string;
      error?: { code: string; description: string; fields?: Array<{ field: string; code: string }> };
    },
  };
}

async function hashesFor(number: string, more: Record<string, string> = {}): Promise<EncryptedCard> {
  const publicToken = await clientFor(env.sandbox).issueWidgetToken();
  const { res, json } = await tokenizeCall({ public_token: publicToken, ...card(number, more) });
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json.card!;
}

describe('the widget assets', () => {
  it('serves the script and the stylesheet at the widget host paths, loadable from any page', async () => {
    const js = await fetch(`${env.sandbox.url}/tokenize.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^application\/javascript; charset=utf-8/);
    expect(js.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    const source = await js.text();
    expect(source).toContain('window.Bank131Tokenize');
    expect(source).toContain("'bank131-tokenize'");

    const css = await fetch(`${env.sandbox.url}/tokenize.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css; charset=utf-8/);
    expect(await css.text()).toContain('.bank131-tokenize__frame');

    const frameJs = await fetch(`${env.sandbox.url}/tokenize/frame.js`);
    expect(frameJs.headers.get('content-type')).toMatch(/^application\/javascript/);
  });

  it('renders the card form in Russian by default and in English on request, with stable ids and labels', async () => {
    const publicToken = await clientFor(env.sandbox).issueWidgetToken();
    const q = (extra: string) =>
      `${env.sandbox.url}/tokenize/frame?public_token=${publicToken}&origin=${encodeURIComponent('https://payouts.example')}${extra}`;
    const ru = await fetch(q(''));
    expect(ru.headers.get('content-type')).toMatch(/^text\/html/);
    expect(ru.headers.get('content-security-policy')).toContain('frame-ancestors *');
    expect(ru.headers.get('x-frame-options')).toBeNull();
    const html = await ru.text();
    expect(html).toContain('<html lang="ru">');
    for (const id of ['bank131-card-number', 'bank131-card-expiry', 'bank131-card-cvc', 'bank131-cardholder-name']) {
      expect(html).toContain(`<label for="${id}">`);
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).toContain('id="bank131-submit"');
    expect(html).toContain('Номер карты');
    expect(html).toContain('data-parent-origin="https://payouts.example"');
    expect(html).toContain('data-token-error=""');
    const en = await (await fetch(q('&locale=en'))).text();
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('Card number');
  });

  it('renders a spent or unknown token as a form that says so', async () => {
    const html = await (await fetch(`${env.sandbox.url}/tokenize/frame?public_token=nope`)).text();
    expect(html).toContain('data-token-error="public_token_unknown"');
  });
});

describe('POST /widget/tokenize', () => {
  it('answers preflight and calls from any origin', async () => {
    const pre = await fetch(`${env.sandbox.url}/widget/tokenize`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://payouts.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toContain('content-type');
    const { res } = await tokenizeCall({ public_token: 'nope', ...card('4242424242424242') });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('refuses a token the bank never issued, and a missing one', async () => {
    const unknown = await tokenizeCall({ public_token: 'f'.repeat(64), ...card('4242424242424242') });
    expect(unknown.res.status).toBe(401);
    expect(unknown.json).toEqual({
      status: 'error',
      error: { code: 'public_token_unknown', description: expect.stringMatching(/not issued/) },
    });
    const missing = await tokenizeCall(card('4242424242424242'));
    expect(missing.res.status).toBe(400);
    expect(missing.json.error).toMatchObject({ code: 'invalid_request', description: 'public_token: is required' });
  });

  it('takes each public token once: a second card with it is refused', async () => {
    const publicToken = await clientFor(env.sandbox).issueWidgetToken();
    expect((await tokenizeCall({ public_token: publicToken, ...card('4242424242424242') })).res.status).toBe(200);
    const again = await tokenizeCall({ public_token: publicToken, ...card('5555555555554444') });
    expect(again.res.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'public_token_used', description: expect.stringMatching(/already used/) });
    const html = await (await fetch(`${env.sandbox.url}/tokenize/frame?public_token=${publicToken}`)).text();
    expect(html).toContain('data-token-error="public_token_used"');
  });

  it('refuses invalid cards field by field, and keeps the token for the corrected card', async () => {
    const publicToken = await clientFor(env.sandbox).issueWidgetToken();
    const luhn = await tokenizeCall({ public_token: publicToken, ...card('4242 4242 4242 4241') });
    expect(luhn.res.status).toBe(400);
    expect(luhn.json.error).toMatchObject({ code: 'invalid_card', fields: [{ field: 'card_number', code: 'luhn' }] });
    expect(luhn.json.error!.description).toMatch(/Luhn/);

    const expired = await tokenizeCall({ public_token: publicToken, ...card('4242424242424242', { expiry: '01/20' }) });
    expect(expired.json.error).toMatchObject({ code: 'invalid_card', fields: [{ field: 'expiry', code: 'expired' }] });

    const many = await tokenizeCall({
      public_token: publicToken,
      card_number: '12',
      expiry: '13/30',
      security_code: '1',
      cardholder_name: 'Иван',
    });
    expect(many.json.error!.fields!.map((f) => `${f.field}:${f.code}`)).toEqual([
      'card_number:invalid',
      'expiry:invalid',
      'security_code:invalid',
      'cardholder_name:invalid',
    ]);
    const empty = await tokenizeCall({ public_token: publicToken });
    expect(empty.json.error!.fields!.map((f) => `${f.field}:${f.code}`)).toEqual([
      'card_number:required',
      'expiry:required',
      'security_code:required',
    ]);

    const fixed = await tokenizeCall({ public_token: publicToken, ...card('4242 4242 4242 4242', { cardholder_name: 'IVAN IVANOV' }) });
    expect(fixed.res.status).toBe(200);
    expect(fixed.json).toMatchObject({ status: 'ok', last4: '4242', brand: 'visa' });
    expect(fixed.json.card).toEqual({
      number_hash: expect.stringMatching(/^sbx_[A-Za-z0-9_-]+$/),
      expiration_date_hash: expect.stringMatching(/^sbx_/),
      security_code_hash: expect.stringMatching(/^sbx_/),
      cardholder_name_hash: expect.stringMatching(/^sbx_/),
    });
    // The hash does not carry the number.
    expect(Buffer.from(fixed.json.card!.number_hash.slice(4), 'base64url').toString()).not.toContain('4242424242');
  });

  it('gives one card the same number_hash each time, and different cards different ones', async () => {
    const a = await hashesFor('4242424242424242');
    const b = await hashesFor('4242 4242 4242 4242');
    const c = await hashesFor('4111111111111111');
    expect(a.number_hash).toBe(b.number_hash);
    expect(a.expiration_date_hash).not.toBe(b.expiration_date_hash);
    expect(c.number_hash).not.toBe(a.number_hash);
  });
});

describe('widget hashes at the sandbox bank', () => {
  it('token/info reads the last 4 and brand of the typed card', async () => {
    const client = clientFor(env.sandbox);
    for (const [number, brand, last4] of [
      ['4242424242424242', 'visa', '4242'],
      ['5555555555554444', 'mastercard', '4444'],
      ['2200000000000004', 'mir', '0004'],
      ['4111111111111111', 'visa', '1111'],
    ] as const) {
      const info = await client.tokenInfo((await hashesFor(number)).number_hash);
      expect(info).toMatchObject({ brand, last4, type: 'card' });
    }
    // The older hand-written test-card hashes still read as before.
    expect((await client.tokenInfo(TEST_CARDS.ok)).last4).toBe('4242');
  });

  it('a good card pays out; a declining card fails at payment_finished with its code', async () => {
    const client = clientFor(env.sandbox);
    const run = async (number: string) => {
      const hashes = await hashesFor(number);
      const session = await client.createSession();
      const request = startPayoutRequest(session.id);
      request.payout_details = { type: 'card', card: { type: 'encrypted_card', encrypted_card: hashes } };
      await client.startPayout(request);
      await waitForWebhook(session.id, 'ready_to_confirm');
      await client.confirmSession(session.id);
      const [finished] = await waitForWebhook(session.id, 'payment_finished');
      return (
        finished!.session as {
          payouts: Array<{ status: string; error?: { code: string }; payout_details?: unknown; payment_method?: unknown }>;
        }
      ).payouts[0]!;
    };
    const ok = await run('4242 4242 4242 4242');
    expect(ok.status).toBe('succeeded');
    expect(JSON.stringify(ok.payout_details ?? ok.payment_method)).toContain('"last4":"4242"');
    const declined = await run('4000 0000 0000 0002');
    expect(declined).toMatchObject({ status: 'failed', error: { code: 'declined_by_issuer_bank' } });
    const expired = await run('4000 0000 0000 0069');
    expect(expired).toMatchObject({ status: 'failed', error: { code: 'bank_card_expired' } });
    const notFound = await run('4000 0000 0000 0135');
    expect(notFound).toMatchObject({ status: 'failed', error: { code: 'card_number_does_not_exist' } });
  });

  it('a rejecting card is refused at session/start/payout with its code', async () => {
    const client = clientFor(env.sandbox);
    for (const [number, code] of [
      ['4000000000000127', 'card_number_does_not_exist'],
      ['4000000000000101', 'provider_foreign_transfer_prohibited'],
    ] as const) {
      const session = await client.createSession();
      await expect(client.startPayout(startPayoutRequest(session.id, (await hashesFor(number)).number_hash))).rejects.toMatchObject({
        code,
      });
    }
  });

  it('every documented test card number is Luhn-valid and tokenizes', async () => {
    for (const c of TEST_CARD_NUMBERS) await hashesFor(c.number);
  });
});
