import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/sandbox.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * Saved recipients (src/http/recipients.ts, src/store/recipient-store.ts) and their cards through
 * the collection page (src/http/collect.ts), against real Redis and the sandbox bank: the API for
 * two tenants; the store's atomic steps; card links; a payout's link that saves the card for its
 * recipient; the page of a failed payout, with and without a way to give a new card; the
 * self-employed step. Every answer is kept and searched, at the end, for a card hash.
 */
let p: Pipeline;
let acme: Record<string, string>;
const answers: string[] = [];

beforeAll(async () => {
  p = await startPipeline({ timing: { reconcileIntervalMs: 200, reconcileAfterMs: 1_000 } });
  acme = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('acme', 'test')).secret}` };
});
afterAll(() => p?.close());

const run = randomBytes(3).toString('hex');
let counter = 0;
const uniq = (what: string) => `${what}-${run}-${++counter}`;
/** A hash the sandbox pays out to, ending in `last4`; unique, so a leak names its test. */
const okCard = (last4 = '4242') => ({ number_hash: `sandbox_ok_${run}${++counter}_${last4}`, expiration_date_hash: `exp_${run}` });
const EXPIRED_CARD = { number_hash: 'sandbox_decline_bank_card_expired' };
const DECLINED_CARD = { number_hash: 'sandbox_decline_declined_by_issuer_bank' };
/** A self-employed person the sandbox does not know as bound yet. */
const taxpayer = () => `77${String(Date.now() % 1e6).padStart(6, '0')}${String(++counter).padStart(4, '0')}`;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await p.api(method, path, body, headers);
  answers.push(JSON.stringify(res.body));
  return res;
}
async function collect(url: string, path = '', init: { method?: string; body?: unknown; lang?: string } = {}) {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      'accept-language': init.lang ?? 'en',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  answers.push(text);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HTML
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read bodies freely
  return { status: res.status, body: body as any, text };
}
const postCard = (url: string, card: unknown) => collect(url, '/card', { method: 'POST', body: card });
const bind = (url: string, taxReference: string) =>
  collect(url, '/self-employed', { method: 'POST', body: { tax_reference: taxReference } });
const attr = (html: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(html)?.[1];

async function newRecipient(body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const res = await api('POST', '/v1/recipients', { reference: uniq('user'), full_name: 'Ivanov Ivan Ivanovich', ...body }, headers);
  expect(res.status).toBe(201);
  return res.body as { id: string; reference: string };
}
async function cardLink(id: string, headers: Record<string, string> = {}) {
  const res = await api('POST', `/v1/recipients/${id}/card-links`, undefined, headers);
  expect(res.status).toBe(201);
  return res.body.url as string;
}
async function payoutTo(recipientId: string, extra: Record<string, unknown> = {}) {
  const o = {
    id: uniq('order'),
    amount_details: { amount: 10_000, currency: 'rub' },
    recipient_id: recipientId,
    metadata: 'saved',
    ...extra,
  };
  const res = await api('POST', '/v1/payouts', o);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return { id: o.id, status: res.body.status as string, url: res.body.collect_url as string | undefined };
}
const recipient = async (id: string) => (await api('GET', `/v1/recipients/${id}`)).body;

describe('the recipients API', () => {
  it('creates (201), answers the same body again with the recipient as it stands (200), refuses another body naming the fields (409)', async () => {
    const reference = uniq('user');
    const body = { reference, first_name: 'Ivan', last_name: 'Ivanov', tax_reference: '500100732259' };
    const made = await api('POST', '/v1/recipients', body);
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^rcp_[0-9a-f]{16}$/),
      reference,
      first_name: 'Ivan',
      last_name: 'Ivanov',
      tax_reference: '500100732259',
      card: null,
      self_employed: 'unknown',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(await api('POST', '/v1/recipients', { ...body })).toEqual({ status: 200, body: made.body });
    const other = await api('POST', '/v1/recipients', { reference, full_name: 'Ivanov Ivan', tax_reference: '500100732259' });
    expect(other).toEqual({
      status: 409,
      body: {
        error: {
          code: 'conflict',
          message: `recipient ${reference} exists with a different full_name, first_name, last_name`,
          fields: ['full_name', 'first_name', 'last_name'],
        },
      },
    });
    expect((await api('POST', '/v1/recipients', { ...body, tax_reference: undefined })).body.error.fields).toEqual(['tax_reference']);
    expect(await api('GET', `/v1/recipients/${made.body.id}`)).toEqual({ status: 200, body: made.body });
  });

  it('ten creates with one reference at once make one recipient', async () => {
    const reference = uniq('race');
    const all = await Promise.all(Array.from({ length: 10 }, () => api('POST', '/v1/recipients', { reference, full_name: 'Race Runner' })));
    expect(all.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(all.map((r) => r.body.id)).size).toBe(1);
    expect((await api('GET', `/v1/recipients?reference=${reference}`)).body.data).toHaveLength(1);
  });

  it('refuses a bad body or id naming the field', async () => {
    const bad = async (body: unknown) => (await api('POST', '/v1/recipients', body)).body.error;
    expect(await bad({ full_name: 'x' })).toMatchObject({
      code: 'invalid_request',
      issues: [{ field: 'reference', problem: 'is required' }],
    });
    expect(await bad({ reference: 'a b', full_name: 'x' })).toMatchObject({ issues: [{ field: 'reference' }] });
    expect(await bad({ reference: 'ok', first_name: 'x' })).toMatchObject({
      issues: [{ field: 'full_name', problem: 'needs full_name, or first_name and last_name' }],
    });
    expect(await bad({ reference: 'ok', full_name: 'x', tax_reference: '1234' })).toMatchObject({ issues: [{ field: 'tax_reference' }] });
    expect(await bad({ reference: 'ok', full_name: 'x', card: { number_hash: 'h' } })).toMatchObject({
      issues: [{ field: '(body)', problem: 'has unknown field card: check the spelling' }],
    });
    expect((await api('GET', '/v1/recipients/nope')).body.error).toMatchObject({ code: 'invalid_request', issues: [{ field: 'id' }] });
    expect(await api('GET', '/v1/recipients/rcp_0000000000000000')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', message: 'no recipient rcp_0000000000000000' } },
    });
    expect((await api('GET', '/v1/recipients?limit=0')).body.error).toMatchObject({ issues: [{ field: 'query.limit' }] });
    expect((await api('GET', '/v1/recipients?starting_after=rcp_0000000000000000')).body.error).toMatchObject({
      issues: [{ field: 'query.starting_after', problem: 'no recipient rcp_0000000000000000' }],
    });
    expect((await api('POST', '/v1/recipients', { reference: 'x', full_name: 'y' }, { authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('lists newest first, page by page, from the tenant’s index; `reference` finds one', async () => {
    const mine = [];
    for (let i = 0; i < 5; i++) mine.push(await newRecipient({}, acme));
    const ids = mine.map((r) => r.id).reverse();
    const first = await api('GET', '/v1/recipients?limit=2', undefined, acme);
    expect(first.body).toMatchObject({ has_more: true, next_starting_after: ids[1] });
    expect(first.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(0, 2));
    const second = await api('GET', `/v1/recipients?limit=2&starting_after=${ids[1]}`, undefined, acme);
    expect(second.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(2, 4));
    const last = await api('GET', `/v1/recipients?limit=2&starting_after=${ids[3]}`, undefined, acme);
    expect(last.body.data.map((r: { id: string }) => r.id)).toEqual(ids.slice(4));
    // acme made no others: this is all of them
    expect(last.body).toMatchObject({ has_more: false, next_starting_after: null });
    const one = await api('GET', `/v1/recipients?reference=${mine[2]!.reference}`, undefined, acme);
    expect(one.body).toEqual({ data: [expect.objectContaining({ id: mine[2]!.id })], has_more: false, next_starting_after: null });
    expect((await api('GET', `/v1/recipients?reference=${mine[2]!.reference}`)).body.data).toEqual([]);
  });

  it('another tenant’s recipient is not found, on every route; the same reference is two recipients', async () => {
    const reference = uniq('shared');
    const ours = (await api('POST', '/v1/recipients', { reference, full_name: 'Ours' })).body;
    const theirs = await api('POST', '/v1/recipients', { reference, full_name: 'Theirs' }, acme);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(ours.id);
    const notFound = { status: 404, body: { error: { code: 'not_found', message: `no recipient ${ours.id}` } } };
    expect(await api('GET', `/v1/recipients/${ours.id}`, undefined, acme)).toEqual(notFound);
    expect(await api('POST', `/v1/recipients/${ours.id}/card-links`, undefined, acme)).toEqual(notFound);
    expect((await api('GET', `/v1/recipients?starting_after=${ours.id}`, undefined, acme)).status).toBe(400);
    // a payout of acme's naming our recipient is refused, naming the field
    const refused = await api(
      'POST',
      '/v1/payouts',
      { id: uniq('order'), amount_details: { amount: 100, currency: 'rub' }, recipient_id: ours.id },
      acme,
    );
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('recipient_id');
  });
});

describe('the store', () => {
  const store = () => p.runtime.store.recipients;

  it('keeps the fixed layout: hash, reference, index; a saved card gets a new id and clears the invalid marks', async () => {
    const { created, recipient: r } = await store().create('default', {
      reference: uniq('layout'),
      name: { full_name: 'Layout Person' },
      taxReference: null,
    });
    expect(created).toBe(true);
    const redis = p.runtime.redis;
    expect(await redis.get(`${p.prefix}:recipient-ref:default:${r.reference}`)).toBe(r.id);
    expect(await redis.zscore(`${p.prefix}:recipients:default`, r.id)).toBe(String(Date.parse(r.createdAt)));
    const key = `${p.prefix}:recipient:default:${r.id}`;
    expect(await redis.hgetall(key)).toEqual({
      id: r.id,
      tenant: 'default',
      reference: r.reference,
      name: '{"full_name":"Layout Person"}',
      created_at: r.createdAt,
      updated_at: r.updatedAt,
    });
    const card = { hashes: okCard('1111'), brand: 'visa', last4: '1111' };
    const first = await store().saveCard('default', r.id, card);
    expect(first).toMatch(/^card_[0-9a-f]{16}$/);
    // what transition.lua does when a payout to it fails with an unusable-card code
    await redis.hset(
      key,
      'card_status',
      'invalid',
      'card_invalid_code',
      'bank_card_expired',
      'card_invalid_text',
      'expired',
      'card_invalid_at',
      'x',
    );
    const second = await store().saveCard('default', r.id, { ...card, last4: '2222' });
    expect(second).not.toBe(first);
    const h = await redis.hgetall(key);
    expect(h).toMatchObject({ card_id: second, card_last4: '2222', card_brand: 'visa', card_status: 'active' });
    expect(JSON.parse(h.card_hashes!)).toEqual(card.hashes);
    expect(h).not.toHaveProperty('card_invalid_code');
    expect(h).not.toHaveProperty('card_invalid_at');
    expect((await store().get('default', r.id))!.card).toMatchObject({ id: second, hashes: card.hashes, status: 'active' });
    // another tenant's: absent to every method
    expect(await store().get('acme', r.id)).toBeNull();
    expect(await store().saveCard('acme', r.id, card)).toBeNull();
    expect(await store().markSelfEmployedBound('acme', r.id)).toBe(false);
    expect(await store().createCardLink('acme', r.id, 60_000)).toBeNull();
    expect(await redis.exists(`${p.prefix}:recipient:acme:${r.id}`)).toBe(0);
    expect(await store().markSelfEmployedBound('default', r.id)).toBe(true);
    expect((await store().get('default', r.id))!.selfEmployed).toBe('bound');
  });

  it('a card link is live for its time (PX), takes one card even when two come at once, and remembers it', async () => {
    const r = await newRecipient();
    const link = (await store().createCardLink('default', r.id, 60_000))!;
    const key = `${p.prefix}:collect-recipient:${link.token}`;
    expect(await p.runtime.redis.get(key)).toBe(`default:${r.id}`);
    expect(await p.runtime.redis.pttl(key)).toBeGreaterThan(55_000);
    const found = (await store().cardLink(link.token))!;
    expect(found).toEqual({ token: link.token, owner: { tenant: 'default', recipientId: r.id }, expiresAt: link.expiresAt, spent: null });
    const cards = [okCard('1111'), okCard('2222')];
    const outcomes = await Promise.all(
      cards.map((c, i) => store().saveCardThroughLink(found, { hashes: c, brand: 'visa', last4: `${i + 1}`.repeat(4) })),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok)).toEqual([{ ok: false, why: 'used' }]);
    const won = outcomes.find((o) => o.ok) as { cardId: string };
    expect((await store().cardLink(link.token))!.spent).toEqual({ cardId: won.cardId, last4: expect.stringMatching(/^(1111|2222)$/) });
    expect((await store().get('default', r.id))!.card!.id).toBe(won.cardId);

    const short = (await store().createCardLink('default', r.id, 150))!;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const gone = (await store().cardLink(short.token))!;
    expect(gone).toMatchObject({ owner: null, spent: null, expiresAt: short.expiresAt });
    expect(await store().saveCardThroughLink(gone, { hashes: okCard(), brand: 'visa', last4: '4242' })).toEqual({
      ok: false,
      why: 'expired',
    });
    expect(await store().cardLink('never-issued-token-0000000000')).toBeNull();
  });
});

describe('card links through the collection page', () => {
  it('the page is worded for saving a card, with no amount; the card saved has the sandbox’s brand and last 4; single use', async () => {
    const r = await newRecipient();
    const url = await cardLink(r.id);
    expect(url).toMatch(new RegExp(`^${p.url}/collect/[A-Za-z0-9_-]{32}$`));
    const page = await collect(url);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Payouts from Test Payer LLC will go to this card');
    expect(page.text).not.toContain('class="amount"');
    expect(attr(page.text, 'data-ask')).toBe('card');
    expect(attr(page.text, 'data-public-token')).toBeTruthy();
    expect((await collect(url, '', { lang: 'ru' })).text).toContain('Выплаты от Test Payer LLC будут приходить на эту карту');

    const saved = await postCard(url, okCard('4242'));
    expect(saved).toMatchObject({
      status: 201,
      body: { status: 'saved', phase: 'saved', last4: '4242', text: 'Card •••• 4242 saved. Payouts from Test Payer LLC will go to it.' },
    });
    const view = await recipient(r.id);
    expect(view.card).toEqual({
      brand: expect.stringMatching(/^(visa|mir)$/),
      last4: '4242',
      status: 'active',
      invalid_reason: null,
      saved_at: expect.any(String),
    });
    const again = await postCard(url, okCard('4444'));
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'link_used' } } });
    expect((await recipient(r.id)).card.last4).toBe('4242');
    const after = await collect(url);
    expect(after.status).toBe(200);
    expect(attr(after.text, 'data-ask')).toBe('');
    expect(after.text).toContain('Card •••• 4242 saved.');
    expect((await collect(url, '/status')).body).toEqual({
      phase: 'saved',
      text: 'Card •••• 4242 saved. Payouts from Test Payer LLC will go to it.',
      last4: '4242',
      ask: null,
    });
  });

  it('several links may be out at once, each single-use; an expired one says so and takes no card', async () => {
    const r = await newRecipient();
    const [a, b] = [await cardLink(r.id), await cardLink(r.id)];
    expect(a).not.toBe(b);
    expect((await postCard(b, okCard('2222'))).status).toBe(201);
    expect((await postCard(a, okCard('1111'))).status).toBe(201);
    expect((await recipient(r.id)).card.last4).toBe('1111');

    const short = (await p.runtime.store.recipients.createCardLink('default', r.id, 100))!;
    await new Promise((resolve) => setTimeout(resolve, 250));
    const expired = `${p.url}/collect/${short.token}`;
    const page = await collect(expired);
    expect(page.status).toBe(410);
    expect(page.text).toContain('This link has expired. Ask Test Payer LLC for a new one.');
    expect(await postCard(expired, okCard())).toMatchObject({ status: 410, body: { error: { code: 'link_expired' } } });
    expect((await recipient(r.id)).card.last4).toBe('1111');
  });

  it('a card the bank does not know is refused, and the link still takes the next one', async () => {
    const r = await newRecipient();
    const url = await cardLink(r.id);
    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'token/info', kind: 'error', code: 'card_number_does_not_exist', times: 1 }] });
    expect(await postCard(url, okCard())).toMatchObject({ status: 400, body: { error: { code: 'card_refused' } } });
    expect((await postCard(url, okCard('5555'))).status).toBe(201);
  });
});

describe('payouts to a saved recipient', () => {
  it('two payouts to one recipient with ONE collection link: the card given for the first pays the second', async () => {
    const r = await newRecipient();
    const first = await payoutTo(r.id);
    expect(first.status).toBe('awaiting_card');
    expect(first.url).toBeTruthy();
    expect((await postCard(first.url!, okCard('4242'))).status).toBe(202);
    const view = await recipient(r.id);
    expect(view.card).toMatchObject({ last4: '4242', status: 'active' });
    const second = await payoutTo(r.id);
    expect(second).toMatchObject({ status: 'queued', url: undefined });
    await p.waitFor([first.id, second.id], ['succeeded']);
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === `payout:${first.id}` || e.metadata === `payout:${second.id}`)).toHaveLength(
      2,
    );
    const paid = (await api('GET', `/v1/payouts/${second.id}`)).body;
    expect(paid).toMatchObject({ status: 'succeeded', recipient_id: r.id, card: { last4: '4242' }, collect_url: null });
  });

  it('a saved card declined as expired is marked invalid; a new card through a card link pays the next payout', async () => {
    const r = await newRecipient();
    expect((await postCard(await cardLink(r.id), EXPIRED_CARD)).status).toBe(201);
    const declined = await payoutTo(r.id);
    expect(declined.status).toBe('queued');
    await p.waitFor([declined.id], ['failed']);
    expect((await api('GET', `/v1/payouts/${declined.id}`)).body.error).toMatchObject({ code: 'bank_card_expired' });
    const marked = await recipient(r.id);
    expect(marked.card).toMatchObject({
      status: 'invalid',
      invalid_reason: { code: 'bank_card_expired', description: expect.any(String) },
    });
    // while the card is invalid, a payout to them waits for a card behind a link
    const waiting = await payoutTo(r.id);
    expect(waiting.status).toBe('awaiting_card');
    await api('POST', `/v1/payouts/${waiting.id}/cancel`);

    expect((await postCard(await cardLink(r.id), okCard('4444'))).status).toBe(201);
    expect((await recipient(r.id)).card).toMatchObject({ last4: '4444', status: 'active', invalid_reason: null });
    const paid = await payoutTo(r.id);
    expect(paid.status).toBe('queued');
    await p.waitFor([paid.id], ['succeeded']);
  });
});

describe("a failed payout's page", () => {
  it('with a saved recipient whose card the bank called unusable: the widget again; the new card is saved, once; the payout stays failed', async () => {
    const r = await newRecipient();
    const payout = await payoutTo(r.id);
    expect((await postCard(payout.url!, EXPIRED_CARD)).status).toBe(202);
    await p.waitFor([payout.id], ['failed']);
    await eventually(async () => ((await recipient(r.id)).card?.status === 'invalid' ? true : undefined), 5_000, 'the card marked invalid');
    const page = await collect(payout.url!);
    expect(page.status).toBe(200);
    expect(attr(page.text, 'data-phase')).toBe('failed');
    expect(attr(page.text, 'data-ask')).toBe('card');
    expect(attr(page.text, 'data-public-token')).toBeTruthy();
    expect(page.text).toContain('Payouts from Test Payer LLC will go to the new card.');
    expect((await collect(payout.url!, '/status')).body).toEqual({
      phase: 'failed',
      text: 'The payout failed: the card has expired. Enter a new card below, and Test Payer LLC can send the payout again.',
      last4: expect.any(String),
      ask: 'card',
    });
    const saved = await postCard(payout.url!, okCard('4242'));
    expect(saved).toMatchObject({
      status: 201,
      body: {
        status: 'saved',
        phase: 'failed',
        last4: '4242',
        text: 'The payout failed: the card has expired. New card •••• 4242 saved. Test Payer LLC can now send the payout again.',
      },
    });
    expect((await recipient(r.id)).card).toMatchObject({ last4: '4242', status: 'active' });
    expect(await postCard(payout.url!, okCard('1111'))).toMatchObject({ status: 409, body: { error: { code: 'link_used' } } });
    expect((await recipient(r.id)).card.last4).toBe('4242');
    expect(attr((await collect(payout.url!)).text, 'data-ask')).toBe('');
    expect((await api('GET', `/v1/payouts/${payout.id}`)).body.status).toBe('failed');
    // and the next payout to them needs no link
    const next = await payoutTo(r.id);
    expect(next.status).toBe('queued');
    await p.waitFor([next.id], ['succeeded']);
  });

  it('with a saved recipient, for a reason not about the card: no widget; the same card next time', async () => {
    const r = await newRecipient();
    const payout = await payoutTo(r.id);
    expect((await postCard(payout.url!, DECLINED_CARD)).status).toBe(202);
    await p.waitFor([payout.id], ['failed']);
    const page = await collect(payout.url!);
    expect(attr(page.text, 'data-ask')).toBe('');
    expect(page.text).toContain(
      'The payout failed: the card’s bank declined it. Ask your bank why. Test Payer LLC has been told. If they send the payout again, it will go to the same card.',
    );
    expect(await postCard(payout.url!, okCard())).toMatchObject({ status: 409, body: { error: { code: 'link_used' } } });
    expect((await recipient(r.id)).card.status).toBe('active');
  });
});

describe('the self-employed step', () => {
  it('a payout with fiscalization: the bind widget first, then the card; a wrong tax reference is refused', async () => {
    const inn = taxpayer();
    const r = await newRecipient({ tax_reference: inn });
    const payout = await payoutTo(r.id, { fiscalization: { services: [{ name: 'Design', amount: 10_000 }] } });
    const page = await collect(payout.url!);
    expect(attr(page.text, 'data-phase')).toBe('self_employed');
    expect(attr(page.text, 'data-ask')).toBe('self_employed');
    expect(attr(page.text, 'data-tax-reference')).toBe(inn);
    expect(attr(page.text, 'data-bind-token')).toBeTruthy();
    expect(attr(page.text, 'data-public-token')).toBeTruthy();
    expect(page.text).toContain(`${p.sandbox.url}/self-employed.js`);
    expect(page.text).toContain('<div id="bank131-tokenize" hidden></div>');
    expect((await collect(payout.url!, '/status')).body).toMatchObject({ phase: 'self_employed', ask: 'self_employed' });
    // the card before the binding: refused
    expect(await postCard(payout.url!, okCard())).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(await bind(payout.url!, '500100732259')).toMatchObject({
      status: 400,
      body: {
        error: { code: 'invalid_request', issues: [{ field: 'tax_reference', problem: 'is not the tax reference this link is for' }] },
      },
    });
    expect(await bind(payout.url!, 'x')).toMatchObject({ status: 400, body: { error: { issues: [{ field: 'tax_reference' }] } } });
    // what the page posts when the sandbox's widget says bound (the browser test presses the button itself)
    await p.sandbox.bank.bindWithSelfEmployedToken(attr(page.text, 'data-bind-token')!);
    const bound = await bind(payout.url!, inn);
    expect(bound).toMatchObject({
      status: 200,
      body: {
        status: 'bound',
        phase: 'card',
        ask: 'card',
        hint: 'Enter the card for this payout.',
        text: 'Done: Bank 131 can register your income.',
      },
    });
    expect((await recipient(r.id)).self_employed).toBe('bound');
    expect((await bind(payout.url!, inn)).status).toBe(200); // again: the same answer
    expect(attr((await collect(payout.url!)).text, 'data-ask')).toBe('card');
    expect((await postCard(payout.url!, okCard())).status).toBe(202);
    await p.waitFor([payout.id], ['succeeded']);
    // bound: the next payout's link (none is needed: the card is saved) and a card link skip the step
    expect(attr((await collect(await cardLink(r.id))).text, 'data-ask')).toBe('card');
  });

  it('a payout without a saved recipient keeps the binding on its link', async () => {
    const inn = taxpayer();
    const o = {
      id: uniq('order'),
      amount_details: { amount: 10_000, currency: 'rub' },
      recipient: { full_name: 'Self Employed' },
      fiscalization: { tax_reference: inn, services: [{ name: 'Design', amount: 10_000 }] },
    };
    const res = await api('POST', '/v1/payouts', o);
    expect(res.body.status).toBe('awaiting_card');
    const url = res.body.collect_url as string;
    expect(attr((await collect(url)).text, 'data-ask')).toBe('self_employed');
    expect((await bind(url, inn)).body).toMatchObject({ phase: 'card', ask: 'card' });
    expect(attr((await collect(url)).text, 'data-ask')).toBe('card');
  });

  it('a recipient’s card link asks a self-employed recipient to bind first', async () => {
    const inn = taxpayer();
    const r = await newRecipient({ tax_reference: inn });
    const url = await cardLink(r.id);
    const page = await collect(url);
    expect(attr(page.text, 'data-ask')).toBe('self_employed');
    expect((await bind(url, inn)).body).toMatchObject({ phase: 'card', ask: 'card', hint: 'Enter the card for your payouts.' });
    expect((await recipient(r.id)).self_employed).toBe('bound');
    expect((await postCard(url, okCard())).status).toBe(201);
  });

  it('taxpayer_not_bound: the page shows the bind widget again, then asks to have the payout sent again', async () => {
    const inn = taxpayer();
    const r = await newRecipient({ tax_reference: inn });
    const payout = await payoutTo(r.id, { fiscalization: { services: [{ name: 'Design', amount: 10_000 }] } });
    // the page is told "bound" but the bank never bound them: the payout fails
    expect((await bind(payout.url!, inn)).status).toBe(200);
    expect((await postCard(payout.url!, okCard())).status).toBe(202);
    await p.waitFor([payout.id], ['failed']);
    expect((await api('GET', `/v1/payouts/${payout.id}`)).body.error).toMatchObject({ code: 'taxpayer_not_bound' });
    const page = await collect(payout.url!);
    expect(attr(page.text, 'data-ask')).toBe('self_employed');
    expect(attr(page.text, 'data-public-token')).toBeUndefined();
    expect(page.text).toContain('Then ask Test Payer LLC to send the payout again.');
    const bound = await bind(payout.url!, inn);
    expect(bound.body).toMatchObject({
      status: 'bound',
      phase: 'failed',
      ask: null,
      text: 'The payout failed: you had not allowed Bank 131 to register your income as self-employed. Done: Bank 131 can register your income. Ask Test Payer LLC to send the payout again.',
    });
    expect(attr((await collect(payout.url!)).text, 'data-ask')).toBe('');
  });

  it('taxpayer_unknown: plain words, no widget', async () => {
    const r = await newRecipient({ tax_reference: '000012345678' });
    await p.runtime.store.recipients.markSelfEmployedBound('default', r.id);
    const payout = await payoutTo(r.id, { fiscalization: { services: [{ name: 'Design', amount: 10_000 }] } });
    expect((await postCard(payout.url!, okCard())).status).toBe(202);
    await p.waitFor([payout.id], ['failed']);
    const page = await collect(payout.url!);
    expect(attr(page.text, 'data-ask')).toBe('');
    expect(page.text).toContain('the tax service does not know you as self-employed');
    expect(page.text).toContain('Test Payer LLC has been told.');
    expect(await bind(payout.url!, '000012345678')).toMatchObject({ status: 409, body: { error: { code: 'link_used' } } });
  });
});

describe('card hashes', () => {
  it('appear in no answer: API, pages, status, card and binding answers', () => {
    expect(answers.length).toBeGreaterThan(50);
    for (const a of answers) {
      expect(a).not.toMatch(/sandbox_(ok|decline)_/);
      expect(a).not.toContain(`exp_${run}`);
      expect(a).not.toMatch(/card_hashes|number_hash|card_[0-9a-f]{16}/);
    }
  });
});
