import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where callbacks may go. A callback is a signed POST from inside our network, so a `callback_url`
 * pointing at a private, loopback, link-local or cloud-metadata address would let whoever submits
 * payouts make us call our own infrastructure (SSRF). Such addresses are refused unless
 * CALLBACK_ALLOW_PRIVATE is set (the demo and tests, whose receivers run on 127.0.0.1): checked on
 * the URL when a payout is accepted, and on every address the name resolves to when a callback is
 * sent (workers/payout-notify.ts), so a name that later resolves inward is refused too.
 */
const FORBIDDEN = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, incl. 169.254.169.254 (cloud metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['fd00:ec2::254', 128], // AWS metadata over IPv6 (inside fc00::/7 too; named for clarity)
] as const) {
  FORBIDDEN.addSubnet(net, prefix, 'ipv6');
}

/** Names that always mean "here" or a metadata service, whatever DNS says. */
const FORBIDDEN_NAMES = /^(localhost|.*\.localhost|metadata|metadata\.google\.internal|instance-data|instance-data\.ec2\.internal)\.?$/i;

/** Is this IP address one a callback may not go to? IPv4 mapped or translated into IPv6 counts as IPv4. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return FORBIDDEN.check(address, 'ipv4');
  if (family !== 6) return true; // not an address at all: refuse rather than guess
  const lower = address.toLowerCase();
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1] ?? hexEmbeddedV4(lower);
  if (embedded) return FORBIDDEN.check(embedded, 'ipv4');
  return FORBIDDEN.check(address, 'ipv6');
}

/** `::ffff:a9fe:a9fe` (an IPv4-mapped address written in hex) as `169.254.169.254`. */
function hexEmbeddedV4(address: string): string | null {
  const m = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (!m) return null;
  const [hi, lo] = [parseInt(m[1]!, 16), parseInt(m[2]!, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** What is wrong with a callback URL as given (before any DNS lookup), or null when nothing is. */
export function callbackUrlProblem(raw: string, options: { allowPrivate: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an http(s) URL';
  }
  if (url.username || url.password) return 'must not carry a user name or password (they would be sent, and logged, with every callback)';
  if (options.allowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (FORBIDDEN_NAMES.test(host))
    return `must not point at ${host}: private, loopback and metadata addresses are refused (CALLBACK_ALLOW_PRIVATE allows them)`;
  if (isIP(host) && isForbiddenAddress(host)) {
    return `must not point at ${host}: private, loopback, link-local and metadata addresses are refused (CALLBACK_ALLOW_PRIVATE allows them)`;
  }
  return null;
}

export const FORBIDDEN_CODE = 'ECALLBACKFORBIDDEN';

type Lookup = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for http.request that refuses a host when any address it resolves to is forbidden.
 * The connection then goes to an address this very check passed, so a name cannot be re-pointed
 * inward between the check and the use. `resolve` is dns.lookup but for tests.
 */
export function guardedLookup(allowPrivate: boolean, resolve: Lookup = dns.lookup as unknown as Lookup): LookupFunction {
  return ((
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolve(hostname, { ...options, all: true }, (err, list) => {
      if (err) return callback(err, '');
      const inward = list.find((a) => isForbiddenAddress(a.address));
      if (inward && !allowPrivate) {
        const refused = Object.assign(
          new Error(
            `${hostname} resolves to ${inward.address}, a private, loopback or metadata address: refused (CALLBACK_ALLOW_PRIVATE allows it)`,
          ),
          { code: FORBIDDEN_CODE },
        );
        return callback(refused, '');
      }
      if (options.all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  }) as LookupFunction;
}
