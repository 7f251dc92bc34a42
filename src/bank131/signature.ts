import { sign, verify, type KeyObject } from 'node:crypto';

/**
 * Bank 131 signs with RSASSA-PKCS1-v1_5 over SHA-256 and carries the signature as standard base64
 * (not base64url, not hex) in X-PARTNER-SIGN. Only the body bytes are signed: no method, path,
 * headers or timestamp. These functions are pure, so the same maths serves our client and our
 * webhook route (the sandbox bank has its own: sandbox/src/signature.ts).
 */

export const SIGNATURE_HEADER = 'x-partner-sign';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function signBody(body: Buffer | string, privateKey: KeyObject): string {
  return sign('sha256', typeof body === 'string' ? Buffer.from(body, 'utf8') : body, privateKey).toString('base64');
}

/**
 * The same signature, computed on libuv's thread pool: an RSA-2048 signature costs about a
 * millisecond of CPU, which on the event loop stalls every other job of the process (it was a
 * fifth of the worker's busy time in bench/results.md).
 */
export function signBodyAsync(body: Buffer, privateKey: KeyObject): Promise<string> {
  return new Promise((resolve, reject) => {
    sign('sha256', body, privateKey, (err, signature) => (err ? reject(err) : resolve(signature.toString('base64'))));
  });
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'mismatch' };

/**
 * Checks a signature over the exact bytes received. Node's base64 decoder silently skips junk,
 * so the header is checked against the strict alphabet and the key's length first: a header that
 * is not a well-formed signature is "malformed", one that is well-formed but wrong is "mismatch".
 */
export function checkSignature(body: Buffer, header: string | undefined, publicKey: KeyObject): SignatureCheck {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const value = header.trim();
  if (!BASE64.test(value)) return { ok: false, reason: 'malformed' };
  const signature = Buffer.from(value, 'base64');
  const modulusBits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (modulusBits !== undefined && signature.length !== Math.ceil(modulusBits / 8)) return { ok: false, reason: 'malformed' };
  return verify('sha256', body, publicKey, signature) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
