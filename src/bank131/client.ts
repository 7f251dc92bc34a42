import http from 'node:http';
import https from 'node:https';
import type { KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { describeIssues } from '../issues.js';
import { Bank131ApiError, Bank131RequestError, Bank131TransportError } from './errors.js';
import {
  BankErrorBody,
  ErrorResponse,
  InitPayoutRequest,
  SessionCreateRequest,
  SessionIdRequest,
  SessionResponse,
  StartFiscalPayoutRequest,
  StartPayoutRequest,
  TokenInfoRequest,
  TokenInfoResponse,
  WalletBalanceRequest,
  WalletBalanceResponse,
  WidgetTokenRequest,
  WidgetTokenResponse,
  toWireNames,
  type ApiVersion,
  type BankSession,
  type TokenInfo,
  type Wallet,
} from './schemas.js';
import { SIGNATURE_HEADER, signBodyAsync } from './signature.js';

export interface Bank131ClientOptions {
  baseUrl: string;
  project: string;
  privateKey: KeyObject;
  submerchant?: string | undefined;
  /** Session endpoints only; token, token/info and wallet are v1 at the bank. */
  apiVersion?: ApiVersion;
  /** Whole request, from connect to the last byte of the answer. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  maxSockets?: number;
  /** Awaited before every call: where a shared rate limit holds calls back. */
  beforeSend?: (endpoint: string) => Promise<void>;
  /** Told of every call's end: metrics, and noticing that the bank refuses our credentials. */
  onCall?: (call: CallRecord) => void;
}

/** One call to the bank, as it ended: answered, refused with a code, or no usable answer. */
export interface CallRecord {
  endpoint: string;
  durationMs: number;
  result: 'ok' | 'refused' | 'transport_error';
  code?: string;
  /** The HTTP status of a refusal: 5xx is the bank failing, not the bank saying no. */
  status?: number;
}

export interface CallOptions {
  /** Sent as x-partner-idempotency-key; the bank refuses a reused key. */
  idempotencyKey?: string;
}

export class Bank131Client {
  readonly apiVersion: ApiVersion;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: Bank131ClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    this.apiVersion = options.apiVersion ?? 'v2';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    const secure = this.base.protocol === 'https:';
    this.transport = secure ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** Set on a view made by withSubmerchant. */
  private readonly submerchantOverride: string | undefined;

  /**
   * The same client, its calls made for a submerchant (X-PARTNER-SUBMERCHANT): a tenant with one of
   * its own (src/tenants/tenant-store.ts). Shares this client's connections and limits.
   */
  withSubmerchant(submerchant: string | null | undefined): Bank131Client {
    if (!submerchant) return this;
    return Object.create(this, { submerchantOverride: { value: submerchant } }) as Bank131Client;
  }

  /** A public token for the tokenization widget (single use). */
  async issueWidgetToken(): Promise<string> {
    const res = await this.call('v1/token', WidgetTokenRequest, { tokenize_widget: { access: true } }, WidgetTokenResponse);
    return res.public_token;
  }

  /**
   * A public token for the bank's self-employed widget (single use): the page shows it so that a
   * self-employed recipient binds their tax reference to the bank before an НПД payout.
   */
  async issueSelfEmployedWidgetToken(taxReference: string): Promise<string> {
    const res = await this.call(
      'v1/token',
      WidgetTokenRequest,
      { self_employed_widget: { tax_reference: taxReference } },
      WidgetTokenResponse,
    );
    return res.public_token;
  }

  /** Masked facts about a widget-tokenized card: brand and last 4 digits. */
  async tokenInfo(numberHash: string): Promise<TokenInfo> {
    const body = { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } } } as const;
    const res = await this.call('v1/token/info', TokenInfoRequest, body, TokenInfoResponse);
    return res.info;
  }

  async createSession(request: SessionCreateRequest = {}, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('create'), SessionCreateRequest, request, SessionResponse, opts)).session;
  }

  /** Money-moving: on an unknown outcome ask sessionStatus, never call again blind. */
  async startPayout(request: StartPayoutRequest, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('start/payout'), StartPayoutRequest, request, SessionResponse, opts)).session;
  }

  /** start/payout for a self-employed recipient: the bank also registers the income and issues a receipt. Money-moving, like startPayout. */
  async startPayoutWithFiscalization(request: StartFiscalPayoutRequest, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('start/payout/fiscalization'), StartFiscalPayoutRequest, request, SessionResponse, opts)).session;
  }

  /** Create and start in one call (the bank discourages it for the widget flow). */
  async initPayout(request: InitPayoutRequest, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('init/payout'), InitPayoutRequest, request, SessionResponse, opts)).session;
  }

  /** Money-moving: on an unknown outcome ask sessionStatus, never call again blind. */
  async confirmSession(sessionId: string, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('confirm'), SessionIdRequest, { session_id: sessionId }, SessionResponse, opts)).session;
  }

  async cancelSession(sessionId: string, opts: CallOptions = {}): Promise<BankSession> {
    return (await this.call(this.session('cancel'), SessionIdRequest, { session_id: sessionId }, SessionResponse, opts)).session;
  }

  async sessionStatus(sessionId: string): Promise<BankSession> {
    return (await this.call(this.session('status'), SessionIdRequest, { session_id: sessionId }, SessionResponse)).session;
  }

  async walletBalance(now: Date = new Date()): Promise<Wallet[]> {
    const res = await this.call('v1/wallet/balance', WalletBalanceRequest, { request_datetime: atom(now) }, WalletBalanceResponse);
    return res.wallets;
  }

  close(): void {
    this.agent.destroy();
  }

  private session(method: string): string {
    return `${this.apiVersion}/session/${method}`;
  }

  private async call<Req extends z.ZodType, Res extends z.ZodType>(
    endpoint: string,
    requestSchema: Req,
    request: z.input<Req>,
    responseSchema: Res,
    opts: CallOptions = {},
  ): Promise<z.output<Res>> {
    const checked = requestSchema.safeParse(request);
    if (!checked.success) throw new Bank131RequestError(endpoint, describeIssues(checked.error));
    // Serialise once and sign exactly the bytes that go on the wire.
    const body = Buffer.from(JSON.stringify(toWireNames(checked.data as { payout_details?: unknown }, this.apiVersion)), 'utf8');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'content-length': String(body.length),
      'x-partner-project': this.options.project,
      [SIGNATURE_HEADER]: await signBodyAsync(body, this.options.privateKey),
    };
    const submerchant = this.submerchantOverride ?? this.options.submerchant;
    if (submerchant?.trim()) headers['x-partner-submerchant'] = submerchant;
    if (opts.idempotencyKey) headers['x-partner-idempotency-key'] = opts.idempotencyKey;

    await this.options.beforeSend?.(endpoint);
    const started = performance.now();
    const done = (result: CallRecord['result'], code?: string, status?: number) =>
      this.options.onCall?.({
        endpoint,
        durationMs: performance.now() - started,
        result,
        ...(code ? { code } : {}),
        ...(status ? { status } : {}),
      });
    let answer: { status: number; text: string };
    try {
      answer = await this.send(endpoint, body, headers);
    } catch (err) {
      done('transport_error');
      throw err;
    }

    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      json = undefined;
    }
    const bankError = ErrorResponse.safeParse(json);
    if (answer.status >= 400 || bankError.success) {
      // As the bank's SDK does: on any HTTP >= 400 the code is read from `error.code`, whether or
      // not the body says `"status":"error"`. A body without one is `api_exception`.
      const body = bankError.success ? bankError.data.error : errorBodyOf(json);
      const e = body ?? { code: 'api_exception', description: answer.text.slice(0, 200), reject_reasons: [] };
      done('refused', e.code, answer.status);
      throw new Bank131ApiError(endpoint, e.code, e.description ?? '', answer.status, e.reject_reasons ?? []);
    }
    const parsed = responseSchema.safeParse(json);
    done(parsed.success ? 'ok' : 'transport_error');
    if (!parsed.success) {
      // The bank said 2xx, so it may well have acted: treat as an outcome we could not read.
      throw new Bank131TransportError(endpoint, 'unknown', `unreadable answer: ${describeIssues(parsed.error).slice(0, 3).join('; ')}`);
    }
    return parsed.data;
  }

  /**
   * One HTTP exchange. Tracks whether the request could have reached the bank: until a socket is
   * connected nothing was sent, so connect failures are `not_sent`; anything after is `unknown`.
   */
  private send(endpoint: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const url = new URL(`api/${endpoint}`, this.base);
    return new Promise((resolve, reject) => {
      let connected = false;
      let settled = false;
      const fail = (reason: string, cause?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(overall);
        clearTimeout(connectTimer);
        reject(new Bank131TransportError(endpoint, connected ? 'unknown' : 'not_sent', reason, { cause }));
        req.destroy();
      };
      let connectTimer: NodeJS.Timeout | undefined;
      const overall = setTimeout(() => fail(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
      const req = this.transport.request(url, { method: 'POST', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(overall);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (err) => fail(`answer broken off: ${err.message}`, err));
        res.on('aborted', () => fail('answer broken off'));
      });
      req.on('socket', (socket) => {
        // A reused keep-alive socket is already connected.
        if (!socket.connecting) {
          connected = true;
          return;
        }
        connectTimer = setTimeout(() => fail(`could not connect within ${this.connectTimeoutMs} ms`), this.connectTimeoutMs);
        socket.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
      });
      req.on('error', (err) => fail(err.message, err));
      req.end(body);
    });
  }
}

/** The `error` object of an answer that is not shaped as the bank's error response, if it has a code. */
function errorBodyOf(json: unknown): BankErrorBody | null {
  const parsed = BankErrorBody.safeParse((json as { error?: unknown } | null | undefined)?.error);
  return parsed.success ? parsed.data : null;
}

/** ATOM / RFC 3339 with offset, the format the SDK sends for request_datetime. */
function atom(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}
