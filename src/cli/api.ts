import { CliFailure, EXIT } from './exit.js';

export interface ApiOptions {
  url: string;
  apiKey: string;
  /** Further attempts after a network error, a timeout or a 500/502/503/504/429. */
  retries: number;
  timeoutMs: number;
  /** First wait before a retry; doubled each time, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told before each retry (the import shows it; reads retry quietly). */
  onRetry?: (reason: string, delayMs: number, attempt: number) => void;
}

export interface Answer {
  status: number;
  body: unknown;
}

const RETRYABLE = new Set([429, 500, 502, 503, 504]);

/** A caller's view of the upstream API (docs/api.md), for the CLI. */
export class PayoutsApi {
  private readonly base: string;
  /** Told before each retry; the import sets it to show retries beside its progress. */
  onRetry: ApiOptions['onRetry'];

  constructor(private readonly options: ApiOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.onRetry = options.onRetry;
  }

  get url(): string {
    return this.base;
  }

  /**
   * One request, retried with backoff on network errors and on answers that say "later": every
   * request the CLI makes is safe to repeat (reads, and batches of idempotent ids). A refused key
   * or an exhausted retry budget ends the command (exit 3); other answers go to the caller.
   */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
    const { retries, timeoutMs, baseDelayMs = 500, maxDelayMs = 15_000 } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      let reason: string;
      let retryAfterMs: number | undefined;
      try {
        const res = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.options.apiKey}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        const parsed = parseJson(text);
        if (res.status === 401 || res.status === 403) {
          throw new CliFailure(
            EXIT.unreachable,
            `the payouts service at ${this.base} refused the API key (${res.status} ${errorCode(parsed) ?? 'unauthorized'}): check --api-key or PAYOUTS_API_KEY`,
          );
        }
        if (!RETRYABLE.has(res.status)) return { status: res.status, body: parsed };
        reason = `it answered ${res.status}${errorCode(parsed) ? ` ${errorCode(parsed)}` : ''}${errorMessage(parsed) ? ` (${errorMessage(parsed)})` : ''}`;
        const after = Number(res.headers.get('retry-after'));
        if (Number.isFinite(after) && after >= 0) retryAfterMs = Math.min(after * 1000, 60_000);
      } catch (err) {
        if (err instanceof CliFailure) throw err;
        reason = networkProblem(err, timeoutMs);
      }
      if (attempt >= retries) {
        const tries = attempt + 1;
        throw new CliFailure(
          EXIT.unreachable,
          `cannot reach the payouts service at ${this.base}: ${reason}${tries > 1 ? ` (${tries} attempts)` : ''}`,
        );
      }
      const backoff = Math.min(baseDelayMs * 2 ** attempt, maxDelayMs) * (0.8 + Math.random() * 0.4);
      const delay = Math.round(retryAfterMs ?? backoff);
      this.onRetry?.(reason, delay, attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function errorCode(body: unknown): string | undefined {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(body: unknown): string | undefined {
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message;
  return typeof message === 'string' ? message : undefined;
}

/** An answer the CLI did not expect, in one line (exit 3: the address may not be this service). */
export function unexpected(api: PayoutsApi, what: string, answer: Answer): CliFailure {
  const said = errorMessage(answer.body) ?? (typeof answer.body === 'string' ? answer.body.slice(0, 120).replace(/\s+/g, ' ') : '');
  const hint = answer.status === 404 && !errorCode(answer.body) ? ': is --url the payouts service?' : '';
  return new CliFailure(
    EXIT.unreachable,
    `${what}: the payouts service at ${api.url} answered ${answer.status}${said ? ` (${said})` : ''}${hint}`,
  );
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be resolved for now',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was closed',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
};

/** What fetch's error means, in a few words. */
function networkProblem(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: Error & { code?: string; errors?: Array<{ code?: string }> } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (code && NETWORK_CODES[code]) return `${NETWORK_CODES[code]} (${code})`;
  if (code) return `${cause?.message ?? e.message} (${code})`;
  return cause?.message ?? e?.message ?? String(err);
}
