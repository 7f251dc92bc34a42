import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-client.js';

/**
 * Every atomic step on Redis is one Lua script in ./scripts/, named by its verb, with its KEYS and
 * ARGV in its header. They are loaded here and nowhere else: one script, one round trip, no
 * interleaving. Keys always share one hash-tagged prefix, so the scripts run on Redis Cluster too.
 */
const SCRIPTS = {
  b131CreatePayouts: { file: 'create-payouts.lua' }, // variable key count: given per call
  b131Transition: { file: 'transition.lua', numberOfKeys: 4 },
  b131Note: { file: 'note.lua', numberOfKeys: 2 },
  b131NoteBySession: { file: 'note-by-session.lua', numberOfKeys: 1 },
  b131MarkStartAttempt: { file: 'mark-start-attempt.lua', numberOfKeys: 1 },
  b131MarkNotified: { file: 'mark-notified.lua', numberOfKeys: 5 },
  b131TakeDue: { file: 'take-due.lua', numberOfKeys: 1 },
  b131RetirePayouts: { file: 'retire-payouts.lua', numberOfKeys: 1 },
  b131TakeToken: { file: 'take-token.lua', numberOfKeys: 1 },
  b131RecordAttempt: { file: 'record-attempt.lua', numberOfKeys: 2 },
  b131StorePayload: { file: 'store-payload.lua', numberOfKeys: 1 },
  b131CreateEndpoint: { file: 'create-endpoint.lua', numberOfKeys: 2 },
  b131UpdateEndpoint: { file: 'update-endpoint.lua', numberOfKeys: 1 },
  b131CreateRecipient: { file: 'create-recipient.lua', numberOfKeys: 3 },
  b131SaveRecipientCard: { file: 'save-recipient-card.lua', numberOfKeys: 3 },
  b131MarkRecipientBound: { file: 'mark-recipient-bound.lua', numberOfKeys: 1 },
  b131ScreenPayout: { file: 'screen-payout.lua' }, // variable key count: the payout and its checks
} as const;

export interface ScriptCommands {
  b131CreatePayouts(numKeys: number, ...args: string[]): Promise<string[]>;
  b131Transition(...args: string[]): Promise<[string, string, ...string[]]>;
  b131Note(payoutKey: string, auditKey: string, now: string, why: string): Promise<string>;
  b131NoteBySession(sessionKey: string, payoutKeyPrefix: string, now: string, why: string): Promise<string[]>;
  b131MarkStartAttempt(payoutKey: string, sessionId: string): Promise<number>;
  b131MarkNotified(...args: string[]): Promise<number>;
  b131TakeDue(dueKey: string, now: string, nextDue: string, limit: string): Promise<string[]>;
  b131RetirePayouts(dueKey: string, prefix: string, cutoffIso: string, ...ids: string[]): Promise<number>;
  b131TakeToken(slotKey: string, intervalUs: string): Promise<number>;
  b131RecordAttempt(eventKey: string, attemptsKey: string, attempt: string, kept: string): Promise<number>;
  b131StorePayload(eventKey: string, body: string): Promise<string>;
  b131CreateEndpoint(endpointKey: string, tenantKey: string, max: string, id: string, ...fields: string[]): Promise<number>;
  b131UpdateEndpoint(endpointKey: string, tenant: string, ...fields: string[]): Promise<number>;
  b131CreateRecipient(
    recipientKey: string,
    referenceKey: string,
    indexKey: string,
    id: string,
    createdMs: string,
    ...fields: string[]
  ): Promise<[string, string]>;
  b131SaveRecipientCard(recipientKey: string, linkKey: string, spentKey: string, ...args: string[]): Promise<string>;
  b131MarkRecipientBound(recipientKey: string, tenant: string, now: string): Promise<number>;
  b131ScreenPayout(numKeys: number, ...args: string[]): Promise<string[]>;
}

const sources = new Map<string, string>();
function source(file: string): string {
  let lua = sources.get(file);
  if (lua === undefined) {
    lua = readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');
    sources.set(file, lua);
  }
  return lua;
}

/** Defines every script as a command on this connection (once), and returns it typed. */
export function withScripts(redis: RedisClient): RedisClient & ScriptCommands {
  if (!('b131Transition' in redis)) {
    for (const [name, def] of Object.entries(SCRIPTS)) {
      redis.defineCommand(
        name,
        'numberOfKeys' in def ? { lua: source(def.file), numberOfKeys: def.numberOfKeys } : { lua: source(def.file) },
      );
    }
  }
  return redis as RedisClient & ScriptCommands;
}
