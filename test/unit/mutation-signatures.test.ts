import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSignature, signBody } from '../../src/bank131/signature.js';
import { CallbackSecret, parseCallbackSecret, signCallback, verifyCallback } from '../../src/payouts/callback-signature.js';
import { keys } from '../support/keys.js';

describe('Bank 131 signature header', () => {
  const body = Buffer.from('{"session_id":"ps_1"}');

  it('whitespace around the header is not part of it; a header of only whitespace is missing', () => {
    const sig = signBody(body, keys.bankPrivate);
    expect(checkSignature(body, ` ${sig}\n`, keys.bankPublic)).toEqual({ ok: true });
    expect(checkSignature(body, '  \t', keys.bankPublic)).toEqual({ ok: false, reason: 'missing' });
  });

  it('refuses a signature whose = padding was dropped, though Node would decode it', () => {
    const sig = signBody(body, keys.bankPrivate);
    expect(sig.endsWith('==')).toBe(true);
    expect(Buffer.from(sig.replace(/=+$/, ''), 'base64')).toEqual(Buffer.from(sig, 'base64'));
    expect(checkSignature(body, sig.replace(/=+$/, ''), keys.bankPublic)).toEqual({ ok: false, reason: 'malformed' });
  });

  // An RSA signature is as long as the key's modulus, so its base64 ends in "==", "=" or nothing
  // depending on the key size: every form is accepted (and nothing else).
  it.each([
    [1024, '='], // 128 bytes
    [1536, ''], // 192 bytes
    [2048, '=='], // 256 bytes
  ])('a %i-bit key: a signature ending in %j verifies', (modulusLength, padding) => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength });
    const sig = signBody(body, privateKey);
    expect(sig.length % 4).toBe(0);
    expect(/=*$/.exec(sig)![0]).toBe(padding);
    expect(checkSignature(body, sig, publicKey)).toEqual({ ok: true });
    expect(checkSignature(Buffer.from('{}'), sig, publicKey)).toEqual({ ok: false, reason: 'mismatch' });
    expect(checkSignature(body, `${sig}AAAA`, publicKey)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('the length check applies to RSA keys only: a key without a modulus leaves it to the verifier', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sig = sign('sha256', body, privateKey).toString('base64');
    expect(checkSignature(body, sig, publicKey)).toEqual({ ok: true });
    expect(checkSignature(Buffer.from('{}'), sig, publicKey)).toEqual({ ok: false, reason: 'mismatch' });
  });
});

describe('callback signing: what can be signed', () => {
  const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  const body = '{"id":"evt_po-1_succeeded"}';

  it('signs any printable ASCII id, one character or many', () => {
    for (const id of ['e', 'evt_po-1_succeeded', '!~', 'evt:1/2?x=y']) {
      const headers = signCallback({ id, timestamp: 1_767_225_600, body, secret });
      expect(headers['webhook-id']).toBe(id);
      expect(verifyCallback({ body, headers: { ...headers }, secret, now: 1_767_225_600 })).toBe(true);
    }
  });

  it('refuses an id with spaces, control characters or non-ASCII, or an empty one', () => {
    for (const id of ['', ' ', 'a b', 'evt\n1', 'evt\u00e9', 'é'])
      expect(() => signCallback({ id, timestamp: 1, body, secret })).toThrow('a callback id must be non-empty printable ASCII');
  });

  it('signs any whole, non-negative unix time, 0 included; refuses negative, fractional and unsafe ones', () => {
    for (const timestamp of [0, 1, 1_767_225_600, Number.MAX_SAFE_INTEGER]) {
      expect(signCallback({ id: 'e', timestamp, body, secret })['webhook-timestamp']).toBe(String(timestamp));
    }
    for (const timestamp of [-1, -1_767_225_600, 0.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => signCallback({ id: 'e', timestamp, body, secret })).toThrow(
        `a callback timestamp must be whole unix seconds, not ${timestamp}`,
      );
    }
  });

  it('refuses to sign with a bad secret', () => {
    expect(() => signCallback({ id: 'e', timestamp: 1, body, secret: 'whsec_' })).toThrow('nothing follows whsec_');
  });
});

describe('callback verification: the receiver’s side', () => {
  const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
  const body = '{"id":"evt_po-1_succeeded"}';
  const at = 1_767_225_600;

  it('checks against the clock when no time is given', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(verifyCallback({ body, headers: { ...signCallback({ id: 'e', timestamp: now, body, secret }) }, secret })).toBe(true);
    expect(verifyCallback({ body, headers: { ...signCallback({ id: 'e', timestamp: now - 3600, body, secret }) }, secret })).toBe(false);
  });

  it('accepts each header given once as a one-element list (as some frameworks pass them)', () => {
    const h = signCallback({ id: 'e', timestamp: at, body, secret });
    const listed = {
      'webhook-id': [h['webhook-id']],
      'webhook-timestamp': [h['webhook-timestamp']],
      'webhook-signature': [h['webhook-signature']],
    };
    expect(verifyCallback({ body, headers: listed, secret, now: at })).toBe(true);
    expect(verifyCallback({ body, headers: { ...listed, 'webhook-id': [] }, secret, now: at })).toBe(false);
  });

  it('a missing id is not the id "undefined"', () => {
    const h = signCallback({ id: 'undefined', timestamp: at, body, secret });
    expect(verifyCallback({ body, headers: { ...h }, secret, now: at })).toBe(true);
    expect(
      verifyCallback({
        body,
        headers: { 'webhook-timestamp': h['webhook-timestamp'], 'webhook-signature': h['webhook-signature'] },
        secret,
        now: at,
      }),
    ).toBe(false);
    expect(verifyCallback({ body, headers: { ...h, 'webhook-id': '' }, secret, now: at })).toBe(false);
  });

  it('a missing or empty signature or timestamp is refused', () => {
    const h = signCallback({ id: 'e', timestamp: at, body, secret });
    expect(verifyCallback({ body, headers: { ...h, 'webhook-signature': '' }, secret, now: at })).toBe(false);
    expect(verifyCallback({ body, headers: { ...h, 'webhook-timestamp': '' }, secret, now: at })).toBe(false);
  });

  it('a v1 signature of the wrong length is refused, not an error', () => {
    const h = signCallback({ id: 'e', timestamp: at, body, secret });
    for (const sig of ['v1,', 'v1,c2hvcnQ=', `${h['webhook-signature']}AA`])
      expect(verifyCallback({ body, headers: { ...h, 'webhook-signature': sig }, secret, now: at })).toBe(false);
    expect(verifyCallback({ body, headers: { ...h, 'webhook-signature': `v1,c2hvcnQ= ${h['webhook-signature']}` }, secret, now: at })).toBe(
      true,
    );
  });

  it('the tolerance is inclusive and the timestamp compared as a number', () => {
    const h = signCallback({ id: 'e', timestamp: at, body, secret });
    expect(verifyCallback({ body, headers: { ...h }, secret, now: at - 300 })).toBe(true);
    expect(verifyCallback({ body, headers: { ...h }, secret, now: at + 0.5, toleranceSeconds: 0 })).toBe(false);
    expect(verifyCallback({ body, headers: { ...h }, secret, now: at, toleranceSeconds: 0 })).toBe(true);
  });
});

describe('callback secrets: what is wrong with a bad one', () => {
  it('a secret of only whitespace is empty', () => {
    expect(() => parseCallbackSecret('   ')).toThrow(/, but it is empty$/);
  });

  it('a secret with characters outside base64 and whole groups of four gets no hint it does not deserve', () => {
    expect(() => parseCallbackSecret(`whsec_${'A'.repeat(39)}.`)).toThrow(/, but what follows whsec_ is not standard base64$/);
    // non-canonical: the last character carries bits that do not fit
    expect(() => parseCallbackSecret(`whsec_${Buffer.alloc(32, 7).toString('base64').replace(/.=$/, 'B=')}`)).toThrow(
      /is not standard base64$/,
    );
  });

  it('names whitespace inside the secret', () => {
    const b64 = Buffer.alloc(32, 7).toString('base64');
    expect(() => parseCallbackSecret(`whsec_${b64.slice(0, 20)} ${b64.slice(20)}`)).toThrow(
      /is not standard base64 \(it holds whitespace\)$/,
    );
  });

  it('a setting that is not a string is told the rule', () => {
    const parsed = CallbackSecret.safeParse(42);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^must be whsec_ followed by base64 of at least 24 random bytes \(make one: node -e .*\)$/),
    ]);
  });

  it('a good secret gives its key, and the same key signs', () => {
    const key = Buffer.alloc(24, 3);
    const secret = `whsec_${key.toString('base64')}`;
    expect(parseCallbackSecret(secret)).toEqual(key);
    expect(CallbackSecret.parse(secret)).toBe(secret);
  });
});
