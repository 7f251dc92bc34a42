import { randomBytes } from 'node:crypto';
import { describeIssues } from '../issues.js';
import { SessionIdRequest, TokenInfoRequest, WalletBalanceRequest, WidgetTokenRequest, type ApiVersion } from '../bank131/schemas.js';
import { SandboxError } from './errors.js';
import { IdempotencyKeys, planFaults, type FaultPlan } from './faults.js';
import { ErrorPlan, Knobs, KnobsPatch, type Fault } from './knobs.js';
import type { SandboxSessionState } from './session-machine.js';
import { SessionBook, type Committed, type IdempotencyClaim, type LedgerEntry, type SandboxSession, type WebhookType } from './sessions.js';
import type { SandboxStore } from './store.js';
import { cardFacts } from './test-cards.js';
import type { OutgoingWebhook } from './webhook-dispatcher.js';
import { SandboxCreateRequest, SandboxInitRequest, SandboxStartRequest, parseRequest, wireSession } from './wire-format.js';

export type { LedgerEntry } from './sessions.js';

type Answer = Record<string, unknown>;

export interface SandboxBankOptions {
  /**
   * Where the bank keeps its sessions, ledger, wallet, idempotency keys, public tokens and pending
   * webhooks (src/sandbox/store.ts), so a restarted sandbox is the same bank. Without it, all of
   * that lives in this process's memory. With it, call open() before serving.
   */
  store?: SandboxStore | undefined;
  /** Told what went wrong where no caller can be (a due step that could not be committed). */
  onError?: ((err: unknown, what: string) => void) | undefined;
}

/**
 * The sandbox bank: one method per API endpoint, taking the parsed JSON body and the URL's API
 * version and answering the bank's JSON, plus the knobs and what tests inspect. The parts live in
 * src/sandbox/sessions.ts (sessions, ledger, wallet), faults.ts (faults, idempotency keys) and
 * wire-format.ts (request parsing, v1/v2 spelling); the HTTP server (server.ts) and the webhook
 * dispatcher (webhook-dispatcher.ts) sit around it.
 *
 * The endpoints answer promises; without a store every change is nonetheless made (or refused)
 * before the method returns, so what tests read synchronously (sessionState, ledger) is current.
 * With a store they answer once the change is in Redis. Knobs, `calls` and delivery records are
 * this process's only, with or without a store.
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

  private readonly store: SandboxStore | undefined;
  private readonly onError: (err: unknown, what: string) => void;

  constructor(
    private readonly emit: (webhook: OutgoingWebhook) => void,
    knobs: KnobsPatch = {},
    options: SandboxBankOptions = {},
  ) {
    this.store = options.store;
    this.onError = options.onError ?? (() => {});
    this.book = new SessionBook(
      () => this.knobs,
      (type, session) => this.emitWebhook(type, session),
      this.store,
      this.onError,
    );
    this.setKnobs(knobs);
  }

  /**
   * With a store: loads what it holds, re-arms every session's due step (overdue ones are taken
   * at once) and re-sends each session's latest webhook the dispatcher had not finished with when
   * the last sandbox stopped. Without one: nothing to do.
   */
  async open(): Promise<void> {
    if (!this.store) return;
    const stored = await this.store.load(this.book.walletBalance);
    this.book.restore(stored.sessions, stored.ledger, stored.walletBalance);
    this.publicTokens.clear();
    this.usedPublicTokens.clear();
    for (const [token, state] of stored.tokens) (state === 'used' ? this.usedPublicTokens : this.publicTokens).add(token);
    for (const [id, type] of stored.pendingWebhooks) {
      const session = this.book.get(id);
      if (session) this.emitWebhook(type, session);
    }
  }

  /** This process's copy: exact without a store; with one, what it loaded and has done since (see readLedger). */
  get walletBalance(): number {
    return this.book.walletBalance;
  }

  /** With a store, the balance is also written to Redis (in the background: setWalletBalance to wait for it). */
  set walletBalance(amount: number) {
    const written = this.book.setWallet(amount);
    if (written instanceof Promise) written.catch((err: unknown) => this.onError(err, 'the sandbox could not store the wallet balance'));
  }

  setWalletBalance(amount: number): Committed<void> {
    return this.book.setWallet(amount);
  }

  /** This process's copy of the ledger: exact without a store; with one, what it loaded and has done since. */
  get ledger(): readonly LedgerEntry[] {
    return this.book.ledger;
  }

  /** The ledger as the bank holds it: from Redis with a store. */
  readLedger(): Committed<readonly LedgerEntry[]> {
    return this.book.readLedger();
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
  reset(): Committed<void> {
    const done = this.book.reset();
    this.idempotency.clear();
    this.publicTokens.clear();
    this.usedPublicTokens.clear();
    this.calls.length = 0;
    this.knobs = Knobs.parse({ webhookUrl: this.knobs.webhookUrl, webhookApiVersion: this.knobs.webhookApiVersion });
    return done;
  }

  close(): void {
    this.book.close();
  }

  planFaults(endpoint: string): FaultPlan {
    return planFaults(this.knobs, endpoint);
  }

  /** See src/sandbox/faults.ts IdempotencyKeys.claim. Without a store only: call() uses it. */
  claimIdempotencyKey(endpoint: string, key: string | undefined): () => void {
    return this.idempotency.claim(endpoint, key);
  }

  /**
   * Runs one API call under its idempotency key (`scope`: version/endpoint): a key already kept
   * is refused (409 idempotency_key_already_exists); a call refused with any other SandboxError
   * does not keep its key, so the partner may rightly retry under it. With a store the key is kept
   * in the same Redis transaction as the call's first change (so a kill never keeps the key of a
   * call that did nothing, nor does a change without its key), or after a call that changes nothing.
   */
  async call(scope: string, key: string | undefined, act: (claim?: IdempotencyClaim) => Answer | Promise<Answer>): Promise<Answer> {
    const store = this.store;
    if (!store) {
      const release = this.idempotency.claim(scope, key);
      try {
        return await act();
      } catch (err) {
        if (err instanceof SandboxError && err.code !== 'idempotency_key_already_exists') release();
        throw err;
      }
    }
    if (!key) return act();
    const claim: IdempotencyClaim = { member: `${scope}\u0000${key}`, kept: false };
    if (await store.hasIdempotencyKey(claim.member)) {
      throw new SandboxError('idempotency_key_already_exists', `idempotency key ${key} was already used for ${scope}`, 409);
    }
    try {
      const answer = await act(claim);
      if (!claim.kept) await store.addIdempotencyKey(claim.member);
      return answer;
    } catch (err) {
      if (claim.kept && err instanceof SandboxError && err.code !== 'idempotency_key_already_exists') await store.removeIdempotencyKey(claim.member);
      throw err;
    }
  }

  // ------------------------------------------------------------------ endpoints

  async issueToken(body: unknown): Promise<Answer> {
    parseRequest(WidgetTokenRequest, body, 'v1');
    const token = randomBytes(32).toString('hex');
    await this.store?.issueToken(token);
    this.publicTokens.add(token);
    return { status: 'ok', public_token: token };
  }

  /** Whether the tokenization widget may still use a public token (src/sandbox/widget.ts): this process's copy. */
  publicTokenState(token: string): 'fresh' | 'used' | 'unknown' {
    return this.usedPublicTokens.has(token) ? 'used' : this.publicTokens.has(token) ? 'fresh' : 'unknown';
  }

  /** publicTokenState as the bank holds it: from Redis with a store. */
  async lookupPublicToken(token: string): Promise<'fresh' | 'used' | 'unknown'> {
    if (!this.store) return this.publicTokenState(token);
    const state = await this.store.tokenState(token);
    this.rememberToken(token, state);
    return state;
  }

  /**
   * Spends a public token on one tokenized card; a second use, or a token never issued, is
   * refused. Without a store it is spent (or refused) before this returns; with one, once Redis
   * has it, atomically, so two sandboxes on one prefix cannot both spend it.
   */
  consumePublicToken(token: string): Committed<void> {
    const refuse = (state: 'fresh' | 'used' | 'unknown') => {
      if (state === 'used') throw new SandboxError('public_token_used', 'this public token was already used; issue a new one with token', 409);
      if (state === 'unknown') throw new SandboxError('public_token_unknown', 'this public token was not issued by the bank', 401);
    };
    if (!this.store) {
      refuse(this.publicTokenState(token));
      this.rememberToken(token, 'used');
      return;
    }
    return this.store.consumeToken(token).then((was) => {
      this.rememberToken(token, was === 'unknown' ? 'unknown' : 'used');
      refuse(was);
    });
  }

  private rememberToken(token: string, state: 'fresh' | 'used' | 'unknown'): void {
    this.publicTokens.delete(token);
    this.usedPublicTokens.delete(token);
    if (state === 'fresh') this.publicTokens.add(token);
    if (state === 'used') this.usedPublicTokens.add(token);
  }

  tokenInfo(body: unknown): Answer {
    const req = parseRequest(TokenInfoRequest, body, 'v1');
    const hash = req.card.encrypted_card.number_hash;
    return { status: 'ok', info: { number_hash: hash, type: 'card', ...cardFacts(hash) } };
  }

  async walletBalanceOf(body: unknown): Promise<Answer> {
    parseRequest(WalletBalanceRequest, body, 'v1');
    const amount = await this.book.readWallet();
    return { status: 'ok', wallets: [{ id: 'wlt_sandbox', amount_details: { amount, currency: 'rub' } }] };
  }

  // Each endpoint makes its change before its first await when there is no store (see the class comment).

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
    const created = this.book.create(version, { metadata: req.metadata, customer: req.customer });
    const id = created instanceof Promise ? (await created).id : created.id;
    return this.answer(await this.book.start(id, req, claim), version);
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

  // ------------------------------------------------------------------ scripted session errors

  /**
   * Puts a started session in status `error` now (see ErrorPlan in src/sandbox/knobs.ts for how it
   * leaves it). Accepts the plan as JSON so the control route can pass its body straight on.
   */
  markSessionError(id: string, plan: unknown = {}): Committed<unknown> {
    const parsed = ErrorPlan.safeParse(plan ?? {});
    if (!parsed.success) throw new SandboxError('invalid_request', describeIssues(parsed.error).join('; '));
    return this.book.markError(id, parsed.data);
  }

  /** Ends a session's `error` now: as planned, or as `to` says. Without a store, before it returns. */
  resolveSessionError(id: string, to?: 'succeeded' | 'failed'): Committed<unknown> {
    return this.book.resolveError(id, to);
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

  ledgerBySession(ledger?: readonly LedgerEntry[]): ReturnType<SessionBook['ledgerBySession']> {
    return this.book.ledgerBySession(ledger);
  }

  // ------------------------------------------------------------------ internals

  /** Responses follow the version of the URL asked, whatever the session was created on. */
  private answer(session: SandboxSession, version: ApiVersion): Answer {
    return { status: 'ok', session: wireSession(session, version, { nullFields: this.knobs.nullFields }) };
  }

  private emitWebhook(type: WebhookType, session: SandboxSession): void {
    const version = this.knobs.webhookApiVersion ?? session.version;
    const body = { type, session: wireSession(session, version, { nullFields: this.knobs.nullFields }) };
    const store = this.store;
    // With a store the webhook is pending in Redis (written with the change): done with it, forget it.
    const onSettled = store
      ? () => void store.ackWebhook(session.id, type).catch((err: unknown) => this.onError(err, `the sandbox could not mark the ${type} webhook of ${session.id} sent`))
      : undefined;
    this.emit({ type, sessionId: session.id, body, ...(onSettled ? { onSettled } : {}) });
  }
}
