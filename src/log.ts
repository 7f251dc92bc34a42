import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * Card hashes, recipients' names, keys and signatures must never reach a log line. Redaction is
 * by path, at a few depths, because log objects nest (job data, payout records, request bodies).
 */
const SECRET_KEYS = [
  'encrypted_card',
  'collectedCard',
  'collected_card',
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

/** JSON lines by default; `pretty` (LOG_PRETTY) renders them for a terminal, redacted all the same. */
export function createLogger(options: LoggerOptions & { pretty?: boolean } = {}, destination?: pino.DestinationStream): Logger {
  const { pretty, ...rest } = options;
  const opts: LoggerOptions = {
    level: 'info',
    ...rest,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty && !destination ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
  return destination ? pino(opts, destination) : pino(opts);
}

export type { Logger };
