import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Callbacks to upstream carry `Bank131-Payouts-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
 * over `${t}.${body}`, like Stripe's: the timestamp lets a receiver refuse replays.
 */
export const CALLBACK_SIGNATURE_HEADER = 'bank131-payouts-signature';

export function signCallback(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/** What a receiver runs; exported so tests (and users) verify exactly as documented. */
export function verifyCallback(body: string, header: string, secret: string, toleranceSeconds = 300, now = Date.now() / 1000): boolean {
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1 || Math.abs(now - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
