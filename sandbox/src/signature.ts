import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * The bank's signature as the emulator applies it, on both sides of the wire: it checks the
 * partner's requests and signs its own webhooks. RSASSA-PKCS1-v1_5 over SHA-256 of the body bytes
 * alone (no method, path, headers or time), carried as standard base64 in X-PARTNER-SIGN
 * (docs/bank131-protocol.md). Written apart from the payout service's own signing code, so a test
 * against the sandbox checks the service against a second reading of the protocol.
 */

export const SIGNATURE_HEADER = 'x-partner-sign';

export function signBody(body: Buffer | string, privateKey: KeyObject): string {
  return sign('sha256', Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), privateKey).toString('base64');
}

/** The same signature made on libuv's thread pool, so a busy sandbox does not queue every request behind its webhooks. */
export function signBodyAsync(body: Buffer, privateKey: KeyObject): Promise<string> {
  return new Promise((resolve, reject) => {
    sign('sha256', body, privateKey, (err, signature) => (err ? reject(err) : resolve(signature.toString('base64'))));
  });
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' };

/**
 * Whether `header` is the signature of exactly these bytes. Node's base64 decoder skips what it
 * does not understand, so a header counts as well-formed only when decoding and encoding again
 * gives it back unchanged and it is as long as the key's modulus: anything else is `malformed`,
 * never silently checked as some other signature.
 */
export function checkSignature(body: Buffer, header: string | undefined, publicKey: KeyObject): SignatureCheck {
  const value = header?.trim() ?? '';
  if (value === '') return { ok: false, reason: 'missing' };
  const signature = Buffer.from(value, 'base64');
  if (signature.length === 0 || signature.toString('base64') !== value) return { ok: false, reason: 'malformed' };
  const bits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && signature.length !== Math.ceil(bits / 8)) return { ok: false, reason: 'malformed' };
  return verify('sha256', body, publicKey, signature) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
