import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Who may use the console, and how a browser proves it between requests: a login checked in
 * constant time, then a cookie holding the operator's name and an expiry, signed with HMAC-SHA256.
 * Nothing is kept on the server, so every web process accepts the cookie another one issued, as
 * long as they share the key: CONSOLE_SESSION_SECRET, or else one derived from every configured
 * user's credentials (changing any password then ends every session). Pure apart from the clock,
 * which callers pass in.
 */
export interface Operator {
  name: string;
  password: string;
}

export const SESSION_COOKIE = 'console_session';
export const SESSION_TTL_MS = 8 * 3_600_000;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const mac = (key: Buffer, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The key sessions and CSRF tokens are signed with. */
export function sessionKey(users: readonly Operator[], secret: string | null): Buffer {
  if (secret) return mac(Buffer.from('bank131-payouts console session', 'utf8'), secret);
  // sorted: the order CONSOLE_USERS lists them in must not matter to the processes that agree on it
  const material = users
    .map((u) => `${u.name.length}:${u.name}:${u.password}`)
    .sort()
    .join('\n');
  return mac(Buffer.from('bank131-payouts console users', 'utf8'), material);
}

/**
 * The operator these credentials are, or null. Digests make every comparison the same length, and
 * every user is compared, whatever matched, so the time taken says nothing about which part was wrong.
 */
export function checkLogin(users: readonly Operator[], name: string, password: string): string | null {
  const givenName = digest(name);
  const givenPassword = digest(password);
  let found: string | null = null;
  for (const u of users) {
    const nameOk = timingSafeEqual(digest(u.name), givenName);
    const passwordOk = timingSafeEqual(digest(u.password), givenPassword);
    if (nameOk && passwordOk) found = u.name;
  }
  return found;
}

const Payload = z.object({ u: z.string().min(1), e: z.number().int() });
export interface Session {
  user: string;
  expiresAt: number;
  /** The cookie's value, which the CSRF token is made from. */
  value: string;
}

/** A cookie value for `user`, valid until `now + ttlMs`. */
export function issueSession(key: Buffer, user: string, now: number, ttlMs = SESSION_TTL_MS): string {
  const payload = b64url(JSON.stringify({ u: user, e: now + ttlMs }));
  return `${payload}.${b64url(mac(key, `session:${payload}`))}`;
}

/** The session a cookie value holds: null when it is not ours, was changed, has expired, or names a user no longer configured. */
export function readSession(key: Buffer, value: string | undefined, now: number, users: readonly Operator[]): Session | null {
  if (!value) return null;
  const [payload, signature, extra] = value.split('.');
  if (!payload || !signature || extra !== undefined) return null;
  const expected = mac(key, `session:${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let parsed: z.infer<typeof Payload>;
  try {
    parsed = Payload.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
  } catch {
    return null;
  }
  if (parsed.e <= now || !users.some((u) => u.name === parsed.u)) return null;
  return { user: parsed.u, expiresAt: parsed.e, value };
}

/** The token every form of a session carries: an HMAC of the session cookie, so it cannot be made without the key. */
export function csrfToken(key: Buffer, session: Pick<Session, 'value'>): string {
  return b64url(mac(key, `csrf:${session.value}`));
}

export function checkCsrf(key: Buffer, session: Pick<Session, 'value'>, given: string | undefined): boolean {
  if (!given) return false;
  const expected = Buffer.from(csrfToken(key, session));
  const offered = Buffer.from(given);
  return offered.length === expected.length && timingSafeEqual(offered, expected);
}

/** The Set-Cookie header: HttpOnly, SameSite=Strict, only under /console, Secure when the request came over https. */
export function sessionCookie(value: string, options: { secure: boolean; maxAgeMs?: number }): string {
  const maxAge = Math.floor((options.maxAgeMs ?? SESSION_TTL_MS) / 1000);
  return [
    `${SESSION_COOKIE}=${value}`,
    'Path=/console',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${maxAge}`,
    ...(options.secure ? ['Secure'] : []),
  ].join('; ');
}

/** The Set-Cookie header that ends a session in the browser. */
export function clearedCookie(options: { secure: boolean }): string {
  return sessionCookie('', { ...options, maxAgeMs: 0 });
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
