import { describe, expect, it } from 'vitest';
import { callbackUrlProblem, isForbiddenAddress } from '../../src/payouts/callback-url.js';

describe('callback addresses written in IPv6 that carry an IPv4 address', () => {
  it.each([
    '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254, in hex
    '64:ff9b::7f00:1', // NAT64 of 127.0.0.1, short groups
    '64:ff9b::172.16.10.10',
    '64:ff9b::192.168.100.200',
    '::ffff:172.16.10.10',
    '::ffff:192.168.100.200',
  ])('%s is judged as the IPv4 address it carries: refused', (address) => expect(isForbiddenAddress(address)).toBe(true));

  it.each([
    '64:ff9b::808:808', // NAT64 of 8.8.8.8
    '64:ff9b::8.8.8.8',
    '64:ff9b::5db8:d822', // NAT64 of 93.184.216.34
  ])('%s carries a public IPv4 address: allowed', (address) => expect(isForbiddenAddress(address)).toBe(false));

  it.each([
    '2606:4700::ffff:10.0.0.1',
    '2606:4700::ffff:a9fe:a9fe',
    // the NAT64 prefix followed by more than one IPv4 address' worth of bits is not a NAT64 address
    '64:ff9b::a9fe:a9fe:1',
  ])('%s only looks like it ends in a private IPv4 address; it is an ordinary public IPv6 address', (address) =>
    expect(isForbiddenAddress(address)).toBe(false),
  );

  it('anything that is not an IP address is refused rather than guessed at', () => {
    for (const junk of ['not-an-address', 'example.com', '', '999.1.1.1', '1.2.3']) expect(isForbiddenAddress(junk)).toBe(true);
  });
});

describe('callback URLs as given', () => {
  const refused = { allowPrivate: false };

  it('refuses a URL that does not parse', () => {
    expect(callbackUrlProblem('not a url', refused)).toBe('must be an http(s) URL');
    expect(callbackUrlProblem('not a url', { allowPrivate: true })).toBe('must be an http(s) URL');
  });

  it('refuses a user name alone, or a password alone', () => {
    expect(callbackUrlProblem('https://user@upstream.example/cb', { allowPrivate: true })).toMatch(
      /^must not carry a user name or password/,
    );
    expect(callbackUrlProblem('https://:pw@upstream.example/cb', { allowPrivate: true })).toMatch(
      /^must not carry a user name or password/,
    );
  });

  it.each([
    'http://api.dev.localhost/cb',
    'http://a.localhost/cb',
    'http://localhost./cb',
    'http://instance-data/latest',
    'http://metadata/computeMetadata',
    'http://instance-data.ec2.internal/',
  ])('%s names a host that is always here or a metadata service: refused', (url) =>
    expect(callbackUrlProblem(url, refused)).toMatch(/^must not point at /),
  );

  it.each([
    'http://awsmetadata/cb',
    'http://mylocalhost/cb',
    'http://metadata.example.com/cb',
    'http://localhost.example.com/cb',
    'http://instance-data.example/cb',
  ])('%s only contains such a name: allowed', (url) => expect(callbackUrlProblem(url, refused)).toBeNull());

  it('judges an IPv6 literal without its brackets', () => {
    expect(callbackUrlProblem('http://[fd00:ec2::254]/latest', refused)).toMatch(/^must not point at fd00:ec2::254: /);
    expect(callbackUrlProblem('http://[2606:4700:4700::1111]/cb', refused)).toBeNull();
  });
});
