import { randomBytes } from 'node:crypto';
import { describeIssues } from '../issues.js';
import { SessionIdRequest, TokenInfoRequest, WalletBalanceRequest, WidgetTokenRequest, type ApiVersion } from '../bank131/schemas.js';
import { SandboxError } from './errors.js';
import { IdempotencyKeys, planFaults, type FaultPlan } from './faults.js';
import { ErrorPlan, Knobs, KnobsPatch, type Fault } from './knobs.js';
import type { SandboxSessionState } from './session-machine.js';
import { SessionBook, type LedgerEntry, type SandboxSession, type WebhookType } from './sessions.js';
import { cardFacts } from './test-cards.js';
import type { OutgoingWebhook } from './webhook-dispatcher.js';
import { SandboxCreateRequest, SandboxInitRequest, SandboxStartRequest, parseRequest, wireSession } from './wire-format.js';

export type { LedgerEntry } from './sessions.js';

type Answer = Record<string, unknown>;

/**
 * The sandbox bank: one method per API endpoint, taking the parsed JSON body and the URL's API
 * version and answering the bank's JSON, plus the knobs and what tests inspect. The parts live in
 * src/sandbox/sessions.ts (sessions, ledger, wallet), faults.ts (faults, idempotency keys) and
 * wire-format.ts (request parsing, v1/v2 spelling); the HTTP server (server.ts) and the webhook
 * dispatcher (webhook-dispatcher.ts) sit around it.
 */
export class SandboxBank {
  knobs: Knobs = Knobs.parse({});
  /** Every signed API call that reached the bank, with the session it named: what a test counts. */
  readonly calls: Array<{ endpoint: string; sessionId: string | null; idempotencyKey: string | null; httpStatus: number }> = [];
  private readonly book: SessionBook;
  private readonly idempotency = new IdempotencyKeys();
  private readonly publicTokens = new Set<string>();
  /** Public tokens the widget has already tokenized a card with: single use, like the bank's. */
  private readonly usedPublicTokens = new Set<string>();

  constructor(
    private readonly emit: (webhook: OutgoingWebhook) => void,
    knobs: KnobsPatch = {},
  ) {
    this.book = new SessionBook(
      () => this.knobs,
      (type, session) => this.emitWebhook(type, session),
    );
    this.setKnobs(knobs);
  }

  get walletBalance(): number {
    return this.book.walletBalance;
  }

  set walletBalance(amount: number) {
    this.book.walletBalance = amount;
  }

  get ledger(): readonly LedgerEntry[] {
    return this.book.ledger;
  }

  /** Merge only the knobs named in the patch (zod would fill the others with defaults). */
  setKnobs(patch: unknown): Knobs {
    const parsed = KnobsPatch.safeParse(patch);
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    const named = Object.keys(patch as object) as Array<keyof Knobs>;
    const next = { ...this.knobs } as Record<string, unknown>;
    for (const key of named) next[key] = (parsed.data as Record<string, unknown>)[key];
    this.knobs = Knobs.parse(next);
    return this.knobs;
  }

  addFaults(faults: Fault[]): void {
    this.knobs.faults.push(...faults);
  }

  /** Forgets sessions, ledger, keys and knobs; where webhooks go (and in which spelling) stays. */
  reset(): void {
    this.book.reset();
    this.idempotency.clear();
    this.publicTokens.clear();
    this.usedPublicTokens.clear();
    this.calls.length = 0;
    this.knobs = Knobs.parse({ webhookUrl: this.knobs.webhookUrl, webhookApiVersion: this.knobs.webhookApiVersion });
  }

  close(): void {
    this.book.close();
  }

  planFaults(endpoint: string): FaultPlan {
    return planFaults(this.knobs, endpoint);
  }

  /** See src/sandbox/faults.ts IdempotencyKeys.claim. */
  claimIdempotencyKey(endpoint: string, key: string | undefined): () => void {
    return this.idempotency.claim(endpoint, key);
  }

  // ------------------------------------------------------------------ endpoints

  issueToken(body: unknown): Answer {
    parseRequest(WidgetTokenRequest, body, 'v1');
    const token = randomBytes(32).toString('hex');
    this.publicTokens.add(token);
    return { status: 'ok', public_token: token };
  }

  /** Whether the tokenization widget may still use a public token (src/sandbox/widget.ts). */
  publicTokenState(token: string): 'fresh' | 'used' | 'unknown' {
    return this.usedPublicTokens.has(token) ? 'used' : this.publicTokens.has(token) ? 'fresh' : 'unknown';
  }

  /** Spends a public token on one tokenized card; a second use, or a token never issued, is refused. */
  consumePublicToken(token: string): void {
    const state = this.publicTokenState(token);
    if (state === 'used') throw new SandboxError('public_token_used', 'this public token was already used; issue a new one with token', 409);
    if (state === 'unknown') throw new SandboxError('public_token_unknown', 'this public token was not issued by the bank', 401);
    this.publicTokens.delete(token);
    this.usedPublicTokens.add(token);
  }

  tokenInfo(body: unknown): Answer {
    const req = parseRequest(TokenInfoRequest, body, 'v1');
    const hash = req.card.encrypted_card.number_hash;
    return { status: 'ok', info: { number_hash: hash, type: 'card', ...cardFacts(hash) } };
  }

  walletBalanceOf(body: unknown): Answer {
    parseRequest(WalletBalanceRequest, body, 'v1');
    return { status: 'ok', wallets: [{ id: 'wlt_sandbox', amount_details: { amount: this.walletBalance, currency: 'rub' } }] };
  }

  createSession(body: unknown, version: ApiVersion): Answer {
    const req = parseRequest(SandboxCreateRequest, body, version);
    return this.answer(this.book.create(version, req), version);
  }

  startPayout(body: unknown, version: ApiVersion): Answer {
    const req = parseRequest(SandboxStartRequest, body, version);
    const session = this.book.find(req.session_id);
    this.book.start(session, req);
    return this.answer(session, version);
  }

  initPayout(body: unknown, version: ApiVersion): Answer {
    const req = parseRequest(SandboxInitRequest, body, version);
    // Checked before the session exists, so a refused init leaves no session behind.
    if (!req.amount_details) throw new SandboxError('invalid_request', 'amount_details: is required');
    const session = this.book.create(version, { metadata: req.metadata, customer: req.customer });
    this.book.start(session, req);
    return this.answer(session, version);
  }

  confirm(body: unknown, version: ApiVersion): Answer {
    const session = this.book.find(parseRequest(SessionIdRequest, body, version).session_id);
    this.book.confirm(session);
    return this.answer(session, version);
  }

  cancel(body: unknown, version: ApiVersion): Answer {
    const session = this.book.find(parseRequest(SessionIdRequest, body, version).session_id);
    this.book.cancel(session);
    return this.answer(session, version);
  }

  status(body: unknown, version: ApiVersion): Answer {
    const session = this.book.find(parseRequest(SessionIdRequest, body, version).session_id);
    return this.answer(session, version);
  }

  // ------------------------------------------------------------------ scripted session errors

  /**
   * Puts a started session in status `error` now (see ErrorPlan in src/sandbox/knobs.ts for how it
   * leaves it). Accepts the plan as JSON so the control route can pass its body straight on.
   */
  markSessionError(id: string, plan: unknown = {}): void {
    const parsed = ErrorPlan.safeParse(plan ?? {});
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    this.book.markError(this.book.find(id), parsed.data);
  }

  /** Ends a session's `error` now: as planned, or as `to` says. */
  resolveSessionError(id: string, to?: 'succeeded' | 'failed'): void {
    this.book.resolveError(this.book.find(id), to);
  }

  // ------------------------------------------------------------------ inspection

  sessionState(id: string): SandboxSessionState | undefined {
    return this.book.get(id)?.state;
  }

  /** The session as session/status would show it, without a signed call or a recorded one. */
  sessionView(id: string, version?: ApiVersion): Answer | undefined {
    const session = this.book.get(id);
    return session && wireSession(session, version ?? session.version, { nullFields: this.knobs.nullFields });
  }

  sessionCount(): number {
    return this.book.count();
  }

  ledgerBySession(): ReturnType<SessionBook['ledgerBySession']> {
    return this.book.ledgerBySession();
  }

  // ------------------------------------------------------------------ internals

  /** Responses follow the version of the URL asked, whatever the session was created on. */
  private answer(session: SandboxSession, version: ApiVersion): Answer {
    return { status: 'ok', session: wireSession(session, version, { nullFields: this.knobs.nullFields }) };
  }

  private emitWebhook(type: WebhookType, session: SandboxSession): void {
    const version = this.knobs.webhookApiVersion ?? session.version;
    const body = { type, session: wireSession(session, version, { nullFields: this.knobs.nullFields }) };
    this.emit({ type, sessionId: session.id, body });
  }
}
