import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Card hashes, recipients' names, keys and signatures must never reach a log line. Redaction is
 * by path, at a few depths, because log objects nest (job data, payout records, request bodies).
 */
const SECRET_KEYS = [
  'encrypted_card',
  'number_hash',
  'expiration_date_hash',
  'security_code_hash',
  'cardholder_name_hash',
  'recipient',
  'full_name',
  'first_name',
  'last_name',
  'middle_name',
  'participant_details',
  'authorization',
  'x-partner-sign',
  '"x-partner-sign"',
  'privateKey',
  'callbackSecret',
  'apiKeys',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS.filter((k) => !k.startsWith('"')).flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`, `*.*.*.*.${k}`]),
  'req.headers.authorization',
  'req.headers["x-partner-sign"]',
  'req.headers["bank131-payouts-signature"]',
];

export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = { level: 'info', ...options, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(opts, destination) : pino(opts);
}

export type { Logger };
