import { randomBytes } from 'node:crypto';
import { SandboxError } from './errors.js';
import { planFaults, type FaultPlan } from './faults.js';
import { IdempotencyKeys } from './idempotency.js';
import { describeIssues } from './issues.js';
import { ErrorPlan, Knobs, KnobsPatch, type Fault } from './knobs.js';
import {
  RefundOrder,
  SandboxCreateRequest,
  SandboxFiscalInitRequest,
  SandboxFiscalStartRequest,
  SandboxInitRequest,
  SandboxStartRequest,
  SessionIdRequest,
  TokenInfoRequest,
  WalletBalanceRequest,
  WidgetTokenRequest,
  parseRequest,
  type ApiVersion,
} from './requests.js';
import { sessionIdOfReceipt } from './session-rules.js';
import type { SandboxSessionState } from './session-machine.js';
import type {
  FiscalTerms,
  IdempotencyClaim,
  LedgerEntry,
  ProfessionalIncomeTaxpayer,
  ReturnEntry,
  SandboxSession,
  TaxpayerView,
  WebhookType,
} from './session-types.js';
import { SessionBook } from './sessions.js';
import type { SandboxStore, TokenState } from './store.js';
import { Taxpayers, checkFiscalization, isSelfEmployed, unknownTaxpayer } from './taxpayers.js';
import { cardFacts } from './test-cards.js';
import type { OutgoingWebhook } from './webhook-dispatcher.js';
import { wireSession, type WireOptions } from './wire-format.js';

type Answer = Record<string, unknown>;

/** One signed API call that reached the bank, with the session it named: what a test counts. */
export interface CallRecord {
  endpoint: string;
  sessionId: string | null;
  idempotencyKey: string | null;
  /** X-PARTNER-SUBMERCHANT, when the call named one. */
  submerchant: string | null;
  httpStatus: number;
}

/**
 * The sandbox bank: one method per API endpoint, taking the parsed JSON body and the URL's API
 * version and answering the bank's JSON, plus the knobs and what tests inspect. Its sessions,
 * ledger and returns, wallet, idempotency keys, widget tokens, taxpayers and pending webhooks live
 * in Redis (sandbox/src/store.ts), so a sandbox started again on the same prefix is the same bank;
 * call open() before serving and resume() once it can be reached. The parts: sandbox/src/sessions.ts
 * (sessions, ledger, wallet), taxpayers.ts (the self-employed registry), faults.ts, idempotency.ts,
 * requests.ts and wire-format.ts; the HTTP routes (api-routes.ts) and
 * the webhook dispatcher (webhook-dispatcher.ts) sit around it. Knobs, `calls` and delivery records
 * are this process's only.
 */
export class SandboxBank {
  knobs: Knobs = Knobs.parse({});
  readonly calls: CallRecord[] = [];
  /**
   * Where the sandbox can be reached (its public URL, else the one it listens on): the base of the
   * links it hands out, such as receipts. Set by startSandbox before the bank resumes.
   */
  baseUrl: string | undefined;
  private readonly book: SessionBook;
  private readonly idempotency: IdempotencyKeys;
  private readonly taxpayers: Taxpayers;

  constructor(
    private readonly store: SandboxStore,
    private readonly emit: (webhook: OutgoingWebhook) => void,
    knobs: KnobsPatch = {},
    /** Told what went wrong where no caller can be (a due step that could not be committed). */
    private readonly onError: (err: unknown, what: string) => void = () => {},
  ) {
    this.book = new SessionBook(
      store,
      () => this.knobs,
      (type, session, tag) => this.emitWebhook(type, session, tag),
      onError,
    );
    this.idempotency = new IdempotencyKeys(store);
    this.taxpayers = new Taxpayers(store);
    this.setKnobs(knobs);
  }

  private pendingWebhooks: Array<{ sessionId: string; type: WebhookType; tag?: string }> = [];

  /** Loads what Redis holds; nothing is acted on until resume(). */
  async open(): Promise<void> {
    const stored = await this.store.load(this.book.walletBalance);
    this.book.restore(stored.sessions, stored.ledger, stored.walletBalance);
    this.pendingWebhooks = stored.pendingWebhooks;
  }

  /**
   * Re-arms every session's due step (overdue ones are taken at once) and re-sends the webhooks the
   * dispatcher had not finished with when the last sandbox stopped. Called once the sandbox
   * listens and knows its URL, so what it sends carries the right links.
   */
  resume(): void {
    this.book.resume();
    const pending = this.pendingWebhooks;
    this.pendingWebhooks = [];
    for (const { sessionId, type, tag } of pending) {
      const session = this.book.get(sessionId);
      if (session) this.emitWebhook(type, session, tag);
    }
  }

  /** This process's copy: what it loaded and has done since (GET /sandbox/ledger reads Redis). */
  get walletBalance(): number {
    return this.book.walletBalance;
  }

  /** Written to Redis in the background: setWalletBalance to wait for it. */
  set walletBalance(amount: number) {
    this.book.setWallet(amount).catch((err: unknown) => this.onError(err, 'the sandbox could not store the wallet balance'));
  }

  setWalletBalance(amount: number): Promise<void> {
    return this.book.setWallet(amount);
  }

  /** This process's copy of the ledger: what it loaded and has paid since. */
  get ledger(): readonly LedgerEntry[] {
    return this.book.ledger;
  }

  /** The ledger as the bank holds it in Redis, whichever sandbox on the prefix paid. */
  readLedger(): Promise<readonly LedgerEntry[]> {
    return this.book.readLedger();
  }

  /** What the card's banks sent back, as the bank holds it in Redis. */
  readReturns(): Promise<readonly ReturnEntry[]> {
    return this.book.readReturns();
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
  async reset(): Promise<void> {
    this.calls.length = 0;
    this.knobs = Knobs.parse({ webhookUrl: this.knobs.webhookUrl, webhookApiVersion: this.knobs.webhookApiVersion });
    await this.book.reset();
  }

  close(): void {
    this.book.close();
  }

  planFaults(endpoint: string): FaultPlan {
    return planFaults(this.knobs, endpoint);
  }

  /** Runs one API call under its idempotency key (`scope`: version/endpoint): sandbox/src/idempotency.ts. */
  call(scope: string, key: string | undefined, act: (claim?: IdempotencyClaim) => Promise<Answer>): Promise<Answer> {
    return this.idempotency.run(scope, key, act);
  }

  // ------------------------------------------------------------------ endpoints

  /**
   * One public token for the widgets the body names: the tokenization widget's (tokenize_widget,
   * and acquiring_widget, which the sandbox serves with the same form), and the self-employed
   * widget's, bound to its tax reference (self_employed_widget).
   */
  async issueToken(body: unknown): Promise<Answer> {
    const req = parseRequest(WidgetTokenRequest, body, 'v1');
    const token = randomBytes(32).toString('hex');
    if (req.tokenize_widget || req.acquiring_widget) await this.store.issueToken(token);
    if (req.self_employed_widget) await this.store.issueSelfEmployedToken(token, req.self_employed_widget.tax_reference);
    return { status: 'ok', public_token: token };
  }

  /** Whether the tokenization widget may still use a public token (sandbox/src/widget-card.ts). */
  lookupPublicToken(token: string): Promise<TokenState> {
    return this.store.tokenState(token);
  }

  /** Spends a public token on one tokenized card, atomically: two sandboxes on one prefix cannot both spend it. */
  async consumePublicToken(token: string): Promise<void> {
    const was = await this.store.consumeToken(token);
    if (was === 'used') throw new SandboxError('public_token_used', 'this public token was already used; issue a new one with token', 409);
    if (was === 'unknown') throw new SandboxError('public_token_unknown', 'this public token was not issued by the bank', 401);
  }

  /** A self-employed widget token, and the tax reference it was issued for (sandbox/src/widget-self-employed.ts). */
  lookupSelfEmployedToken(token: string): Promise<{ state: TokenState; taxReference: string }> {
    return this.store.selfEmployedTokenState(token);
  }

  /**
   * The self-employed widget's "Allow": spends the token and binds its tax reference, atomically.
   * A person not registered as self-employed is refused before the token is spent.
   */
  async bindWithSelfEmployedToken(token: string): Promise<TaxpayerView> {
    const { state, taxReference } = await this.store.selfEmployedTokenState(token);
    if (state === 'fresh' && !isSelfEmployed(taxReference)) throw unknownTaxpayer(taxReference);
    const was = state === 'fresh' ? await this.store.bindWithToken(token) : { state, taxReference };
    if (was.state === 'used')
      throw new SandboxError('public_token_used', 'this public token was already used; issue a new one with token', 409);
    if (was.state === 'unknown') throw new SandboxError('public_token_unknown', 'this public token was not issued by the bank', 401);
    return this.taxpayers.view(was.taxReference);
  }

  /** GET /sandbox/taxpayers/:ref. */
  taxpayer(taxReference: string): Promise<TaxpayerView> {
    return this.taxpayers.view(taxReference);
  }

  /** PUT /sandbox/taxpayers/:ref `{"bound": true|false}`. */
  async setTaxpayer(taxReference: string, body: unknown): Promise<TaxpayerView> {
    const bound = (body as { bound?: unknown } | null)?.bound;
    if (typeof bound !== 'boolean') throw new SandboxError('invalid_request', 'bound: must be true or false');
    return this.taxpayers.setBound(taxReference, bound);
  }

  async tokenInfo(body: unknown): Promise<Answer> {
    const req = parseRequest(TokenInfoRequest, body, 'v1');
    const hash = req.card.encrypted_card.number_hash;
    return { status: 'ok', info: { number_hash: hash, type: 'card', ...cardFacts(hash) } };
  }

  async walletBalanceOf(body: unknown): Promise<Answer> {
    parseRequest(WalletBalanceRequest, body, 'v1');
    const amount = await this.book.readWallet();
    return { status: 'ok', wallets: [{ id: 'wlt_sandbox', amount_details: { amount, currency: 'rub' } }] };
  }

  async createSession(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const req = parseRequest(SandboxCreateRequest, body, version);
    return this.answer(await this.book.create(version, req, claim), version);
  }

  async startPayout(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const req = parseRequest(SandboxStartRequest, body, version);
    return this.answer(await this.book.start(req.session_id, req, claim), version);
  }

  async initPayout(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const req = parseRequest(SandboxInitRequest, body, version);
    // Checked before the session exists, so a refused init leaves no session behind.
    if (!req.amount_details) throw new SandboxError('invalid_request', 'amount_details: is required');
    const created = await this.book.create(version, { metadata: req.metadata, customer: req.customer });
    return this.answer(await this.book.start(created.id, req, claim), version);
  }

  /** start/payout for a self-employed person, with the receipt the bank registers for them (sandbox/src/taxpayers.ts). */
  async startPayoutWithFiscalization(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const req = parseRequest(SandboxFiscalStartRequest, body, version);
    const fiscal = await this.fiscalTerms(req.fiscalization_details.professional_income_taxpayer);
    return this.answer(await this.book.start(req.session_id, req, claim, fiscal), version);
  }

  async initPayoutWithFiscalization(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const req = parseRequest(SandboxFiscalInitRequest, body, version);
    // Checked before the session exists, so a refused init leaves no session behind.
    if (!req.amount_details) throw new SandboxError('invalid_request', 'amount_details: is required');
    const fiscal = await this.fiscalTerms(req.fiscalization_details.professional_income_taxpayer);
    checkFiscalization(fiscal, req.amount_details);
    const created = await this.book.create(version, { metadata: req.metadata, customer: req.customer });
    return this.answer(await this.book.start(created.id, req, claim, fiscal), version);
  }

  async confirm(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const id = parseRequest(SessionIdRequest, body, version).session_id;
    return this.answer(await this.book.confirm(id, claim), version);
  }

  async cancel(body: unknown, version: ApiVersion, claim?: IdempotencyClaim): Promise<Answer> {
    const id = parseRequest(SessionIdRequest, body, version).session_id;
    return this.answer(await this.book.cancel(id, claim), version);
  }

  async status(body: unknown, version: ApiVersion): Promise<Answer> {
    const id = parseRequest(SessionIdRequest, body, version).session_id;
    return this.answer(await this.book.read(id), version);
  }

  // ------------------------------------------------------------------ the card's bank returns a payout

  /** POST /sandbox/sessions/:id/refund: see refundPayout in sandbox/src/session-rules.ts. */
  async refundPayout(id: string, order: unknown = {}): Promise<void> {
    const parsed = RefundOrder.safeParse(order);
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    await this.book.refund(id, parsed.data);
  }

  // ------------------------------------------------------------------ receipts

  /** A self-employed payout's receipt (GET /sandbox/receipts/:id), read from Redis; undefined if there is none. */
  async receipt(receiptId: string): Promise<{ session: SandboxSession; taxpayer: ProfessionalIncomeTaxpayer } | undefined> {
    const sessionId = sessionIdOfReceipt(receiptId);
    const session = sessionId ? await this.book.read(sessionId).catch(() => undefined) : undefined;
    const fiscalization = session?.payout?.fiscalization;
    if (!session || fiscalization?.receiptId !== receiptId) return undefined;
    return { session, taxpayer: fiscalization.taxpayer };
  }

  // ------------------------------------------------------------------ scripted session errors

  /**
   * Puts a started session in status `error` now (see ErrorPlan in sandbox/src/knobs.ts for how it
   * leaves it). Accepts the plan as JSON so the control route can pass its body straight on.
   */
  async markSessionError(id: string, plan: unknown = {}): Promise<void> {
    const parsed = ErrorPlan.safeParse(plan);
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    await this.book.markError(id, parsed.data);
  }

  /** Ends a session's `error` now: as planned, or as `to` says. */
  async resolveSessionError(id: string, to?: 'succeeded' | 'failed'): Promise<void> {
    await this.book.resolveError(id, to);
  }

  // ------------------------------------------------------------------ inspection (this process's copy)

  sessionState(id: string): SandboxSessionState | undefined {
    return this.book.get(id)?.state;
  }

  /** The session as session/status would show it, without a signed call or a recorded one. */
  sessionView(id: string, version?: ApiVersion): Answer | undefined {
    const session = this.book.get(id);
    return session && wireSession(session, version ?? session.version, this.wireOptions());
  }

  sessionCount(): number {
    return this.book.count();
  }

  ledgerBySession(ledger?: readonly LedgerEntry[], returns?: readonly ReturnEntry[]): ReturnType<SessionBook['ledgerBySession']> {
    return this.book.ledgerBySession(ledger, returns);
  }

  // ------------------------------------------------------------------ internals

  /**
   * The tax service's side of a self-employed payout's start: down (the npdUnavailable knob), or
   * what its registry says of the taxpayer. The rest is checked with the payout's amount
   * (checkFiscalization, sandbox/src/taxpayers.ts).
   */
  private async fiscalTerms(taxpayer: ProfessionalIncomeTaxpayer): Promise<FiscalTerms> {
    if (this.knobs.npdUnavailable) {
      throw new SandboxError('npd_service_internal_error', 'sandbox: the tax service (НПД) is unavailable; try again later', 500);
    }
    return { taxpayer, registry: await this.taxpayers.view(taxpayer.tax_reference) };
  }

  private wireOptions(): WireOptions {
    return { nullFields: this.knobs.nullFields, baseUrl: this.baseUrl };
  }

  /** Responses follow the version of the URL asked, whatever the session was created on. */
  private answer(session: SandboxSession, version: ApiVersion): Answer {
    return { status: 'ok', session: wireSession(session, version, this.wireOptions()) };
  }

  /** The webhook is pending in Redis (written with the change) until the dispatcher is done with it. */
  private emitWebhook(type: WebhookType, session: SandboxSession, tag?: string): void {
    const version = this.knobs.webhookApiVersion ?? session.version;
    const body = { type, session: wireSession(session, version, this.wireOptions()) };
    const failed = (err: unknown) => this.onError(err, `the sandbox could not mark the ${type} webhook of ${session.id} sent`);
    const onSettled = () => void this.store.ackWebhook(session.id, type, tag).catch(failed);
    this.emit({ type, sessionId: session.id, body, onSettled });
  }
}
