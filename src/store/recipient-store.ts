import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { EncryptedCard } from '../bank131/schemas.js';
import { canonicalJson } from '../payouts/schemas.js';
import type { RedisClient } from './redis-client.js';
import type { ScriptCommands } from './scripts.js';

/** A person's name as a payout order's `recipient` gives it (src/payouts/schemas.ts Recipient). */
export interface RecipientName {
  full_name?: string | undefined;
  first_name?: string | undefined;
  last_name?: string | undefined;
  middle_name?: string | undefined;
}
export const NAME_PARTS = ['full_name', 'first_name', 'last_name', 'middle_name'] as const;

/** What a tenant gives for a recipient (POST /v1/recipients): the reference it is known by, and never changes. */
export interface RecipientInput {
  reference: string;
  name: RecipientName;
  taxReference: string | null;
}

/**
 * The recipient's saved card: what the widget returned (`hashes`: NEVER shown, never logged; only a
 * payout to the card sends them to the bank) and what token/info said of it. `invalid` once a payout
 * to it failed with a code that says the card cannot be paid to (src/recipients/unusable-card.ts).
 */
export interface SavedCard {
  id: string;
  brand: string;
  last4: string;
  status: 'active' | 'invalid';
  invalidCode: string | null;
  invalidText: string | null;
  invalidAt: string | null;
  savedAt: string;
  hashes: EncryptedCard;
}

/** A saved recipient as stored. */
export interface RecipientRecord {
  id: string;
  tenant: string;
  reference: string;
  name: RecipientName;
  /** A self-employed person's ИНН (12 digits), for payouts with fiscalization. */
  taxReference: string | null;
  /** `bound`: they allowed Bank 131 to register their income (the self-employed widget said so). */
  selfEmployed: 'bound' | 'unknown';
  card: SavedCard | null;
  createdAt: string;
  updatedAt: string;
}

/** What a card saved through the widget is: its hashes and what token/info said of it. */
export interface CardToSave {
  hashes: EncryptedCard;
  brand: string;
  last4: string;
}

/**
 * A recipient's card link (POST /v1/recipients/:id/card-links): live until it expires or a card is
 * saved through it. `spent`: the card saved through it (its id and last 4). After it expires, only
 * when it expired (and whether it was spent) is known, for a page that says so.
 */
export interface RecipientCardLink {
  token: string;
  /** Whose: null once it expired. */
  owner: { tenant: string; recipientId: string } | null;
  expiresAt: number;
  spent: { cardId: string; last4: string } | null;
}

export type SaveOutcome = { ok: true; cardId: string } | { ok: false; why: 'missing' | 'expired' | 'used' | 'not_invalid' };

export const RECIPIENT_ID = /^rcp_[0-9a-f]{16}$/;
export const newRecipientId = (): string => `rcp_${randomBytes(8).toString('hex')}`;
export const newCardId = (): string => `card_${randomBytes(8).toString('hex')}`;
const newLinkToken = (): string => randomBytes(24).toString('base64url');

/** How long after a card link expires its page can still say so (and that a card was saved through it). */
export const CARD_LINK_MEMORY_MS = 7 * 86_400_000;

const NameSchema = z.object({
  full_name: z.string().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  middle_name: z.string().optional(),
});

const RecipientHash = z.object({
  id: z.string(),
  tenant: z.string(),
  reference: z.string(),
  name: z.string(),
  tax_reference: z.string().optional(),
  self_employed: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
  card_id: z.string().optional(),
  card_brand: z.string().optional(),
  card_last4: z.string().optional(),
  card_saved_at: z.string().optional(),
  card_hashes: z.string().optional(),
  card_status: z.enum(['active', 'invalid']).optional(),
  card_invalid_code: z.string().optional(),
  card_invalid_text: z.string().optional(),
  card_invalid_at: z.string().optional(),
});

/** The name parts given, trimmed by the schema already, without the absent ones. */
export function nameOf(given: RecipientName): RecipientName {
  const out: RecipientName = {};
  for (const part of NAME_PARTS) if (given[part] !== undefined) out[part] = given[part];
  return out;
}

/** The hash as a record; a hash that breaks the layout is a bug, said loudly (without the card hashes). */
export function toRecipient(h: Record<string, string>): RecipientRecord {
  const parsed = RecipientHash.safeParse(h);
  if (!parsed.success)
    throw new Error(
      `recipient ${h.id ?? '?'} is stored in a shape it may not have: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`,
    );
  const r = parsed.data;
  const card: SavedCard | null =
    r.card_id && r.card_hashes && r.card_last4
      ? {
          id: r.card_id,
          brand: r.card_brand || 'unknown',
          last4: r.card_last4,
          status: r.card_status ?? 'active',
          invalidCode: r.card_invalid_code || null,
          invalidText: r.card_invalid_text || null,
          invalidAt: r.card_invalid_at || null,
          savedAt: r.card_saved_at ?? r.updated_at,
          hashes: EncryptedCard.parse(JSON.parse(r.card_hashes)),
        }
      : null;
  return {
    id: r.id,
    tenant: r.tenant,
    reference: r.reference,
    name: nameOf(NameSchema.parse(JSON.parse(r.name))),
    taxReference: r.tax_reference || null,
    selfEmployed: r.self_employed === 'bound' ? 'bound' : 'unknown',
    card,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/**
 * What differs between a recipient and a create given again with its reference: the fields a 409
 * names (`full_name`, …, `tax_reference`). Empty: the same body.
 */
export function differingFields(r: RecipientRecord, input: RecipientInput): string[] {
  const fields: string[] = NAME_PARTS.filter((part) => r.name[part] !== input.name[part]);
  if (r.taxReference !== input.taxReference) fields.push('tax_reference');
  return fields;
}

/**
 * Tenants' saved recipients in Redis. The layout is shared with src/store/scripts/transition.lua,
 * which marks a saved card invalid when a payout to it fails with a code that says the card is
 * unusable, in the same step as the failure:
 *
 *   recipient:<tenant>:<id>              hash: id, tenant, reference, name (JSON of the name parts),
 *                                        tax_reference, self_employed (`bound` or absent),
 *                                        created_at, updated_at; the saved card: card_id, card_brand,
 *                                        card_last4, card_saved_at, card_hashes (JSON, never shown),
 *                                        card_status (active | invalid), card_invalid_code,
 *                                        card_invalid_text, card_invalid_at
 *   recipients:<tenant>                  sorted set of ids by creation (ms): the list, never a scan
 *   recipient-ref:<tenant>:<reference>   → id: creates are idempotent on the tenant's reference
 *   collect-recipient:<token>            → `<tenant>:<id>`, a card link, PX its life
 *   collect-recipient:<token>:until      → when it expires (ms), kept CARD_LINK_MEMORY_MS longer
 *   collect-recipient:<token>:used       → `<card id>|<last 4>` once a card was saved through it
 *
 * The tenant is in every key, so another tenant's recipient is simply not found.
 */
export class RecipientStore {
  constructor(
    private readonly redis: RedisClient & ScriptCommands,
    private readonly prefix: string,
  ) {}

  key(tenant: string, id: string): string {
    return `${this.prefix}:recipient:${tenant}:${id}`;
  }
  indexKey(tenant: string): string {
    return `${this.prefix}:recipients:${tenant}`;
  }
  referenceKey(tenant: string, reference: string): string {
    return `${this.prefix}:recipient-ref:${tenant}:${reference}`;
  }
  /** A recipient's card link (the payout links are `collect:<token>`: the collect routes look in both). */
  linkKey(token: string): string {
    return `${this.prefix}:collect-recipient:${token}`;
  }

  /**
   * A new recipient, or the one the tenant's reference already names (`created: false`; the caller
   * compares what was given with it). One script: two creates with one reference make one recipient.
   */
  async create(tenant: string, input: RecipientInput): Promise<{ created: boolean; recipient: RecipientRecord }> {
    const id = newRecipientId();
    const now = new Date();
    const at = now.toISOString();
    const fields: Record<string, string> = {
      id,
      tenant,
      reference: input.reference,
      name: canonicalJson(nameOf(input.name)),
      created_at: at,
      updated_at: at,
      ...(input.taxReference ? { tax_reference: input.taxReference } : {}),
    };
    const [outcome, existing] = await this.redis.b131CreateRecipient(
      this.key(tenant, id),
      this.referenceKey(tenant, input.reference),
      this.indexKey(tenant),
      id,
      String(now.getTime()),
      ...Object.entries(fields).flat(),
    );
    if (outcome === 'created') return { created: true, recipient: toRecipient(fields) };
    const recipient = await this.get(tenant, existing);
    if (!recipient) throw new Error(`recipient reference ${input.reference} of ${tenant} names ${existing}, which is not stored`);
    return { created: false, recipient };
  }

  /** The tenant's recipient, card hashes included (a payout to the saved card snapshots them); null for none, or another tenant's. */
  async get(tenant: string, id: string): Promise<RecipientRecord | null> {
    if (!RECIPIENT_ID.test(id)) return null;
    const h = await this.redis.hgetall(this.key(tenant, id));
    return h.tenant === tenant ? toRecipient(h) : null;
  }

  async byReference(tenant: string, reference: string): Promise<RecipientRecord | null> {
    const id = await this.redis.get(this.referenceKey(tenant, reference));
    return id ? this.get(tenant, id) : null;
  }

  /**
   * A page of the tenant's recipients, newest first, from its index: `startingAfter` is the id of
   * the last one of the previous page; `reference` narrows it to the one with that reference.
   */
  async list(
    tenant: string,
    q: { limit: number; startingAfter?: string | undefined; reference?: string | undefined },
  ): Promise<{ recipients: RecipientRecord[]; hasMore: boolean } | { unknownCursor: true }> {
    const index = this.indexKey(tenant);
    let start = 0;
    if (q.startingAfter !== undefined) {
      const rank = await this.redis.zrevrank(index, q.startingAfter);
      if (rank === null) return { unknownCursor: true };
      start = rank + 1;
    }
    if (q.reference !== undefined) {
      const one = await this.byReference(tenant, q.reference);
      if (!one) return { recipients: [], hasMore: false };
      const rank = await this.redis.zrevrank(index, one.id);
      return { recipients: rank !== null && rank >= start ? [one] : [], hasMore: false };
    }
    const ids = await this.redis.zrevrange(index, start, start + q.limit);
    const page = ids.slice(0, q.limit);
    const recipients: RecipientRecord[] = [];
    if (page.length > 0) {
      const pipeline = this.redis.pipeline();
      for (const id of page) pipeline.hgetall(this.key(tenant, id));
      for (const [err, h] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        const hash = h as Record<string, string>;
        if (hash.tenant === tenant) recipients.push(toRecipient(hash));
      }
    }
    return { recipients, hasMore: ids.length > q.limit };
  }

  /**
   * Saves a card on the recipient, in place of any it had: a new card id, status active, the
   * invalid marks cleared. Returns the card's id (`cardId` when given: the id a payout already
   * carries for it), or null when the tenant has no such recipient.
   */
  async saveCard(tenant: string, id: string, card: CardToSave, cardId: string = newCardId()): Promise<string | null> {
    const key = this.key(tenant, id);
    const r = await this.save(key, key, key, tenant, card, cardId, '', 0, false);
    return r.ok ? r.cardId : null;
  }

  /**
   * Saves a card in place of one a payout found unusable, once: only while the recipient's card is
   * invalid and `spentKey` is not set; sets `spentKey` (for `lifeMs`) in the same step.
   */
  replaceInvalidCard(tenant: string, id: string, card: CardToSave, spentKey: string, lifeMs: number): Promise<SaveOutcome> {
    const key = this.key(tenant, id);
    return this.save(key, key, spentKey, tenant, card, newCardId(), '', Math.max(1, lifeMs), true);
  }

  /** A recipient allowed Bank 131 to register their income as self-employed. False: no such recipient. */
  async markSelfEmployedBound(tenant: string, id: string): Promise<boolean> {
    return (await this.redis.b131MarkRecipientBound(this.key(tenant, id), tenant, new Date().toISOString())) === 1;
  }

  /** A new single-use card link for the recipient, live for `ttlMs`; null when the tenant has no such recipient. */
  async createCardLink(tenant: string, id: string, ttlMs: number): Promise<{ token: string; expiresAt: number } | null> {
    if (!(await this.get(tenant, id))) return null;
    const token = newLinkToken();
    const expiresAt = Date.now() + ttlMs;
    const link = this.linkKey(token);
    await this.redis
      .multi()
      .set(link, `${tenant}:${id}`, 'PX', ttlMs)
      .set(`${link}:until`, String(expiresAt), 'PX', ttlMs + CARD_LINK_MEMORY_MS)
      .exec();
    return { token, expiresAt };
  }

  /** The card link behind a token, live or not; null when there never was one (or it is long gone). */
  async cardLink(token: string): Promise<RecipientCardLink | null> {
    const link = this.linkKey(token);
    const [owner, until, used] = await this.redis.mget(link, `${link}:until`, `${link}:used`);
    if (!owner && !until) return null;
    const at = owner ? owner.indexOf(':') : -1;
    const [cardId, last4] = used ? used.split('|') : [];
    return {
      token,
      owner: owner && at > 0 ? { tenant: owner.slice(0, at), recipientId: owner.slice(at + 1) } : null,
      expiresAt: Number(until ?? 0),
      spent: cardId && last4 ? { cardId, last4 } : null,
    };
  }

  /** Saves a card through a card link, spending it in the same step: a second card is `used`. */
  async saveCardThroughLink(link: RecipientCardLink, card: CardToSave): Promise<SaveOutcome> {
    if (link.spent) return { ok: false, why: 'used' };
    if (!link.owner) return { ok: false, why: 'expired' };
    const key = this.linkKey(link.token);
    const cardId = newCardId();
    return this.save(
      this.key(link.owner.tenant, link.owner.recipientId),
      key,
      `${key}:used`,
      link.owner.tenant,
      card,
      cardId,
      `${cardId}|${card.last4}`,
      CARD_LINK_MEMORY_MS,
      false,
    );
  }

  private async save(
    recipientKey: string,
    linkKey: string,
    spentKey: string,
    tenant: string,
    card: CardToSave,
    cardId: string,
    spentValue: string,
    spentLifeMs: number,
    requireInvalid: boolean,
  ): Promise<SaveOutcome> {
    const outcome = await this.redis.b131SaveRecipientCard(
      recipientKey,
      linkKey,
      spentKey,
      tenant,
      cardId,
      card.brand,
      card.last4,
      JSON.stringify(card.hashes),
      new Date().toISOString(),
      spentValue || `${cardId}|${card.last4}`,
      String(spentLifeMs),
      requireInvalid ? '1' : '0',
    );
    return outcome === 'ok' ? { ok: true, cardId } : { ok: false, why: outcome as Exclude<SaveOutcome, { ok: true }>['why'] };
  }
}
