import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { FORBIDDEN_CODE, callbackUrlProblem, guardedLookup, isForbiddenAddress } from '../../src/payouts/callback-url.js';

describe('where callbacks may go', () => {
  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fc00::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::10.0.0.1',
  ])('%s is refused', (address) => expect(isForbiddenAddress(address)).toBe(true));

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('%s is allowed', (address) =>
    expect(isForbiddenAddress(address)).toBe(false),
  );

  it('refuses credentials always, and private hosts unless allowed', () => {
    expect(callbackUrlProblem('https://user:pw@upstream.example/cb', { allowPrivate: true })).toMatch(
      /^must not carry a user name or password/,
    );
    expect(callbackUrlProblem('http://169.254.169.254/latest/meta-data', { allowPrivate: false })).toMatch(
      /^must not point at 169\.254\.169\.254/,
    );
    expect(callbackUrlProblem('http://[::1]:8080/cb', { allowPrivate: false })).toMatch(/^must not point at ::1/);
    expect(callbackUrlProblem('http://localhost:8080/cb', { allowPrivate: false })).toMatch(/^must not point at localhost/);
    expect(callbackUrlProblem('http://metadata.google.internal/computeMetadata', { allowPrivate: false })).toMatch(
      /^must not point at metadata\.google\.internal/,
    );
    expect(callbackUrlProblem('http://127.0.0.1:8080/cb', { allowPrivate: true })).toBeNull();
    expect(callbackUrlProblem('https://upstream.example/cb', { allowPrivate: false })).toBeNull();
  });

  it('refuses a name that resolves inward at delivery, and connects only to the addresses it checked', async () => {
    const fakeDns =
      (answers: Record<string, string[]>) =>
      (host: string, _o: unknown, cb: (err: NodeJS.ErrnoException | null, list: LookupAddress[]) => void) =>
        cb(
          null,
          (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
    const resolve = fakeDns({ 'rebind.example': ['93.184.216.34', '169.254.169.254'], 'fine.example': ['93.184.216.34'] });
    const ask = (allowPrivate: boolean, host: string) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((done) =>
        guardedLookup(allowPrivate, resolve)(host, {}, (err, address) => done({ err, address })),
      );
    const refused = await ask(false, 'rebind.example');
    expect(refused.err?.code).toBe(FORBIDDEN_CODE);
    expect(refused.err?.message).toBe(
      'rebind.example resolves to 169.254.169.254, a private, loopback or metadata address: refused (CALLBACK_ALLOW_PRIVATE allows it)',
    );
    expect(await ask(false, 'fine.example')).toEqual({ err: null, address: '93.184.216.34' });
    expect((await ask(true, 'rebind.example')).err).toBeNull();
  });
});
