import type { KeyObject } from 'node:crypto';
import { WebhookPayloadError, WebhookSignatureError } from './errors.js';
import { parseWebhook, type Webhook } from './schemas.js';
import { checkSignature } from './signature.js';
import { describeIssues } from '../issues.js';

/**
 * Verifies a webhook over the exact bytes received, with the bank's public key, before anything
 * reads them; only then parses. Throws WebhookSignatureError (refuse, 401) or WebhookPayloadError
 * (signed by the bank but unreadable to us).
 */
export function verifyWebhook(raw: Buffer, signatureHeader: string | undefined, bankPublicKey: KeyObject): Webhook {
  const check = checkSignature(raw, signatureHeader, bankPublicKey);
  if (!check.ok) throw new WebhookSignatureError(check.reason, signatureHeader, raw);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new WebhookPayloadError('webhook body is not JSON', raw);
  }
  const parsed = parseWebhook(json);
  if (!parsed.success)
    throw new WebhookPayloadError(`webhook body is not a Bank 131 webhook: ${describeIssues(parsed.error).join('; ')}`, raw);
  return parsed.data;
}
