import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSignature, signBody } from '../../src/bank131/signature.js';
import { keyPath, keys } from '../support/keys.js';

/** The bank SDK's published vector (docs/bank131-protocol.md §2): `{}` signed with its fixture key. */
const SDK_VECTOR =
  'Q+euWta2W3WhIHq/t3Gkvqbvf5RztorP41mbIW21nKDDeaLw0FQuGCg4rwjN/scjFYk1+kBfP+8gau3hDm7uaUyke5Kz44UkbOMVTpZROqS/ozqHllgHp7aatEDKil9WXAYadl8PlbhzbjgeDL1hvbEUyEzfaIxrZASNX9kZ08ORBGZCg76iEJ/HI5/I+QUdI3sEBPTn4gy88sPhlm5vYH1dVlPuMEDWTW7w7zVnV0hUvGeVygyJAW5Q3KbKtdQWajQJH9dPzISfV1rfczHu4YnewkyEOASPg+HpiEJOxxeZRnUONzkavUJEaCznNApWIR0C0stlRItaN+EBNTKvUw==';

/** `{}` signed with openssl (`openssl dgst -sha256 -sign`) and our fixture partner key. */
const OWN_VECTOR =
  'jW41s0Tfdtw6F6d8xMBJZu1mb2J3z7t8suOzHD3j7ckg+CSQp5YgUoUv1KRDr1h+S8hsaDTpQyR2FhUzw4EZfU8BXpPi/vnQLM6EywOxrA4LLCbmeQalu7fBT5SF7XGsBuF10g8PZELpqPEjbj2boWhPkTXzpyxulAAJKOBPfTaniSozTzB8xWGoOY7MSL/aAQab3AZDmJH2/exM84zl8VmaQhjyXi9RUAkZV00iAk4KhrJHeED3htw2xfryDyWhcCT/+8SqXHo1PUvdo9jojWIDJxv/ezSEdmk9qmlH5eLG1z6O3WetuWu4hCJZKf9MLIhqD7bEIYAbmP72s2ohqQ==';

/**
 * The SDK's fixture keys are the bank's files, not ours to commit: BANK131_SDK_FIXTURES (a folder
 * with the SDK's tests/Fixtures/keys/*.pem), or a checkout's sibling folder shared/fixtures/bank131-sdk-keys,
 * brings them in. Without them the two tests that need them are skipped, and say so.
 */
const sdkDir = [process.env.BANK131_SDK_FIXTURES, join(process.cwd(), '..', 'shared', 'fixtures', 'bank131-sdk-keys')].find(
  (d): d is string => Boolean(d && existsSync(join(d, 'public.pem')) && existsSync(join(d, 'private.pem'))),
);

describe('request signature (RSA PKCS#1 v1.5, SHA-256, base64)', () => {
  const body = Buffer.from('{}');

  it('reproduces the pinned vector byte for byte (PKCS#1 v1.5 is deterministic)', () => {
    expect(signBody(body, keys.partnerPrivate)).toBe(OWN_VECTOR);
    expect(signBody('{}', keys.partnerPrivate)).toBe(OWN_VECTOR);
  });

  it('accepts the pinned vector and refuses it for any other body', () => {
    expect(checkSignature(body, OWN_VECTOR, keys.partnerPublic)).toEqual({ ok: true });
    expect(checkSignature(Buffer.from('{ }'), OWN_VECTOR, keys.partnerPublic)).toEqual({ ok: false, reason: 'mismatch' });
    expect(checkSignature(Buffer.from('[]'), OWN_VECTOR, keys.partnerPublic)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses the SDK negative case and other malformed headers', () => {
    expect(checkSignature(body, 'broken_signature', keys.partnerPublic)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkSignature(body, undefined, keys.partnerPublic)).toEqual({ ok: false, reason: 'missing' });
    expect(checkSignature(body, '', keys.partnerPublic)).toEqual({ ok: false, reason: 'missing' });
    // base64url alphabet and hex are not what the bank sends
    expect(checkSignature(body, OWN_VECTOR.replaceAll('+', '-').replaceAll('/', '_'), keys.partnerPublic)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(checkSignature(body, Buffer.from(OWN_VECTOR, 'base64').toString('hex'), keys.partnerPublic).ok).toBe(false);
    // truncated: right alphabet, wrong length
    expect(checkSignature(body, OWN_VECTOR.slice(0, 40), keys.partnerPublic)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('a signature from another key does not verify', () => {
    expect(checkSignature(body, signBody(body, keys.bankPrivate), keys.partnerPublic)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('signs the exact bytes: UTF-8 text and its escaped form are different bodies', () => {
    const cyrillic = Buffer.from(JSON.stringify({ name: 'Иванов' }), 'utf8');
    const escaped = Buffer.from('{"name":"\\u0418\\u0432\\u0430\\u043d\\u043e\\u0432"}', 'utf8');
    const sig = signBody(cyrillic, keys.partnerPrivate);
    expect(checkSignature(cyrillic, sig, keys.partnerPublic).ok).toBe(true);
    expect(checkSignature(escaped, sig, keys.partnerPublic).ok).toBe(false);
  });

  describe("the bank SDK's own fixture keys", () => {
    const NO_KEYS =
      'skipped: the bank SDK fixture keys are not here (set BANK131_SDK_FIXTURES to a folder with its public.pem and private.pem)';
    it('verifies the published vector and refuses the negative case', (ctx) => {
      if (!sdkDir) return ctx.skip(NO_KEYS);
      const pub = createPublicKey(readFileSync(join(sdkDir!, 'public.pem'), 'utf8'));
      expect(checkSignature(body, SDK_VECTOR, pub)).toEqual({ ok: true });
      expect(checkSignature(body, 'broken_signature', pub).ok).toBe(false);
      expect(checkSignature(Buffer.from('{ }'), SDK_VECTOR, pub).ok).toBe(false);
    });
    it('reproduces the published vector from the SDK private key', (ctx) => {
      if (!sdkDir) return ctx.skip(NO_KEYS);
      expect(signBody(body, createPrivateKey(readFileSync(join(sdkDir!, 'private.pem'), 'utf8')))).toBe(SDK_VECTOR);
    });
  });

  describe('interoperates with openssl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'b131-sig-'));
    const payload = Buffer.from(JSON.stringify({ session_id: 'ps_1', amount_details: { amount: 10000, currency: 'rub' }, note: 'Оплата' }));
    const bodyFile = join(dir, 'body.json');
    writeFileSync(bodyFile, payload);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('our signature verifies with `openssl dgst -sha256 -verify`', () => {
      const sigFile = join(dir, 'ours.sig');
      writeFileSync(sigFile, Buffer.from(signBody(payload, keys.partnerPrivate), 'base64'));
      const out = execFileSync('openssl', [
        'dgst',
        '-sha256',
        '-verify',
        keyPath('partner-public'),
        '-signature',
        sigFile,
        bodyFile,
      ]).toString();
      expect(out.trim()).toBe('Verified OK');
    });

    it('a signature made by `openssl dgst -sha256 -sign` verifies here', () => {
      const raw = execFileSync('openssl', ['dgst', '-sha256', '-sign', keyPath('bank-private'), bodyFile]);
      expect(checkSignature(payload, raw.toString('base64'), keys.bankPublic)).toEqual({ ok: true });
      expect(checkSignature(Buffer.concat([payload, Buffer.from(' ')]), raw.toString('base64'), keys.bankPublic).ok).toBe(false);
    });

    it('openssl refuses our signature over a changed body', () => {
      const sigFile = join(dir, 'tampered.sig');
      writeFileSync(sigFile, Buffer.from(signBody(Buffer.from('{"amount":1}'), keys.partnerPrivate), 'base64'));
      expect(() =>
        execFileSync('openssl', ['dgst', '-sha256', '-verify', keyPath('partner-public'), '-signature', sigFile, bodyFile], {
          stdio: 'pipe',
        }),
      ).toThrow();
    });
  });
});
