import { describe, expect, it } from 'vitest';
import { TEST_TAXPAYERS } from '../../src/taxpayers.js';
import { clientFor, fiscalPayoutRequest, freshTaxReference, useSandboxWithReceiver } from '../support/sandbox.js';

// The sandbox's self-employed widget over HTTP: its assets, the "Allow" frame, the bind call its
// frame makes, and what a binding changes for self-employed payouts. The browser run is elsewhere.

const env = useSandboxWithReceiver();

async function bindCall(body: unknown) {
  const res = await fetch(`${env.sandbox.url}/widget/self-employed/bind`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://payouts.example' },
    body: JSON.stringify(body),
  });
  return {
    res,
    json: (await res.json()) as { status: string; tax_reference?: string; bound?: boolean; error?: { code: string; description: string } },
  };
}

const frame = async (query: string) => {
  const res = await fetch(`${env.sandbox.url}/self-employed/frame?${query}`);
  return { res, html: await res.text() };
};

const taxpayer = async (ref: string) => (await (await fetch(`${env.sandbox.url}/sandbox/taxpayers/${ref}`)).json()) as { bound: boolean };

describe('the self-employed widget’s assets', () => {
  it('serves the bank’s documented script and stylesheet, loadable from any page', async () => {
    const js = await fetch(`${env.sandbox.url}/self-employed.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^application\/javascript; charset=utf-8/);
    expect(js.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(js.headers.get('access-control-allow-origin')).toBe('*');
    const source = await js.text();
    expect(source).toContain('window.Bank131SelfEmployed');
    expect(source).toContain("STAGES = { bind: 'bind', check: 'check' }");
    expect(source).toContain("'bank131-self-employed'");
    expect(source).toContain('.render = function');

    const css = await fetch(`${env.sandbox.url}/self-employed.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css; charset=utf-8/);
    expect(await css.text()).toContain('.bank131-self-employed__frame');

    const frameJs = await fetch(`${env.sandbox.url}/self-employed/frame.js`);
    expect(frameJs.headers.get('content-type')).toMatch(/^application\/javascript/);
    const frameSource = await frameJs.text();
    for (const type of ['self_employed_ready', 'self_employed_bound', 'self_employed_error', 'self_employed_resize']) {
      expect(frameSource).toContain(`'${type}'`);
    }
  });

  it('renders the frame in Russian by default and in English on request: the masked reference, the explanation and the button', async () => {
    const publicToken = await clientFor(env.sandbox).issueSelfEmployedToken(TEST_TAXPAYERS.unbound);
    const origin = encodeURIComponent('https://payouts.example');
    const ru = await frame(`public_token=${publicToken}&origin=${origin}`);
    expect(ru.res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(ru.res.headers.get('content-security-policy')).toContain('frame-ancestors *');
    expect(ru.res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(ru.res.headers.get('x-frame-options')).toBeNull();
    expect(ru.html).toContain('<html lang="ru">');
    expect(ru.html).toContain('••••••••7891');
    expect(ru.html).not.toContain('>771234567891<');
    expect(ru.html).toContain('Разрешите Банку 131 регистрировать ваш доход');
    expect(ru.html).toMatch(/<button id="bank131-se-submit"[^>]*>Разрешить<\/button>/);
    expect(ru.html).toContain('data-parent-origin="https://payouts.example"');
    expect(ru.html).toContain('data-stage="bind"');
    expect(ru.html).toContain('data-bound="false"');
    expect(ru.html).toContain('data-error=""');
    expect(ru.html).toContain('<link rel="stylesheet" href="../self-employed.css" />');
    expect(ru.html).toContain('<script src="frame.js"></script>');

    const en = await frame(`public_token=${publicToken}&locale=en&stage=check`);
    expect(en.html).toContain('<html lang="en">');
    expect(en.html).toContain('Allow Bank 131 to register your income');
    expect(en.html).toMatch(/>Allow<\/button>/);
    expect(en.html).toContain('data-stage="check"');
  });

  it('renders an unknown or spent token, and a person not self-employed, as a frame that says so', async () => {
    expect((await frame('public_token=nope')).html).toContain('data-error="public_token_unknown"');
    expect((await frame('')).html).toContain('data-error="public_token_unknown"');
    const unknown = await clientFor(env.sandbox).issueSelfEmployedToken(TEST_TAXPAYERS.unknown);
    expect((await frame(`public_token=${unknown}`)).html).toContain('data-error="taxpayer_unknown"');
    const spent = await clientFor(env.sandbox).issueSelfEmployedToken(freshTaxReference());
    await bindCall({ public_token: spent });
    expect((await frame(`public_token=${spent}`)).html).toContain('data-error="public_token_used"');
    // a tokenization widget token is not a self-employed widget token
    const cardToken = await clientFor(env.sandbox).issueWidgetToken();
    expect((await frame(`public_token=${cardToken}`)).html).toContain('data-error="public_token_unknown"');
  });
});

describe('POST /widget/self-employed/bind', () => {
  it('spends the token once and binds its tax reference; a self-employed payout to it then goes through', async () => {
    const client = clientFor(env.sandbox);
    const ref = freshTaxReference();
    const session = await client.createSession();
    await expect(client.startPayoutWithFiscalization(fiscalPayoutRequest(session.id, ref))).rejects.toMatchObject({
      code: 'taxpayer_not_bound',
    });

    const publicToken = await client.issueSelfEmployedToken(ref);
    expect((await frame(`public_token=${publicToken}&stage=check`)).html).toContain('data-bound="false"');
    const bound = await bindCall({ public_token: publicToken });
    expect(bound.res.status).toBe(200);
    expect(bound.res.headers.get('access-control-allow-origin')).toBe('*');
    expect(bound.json).toEqual({ status: 'ok', tax_reference: ref, bound: true });
    expect(await taxpayer(ref)).toMatchObject({ bound: true });

    const again = await bindCall({ public_token: publicToken });
    expect(again.res.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'public_token_used', description: expect.stringMatching(/already used/) });

    expect((await client.startPayoutWithFiscalization(fiscalPayoutRequest(session.id, ref))).status).toBe('in_progress');

    // the check stage of a new token now finds the person bound
    const check = await client.issueSelfEmployedToken(ref);
    expect((await frame(`public_token=${check}&stage=check`)).html).toContain('data-bound="true"');
  });

  it('binding an already bound reference is fine', async () => {
    const publicToken = await clientFor(env.sandbox).issueSelfEmployedToken(TEST_TAXPAYERS.bound);
    const { res, json } = await bindCall({ public_token: publicToken });
    expect(res.status).toBe(200);
    expect(json).toEqual({ status: 'ok', tax_reference: TEST_TAXPAYERS.bound, bound: true });
  });

  it('refuses a person not self-employed without spending the token, an unknown token and a missing one', async () => {
    const publicToken = await clientFor(env.sandbox).issueSelfEmployedToken(TEST_TAXPAYERS.unknown);
    for (let i = 0; i < 2; i++) {
      const { res, json } = await bindCall({ public_token: publicToken });
      expect(res.status).toBe(400);
      expect(json.error).toMatchObject({ code: 'taxpayer_unknown' });
    }
    const unknown = await bindCall({ public_token: 'f'.repeat(64) });
    expect(unknown.res.status).toBe(401);
    expect(unknown.json).toEqual({
      status: 'error',
      error: { code: 'public_token_unknown', description: expect.stringMatching(/not issued/) },
    });
    const missing = await bindCall({});
    expect(missing.res.status).toBe(400);
    expect(missing.json.error).toMatchObject({ code: 'invalid_request', description: 'public_token: is required' });
  });

  it('two presses at once bind once: the other is told the token was used', async () => {
    const ref = freshTaxReference();
    const publicToken = await clientFor(env.sandbox).issueSelfEmployedToken(ref);
    const answers = await Promise.all([bindCall({ public_token: publicToken }), bindCall({ public_token: publicToken })]);
    expect(answers.map((a) => a.res.status).sort()).toEqual([200, 409]);
  });

  it('answers preflight from any origin', async () => {
    const pre = await fetch(`${env.sandbox.url}/widget/self-employed/bind`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://payouts.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('a self-employed widget token is not a tokenization widget token', async () => {
    const publicToken = await clientFor(env.sandbox).issueSelfEmployedToken(TEST_TAXPAYERS.bound);
    const res = await fetch(`${env.sandbox.url}/widget/tokenize`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ public_token: publicToken, card_number: '4242424242424242', expiry: '12/40', security_code: '123' }),
    });
    expect(res.status).toBe(401);
  });
});
