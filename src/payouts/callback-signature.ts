import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';

/**
 * Callbacks to upstream follow the Standard Webhooks specification
 * (https://www.standardwebhooks.com), so a receiver verifies them with its published libraries
 * (`standardwebhooks` on npm, and the same in Python, Go, Java, Ruby, PHP, Rust, C#, Elixir):
 *
 *   webhook-id         the event's id (`evt_<payout>_<event>`, as in the body): the same on every
 *                      retry, so the receiver deduplicates on it
 *   webhook-timestamp  when this attempt was made, in unix seconds: new on every retry, so a
 *                      receiver can refuse a replayed request
 *   webhook-signature  `v1,<base64 HMAC-SHA256>` over `${id}.${timestamp}.${body}`, keyed by the
 *                      bytes of the secret (a space-separated list, to allow for key rotation)
 *
 * The secret is `whsec_` followed by the base64 of 24 to 64 random bytes. The signature itself is
 * the `standardwebhooks` library's (the specification's reference implementation); what is ours is
 * the stricter check of the secret at start-up and the checks of what is signed.
 */
export const SECRET_PREFIX = 'whsec_';
export const SECRET_MIN_BYTES = 24;
/** The specification's maximum (512 bits). */
export const SECRET_MAX_BYTES = 64;
/** How far a timestamp may be from now, either way; the published verifiers use five minutes too. */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const MAKE_ONE = `node -e "console.log('whsec_'+require('crypto').randomBytes(32).toString('base64'))"`;
/** What a callback secret must be, said as a setting's message (the caller names the setting). */
export const SECRET_RULE = `must be ${SECRET_PREFIX} followed by base64 of at least ${SECRET_MIN_BYTES} random bytes (make one: ${MAKE_ONE})`;

export interface CallbackHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** What is wrong with a secret, in words, or the key it stands for. Never repeats the secret. */
function readSecret(secret: string): { key: Buffer } | { problem: string } {
  if (secret.trim() === '') return { problem: 'it is empty' };
  if (!secret.startsWith(SECRET_PREFIX)) return { problem: `it does not start with ${SECRET_PREFIX}` };
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (encoded === '') return { problem: `nothing follows ${SECRET_PREFIX}` };
  const key = Buffer.from(encoded, 'base64');
  // Node decodes anything; the published verifiers accept only canonical, padded, standard base64.
  if (key.toString('base64') !== encoded) {
    const hint = /[-_]/.test(encoded)
      ? ' (it looks like base64url: use + and / instead of - and _)'
      : /\s/.test(encoded)
        ? ' (it holds whitespace)'
        : encoded.length % 4 !== 0
          ? ' (its = padding is missing)'
          : '';
    return { problem: `what follows ${SECRET_PREFIX} is not standard base64${hint}` };
  }
  if (key.length < SECRET_MIN_BYTES) return { problem: `it decodes to ${key.length} bytes, fewer than ${SECRET_MIN_BYTES}` };
  if (key.length > SECRET_MAX_BYTES)
    return { problem: `it decodes to ${key.length} bytes, more than the ${SECRET_MAX_BYTES} the Standard Webhooks specification allows` };
  return { key };
}

const describeProblem = (problem: string) => `${SECRET_RULE}, but ${problem}`;

/** A callback secret for the config: a `whsec_` string that the published verifiers accept. */
export const CallbackSecret = z.string({ error: SECRET_RULE }).superRefine((secret, ctx) => {
  const read = readSecret(secret);
  if ('problem' in read) ctx.addIssue({ code: 'custom', message: describeProblem(read.problem) });
});

/** The HMAC key a `whsec_` secret stands for; throws an error naming what is wrong with a bad one. */
export function parseCallbackSecret(secret: string): Buffer {
  const read = readSecret(secret);
  if ('problem' in read) throw new Error(`the callback secret ${describeProblem(read.problem)}`);
  return read.key;
}

/** `v1,<base64 HMAC-SHA256>` of `${id}.${timestamp}.${body}`, as the reference library makes it. */
function sign(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  return new Webhook(secret).sign(id, new Date(timestamp * 1000), body);
}

/**
 * The three headers for one delivery attempt. `id` is the event's id (the same on every retry);
 * `timestamp` is this attempt's time in unix seconds. `body` must be the exact bytes sent. Given
 * several secrets (a webhook endpoint's new and previous one while a rotation overlaps), the
 * signature header holds one `v1,` entry per secret, in that order, space-separated: a receiver
 * holding either verifies it.
 */
export function signCallback({
  id,
  timestamp,
  body,
  secret,
}: {
  id: string;
  timestamp: number;
  body: string | Buffer;
  secret: string | readonly string[];
}): CallbackHeaders {
  // the id travels in a header and is signed as written: printable ASCII, at least one character
  if (!/^[\x21-\x7e]+$/.test(id)) throw new Error('a callback id must be non-empty printable ASCII without spaces');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new Error(`a callback timestamp must be whole unix seconds, not ${timestamp}`);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new Error('a callback needs at least one secret to be signed with');
  for (const s of secrets) parseCallbackSecret(s);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' '),
  };
}

const headerValue = (headers: Record<string, string | string[] | undefined>, name: string): string | undefined => {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
  }
  return undefined;
};

/**
 * What a receiver runs, as the specification describes it: true when one of the `v1` signatures
 * matches the body, id and timestamp under the secret, and the timestamp is within
 * `toleranceSeconds` of `now` (unix seconds). Accepts Node's `req.headers` as they come. A bad
 * secret is a setup mistake, not a bad request: it throws, as parseCallbackSecret does.
 */
export function verifyCallback({
  body,
  headers,
  secret,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  now = Date.now() / 1000,
}: {
  body: string | Buffer;
  headers: Record<string, string | string[] | undefined>;
  secret: string;
  toleranceSeconds?: number;
  now?: number;
}): boolean {
  parseCallbackSecret(secret);
  const id = headerValue(headers, 'webhook-id');
  const timestampText = headerValue(headers, 'webhook-timestamp');
  const signatures = headerValue(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures || !/^\d{1,15}$/.test(timestampText)) return false;
  const timestamp = Number(timestampText);
  if (Math.abs(now - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, id, timestamp, body).slice('v1,'.length));
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const given = Buffer.from(entry.slice(comma + 1));
    // every v1 entry is compared, in constant time, so timing says nothing about which one matched
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}
