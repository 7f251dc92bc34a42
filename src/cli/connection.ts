import { InvalidArgumentError, Option, type Command } from 'commander';
import { PayoutsApi } from './api.js';
import { CliFailure, EXIT } from './exit.js';

/*
 * How each command that calls the service reaches it (docs/operations.md, The command line): its
 * address and an API key of the tenant, with retries and a timeout per answer.
 */

/** A whole-number option, from `min` to `max`. */
export const wholeNumber = (min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max)
    throw new InvalidArgumentError(`must be a whole number from ${min} to ${max.toLocaleString('en')}`);
  return n;
};

export interface Connection {
  url?: string;
  apiKey?: string;
  retries: number;
  timeout: number;
}

/** --url, --api-key (or PAYOUTS_URL, PAYOUTS_API_KEY), --retries and --timeout, on each command. */
export function withConnection(cmd: Command, retries: number): Command {
  return cmd
    .addOption(new Option('--url <url>', 'the payouts service, e.g. http://127.0.0.1:3000').env('PAYOUTS_URL'))
    .addOption(new Option('--api-key <key>', 'an API key of the service (one of its API_KEYS)').env('PAYOUTS_API_KEY'))
    .addOption(
      new Option('--retries <n>', 'further attempts after a network error or a 5xx/429 answer, with backoff')
        .default(retries)
        .argParser(wholeNumber(0, 100)),
    )
    .addOption(new Option('--timeout <ms>', 'how long to wait for each answer').default(60_000).argParser(wholeNumber(1, 3_600_000)));
}

/** The service as the options name it; bad usage (exit 2) when they do not. */
export function apiFrom(options: Connection): PayoutsApi {
  const url = options.url?.trim();
  const apiKey = options.apiKey?.trim();
  if (!url) throw new CliFailure(EXIT.badInput, 'no service address: pass --url or set PAYOUTS_URL');
  if (!apiKey) throw new CliFailure(EXIT.badInput, 'no API key: pass --api-key or set PAYOUTS_API_KEY');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliFailure(EXIT.badInput, `--url ${url} is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new CliFailure(EXIT.badInput, `--url ${url} must be an http(s) URL`);
  return new PayoutsApi({ url, apiKey, retries: options.retries, timeoutMs: options.timeout });
}
