import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TAXPAYERS } from 'bank131-sandbox';
import { TAXPAYER_OUTCOMES } from '../../src/payouts/fiscalization.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually, type CapturedRequest } from '../support/sandbox.js';

/**
 * Payouts to self-employed recipients (НПД): started through session/start/payout/fiscalization,
 * the bank's receipt kept and sent upstream; the tax service's refusals end the payout with a clear
 * outcome and move no money.
 */
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline();
});
afterAll(() => p?.close());

const verified = (r: CapturedRequest) =>
  new Webhook(CALLBACK_SECRET).verify(r.body, r.headers as Record<string, string>) as {
    type: string;
    payout: Record<string, unknown> & { fiscalization?: unknown };
  };
const fiscal = (taxReference: string, over: Record<string, unknown> = {}) =>
  order({
    amount_details: { amount: 30_000, currency: 'rub' },
    fiscalization: { tax_reference: taxReference, services: [{ name: 'Logo design', amount: 15_000, quantity: 2 }] },
    callback_url: p.upstream.url,
    ...over,
  });
const paid = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));

describe('a payout to a self-employed recipient', () => {
  it('starts with fiscalization, succeeds, and keeps the bank’s receipt, which upstream is told of', async () => {
    const o = fiscal(TEST_TAXPAYERS.bound);
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['succeeded', 'failed']);
    const got = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
    expect(got).toMatchObject({ status: 'succeeded', fiscalization: { tax_reference: TEST_TAXPAYERS.bound } });
    const receipt = got.fiscalization.receipt;
    expect(receipt.id).toMatch(/^rcpt_/);
    expect(receipt.link).toMatch(/\/sandbox\/receipts\/rcpt_/);
    // the receipt is the bank's, for the services and the amount we sent
    const page = await fetch(`${receipt.link}?format=json`);
    expect(page.status).toBe(200);
    expect(JSON.stringify(await page.json())).toContain('Logo design');
    // the bank was asked through the fiscalization endpoint, with our key
    const start = p.sandbox.bank.calls.find((c) => c.sessionId === got.bank.session_id && c.endpoint.startsWith('session/start/payout'));
    expect(start?.endpoint).toBe('session/start/payout/fiscalization');
    const callback = await eventually(() => p.upstream.received.map(verified).find((c) => c.payout.id === o.id));
    expect(callback.payout.fiscalization).toEqual({ tax_reference: TEST_TAXPAYERS.bound, receipt });
    // what a statement needs is kept too
    expect(got.fee).toEqual({ amount: 150, currency: 'rub' });
    expect(got.bank.finished_at).toEqual(expect.any(String));
    expect(got.finished_at).toEqual(expect.any(String));
  });

  it.each([
    ['unbound', TEST_TAXPAYERS.unbound, 'taxpayer_not_bound'],
    ['unknown to the tax service', TEST_TAXPAYERS.unknown, 'taxpayer_unknown'],
    ['over the yearly limit', TEST_TAXPAYERS.overLimit, 'taxpayer_income_exceeds_amount_limit'],
  ])('a recipient %s: failed with the code and what it means, nothing paid, upstream told', async (_what, taxReference, code) => {
    const o = fiscal(taxReference);
    await p.api('POST', '/v1/payouts', o);
    await p.waitFor([o.id], ['failed', 'succeeded']);
    const got = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
    expect(got.status).toBe('failed');
    expect(got.error.code).toBe(code);
    expect(got.error.description.startsWith(TAXPAYER_OUTCOMES[code]!)).toBe(true);
    expect(paid(o.id)).toEqual([]);
    const callback = await eventually(() => p.upstream.received.map(verified).find((c) => c.payout.id === o.id));
    expect(callback).toMatchObject({ type: 'payout.failed', payout: { error: { code } } });
  });

  it('once bound, the same person is paid', async () => {
    const taxReference = '771234500017';
    const first = fiscal(taxReference);
    await p.api('POST', '/v1/payouts', first);
    expect(Object.values(await p.waitFor([first.id], ['failed', 'succeeded']))).toEqual(['failed']);
    const bind = await fetch(`${p.sandbox.url}/sandbox/taxpayers/${taxReference}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ bound: true }),
    });
    expect(bind.status).toBe(200);
    const again = fiscal(taxReference);
    await p.api('POST', '/v1/payouts', again);
    expect(Object.values(await p.waitFor([again.id], ['failed', 'succeeded']))).toEqual(['succeeded']);
  });

  it('the tax service down is a passing fault: tried again until it answers', async () => {
    p.sandbox.bank.setKnobs({ npdUnavailable: true });
    const o = fiscal(TEST_TAXPAYERS.bound);
    await p.api('POST', '/v1/payouts', o);
    await eventually(() =>
      p.sandbox.bank.calls.filter((c) => c.endpoint === 'session/start/payout/fiscalization' && c.httpStatus === 500).length > 0
        ? true
        : undefined,
    );
    expect((await p.runtime.store.get(o.id))!.state).toBe('session_created');
    p.sandbox.bank.setKnobs({ npdUnavailable: false });
    expect(Object.values(await p.waitFor([o.id], ['failed', 'succeeded']))).toEqual(['succeeded']);
    expect(paid(o.id)).toHaveLength(1);
  });

  it('an order whose services do not add up is refused, naming the field; nothing is stored', async () => {
    const o = fiscal(TEST_TAXPAYERS.bound, {
      fiscalization: { tax_reference: TEST_TAXPAYERS.bound, services: [{ name: 'Logo design', amount: 100 }] },
    });
    const res = await p.api('POST', '/v1/payouts', o);
    expect(res.status).toBe(400);
    expect(res.body.error.issues).toEqual([
      { field: 'fiscalization.services', problem: expect.stringMatching(/^must add up to amount_details.amount/) },
    ]);
    expect(await p.runtime.store.get(o.id)).toBeNull();
  });
});
