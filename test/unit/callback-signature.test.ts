import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallbackSecret, parseCallbackSecret, signCallback, verifyCallback } from '../../src/payouts/callback-signature.js';

// The vector the Standard Webhooks libraries test against (first published with Svix's).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

// One of our callbacks, signed once; the expected headers are fixed so a change in the scheme shows.
const SECRET = 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=';
const OURS = {
  id: 'evt_po-1_succeeded',
  timestamp: 1767225600,
  body: '{"id":"evt_po-1_succeeded","type":"payout.succeeded","created_at":"2026-01-01T00:00:00.000Z","payout":{"id":"po-1","status":"succeeded"}}',
};
const OURS_SIGNATURE = 'v1,R7F4LbJoPfm4uvrorX9Yf6RGIhZeRqcJGiOa+sYbHRY=';

/** The published verifier, at a given time (it reads the clock itself). */
function publishedVerify(secret: string, body: string, headers: Record<string, string>, atSeconds: number): unknown {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(atSeconds * 1000);
  return new Webhook(secret).verify(body, headers);
}
afterEach(() => {
  vi.useRealTimers();
});

describe('signing callbacks as Standard Webhooks', () => {
  it('reproduces the specification libraries’ test vector', () => {
    expect(signCallback(VECTOR)).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('signs our callbacks so that the published verifier accepts them', () => {
    const headers = signCallback({ ...OURS, secret: SECRET });
    expect(headers).toEqual({ 'webhook-id': OURS.id, 'webhook-timestamp': String(OURS.timestamp), 'webhook-signature': OURS_SIGNATURE });
    expect(publishedVerify(SECRET, OURS.body, { ...headers }, OURS.timestamp + 60)).toEqual(JSON.parse(OURS.body));
    // the published signer agrees byte for byte
    expect(new Webhook(SECRET).sign(OURS.id, new Date(OURS.timestamp * 1000), OURS.body)).toBe(OURS_SIGNATURE);
  });

  it('signed with two secrets (a rotation’s overlap), the header holds both, new first, and a receiver holding either verifies it', () => {
    const headers = signCallback({ ...OURS, secret: [SECRET, VECTOR.secret] });
    expect(headers['webhook-signature']).toBe(`${OURS_SIGNATURE} ${signCallback({ ...OURS, secret: VECTOR.secret })['webhook-signature']}`);
    for (const secret of [SECRET, VECTOR.secret])
      expect(publishedVerify(secret, OURS.body, { ...headers }, OURS.timestamp)).toEqual(JSON.parse(OURS.body));
    expect(() => signCallback({ ...OURS, secret: [] })).toThrow('at least one secret');
    expect(() => signCallback({ ...OURS, secret: [SECRET, 'nope'] })).toThrow(/does not start with whsec_/);
  });

  it('signs the same bytes from a string or a Buffer', () => {
    expect(signCallback({ ...OURS, body: Buffer.from(OURS.body), secret: SECRET })['webhook-signature']).toBe(OURS_SIGNATURE);
  });

  it('the published verifier refuses a changed body, another secret, an old timestamp', () => {
    const headers = { ...signCallback({ ...OURS, secret: SECRET }) };
    const at = OURS.timestamp + 1;
    expect(() => publishedVerify(SECRET, `${OURS.body} `, headers, at)).toThrow(WebhookVerificationError);
    expect(() => publishedVerify(VECTOR.secret, OURS.body, headers, at)).toThrow(WebhookVerificationError);
    expect(() => publishedVerify(SECRET, OURS.body, headers, OURS.timestamp + 3600)).toThrow('Message timestamp too old');
  });

  it('refuses an id or timestamp that cannot be signed as written', () => {
    expect(() => signCallback({ ...OURS, id: '', secret: SECRET })).toThrow('callback id');
    expect(() => signCallback({ ...OURS, id: 'a b', secret: SECRET })).toThrow('callback id');
    expect(() => signCallback({ ...OURS, timestamp: 1.5, secret: SECRET })).toThrow('unix seconds');
  });
});

describe('verifyCallback', () => {
  const headers = signCallback({ ...OURS, secret: SECRET });
  const verify = (over: Partial<Parameters<typeof verifyCallback>[0]> = {}) =>
    verifyCallback({ body: OURS.body, headers: { ...headers }, secret: SECRET, now: OURS.timestamp + 10, ...over });

  it('accepts the test vector and our own callbacks', () => {
    expect(
      verifyCallback({
        body: VECTOR.body,
        headers: { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature },
        secret: VECTOR.secret,
        now: VECTOR.timestamp,
      }),
    ).toBe(true);
    expect(verify()).toBe(true);
    expect(verify({ body: Buffer.from(OURS.body) })).toBe(true);
  });

  it('reads Node’s headers in any case, and any v1 entry of a list (key rotation)', () => {
    expect(
      verify({
        headers: {
          'Webhook-Id': headers['webhook-id'],
          'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'],
          'webhook-signature': headers['webhook-signature'],
        },
      }),
    ).toBe(true);
    const rotated = `v1a,c29tZXRoaW5nIGVsc2U= v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}`;
    expect(verify({ headers: { ...headers, 'webhook-signature': rotated } })).toBe(true);
  });

  it('refuses a changed body, id or timestamp, another secret, or a signature that is not v1', () => {
    expect(verify({ body: `${OURS.body} ` })).toBe(false);
    expect(verify({ headers: { ...headers, 'webhook-id': 'evt_po-2_succeeded' } })).toBe(false);
    expect(verify({ headers: { ...headers, 'webhook-timestamp': String(OURS.timestamp + 1) } })).toBe(false);
    expect(verify({ secret: VECTOR.secret })).toBe(false);
    expect(verify({ headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') } })).toBe(false);
  });

  it('refuses a timestamp outside the tolerance, either way', () => {
    expect(verify({ now: OURS.timestamp + 300 })).toBe(true);
    expect(verify({ now: OURS.timestamp + 301 })).toBe(false);
    expect(verify({ now: OURS.timestamp - 301 })).toBe(false);
    expect(verify({ now: OURS.timestamp + 3600, toleranceSeconds: 7200 })).toBe(true);
  });

  it('refuses missing or malformed headers', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const { [name]: _dropped, ...rest } = headers;
      expect(verify({ headers: rest })).toBe(false);
    }
    expect(verify({ headers: { ...headers, 'webhook-timestamp': `${OURS.timestamp}.0` } })).toBe(false);
    expect(verify({ headers: { ...headers, 'webhook-signature': 'garbage' } })).toBe(false);
    expect(verify({ headers: { ...headers, 'webhook-signature': [headers['webhook-signature'], headers['webhook-signature']] } })).toBe(
      false,
    );
    expect(verify({ headers: { 'bank131-payouts-signature': 't=1,v1=00' } })).toBe(false);
  });
});

describe('callback secrets', () => {
  const made = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('a whsec_ secret of 24 to 64 bytes is its decoded bytes', () => {
    expect(parseCallbackSecret(made)).toEqual(Buffer.alloc(32, 7));
    expect(parseCallbackSecret(VECTOR.secret)).toHaveLength(24);
    expect(parseCallbackSecret(`whsec_${Buffer.alloc(64).toString('base64')}`)).toHaveLength(64);
    expect(CallbackSecret.safeParse(made)).toEqual({ success: true, data: made });
  });

  it.each([
    ['', 'it is empty'],
    ['callback-secret-0123456789abcdef', 'it does not start with whsec_'],
    ['whsec_', 'nothing follows whsec_'],
    [`whsec_${Buffer.alloc(32, 0xfb).toString('base64url')}`, 'is not standard base64 (it looks like base64url'],
    [`whsec_${Buffer.alloc(32).toString('base64').replace(/=+$/, '')}`, 'is not standard base64 (its = padding is missing)'],
    [`whsec_${Buffer.alloc(16).toString('base64')}`, 'it decodes to 16 bytes, fewer than 24'],
    [`whsec_${Buffer.alloc(65).toString('base64')}`, 'it decodes to 65 bytes, more than the 64'],
  ])('refuses %j, saying %s', (secret, problem) => {
    expect(() => parseCallbackSecret(secret)).toThrow(problem);
    expect(() => parseCallbackSecret(secret)).toThrow(
      'the callback secret must be whsec_ followed by base64 of at least 24 random bytes (make one: node -e',
    );
    const parsed = CallbackSecret.safeParse(secret);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^must be whsec_ followed by base64 of at least 24 random bytes \(make one: .*\), but /),
    ]);
    expect(parsed.error?.issues[0]?.message).toContain(problem);
  });

  it('never repeats the secret in its message', () => {
    const secret = `whsec_${Buffer.alloc(16, 0x5a).toString('base64')}`;
    expect(() => parseCallbackSecret(secret)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(secret.slice(6)) }));
  });

  it('every secret it accepts, the published library accepts too', () => {
    for (const secret of [made, VECTOR.secret]) {
      const headers = signCallback({ ...OURS, secret });
      expect(publishedVerify(secret, OURS.body, { ...headers }, OURS.timestamp)).toEqual(JSON.parse(OURS.body));
    }
  });
});
