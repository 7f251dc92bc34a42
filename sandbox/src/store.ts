import type { Redis } from 'ioredis';
import type { LedgerEntry, SandboxSession, WebhookType } from './session-types.js';

/** Where `npm run sandbox` keeps its bank unless SANDBOX_REDIS_PREFIX says otherwise. */
export const DEFAULT_SANDBOX_PREFIX = '{b131sandbox}';

/**
 * The keys, all under one hash-tagged prefix (so the scripts below run on Redis Cluster too):
 *
 *   <prefix>:sessions     hash  session id → the session as JSON: state, payout, reported amount and
 *                               metadata, error, error plan, timestamps, creation API version, `rev`
 *                               (bumped by every change: the compare-and-set guard) and `due` (the
 *                               bank's next step on its own clock and when it is due, re-armed on start)
 *   <prefix>:ledger       list  every money movement (LedgerEntry as JSON), oldest first
 *   <prefix>:wallet       string the partner wallet balance in kopecks
 *   <prefix>:idempotency  set   `<version>/<endpoint>\0<key>` of every idempotency key a call kept
 *   <prefix>:tokens       hash  widget public token → `fresh` | `used`
 *   <prefix>:webhooks     hash  session id → type of its latest webhook the dispatcher is not done
 *                               with (not yet answered 200, not given up, not lost): re-sent on start
 */
export function sandboxKeys(prefix: string) {
  return {
    sessions: `${prefix}:sessions`,
    ledger: `${prefix}:ledger`,
    wallet: `${prefix}:wallet`,
    idempotency: `${prefix}:idempotency`,
    tokens: `${prefix}:tokens`,
    webhooks: `${prefix}:webhooks`,
  };
}

/**
 * One API call's (or one timer's) change to one session, in one script: the session is written
 * only if its stored `rev` is still the one the change was computed from (0: no such session yet),
 * the idempotency key only if no other call kept it, and money only if the wallet holds it; the
 * wallet debit, the ledger entry, the session, the key and the pending webhook land together or
 * not at all. Answers {outcome, detail}: `ok` + the balance; `conflict` + the stored session (or
 * ''); `idempotency`; `short` + the balance.
 */
const COMMIT_LUA = `
-- KEYS: sessions, wallet, ledger, idempotency, webhooks
-- ARGV: id, expectedRev, sessionJson, debit, ledgerJson, idempotencyMember, webhookType
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
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[6] ~= '' then redis.call('SADD', KEYS[4], ARGV[6]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[7]) end
return {'ok', tostring(balance)}
`;

/** Forgets a session's pending webhook, unless a newer one took its place. */
const ACK_WEBHOOK_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
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
}

export interface CommitRequest {
  session: SandboxSession;
  /** The `rev` the change was computed from; 0 for a new session. */
  expectedRev: number;
  movement?: LedgerEntry | undefined;
  idempotencyMember?: string | undefined;
  webhook?: WebhookType | undefined;
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
  pendingWebhooks: Array<[string, WebhookType]>;
}

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
      redis.defineCommand('b131sandboxCommit', { lua: COMMIT_LUA, numberOfKeys: 5 });
      redis.defineCommand('b131sandboxAckWebhook', { lua: ACK_WEBHOOK_LUA, numberOfKeys: 1 });
      redis.defineCommand('b131sandboxConsumeToken', { lua: CONSUME_TOKEN_LUA, numberOfKeys: 1 });
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
      pendingWebhooks: Object.entries(webhooks) as Array<[string, WebhookType]>,
    };
  }

  async commit(req: CommitRequest): Promise<CommitResult> {
    const k = this.keys;
    const [outcome, detail] = await this.redis.b131sandboxCommit(
      k.sessions,
      k.wallet,
      k.ledger,
      k.idempotency,
      k.webhooks,
      req.session.id,
      String(req.expectedRev),
      JSON.stringify(req.session),
      String(req.movement?.amount ?? 0),
      req.movement ? JSON.stringify(req.movement) : '',
      req.idempotencyMember ?? '',
      req.webhook ?? '',
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

  async tokenState(token: string): Promise<'fresh' | 'used' | 'unknown'> {
    const state = await this.redis.hget(this.keys.tokens, token);
    return state === 'fresh' || state === 'used' ? state : 'unknown';
  }

  /** Marks a fresh token used; answers what it was before. */
  async consumeToken(token: string): Promise<'fresh' | 'used' | 'unknown'> {
    const was = await this.redis.b131sandboxConsumeToken(this.keys.tokens, token);
    return was === 'fresh' || was === 'used' ? was : 'unknown';
  }

  async ackWebhook(sessionId: string, type: WebhookType): Promise<void> {
    await this.redis.b131sandboxAckWebhook(this.keys.webhooks, sessionId, type);
  }

  /** Forgets sessions, ledger, keys, tokens and pending webhooks; the wallet keeps its balance. */
  async reset(): Promise<void> {
    const k = this.keys;
    await this.redis.del(k.sessions, k.ledger, k.idempotency, k.tokens, k.webhooks);
  }
}
