import { describe, expect, it } from 'vitest';
import { WebhookPayloadError, WebhookSignatureError } from '../../src/bank131/errors.js';
import { signBody } from '../../src/bank131/signature.js';
import { verifyWebhook } from '../../src/bank131/webhook.js';
import { keys } from '../support/keys.js';

const bankSigned = (body: string) => {
  const raw = Buffer.from(body, 'utf8');
  return { raw, sig: signBody(raw, keys.bankPrivate) };
};

const caught = (f: () => unknown): unknown => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
};

describe('verifying a Bank 131 webhook before reading it', () => {
  const finished = JSON.stringify({
    type: 'payment_finished',
    session: { id: 'ps_1', status: 'accepted', payout_list: [{ id: 'po_1', status: 'succeeded' }] },
  });

  it('a body the bank signed is parsed into the webhook', () => {
    const { raw, sig } = bankSigned(finished);
    const w = verifyWebhook(raw, sig, keys.bankPublic);
    expect(w).toMatchObject({
      type: 'payment_finished',
      session: { id: 'ps_1', status: 'accepted', payouts: [{ id: 'po_1', status: 'succeeded' }] },
    });
  });

  it.each<[string, () => string | undefined]>([
    ['missing', () => undefined],
    ['malformed', () => 'not a signature'],
    ['mismatch', () => signBody(Buffer.from(`${finished} `), keys.bankPrivate)],
    ['mismatch', () => signBody(Buffer.from(finished), keys.partnerPrivate)],
  ])('refuses a %s signature with what was received, before parsing', (reason, header) => {
    const raw = Buffer.from(finished);
    const err = caught(() => verifyWebhook(raw, header(), keys.bankPublic));
    expect(err).toBeInstanceOf(WebhookSignatureError);
    expect(err).toMatchObject({ reason, header: header(), payload: raw });
  });

  it('refuses an unsigned body even when it is not JSON (the signature is checked first)', () => {
    expect(caught(() => verifyWebhook(Buffer.from('{'), undefined, keys.bankPublic))).toBeInstanceOf(WebhookSignatureError);
  });

  it('a signed body that is not JSON is a payload error carrying the bytes', () => {
    const { raw, sig } = bankSigned('{"type":');
    const err = caught(() => verifyWebhook(raw, sig, keys.bankPublic));
    expect(err).toBeInstanceOf(WebhookPayloadError);
    expect(err).toMatchObject({ message: 'webhook body is not JSON', payload: raw });
  });

  it('a signed JSON body that is no webhook is a payload error naming the bad field', () => {
    const { raw, sig } = bankSigned(JSON.stringify({ type: 'payment_finished', session: { status: 'accepted' } }));
    const err = caught(() => verifyWebhook(raw, sig, keys.bankPublic));
    expect(err).toBeInstanceOf(WebhookPayloadError);
    expect((err as Error).message).toMatch(/^webhook body is not a Bank 131 webhook: session\.id: /);
    expect(err).toMatchObject({ payload: raw });
  });
});
