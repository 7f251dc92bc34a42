import { createHash } from 'node:crypto';
import { minutesOf, RULE_KEYS, rulesFor, type CounterRule, type ResolvedRuleSet, type RuleAction, type Rules } from './rules-file.js';

/**
 * What one payout is checked against before any bank call (docs/operations.md, Approval rules and review), and the verdict
 * from what breached. Pure: the rules that need no memory are decided here; the counters and the
 * duplicate window are only planned (key, limit, lifetime) for the store to check and take
 * atomically, and a full one comes back here to be worded.
 */

/** Every rule a payout can breach, in the order a verdict names them: the first reject wins. */
export const RULE_NAMES = [
  'max_amount',
  'card_per_day.count',
  'card_per_day.sum',
  'recipient_per_day.count',
  'recipient_per_day.sum',
  'tenant_per_hour.count',
  'tenant_per_hour.sum',
  'duplicate',
  'allowed_hours',
  'review_above',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];

export interface ScreenFacts {
  tenant: string;
  /** Kopecks. */
  amount: number;
  /** The card's number hash (encrypted_card), null while the payout has no card. */
  cardNumberHash: string | null;
  /** Who is paid, as recipientIdentity says; null when the order does not say. */
  recipient: string | null;
  /** When the payout is screened: the day, hour and allowed_hours are its local time in the rules' zone. */
  at: Date;
}

/** `detail` is for the payout's error text and logs: it names the limit, never card data or names. */
export interface Breach {
  rule: RuleName;
  action: RuleAction;
  detail: string;
}

export type CounterRuleName = 'card_per_day' | 'recipient_per_day' | 'tenant_per_hour';

/**
 * A counter the store must check and take a slot of: full when count + 1 > `count` or sum + amount >
 * `sum` (a null limit is not checked). `key` is a suffix for the service's key prefix and `:`.
 */
export interface CounterCheck {
  rule: CounterRuleName;
  action: RuleAction;
  key: string;
  count: number | null;
  sum: number | null;
  ttlMs: number;
}

/** A breach when the key already exists; else the store sets it for `ttlMs`. */
export interface DuplicateCheck {
  rule: 'duplicate';
  action: RuleAction;
  key: string;
  ttlMs: number;
}

export interface ScreeningPlan {
  /** What breached already, from the payout alone. */
  breaches: Breach[];
  counters: CounterCheck[];
  duplicate: DuplicateCheck | null;
}

export type Verdict = { kind: 'pass' } | { kind: 'reject'; breach: Breach } | { kind: 'review'; breaches: Breach[] };

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

// ---------------------------------------------------------------- local time in the rules' zone

interface LocalTime {
  /** YYYY-MM-DD */
  date: string;
  /** HH, 00 to 23 */
  hour: string;
  /** HH:MM */
  clock: string;
  /** Minutes since local midnight. */
  minutes: number;
}

// One formatter per zone: making one costs far more than using it, and the zones are the few a rules file names.
const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(at: Date, timeZone: string): LocalTime {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      // h23, not hour12: false, which some engines render as "24" for the hour after midnight
      hourCycle: 'h23',
    });
    formatters.set(timeZone, format);
  }
  const part: Partial<Record<Intl.DateTimeFormatPartTypes, string>> = {};
  for (const { type, value } of format.formatToParts(at)) part[type] = value;
  const clock = `${part.hour}:${part.minute}`;
  return { date: `${part.year}-${part.month}-${part.day}`, hour: part.hour ?? '00', clock, minutes: minutesOf(clock) };
}

// ---------------------------------------------------------------- the rules decided from the payout alone

interface Context {
  facts: ScreenFacts;
  set: ResolvedRuleSet;
  reviewAbove: number | null;
  local: LocalTime;
  timezone: string;
}

/** Inside from (inclusive) to (exclusive); when from > to the window runs past midnight. */
function withinHours(minutes: number, from: number, to: number): boolean {
  return from < to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

const STATIC_RULES: ReadonlyArray<(c: Context) => Breach | null> = [
  ({ facts, set: { max_amount: rule } }) =>
    rule && facts.amount > rule.above
      ? {
          rule: 'max_amount',
          action: rule.action,
          detail: `amount ${rub(facts.amount)} is above the limit of ${rub(rule.above)} per payout`,
        }
      : null,
  ({ set: { allowed_hours: rule }, local, timezone }) =>
    rule && !withinHours(local.minutes, minutesOf(rule.from), minutesOf(rule.to))
      ? {
          rule: 'allowed_hours',
          action: rule.action,
          detail: `${local.clock} (${timezone}) is outside the allowed hours ${rule.from} to ${rule.to}`,
        }
      : null,
  ({ facts, reviewAbove }) =>
    reviewAbove !== null && facts.amount > reviewAbove
      ? {
          rule: 'review_above',
          action: 'review',
          detail: `amount ${rub(facts.amount)} is above the review threshold of ${rub(reviewAbove)} (REVIEW_ABOVE)`,
        }
      : null,
];

// ---------------------------------------------------------------- the rules the store counts

/** A key part from something that must not be readable in Redis (a card hash, a name, a reference). */
function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 32);
}

interface CounterSpec {
  /** Who is counted: null leaves the counter out. */
  subject: (facts: ScreenFacts) => string | null;
  key: (tenant: string, subject: string, local: LocalTime) => string;
  ttlMs: number;
  /** For the breach's words: whose payouts, over what window. */
  whose: string;
  window: string;
  per: string;
}

// A counter's key outlives its window by one more window, so a payout screened at its end still finds it.
const COUNTERS: Record<CounterRuleName, CounterSpec> = {
  card_per_day: {
    subject: (f) => f.cardNumberHash,
    key: (tenant, card, local) => `rules:${tenant}:card:${digest(card)}:d:${local.date}`,
    ttlMs: 2 * DAY_MS,
    whose: 'to this card',
    window: 'today',
    per: 'per day',
  },
  recipient_per_day: {
    subject: (f) => f.recipient,
    key: (tenant, recipient, local) => `rules:${tenant}:rcp:${digest(recipient)}:d:${local.date}`,
    ttlMs: 2 * DAY_MS,
    whose: 'to this recipient',
    window: 'today',
    per: 'per day',
  },
  tenant_per_hour: {
    subject: (f) => f.tenant,
    // A zone's clock hour repeated when clocks go back shares one key: its limit then bounds both.
    key: (tenant, _tenant, local) => `rules:${tenant}:h:${local.date}T${local.hour}`,
    ttlMs: 2 * HOUR_MS,
    whose: 'for this tenant',
    window: 'this hour',
    per: 'per hour',
  },
};

/**
 * What to check for one payout: the breaches decided here, and the counters and duplicate window the
 * store is to check. A reject among `breaches` already decides the payout; the store need not be asked.
 */
export function planScreening(rules: Rules | null, reviewAbove: number | null, facts: ScreenFacts): ScreeningPlan {
  const set = rules ? rulesFor(rules, facts.tenant) : {};
  const timezone = rules?.timezone ?? 'UTC';
  const local = localTime(facts.at, timezone);
  const context: Context = { facts, set, reviewAbove, local, timezone };

  const breaches = STATIC_RULES.flatMap((check) => check(context) ?? []);
  const counters = (Object.keys(COUNTERS) as CounterRuleName[]).flatMap((rule): CounterCheck[] => {
    const limit: CounterRule | undefined = set[rule];
    const spec = COUNTERS[rule];
    const subject = spec.subject(facts);
    if (!limit || subject === null) return [];
    return [
      {
        rule,
        action: limit.action,
        key: spec.key(facts.tenant, subject, local),
        count: limit.count ?? null,
        sum: limit.sum ?? null,
        ttlMs: spec.ttlMs,
      },
    ];
  });
  const dup = set.duplicate;
  const duplicate: DuplicateCheck | null =
    dup && facts.cardNumberHash !== null
      ? {
          rule: 'duplicate',
          action: dup.action,
          key: `rules:${facts.tenant}:dup:${digest(facts.cardNumberHash)}:${facts.amount}`,
          ttlMs: dup.within_minutes * 60_000,
        }
      : null;
  return { breaches, counters, duplicate };
}

/** The breach of a counter the store found full: `current` is what it held before this payout. */
export function counterBreach(
  check: CounterCheck,
  which: 'count' | 'sum',
  current: { count: number; sum: number },
  amount: number,
): Breach {
  const { whose, window, per } = COUNTERS[check.rule];
  const detail =
    which === 'count'
      ? `${current.count} ${current.count === 1 ? 'payout' : 'payouts'} ${whose} ${window} already (limit ${check.count} ${per})`
      : `${rub(current.sum)} ${whose} ${window} already; ${rub(amount)} more would exceed the limit of ${rub(check.sum ?? 0)} ${per}`;
  return { rule: `${check.rule}.${which}`, action: check.action, detail };
}

export function duplicateBreach(check: DuplicateCheck): Breach {
  const minutes = Math.round(check.ttlMs / 60_000);
  return {
    rule: 'duplicate',
    action: check.action,
    detail: `a payout of the same amount to this card within the last ${minutes === 1 ? 'minute' : `${minutes} minutes`}`,
  };
}

// ---------------------------------------------------------------- the verdict

const RANK = new Map<RuleName, number>(RULE_NAMES.map((name, i) => [name, i]));

/** Any reject rejects, naming the first in RULE_NAMES order; else any review holds it, naming them all. */
export function decide(breaches: readonly Breach[]): Verdict {
  const inOrder = [...breaches].sort((a, b) => (RANK.get(a.rule) ?? 0) - (RANK.get(b.rule) ?? 0));
  const reject = inOrder.find((b) => b.action === 'reject');
  if (reject) return { kind: 'reject', breach: reject };
  const reviews = inOrder.filter((b) => b.action === 'review');
  return reviews.length > 0 ? { kind: 'review', breaches: reviews } : { kind: 'pass' };
}

/** False when no payout of any tenant could breach anything: the caller then skips screening, Redis and all. */
export function screens(rules: Rules | null, reviewAbove: number | null): boolean {
  if (reviewAbove !== null) return true;
  if (!rules) return false;
  return [rules.default, ...Object.values(rules.tenants)].some((set) => RULE_KEYS.some((key) => set[key] != null));
}

// ---------------------------------------------------------------- who a payout pays

interface RecipientFacts {
  recipient_id?: string;
  customer?: { reference?: string };
  recipient?: { full_name?: string; first_name?: string; last_name?: string; middle_name?: string };
}

/**
 * Who recipient_per_day counts a payout against. The tenant's own reference comes first (the
 * order's, else the saved recipient's), so a person paid both as a saved recipient and by a one-off
 * order with that reference is one person; then the saved recipient; then the name as written,
 * lower-cased and with its spaces collapsed. Null when the order names nobody.
 */
export function recipientIdentity(order: RecipientFacts, savedRecipientReference?: string | null): string | null {
  const reference = order.customer?.reference || savedRecipientReference;
  if (reference) return `ref:${reference}`;
  if (order.recipient_id) return `id:${order.recipient_id}`;
  const r = order.recipient;
  const name = (r?.full_name || [r?.first_name, r?.middle_name, r?.last_name].filter(Boolean).join(' '))
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
  return name ? `name:${name}` : null;
}

/** Kopecks as roubles for people: 150000 → "1,500.00 RUB". */
function rub(kopecks: number): string {
  const whole = Math.floor(kopecks / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${whole}.${String(kopecks % 100).padStart(2, '0')} RUB`;
}
