import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { signBody } from '../../src/bank131/signature.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { keys } from '../support/keys.js';
import { eventually } from '../support/sandbox.js';
import { readyToConfirm } from '../support/webhooks.js';

/**
 * Card collection links over HTTP (the browser test walks the same path in chromium): single use,
 * unknown and expired tokens, the expiry of a payout nobody gave a card for, and the headers a
 * card page needs. COLLECT_TTL is 2 s here.
 */
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ timing: { collectTtlMs: 2_000, reconcileIntervalMs: 150, reconcileAfterMs: 400 } });
});
afterAll(() => p?.close());

async function withoutCard(overrides: Record<string, unknown> = {}) {
  const o = order({ callback_url: p.upstream.url, ...overrides });
  delete (o as { encrypted_card?: unknown }).encrypted_card;
  const res = await p.api('POST', '/v1/payouts', o);
  expect(res.status).toBe(202);
  expect(res.body).toEqual({
    id: o.id,
    status: 'awaiting_card',
    collect_url: expect.stringMatching(new RegExp(`^${p.url}/collect/[A-Za-z0-9_-]{32}$`)),
  });
  const url = res.body.collect_url as string;
  return { o, url, token: url.split('/').pop()! };
}
const page = (url: string, lang = 'ru') => fetch(url, { headers: { 'accept-language': lang } });
const postCard = (url: string, card: unknown) =>
  fetch(`${url}/card`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(card) });
const callbacksFor = (id: string) =>
  p.upstream.received
    .map((r) => JSON.parse(r.body.toString()) as { type: string; payout: { id: string } })
    .filter((c) => c.payout.id === id)
    .map((c) => c.type);

describe('a payout accepted without a card', () => {
  it('waits in awaiting_card with its link in reads and lists; the same order again answers the same link', async () => {
    const { o, url } = await withoutCard();
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({
      status: 'awaiting_card',
      collect_url: url,
      card: { last4: null },
    });
    expect(await p.api('POST', '/v1/payouts', { ...o })).toMatchObject({
      status: 200,
      body: { status: 'awaiting_card', collect_url: url },
    });
    const batch = await p.api('POST', '/v1/payouts/batch', { payouts: [o] });
    expect(batch.body.results[0]).toMatchObject({ status: 'existing', state: 'awaiting_card', collect_url: url });
  });

  it("the page sends the headers of a card form: a content security policy for our origin and the widget's, no framing", async () => {
    const { url } = await withoutCard();
    const res = await page(url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain(`script-src 'self' ${new URL(p.sandbox.url).origin}`);
    expect(csp).toContain(`frame-src ${new URL(p.sandbox.url).origin}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<html lang="ru">');
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script
    expect(await (await page(url, 'en-GB,en;q=0.9')).text()).toContain('<html lang="en">');
  });

  it('page loads share one widget token per link, until the widget spends it on a card', async () => {
    const { url } = await withoutCard();
    const tokenOf = async () => /data-public-token="([^"]+)"/.exec(await (await page(url)).text())?.[1];
    const issued = () => p.sandbox.bank.calls.filter((c) => c.endpoint === 'token').length;
    const before = issued();
    const first = await tokenOf();
    expect(first).toBeTruthy();
    expect(await Promise.all([tokenOf(), tokenOf(), tokenOf()])).toEqual([first, first, first]);
    expect(issued() - before).toBe(1);
    // a card the bank does not know is refused; the reloaded page gets a token the widget can use
    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'token/info', kind: 'error', code: 'card_number_does_not_exist', times: 1 }] });
    expect((await postCard(url, { number_hash: 'sandbox_ok_4242' })).status).toBe(400);
    const next = await tokenOf();
    expect(next).toBeTruthy();
    expect(next).not.toBe(first);
    expect(issued() - before).toBe(2);
  });

  it('a card given once starts the payout; the link cannot be used again', async () => {
    const { o, url } = await withoutCard();
    const first = await postCard(url, { number_hash: 'sandbox_ok_4242' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ status: 'queued', last4: '4242', amount: expect.stringMatching(/^100,00\s₽$/) });
    const second = await postCard(url, { number_hash: 'sandbox_ok_4242' });
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({ error: { code: 'link_used', message: 'a card was already given through this collection link' } });
    await p.waitFor([o.id], ['succeeded']);
    await eventually(() => callbacksFor(o.id).length > 0, 5_000, 'the callback');
    expect(callbacksFor(o.id)).toEqual(['payout.succeeded']);
    const status = await (await fetch(`${url}/status`, { headers: { 'accept-language': 'en' } })).json();
    expect(status).toEqual({
      phase: 'succeeded',
      text: expect.stringMatching(/^Done: RUB\s100\.00 sent to card •••• 4242\.$/),
      last4: '4242',
      ask: null,
    });
    // the audit says how the card came
    const audit = (await p.api('GET', `/v1/payouts/${o.id}`)).body.audit as Array<{ why: string }>;
    expect(audit.map((e) => e.why)).toContain('card •••• 4242 given through the collection link');
  });

  it('the bank reporting another card than the one the recipient gave is cancelled, never confirmed', async () => {
    // ready_to_confirm comes late from the sandbox: the bank's word here is one the test signs itself
    p.sandbox.bank.setKnobs({ readyDelayMs: 3_000 });
    try {
      const { o, url } = await withoutCard();
      expect((await postCard(url, { number_hash: 'sandbox_ok_4242' })).status).toBe(202);
      await eventually(async () => ((await p.runtime.store.get(o.id))?.state === 'started' ? true : undefined), 5_000, 'started');
      const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
      const other = readyToConfirm(sessionId, {
        metadata: bankMetadataFor(o.id),
        payout: { payout_details: { type: 'card', card: { last4: '9999', brand: 'visa' } } },
      });
      const body = JSON.stringify(other);
      expect(
        (
          await fetch(`${p.url}/webhooks/bank131`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-partner-sign': signBody(body, keys.bankPrivate) },
            body,
          })
        ).status,
      ).toBe(200);
      await p.waitFor([o.id], ['cancelled', 'succeeded', 'failed']);
      const payout = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
      expect(payout).toMatchObject({
        status: 'cancelled',
        error: { code: 'policy_card_mismatch', description: 'bank reports card •••• 9999, the card given for this payout ends 4242' },
      });
      expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(o.id))).toEqual([]);
    } finally {
      p.sandbox.bank.setKnobs({ readyDelayMs: 5 });
    }
  });

  it('two cards sent at once: one wins, the other is told the link is used', async () => {
    const { o, url } = await withoutCard();
    const answers = await Promise.all([
      postCard(url, { number_hash: 'sandbox_ok_4242' }),
      postCard(url, { number_hash: 'sandbox_ok_1111' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    await p.waitFor([o.id], ['succeeded']);
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === `payout:${o.id}`)).toHaveLength(1);
  });

  it('declined, with no saved recipient: the page offers no card, says what failed and what happens next; a card is refused', async () => {
    const { o, url } = await withoutCard();
    expect((await postCard(url, { number_hash: 'sandbox_decline_declined_by_issuer_bank' })).status).toBe(202);
    await p.waitFor([o.id], ['failed']);
    const html = await (await page(url, 'en')).text();
    expect(html).toContain('data-phase="failed"');
    expect(html).toContain('data-ask=""');
    expect(html).not.toContain('data-public-token');
    expect(html).toContain('<div id="bank131-tokenize" hidden></div>');
    expect(html).toContain(
      'The payout failed: the bank that issued the card declined it. Your bank can tell you why. Test Payer LLC has been told. If they send the payout again, you will get a new link.',
    );
    expect(html).not.toMatch(/another card/);
    const ru = await (await page(url, 'ru')).text();
    expect(ru).toContain('Test Payer LLC уже знает об этом. Если выплату отправят снова, вы получите новую ссылку.');
    expect(await (await postCard(url, { number_hash: 'sandbox_ok_4242' })).json()).toMatchObject({ error: { code: 'link_used' } });
    expect(await (await fetch(`${url}/status`, { headers: { 'accept-language': 'en' } })).json()).toMatchObject({
      phase: 'failed',
      ask: null,
    });
  });

  it('the self-employed step is refused where the link is for nobody self-employed', async () => {
    const { url } = await withoutCard();
    const bind = (u: string) =>
      fetch(`${u}/self-employed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"tax_reference":"500100732259"}',
      });
    expect(await (await bind(url)).json()).toMatchObject({
      error: { code: 'invalid_request', issues: [{ field: 'tax_reference', problem: 'this link is for no self-employed recipient' }] },
    });
    expect((await bind(`${p.url}/collect/${'z'.repeat(32)}`)).status).toBe(404);
  });

  it('an unknown token gets a clear page and a 404; a malformed card body a 400 naming the field', async () => {
    const unknown = await page(`${p.url}/collect/${'x'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('Ссылка не найдена');
    expect(await (await postCard(`${p.url}/collect/${'x'.repeat(32)}`, { number_hash: 'h' })).json()).toMatchObject({
      error: { code: 'not_found' },
    });
    const { url } = await withoutCard();
    const bad = await postCard(url, { number: '4242424242424242' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { issues: unknown } }).error.issues).toEqual([
      { field: 'number_hash', problem: 'is required' },
      { field: '(body)', problem: 'has unknown field number: check the spelling' },
    ]);
  });

  it('expires after COLLECT_TTL: the page says so, a card is refused, the payout ends expired and upstream is told once', async () => {
    const { o, url } = await withoutCard();
    await p.waitFor([o.id], ['expired'], 10_000);
    const res = await page(url, 'en');
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('This link has expired. Ask the sender for a new one.');
    expect(await (await postCard(url, { number_hash: 'sandbox_ok_4242' })).json()).toEqual({
      error: { code: 'link_expired', message: 'this collection link has expired' },
    });
    await eventually(() => callbacksFor(o.id).length > 0, 5_000, 'the expiry callback');
    expect(callbacksFor(o.id)).toEqual(['payout.expired']);
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({
      status: 'expired',
      error: { code: 'collect_expired' },
      collect_url: null,
    });
  });
});

describe('widget tokens and limits', () => {
  it('POST /v1/widget-tokens gives a single-use public token for an upstream page that hosts the widget', async () => {
    const res = await p.api('POST', '/v1/widget-tokens');
    expect(res.status).toBe(201);
    expect(res.body.public_token).toMatch(/^[0-9a-f]{64}$/);
    expect((await p.api('POST', '/v1/widget-tokens', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('the collect routes are rate-limited per client, in the error shape', async () => {
    const url = `${p.url}/collect/${'y'.repeat(32)}/card`;
    let last: Response | undefined;
    for (let i = 0; i < 61; i++)
      last = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"number_hash":"h"}' });
    expect(last!.status).toBe(429);
    expect(await last!.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/^too many requests: try again in \d+ s$/) },
    });
  });
});
