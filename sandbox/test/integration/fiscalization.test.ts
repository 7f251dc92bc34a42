import { afterEach, describe, expect, it } from 'vitest';
import { NPD_INCOME_LIMIT, TEST_TAXPAYERS } from '../../src/taxpayers.js';
import { TEST_CARDS } from '../../src/test-cards.js';
import type { BankRefusal, WireSession } from '../support/client.js';
import {
  clientFor,
  fiscalPayoutRequest,
  fiscalizationDetails,
  freshTaxReference,
  startPayoutRequest,
  useSandboxWithReceiver,
} from '../support/sandbox.js';

// Self-employed (НПД) payouts: session/start|init/payout/fiscalization, the sandbox's taxpayer
// registry and its refusals, and the receipt a paid one carries.

const env = useSandboxWithReceiver();
const { waitForWebhook } = env;

afterEach(() => {
  env.sandbox.bank.setKnobs({ npdUnavailable: false, faults: [] });
});

async function taxpayerCall(ref: string, bound?: boolean) {
  const res = await fetch(`${env.sandbox.url}/sandbox/taxpayers/${ref}`, {
    method: bound === undefined ? 'GET' : 'PUT',
    ...(bound === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bound }) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { error?: { code: string } } };
}

async function bound(): Promise<string> {
  const ref = freshTaxReference();
  expect((await taxpayerCall(ref, true)).status).toBe(200);
  return ref;
}

/** Runs a started session to payment_finished; answers the finished webhook's session. */
async function finish(sessionId: string, version: 'v1' | 'v2' = 'v2'): Promise<WireSession> {
  await waitForWebhook(sessionId, 'ready_to_confirm');
  await clientFor(env.sandbox, { apiVersion: version }).confirmSession(sessionId);
  const [finished] = await waitForWebhook(sessionId, 'payment_finished');
  return finished.session;
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as BankRefusal,
  );

describe('a self-employed payout', () => {
  it.each(['v1', 'v2'] as const)(
    'start/payout/fiscalization echoes the details, and the paid payout carries the receipt with a link (%s)',
    async (version) => {
      const client = clientFor(env.sandbox, { apiVersion: version });
      const session = await client.createSession();
      const request = fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound, 30_000);
      request.fiscalization_details = fiscalizationDetails(TEST_TAXPAYERS.bound, 30_000, 3);
      const started = await client.startPayoutWithFiscalization(request, { idempotencyKey: `fs-${session.id}` });
      const sent = request.fiscalization_details.professional_income_taxpayer;
      expect(started.payouts[0]).toMatchObject({ status: 'in_progress', fiscalization_details: { professional_income_taxpayer: sent } });
      expect(started.payouts[0]!.fiscalization_details).toEqual({ professional_income_taxpayer: sent });

      const finished = await finish(session.id, version);
      const paid = finished.payouts[0]!;
      expect(paid.status).toBe('succeeded');
      const receipt = (paid.fiscalization_details as { professional_income_taxpayer: { receipt: { id: string; link: string } } })
        .professional_income_taxpayer.receipt;
      expect(receipt).toEqual({
        id: expect.stringMatching(/^rcpt_\d+$/),
        link: `${env.sandbox.url}/sandbox/receipts/${receipt.id}`,
      });
      expect(paid.fiscalization_details).toEqual({ professional_income_taxpayer: { ...sent, receipt } });
      expect((await client.sessionStatus(session.id)).payouts[0]!.fiscalization_details).toEqual(paid.fiscalization_details);

      // the receipt page, for people, and as JSON
      const page = await fetch(receipt.link);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await page.text();
      for (const text of [receipt.id, TEST_TAXPAYERS.bound, 'Дизайн логотипа', '300,00 ₽', 'ООО Ромашка', paid.finished_at as string]) {
        expect(html).toContain(text);
      }
      const json = await (await fetch(`${receipt.link}?format=json`)).json();
      expect(json).toMatchObject({
        id: receipt.id,
        link: receipt.link,
        session_id: session.id,
        payout_id: paid.id,
        issued_at: paid.finished_at,
        tax_reference: TEST_TAXPAYERS.bound,
        payer_type: 'legal',
        payer_name: 'ООО Ромашка',
        services: [{ name: 'Дизайн логотипа', amount_details: { amount: 10_000, currency: 'rub' }, quantity: 3 }],
        total: { amount: 30_000, currency: 'rub' },
        returned: { amount: 0, currency: 'rub' },
      });
    },
  );

  it('init/payout/fiscalization makes and starts the session in one call', async () => {
    const client = clientFor(env.sandbox);
    const { session_id: _, ...body } = fiscalPayoutRequest('', TEST_TAXPAYERS.bound);
    const started = await client.initPayoutWithFiscalization(body);
    expect(started).toMatchObject({ status: 'in_progress', payouts: [{ fiscalization_details: body.fiscalization_details }] });
    const finished = await finish(started.id);
    expect(finished.payouts[0]).toMatchObject({ status: 'succeeded', amounts: { fee: { merchant_fee: { amount: 50 } } } });
  });

  it('a declined self-employed payout gets no receipt', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    const request = fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound);
    request.payout_details.card.encrypted_card.number_hash = TEST_CARDS.declinedByIssuer;
    await client.startPayoutWithFiscalization(request);
    const finished = await finish(session.id);
    expect(finished.payouts[0]).toMatchObject({ status: 'failed' });
    expect(finished.payouts[0]!.fiscalization_details).toEqual({
      professional_income_taxpayer: request.fiscalization_details.professional_income_taxpayer,
    });
    expect((await fetch(`${env.sandbox.url}/sandbox/receipts/rcpt_${session.id.slice(3)}`)).status).toBe(404);
  });

  it('plain start/payout stays without fiscalization, whatever its body carries', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    const started = await client.startPayout({
      ...startPayoutRequest(session.id),
      fiscalization_details: fiscalizationDetails(TEST_TAXPAYERS.bound),
    });
    expect(started.payouts[0]!.fiscalization_details).toBeUndefined();
    const finished = await finish(session.id);
    expect(finished.payouts[0]!.fiscalization_details).toBeUndefined();
  });
});

describe('refusals at start: nothing is started', () => {
  it.each([
    ['an unknown taxpayer', TEST_TAXPAYERS.unknown, 'taxpayer_unknown'],
    ['any 0000… reference', '000099999999', 'taxpayer_unknown'],
    ['an unbound taxpayer', TEST_TAXPAYERS.unbound, 'taxpayer_not_bound'],
    ['a reference never bound', '771111111111', 'taxpayer_not_bound'],
    ['a taxpayer over the income limit', TEST_TAXPAYERS.overLimit, 'taxpayer_income_exceeds_amount_limit'],
  ])('%s: %s is refused with %s (HTTP 400), start and init alike', async (_what, ref, code) => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    const err = await refusal(
      client.startPayoutWithFiscalization(fiscalPayoutRequest(session.id, ref), { idempotencyKey: `r-${session.id}` }),
    );
    expect(err).toMatchObject({ code, httpStatus: 400 });
    expect((await client.sessionStatus(session.id)).status).toBe('created');
    const sessionsBefore = env.sandbox.bank.sessionCount();
    const { session_id: _, ...body } = fiscalPayoutRequest('', ref);
    expect(await refusal(client.initPayoutWithFiscalization(body))).toMatchObject({ code, httpStatus: 400 });
    expect(env.sandbox.bank.sessionCount()).toBe(sessionsBefore);
  });

  it('the yearly income counts the self-employed payouts paid: up to the limit exactly, not a kopeck over', async () => {
    const client = clientFor(env.sandbox);
    const ref = await bound();
    const first = await client.createSession();
    await client.startPayoutWithFiscalization(fiscalPayoutRequest(first.id, ref, NPD_INCOME_LIMIT - 100));
    // not paid yet: nothing counts
    expect((await taxpayerCall(ref)).json).toMatchObject({ income: { amount: 0 } });
    await finish(first.id);
    expect((await taxpayerCall(ref)).json).toMatchObject({
      tax_reference: ref,
      self_employed: true,
      bound: true,
      income: { year: expect.any(Number), amount: NPD_INCOME_LIMIT - 100, currency: 'rub' },
      income_limit: { amount: NPD_INCOME_LIMIT, currency: 'rub' },
    });
    const over = await client.createSession();
    expect(await refusal(client.startPayoutWithFiscalization(fiscalPayoutRequest(over.id, ref, 101)))).toMatchObject({
      code: 'taxpayer_income_exceeds_amount_limit',
    });
    await client.startPayoutWithFiscalization(fiscalPayoutRequest(over.id, ref, 100));
  });

  it('malformed or missing fiscalization_details, and services that do not add up, are invalid_request naming the field', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    const base = fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...base, fiscalization_details: undefined }, /^fiscalization_details: is required/],
      [{ ...base, fiscalization_details: {} }, /^fiscalization_details\.professional_income_taxpayer: is required/],
      [
        {
          ...base,
          fiscalization_details: {
            professional_income_taxpayer: { ...base.fiscalization_details.professional_income_taxpayer, tax_reference: '12345' },
          },
        },
        /professional_income_taxpayer\.tax_reference: must be 12 digits/,
      ],
      [
        {
          ...base,
          fiscalization_details: {
            professional_income_taxpayer: { ...base.fiscalization_details.professional_income_taxpayer, services: [] },
          },
        },
        /professional_income_taxpayer\.services: must list at least one service/,
      ],
      [
        {
          ...base,
          fiscalization_details: {
            professional_income_taxpayer: {
              ...base.fiscalization_details.professional_income_taxpayer,
              services: [{ name: 'x', amount_details: { amount: 10_000, currency: 'rub' }, quantity: 0 }],
            },
          },
        },
        /services\.0\.quantity: must be 1 or more/,
      ],
      [
        {
          ...base,
          fiscalization_details: {
            professional_income_taxpayer: { ...base.fiscalization_details.professional_income_taxpayer, payer_type: 'company' },
          },
        },
        /payer_type: must be legal, individual or foreign/,
      ],
      [
        { ...base, fiscalization_details: fiscalizationDetails(TEST_TAXPAYERS.bound, 9_000) },
        /services: add up to 9000 .*not to the payout's amount_details\.amount 10000/,
      ],
    ];
    for (const [body, description] of cases) {
      const err = await refusal(client.startPayoutWithFiscalization(body));
      expect(err, JSON.stringify(body.fiscalization_details)).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
      expect(err!.description).toMatch(description);
    }
    expect((await client.sessionStatus(session.id)).status).toBe('created');
  });

  it('npdUnavailable: the tax service is down, 500 npd_service_internal_error, nothing started; a retry with the same key goes through', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    env.sandbox.bank.setKnobs({ npdUnavailable: true });
    const request = fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound);
    expect(await refusal(client.startPayoutWithFiscalization(request, { idempotencyKey: `npd-${session.id}` }))).toMatchObject({
      code: 'npd_service_internal_error',
      httpStatus: 500,
    });
    const { session_id: _, ...body } = request;
    expect(await refusal(client.initPayoutWithFiscalization(body))).toMatchObject({ code: 'npd_service_internal_error' });
    // plain payouts do not need the tax service
    const plain = await client.createSession();
    await client.startPayout(startPayoutRequest(plain.id));
    expect((await client.sessionStatus(session.id)).status).toBe('created');
    env.sandbox.bank.setKnobs({ npdUnavailable: false });
    expect((await client.startPayoutWithFiscalization(request, { idempotencyKey: `npd-${session.id}` })).status).toBe('in_progress');
  });
});

describe('the endpoints, under /api/v1 and /api/v2', () => {
  it.each(['v1', 'v2'] as const)('keep idempotency keys per endpoint and play scripted faults (%s)', async (version) => {
    const client = clientFor(env.sandbox, { apiVersion: version });
    const session = await client.createSession();
    const request = fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound);
    env.sandbox.bank.addFaults([{ endpoint: 'session/start/payout/fiscalization', kind: '5xx', times: 1 }]);
    expect(await refusal(client.startPayoutWithFiscalization(request, { idempotencyKey: `k-${session.id}` }))).toMatchObject({
      code: 'internal_error',
      httpStatus: 500,
    });
    expect((await client.startPayoutWithFiscalization(request, { idempotencyKey: `k-${session.id}` })).status).toBe('in_progress');
    expect(await refusal(client.startPayoutWithFiscalization(request, { idempotencyKey: `k-${session.id}` }))).toMatchObject({
      code: 'idempotency_key_already_exists',
      httpStatus: 409,
    });

    const { session_id: _, ...body } = request;
    env.sandbox.bank.addFaults([{ endpoint: 'session/init/payout/fiscalization', kind: 'error', code: 'provider_timeout', times: 1 }]);
    expect(await refusal(client.initPayoutWithFiscalization(body))).toMatchObject({ code: 'provider_timeout' });
    const init = await client.initPayoutWithFiscalization(body, { idempotencyKey: `i-${session.id}` });
    expect(await refusal(client.initPayoutWithFiscalization(body, { idempotencyKey: `i-${session.id}` }))).toMatchObject({
      code: 'idempotency_key_already_exists',
    });
    expect(init.payouts[0]![version === 'v2' ? 'payout_details' : 'payment_method']).toBeDefined();
    expect(env.sandbox.bank.calls.filter((c) => c.endpoint === 'session/init/payout/fiscalization').length).toBeGreaterThanOrEqual(3);
  });
});

describe('the taxpayer registry (GET|PUT /sandbox/taxpayers/:taxReference)', () => {
  it('binds and unbinds a reference; a bound one can be paid, an unbound one not', async () => {
    const client = clientFor(env.sandbox);
    const ref = freshTaxReference();
    expect((await taxpayerCall(ref)).json).toMatchObject({ tax_reference: ref, self_employed: true, bound: false, fixed: false });
    expect((await taxpayerCall(ref, true)).json).toMatchObject({ bound: true });
    const paid = await client.createSession();
    await client.startPayoutWithFiscalization(fiscalPayoutRequest(paid.id, ref));
    expect((await taxpayerCall(ref, false)).json).toMatchObject({ bound: false });
    const refused = await client.createSession();
    expect(await refusal(client.startPayoutWithFiscalization(fiscalPayoutRequest(refused.id, ref)))).toMatchObject({
      code: 'taxpayer_not_bound',
    });
  });

  it('shows the test taxpayers, refuses to change the fixed ones, and refuses what is not a tax reference', async () => {
    expect((await taxpayerCall(TEST_TAXPAYERS.bound)).json).toMatchObject({ bound: true, fixed: true });
    expect((await taxpayerCall(TEST_TAXPAYERS.overLimit)).json).toMatchObject({ bound: true, income: { amount: NPD_INCOME_LIMIT } });
    expect((await taxpayerCall(TEST_TAXPAYERS.unknown)).json).toMatchObject({ self_employed: false, bound: false });
    expect((await taxpayerCall(TEST_TAXPAYERS.bound, false)).json.error).toMatchObject({ code: 'invalid_request' });
    expect((await taxpayerCall(TEST_TAXPAYERS.bound, true)).status).toBe(200);
    expect((await taxpayerCall(TEST_TAXPAYERS.unknown, true)).json.error).toMatchObject({ code: 'taxpayer_unknown' });
    expect((await taxpayerCall('12345')).json.error).toMatchObject({ code: 'invalid_request' });
    const bad = await fetch(`${env.sandbox.url}/sandbox/taxpayers/${freshTaxReference()}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bound: 'yes' }),
    });
    expect(bad.status).toBe(400);
  });
});

describe('receipts', () => {
  it('a receipt the sandbox never issued is a 404', async () => {
    for (const id of ['rcpt_1', 'nope', 'rcpt_x']) {
      const res = await fetch(`${env.sandbox.url}/sandbox/receipts/${id}`);
      expect(res.status).toBe(404);
    }
  });

  it('shows what the card’s bank returned since', async () => {
    const client = clientFor(env.sandbox);
    const session = await client.createSession();
    await client.startPayoutWithFiscalization(fiscalPayoutRequest(session.id, TEST_TAXPAYERS.bound));
    const finished = await finish(session.id);
    const { receipt } = (finished.payouts[0]!.fiscalization_details as { professional_income_taxpayer: { receipt: { link: string } } })
      .professional_income_taxpayer;
    await fetch(`${env.sandbox.url}/sandbox/sessions/${session.id}/refund`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"amount":2500}',
    });
    expect(await (await fetch(`${receipt.link}?format=json`)).json()).toMatchObject({ returned: { amount: 2_500 } });
    expect(await (await fetch(receipt.link)).text()).toContain('25,00 ₽');
  });
});
