import type { Redis } from 'ioredis';
import type { LedgerEntry, ReturnEntry, SandboxSession, WebhookType } from './session-types.js';

/** Where `npm run sandbox` keeps its bank unless SANDBOX_REDIS_PREFIX says otherwise. */
export const DEFAULT_SANDBOX_PREFIX = '{b131sandbox}';

/**
 * The keys, all under one hash-tagged prefix (so the scripts below run on Redis Cluster too):
 *
 *   <prefix>:sessions     hash  session id → the session as JSON: state, payout, reported amount and
 *                               metadata, error, error plan, timestamps, creation API version, `rev`
 *                               (bumped by every change: the compare-and-set guard) and `due` (the
 *                               bank's next step on its own clock and when it is due, re-armed on start)
 *   <prefix>:ledger       list  every payout paid (LedgerEntry as JSON, with its fee), oldest first
 *   <prefix>:returns      list  every return of a paid payout by the card's bank (ReturnEntry as JSON), oldest first
 *   <prefix>:wallet       string the partner wallet balance in kopecks
 *   <prefix>:idempotency  set   `<version>/<endpoint>\0<key>` of every idempotency key a call kept
 *   <prefix>:tokens       hash  tokenization widget public token → `fresh` | `used`
 *   <prefix>:se-tokens    hash  self-employed widget public token → `fresh:<tax reference>` | `used:<tax reference>`
 *   <prefix>:taxpayers    hash  tax reference → `bound` | `unbound`, once bound or unbound (others: the defaults
 *                               in sandbox/src/taxpayers.ts)
 *   <prefix>:income       hash  `<tax reference>:<year>` → income registered for a self-employed taxpayer, kopecks
 *   <prefix>:webhooks     hash  webhooks the dispatcher is not done with (not yet answered 200, not given up,
 *                               not lost), re-sent on start: session id → type of its latest flow webhook
 *                               (ready_to_confirm, payment_finished); `<session id>/payment_refunded` →
 *                               the refund id of its latest return, so a return never hides the
 *                               payment_finished before it
 */
export function sandboxKeys(prefix: string) {
  return {
    sessions: `${prefix}:sessions`,
    ledger: `${prefix}:ledger`,
    wallet: `${prefix}:wallet`,
    idempotency: `${prefix}:idempotency`,
    tokens: `${prefix}:tokens`,
    webhooks: `${prefix}:webhooks`,
    returns: `${prefix}:returns`,
    selfEmployedTokens: `${prefix}:se-tokens`,
    taxpayers: `${prefix}:taxpayers`,
    income: `${prefix}:income`,
  };
}

/** Where a pending webhook is marked in <prefix>:webhooks (see sandboxKeys), and with what. */
export function pendingWebhookSlot(sessionId: string, type: WebhookType, tag?: string): { field: string; value: string } {
  return tag ? { field: `${sessionId}/${type}`, value: tag } : { field: sessionId, value: type };
}

function readPendingSlot(field: string, value: string): { sessionId: string; type: WebhookType; tag?: string } {
  const slash = field.indexOf('/');
  if (slash < 0) return { sessionId: field, type: value as WebhookType };
  return { sessionId: field.slice(0, slash), type: field.slice(slash + 1) as WebhookType, tag: value };
}

/**
 * One API call's (or one timer's) change to one session, in one script: the session is written
 * only if its stored `rev` is still the one the change was computed from (0: no such session yet),
 * the idempotency key only if no other call kept it, and money only if the wallet holds it; the
 * wallet debit or credit, the ledger or return entry, the taxpayer's income, the session, the key
 * and the pending webhook land together or not at all. Answers {outcome, detail}: `ok` + the
 * balance; `conflict` + the stored session (or ''); `idempotency`; `short` + the balance.
 */
const COMMIT_LUA = `
-- KEYS: sessions, wallet, ledger, idempotency, webhooks, returns, income
-- ARGV: id, expectedRev, sessionJson, debit, ledgerJson, idempotencyMember, webhookField, webhookValue,
--       credit, returnJson, incomeField, incomeAmount
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local rev = 0
if cur then rev = tonumber(cjson.decode(cur)['rev']) or 0 end
if rev ~= tonumber(ARGV[2]) then return {'conflict', cur or ''} end
if ARGV[6] ~= '' and redis.call('SISMEMBER', KEYS[4], ARGV[6]) == 1 then return {'idempotency', ''} end
local balance = tonumber(redis.call('GET', KEYS[2]) or '0')
local debit = tonumber(ARGV[4])
if debit > 0 then
  if balance < debit then return {'short', tostring(balance)} end
  balance = redis.call('DECRBY', KEYS[2], debit)
  redis.call('RPUSH', KEYS[3], ARGV[5])
end
local credit = tonumber(ARGV[9])
if credit > 0 then
  balance = redis.call('INCRBY', KEYS[2], credit)
  redis.call('RPUSH', KEYS[6], ARGV[10])
end
if ARGV[11] ~= '' then redis.call('HINCRBY', KEYS[7], ARGV[11], ARGV[12]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[6] ~= '' then redis.call('SADD', KEYS[4], ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], ARGV[7], ARGV[8]) end
return {'ok', tostring(balance)}
`;

/** Forgets a pending webhook mark, unless a newer webhook took its place. */
const ACK_WEBHOOK_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * Spends a self-employed widget token and binds its tax reference, together: answers what the
 * token was before (fresh, used or unknown) and its tax reference.
 */
const BIND_WITH_TOKEN_LUA = `
local s = redis.call('HGET', KEYS[1], ARGV[1])
if not s then return {'unknown', ''} end
local state, ref = string.match(s, '^(%a+):(%d+)$')
if state == 'fresh' then
  redis.call('HSET', KEYS[1], ARGV[1], 'used:' .. ref)
  redis.call('HSET', KEYS[2], ref, 'bound')
end
return {state, ref}
`;

/** Spends a public token once: answers what it was before (fresh, used, or unknown). */
const CONSUME_TOKEN_LUA = `
local s = redis.call('HGET', KEYS[1], ARGV[1])
if s == 'fresh' then redis.call('HSET', KEYS[1], ARGV[1], 'used') end
return s or 'unknown'
`;

interface StoreCommands {
  b131sandboxCommit(...args: string[]): Promise<[string, string]>;
  b131sandboxAckWebhook(key: string, id: string, type: string): Promise<number>;
  b131sandboxConsumeToken(key: string, token: string): Promise<string>;
  b131sandboxBindWithToken(tokens: string, taxpayers: string, token: string): Promise<[string, string]>;
}

export interface CommitRequest {
  session: SandboxSession;
  /** The `rev` the change was computed from; 0 for a new session. */
  expectedRev: number;
  movement?: LedgerEntry | undefined;
  credit?: ReturnEntry | undefined;
  income?: { field: string; amount: number } | undefined;
  idempotencyMember?: string | undefined;
  webhook?: WebhookType | undefined;
  webhookTag?: string | undefined;
}

export type CommitResult =
  | { outcome: 'ok'; balance: number }
  | { outcome: 'conflict'; current: SandboxSession | undefined }
  | { outcome: 'idempotency' }
  | { outcome: 'short'; balance: number };

export interface StoredBank {
  sessions: SandboxSession[];
  ledger: LedgerEntry[];
  walletBalance: number;
  pendingWebhooks: Array<{ sessionId: string; type: WebhookType; tag?: string }>;
}

export type TokenState = 'fresh' | 'used' | 'unknown';

/**
 * The sandbox bank's Redis, its only storage: see sandboxKeys for what lives where. Every change to
 * a session is one COMMIT_LUA call; everything else is one command. Two sandboxes on one prefix
 * (a restart overlapping the old process) are one bank: the scripts keep them from paying twice.
 */
export class SandboxStore {
  readonly keys: ReturnType<typeof sandboxKeys>;
  private readonly redis: Redis & StoreCommands;

  constructor(
    redis: Redis,
    readonly prefix: string,
  ) {
    this.keys = sandboxKeys(prefix);
    if (!('b131sandboxCommit' in redis)) {
      redis.defineCommand('b131sandboxCommit', { lua: COMMIT_LUA, numberOfKeys: 7 });
      redis.defineCommand('b131sandboxAckWebhook', { lua: ACK_WEBHOOK_LUA, numberOfKeys: 1 });
      redis.defineCommand('b131sandboxConsumeToken', { lua: CONSUME_TOKEN_LUA, numberOfKeys: 1 });
      redis.defineCommand('b131sandboxBindWithToken', { lua: BIND_WITH_TOKEN_LUA, numberOfKeys: 2 });
    }
    this.redis = redis as Redis & StoreCommands;
  }

  /** What a sandbox starting up takes in; sets the wallet to `defaultWallet` if it has none yet. Tokens stay in Redis, read when used. */
  async load(defaultWallet: number): Promise<StoredBank> {
    await this.redis.set(this.keys.wallet, String(defaultWallet), 'NX');
    const sessions: SandboxSession[] = [];
    let cursor = '0';
    do {
      const [next, entries] = await this.redis.hscan(this.keys.sessions, cursor, 'COUNT', 1000);
      cursor = next;
      for (let i = 1; i < entries.length; i += 2) sessions.push(JSON.parse(entries[i]!) as SandboxSession);
    } while (cursor !== '0');
    const [ledger, wallet, webhooks] = await Promise.all([
      this.readLedger(),
      this.redis.get(this.keys.wallet),
      this.redis.hgetall(this.keys.webhooks),
    ]);
    return {
      sessions,
      ledger,
      walletBalance: Number(wallet ?? defaultWallet),
      pendingWebhooks: Object.entries(webhooks).map(([field, value]) => readPendingSlot(field, value)),
    };
  }

  async commit(req: CommitRequest): Promise<CommitResult> {
    const k = this.keys;
    const slot = req.webhook ? pendingWebhookSlot(req.session.id, req.webhook, req.webhookTag) : { field: '', value: '' };
    const [outcome, detail] = await this.redis.b131sandboxCommit(
      k.sessions,
      k.wallet,
      k.ledger,
      k.idempotency,
      k.webhooks,
      k.returns,
      k.income,
      req.session.id,
      String(req.expectedRev),
      JSON.stringify(req.session),
      String(req.movement?.amount ?? 0),
      req.movement ? JSON.stringify(req.movement) : '',
      req.idempotencyMember ?? '',
      slot.field,
      slot.value,
      String(req.credit?.amount ?? 0),
      req.credit ? JSON.stringify(req.credit) : '',
      req.income?.field ?? '',
      String(req.income?.amount ?? 0),
    );
    switch (outcome) {
      case 'ok':
        return { outcome, balance: Number(detail) };
      case 'short':
        return { outcome, balance: Number(detail) };
      case 'idempotency':
        return { outcome };
      default:
        return { outcome: 'conflict', current: detail ? (JSON.parse(detail) as SandboxSession) : undefined };
    }
  }

  async getSession(id: string): Promise<SandboxSession | undefined> {
    const json = await this.redis.hget(this.keys.sessions, id);
    return json ? (JSON.parse(json) as SandboxSession) : undefined;
  }

  async readLedger(): Promise<LedgerEntry[]> {
    const entries = await this.redis.lrange(this.keys.ledger, 0, -1);
    return entries.map((e) => JSON.parse(e) as LedgerEntry);
  }

  async readReturns(): Promise<ReturnEntry[]> {
    const entries = await this.redis.lrange(this.keys.returns, 0, -1);
    return entries.map((e) => JSON.parse(e) as ReturnEntry);
  }

  async getWallet(): Promise<number> {
    return Number((await this.redis.get(this.keys.wallet)) ?? 0);
  }

  async setWallet(amount: number): Promise<void> {
    await this.redis.set(this.keys.wallet, String(amount));
  }

  async hasIdempotencyKey(member: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.idempotency, member)) === 1;
  }

  /** Keeps a key; false if another call kept it first. */
  async addIdempotencyKey(member: string): Promise<boolean> {
    return (await this.redis.sadd(this.keys.idempotency, member)) === 1;
  }

  async removeIdempotencyKey(member: string): Promise<void> {
    await this.redis.srem(this.keys.idempotency, member);
  }

  async issueToken(token: string): Promise<void> {
    await this.redis.hset(this.keys.tokens, token, 'fresh');
  }

  async tokenState(token: string): Promise<TokenState> {
    const state = await this.redis.hget(this.keys.tokens, token);
    return state === 'fresh' || state === 'used' ? state : 'unknown';
  }

  /** Marks a fresh token used; answers what it was before. */
  async consumeToken(token: string): Promise<TokenState> {
    const was = await this.redis.b131sandboxConsumeToken(this.keys.tokens, token);
    return was === 'fresh' || was === 'used' ? was : 'unknown';
  }

  async issueSelfEmployedToken(token: string, taxReference: string): Promise<void> {
    await this.redis.hset(this.keys.selfEmployedTokens, token, `fresh:${taxReference}`);
  }

  async selfEmployedTokenState(token: string): Promise<{ state: TokenState; taxReference: string }> {
    return readSelfEmployedToken(await this.redis.hget(this.keys.selfEmployedTokens, token));
  }

  /** Spends a fresh self-employed token and binds its tax reference, atomically; answers what the token was before. */
  async bindWithToken(token: string): Promise<{ state: TokenState; taxReference: string }> {
    const [state, ref] = await this.redis.b131sandboxBindWithToken(this.keys.selfEmployedTokens, this.keys.taxpayers, token);
    return state === 'fresh' || state === 'used' ? { state, taxReference: ref } : { state: 'unknown', taxReference: '' };
  }

  /** A taxpayer's binding as set (by the widget or the control route); undefined: never set. */
  async taxpayerBinding(taxReference: string): Promise<boolean | undefined> {
    const v = await this.redis.hget(this.keys.taxpayers, taxReference);
    return v === null ? undefined : v === 'bound';
  }

  async setTaxpayerBinding(taxReference: string, bound: boolean): Promise<void> {
    await this.redis.hset(this.keys.taxpayers, taxReference, bound ? 'bound' : 'unbound');
  }

  /** Income registered under an income field (sandbox/src/taxpayers.ts incomeField), kopecks. */
  async income(field: string): Promise<number> {
    return Number((await this.redis.hget(this.keys.income, field)) ?? 0);
  }

  async ackWebhook(sessionId: string, type: WebhookType, tag?: string): Promise<void> {
    const slot = pendingWebhookSlot(sessionId, type, tag);
    await this.redis.b131sandboxAckWebhook(this.keys.webhooks, slot.field, slot.value);
  }

  /**
   * Forgets sessions, ledger, returns, keys, tokens, taxpayers' bindings and income, and pending
   * webhooks; the wallet keeps its balance.
   */
  async reset(): Promise<void> {
    const k = this.keys;
    await this.redis.del(k.sessions, k.ledger, k.returns, k.idempotency, k.tokens, k.selfEmployedTokens, k.taxpayers, k.income, k.webhooks);
  }
}

function readSelfEmployedToken(value: string | null): { state: TokenState; taxReference: string } {
  const m = /^(fresh|used):(\d{12})$/.exec(value ?? '');
  return m ? { state: m[1] as TokenState, taxReference: m[2]! } : { state: 'unknown', taxReference: '' };
}
