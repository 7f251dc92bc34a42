import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { TenantId } from '../tenants/identity.js';

/**
 * The approval rules file (docs/operations.md, Approval rules and review): limits a payout is checked against before any
 * bank call, per tenant over a default. Read once at start-up from RULES_FILE, YAML or JSON (JSON is
 * YAML to the parser). Every problem is reported at once with its line and column, so an operator
 * fixes a bad file in one pass. Pure apart from loadRules reading the file.
 */

export const RuleAction = z.enum(['reject', 'review'], { error: 'must be reject or review' });
export type RuleAction = z.infer<typeof RuleAction>;

// Kopecks as an order's amount takes them (src/payouts/schemas.ts keeps that schema to itself).
const MAX_KOPECKS = 100_000_000_00;
const kopecks = z
  .number({ error: 'must be a number of kopecks' })
  .int('must be a whole number of kopecks (100 RUB = 10000)')
  .positive('must be greater than 0')
  .max(MAX_KOPECKS, 'must be at most 10000000000 (100,000,000.00 RUB)');
const count = z.number({ error: 'must be a number' }).int('must be a whole number').positive('must be greater than 0');

/** `H:MM` or `HH:MM`, 00:00 to 23:59. */
const TIME = /^([01]?\d|2[0-3]):([0-5]\d)$/;
const time = z.string({ error: 'must be a time such as "08:00"' }).regex(TIME, 'must be a time from 00:00 to 23:59 (HH:MM)');

/** Minutes since midnight of a time the schema accepted. */
export function minutesOf(hhmm: string): number {
  const [, h, m] = TIME.exec(hhmm) ?? [];
  return Number(h) * 60 + Number(m);
}

/** A strict map whose messages name what it may hold: a typo'd key is refused, never ignored. */
function strict<S extends z.core.$ZodLooseShape>(shape: S) {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `is not a known key (expected one of: ${keys})` : `must be a map of ${keys}`),
  });
}

const MaxAmountRule = strict({ above: kopecks, action: RuleAction });
const CounterRule = strict({ count: count.optional(), sum: kopecks.optional(), action: RuleAction }).refine(
  (r) => r.count !== undefined || r.sum !== undefined,
  'needs count, sum or both',
);
const DuplicateRule = strict({
  within_minutes: z
    .number({ error: 'must be a number of minutes' })
    .int('must be a whole number of minutes')
    .min(1, 'must be at least 1')
    .max(1440, 'must be at most 1440 (a day)'),
  action: RuleAction,
});
const AllowedHoursRule = strict({ from: time, to: time, action: RuleAction }).refine(
  (r) => !TIME.test(r.from) || !TIME.test(r.to) || minutesOf(r.from) !== minutesOf(r.to),
  { message: 'from and to must differ (leave the rule out to allow every hour)', path: ['to'] },
);

export type MaxAmountRule = z.infer<typeof MaxAmountRule>;
export type CounterRule = z.infer<typeof CounterRule>;
export type DuplicateRule = z.infer<typeof DuplicateRule>;
export type AllowedHoursRule = z.infer<typeof AllowedHoursRule>;

/** Each rule may be null: in a tenant's section that switches the default's rule off for the tenant. */
export const RuleSet = strict({
  max_amount: MaxAmountRule.nullable().optional(),
  card_per_day: CounterRule.nullable().optional(),
  recipient_per_day: CounterRule.nullable().optional(),
  tenant_per_hour: CounterRule.nullable().optional(),
  duplicate: DuplicateRule.nullable().optional(),
  allowed_hours: AllowedHoursRule.nullable().optional(),
});
export type RuleSet = z.infer<typeof RuleSet>;
export type RuleKey = keyof RuleSet;
export const RULE_KEYS = Object.keys(RuleSet.shape) as RuleKey[];

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const RulesFile = strict({
  timezone: z
    .string({ error: 'must be an IANA time zone such as Europe/Moscow' })
    .refine(isTimeZone, 'is not a time zone this Node.js knows (an IANA name such as Europe/Moscow or UTC)')
    .default('UTC'),
  default: RuleSet.default({}),
  tenants: z.record(TenantId, RuleSet, { error: 'must be a map of tenant ids to their rules' }).default({}),
});
export type RulesFile = z.infer<typeof RulesFile>;

export interface Rules {
  /** The IANA zone days, hours and allowed_hours are counted in. */
  timezone: string;
  default: RuleSet;
  tenants: Record<string, RuleSet>;
}

/** One tenant's rules in force: no nulls, a rule left out is off. */
export type ResolvedRuleSet = { [K in RuleKey]?: NonNullable<RuleSet[K]> };

/** The tenant's section over the default, rule by rule; a null in the tenant's section removes the rule. */
export function rulesFor(rules: Rules, tenant: string): ResolvedRuleSet {
  const own = Object.hasOwn(rules.tenants, tenant) ? rules.tenants[tenant] : undefined;
  const resolved: Record<string, unknown> = {};
  for (const key of RULE_KEYS) {
    const rule = own?.[key] !== undefined ? own[key] : rules.default[key];
    if (rule != null) resolved[key] = rule;
  }
  return resolved as ResolvedRuleSet;
}

export class RulesFileError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid rules file:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RulesFileError';
    this.problems = problems;
  }
}

/** Parses and checks a rules file's text; `source` names it in every problem (`<source>:<line>:<col>: …`). */
export function parseRules(text: string, source: string): Rules {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${source}:${line}:${col}`;
  };
  if (doc.errors.length > 0) throw new RulesFileError(doc.errors.map((e) => `${at(e.pos[0])}: not valid YAML: ${e.message}`));
  // An empty file is more likely a deployment mistake than a wish for no rules: unset RULES_FILE for that.
  if (doc.contents === null) throw new RulesFileError([`${at(0)}: the file holds no rules (it is empty, or only comments)`]);

  const parsed = RulesFile.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const found = parsed.error.issues.flatMap(problemsOf).map((problem) => {
    const { offset, missing } = locate(doc, problem.path, problem.point);
    // zod says what a missing value should have been; "is required" is what the operator needs to hear.
    return { ...problem, offset, message: missing && problem.code !== 'custom' ? 'is required' : problem.message };
  });
  found.sort((a, b) => a.offset - b.offset);
  throw new RulesFileError(found.map((p) => `${at(p.offset)}: ${p.path.length > 0 ? `${p.path.join('.')}: ` : ''}${p.message}`));
}

/** Reads and checks RULES_FILE: an unreadable file is a RulesFileError naming it. */
export function loadRules(path: string): Rules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RulesFileError([`${path}: cannot read the rules file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return parseRules(text, path);
}

/** One line for the default section and one per tenant section (merged over it), for the start-up log. */
export function describeRules(rules: Rules): string[] {
  const line = (who: string, set: ResolvedRuleSet) => {
    const parts = RULE_KEYS.flatMap((key) => {
      const rule = set[key];
      return rule ? [`${key} ${DESCRIBE[key](rule as never)} → ${rule.action}`] : [];
    });
    return `rules for ${who} (${rules.timezone}): ${parts.length > 0 ? parts.join('; ') : 'none'}`;
  };
  const defaults = Object.fromEntries(RULE_KEYS.flatMap((k) => (rules.default[k] ? [[k, rules.default[k]]] : [])));
  return [line('every tenant by default', defaults), ...Object.keys(rules.tenants).map((t) => line(`tenant ${t}`, rulesFor(rules, t)))];
}

const counterText = (r: CounterRule) =>
  [r.count !== undefined && `count ${r.count}`, r.sum !== undefined && `sum ${r.sum}`].filter(Boolean).join(' ');
const DESCRIBE: { [K in RuleKey]-?: (rule: NonNullable<RuleSet[K]>) => string } = {
  max_amount: (r) => `above ${r.above}`,
  card_per_day: counterText,
  recipient_per_day: counterText,
  tenant_per_hour: counterText,
  duplicate: (r) => `within ${r.within_minutes} min`,
  allowed_hours: (r) => `${r.from}-${r.to}`,
};

// ---------------------------------------------------------------- where in the file a problem is

/** What a problem points at: the key itself (an unknown or bad key), or its value. */
type Point = 'key' | 'value';
interface Found {
  path: string[];
  message: string;
  point: Point;
  code: z.core.$ZodIssue['code'];
}

/** An unknown key is a problem of its own per key, at that key; a bad tenant id, at the id. */
function problemsOf(issue: z.core.$ZodIssue): Found[] {
  const path = issue.path.map(String);
  const { code } = issue;
  if (code === 'unrecognized_keys') return issue.keys.map((key) => ({ path: [...path, key], message: issue.message, point: 'key', code }));
  if (code === 'invalid_key') return [{ path, message: issue.issues.map((i) => i.message).join('; '), point: 'key', code }];
  return [{ path, message: issue.message, point: 'value', code }];
}

/**
 * Where a path points in the file: a scalar value itself, a map or list by the key that holds it.
 * The path of a key the file lacks stops short of it: the map that should hold it is named instead.
 */
function locate(doc: Document, path: readonly string[], point: Point): { offset: number; missing: boolean } {
  let node: unknown = doc.contents;
  let keyOffset: number | null = null;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: { key: number; value: unknown } | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === segment);
      if (pair) next = { key: startOf(pair.key), value: pair.value };
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(segment)];
      if (item) next = { key: startOf(item), value: item };
    }
    if (!next) return { offset: keyOffset ?? startOf(node), missing: true };
    keyOffset = next.key;
    node = next.value;
  }
  if (keyOffset === null) return { offset: startOf(node), missing: false };
  // An empty value (`action:`) has no text of its own to point at.
  if (point === 'key' || !isScalar(node) || node.source === '') return { offset: keyOffset, missing: false };
  return { offset: startOf(node), missing: false };
}

function startOf(node: unknown): number {
  return (node as Node | null)?.range?.[0] ?? 0;
}
