import { describe, expect, it } from 'vitest';
import { WebhookPayloadError, WebhookSignatureError } from '../../src/bank131/errors.js';
import { signBody } from '../../src/bank131/signature.js';
import { verifyWebhook } from '../../src/bank131/webhook.js';
import { keys } from '../support/keys.js';

// verifyWebhook (src/bank131/webhook.ts) over signed bytes: what the web route and the worker rely on.

describe('webhook verification', () => {
  const body = Buffer.from(JSON.stringify({ type: 'ready_to_confirm', session: { id: 'ps_9', status: 'in_progress', payout_list: [] } }));

  it('parses a correctly signed webhook, with unknown extra fields kept', () => {
    const withExtra = Buffer.from(
      JSON.stringify({ type: 'payment_finished', session: { id: 'ps_9', status: 'accepted', brand_new_field: 1 } }),
    );
    const w = verifyWebhook(withExtra, signBody(withExtra, keys.bankPrivate), keys.bankPublic);
    expect(w).toMatchObject({ type: 'payment_finished', session: { id: 'ps_9', brand_new_field: 1, payouts: [] } });
  });

  it('refuses a missing, malformed, foreign or body-mismatched signature, carrying header and payload', () => {
    const cases: Array<[string | undefined, Buffer, string]> = [
      [undefined, body, 'missing'],
      ['broken_signature', body, 'malformed'],
      [signBody(body, keys.partnerPrivate), body, 'mismatch'],
      [signBody(body, keys.bankPrivate), Buffer.from(body.toString().replace('ps_9', 'ps_8')), 'mismatch'],
    ];
    for (const [header, payload, reason] of cases) {
      const err = (() => {
        try {
          verifyWebhook(payload, header, keys.bankPublic);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(WebhookSignatureError);
      expect(err).toMatchObject({ reason, header, payload });
    }
  });

  it('a signed body that is not JSON or not a webhook is a payload error, not a crash', () => {
    const notJson = Buffer.from('not json');
    expect(() => verifyWebhook(notJson, signBody(notJson, keys.bankPrivate), keys.bankPublic)).toThrow(WebhookPayloadError);
    const noSession = Buffer.from('{"type":"ready_to_confirm"}');
    expect(() => verifyWebhook(noSession, signBody(noSession, keys.bankPrivate), keys.bankPublic)).toThrow(/session/);
  });

  it('accepts an unknown webhook type so it can be answered 200 and logged', () => {
    const unknown = Buffer.from('{"type":"transaction_registration","session":{"id":"ps_1"}}');
    expect(verifyWebhook(unknown, signBody(unknown, keys.bankPrivate), keys.bankPublic).type).toBe('transaction_registration');
  });
});
