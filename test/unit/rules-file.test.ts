import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeRules, loadRules, parseRules, rulesFor, RulesFileError } from '../../src/rules/rules-file.js';

const YAML = `# approval rules
timezone: Europe/Moscow
default:
  max_amount: { above: 5000000, action: reject }
  card_per_day: { count: 10, sum: 10000000, action: review }
  recipient_per_day: { count: 20, action: review }
  tenant_per_hour: { sum: 500000000, action: reject }
  duplicate: { within_minutes: 10, action: review }
  allowed_hours: { from: "08:00", to: "22:00", action: review }
tenants:
  acme:
    max_amount:
      above: 100000
      action: reject
    duplicate: null
  beta: {}
`;

/** The problems a text is refused with (the message lists the same, one a line). */
function problems(text: string, source = 'rules.yaml'): readonly string[] {
  try {
    parseRules(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(RulesFileError);
    const { problems, message } = err as RulesFileError;
    for (const p of problems) expect(message).toContain(p);
    return problems;
  }
  throw new Error('the rules were accepted');
}

describe('a valid rules file', () => {
  it('YAML: every rule, the zone, and the tenant sections', () => {
    const rules = parseRules(YAML, 'rules.yaml');
    expect(rules.timezone).toBe('Europe/Moscow');
    expect(rules.default).toEqual({
      max_amount: { above: 5000000, action: 'reject' },
      card_per_day: { count: 10, sum: 10000000, action: 'review' },
      recipient_per_day: { count: 20, action: 'review' },
      tenant_per_hour: { sum: 500000000, action: 'reject' },
      duplicate: { within_minutes: 10, action: 'review' },
      allowed_hours: { from: '08:00', to: '22:00', action: 'review' },
    });
    expect(rules.tenants).toEqual({ acme: { max_amount: { above: 100000, action: 'reject' }, duplicate: null }, beta: {} });
  });

  it('JSON is read the same way', () => {
    const json = JSON.stringify({
      timezone: 'UTC',
      default: { max_amount: { above: 5000000, action: 'reject' } },
      tenants: { acme: { duplicate: { within_minutes: 1440, action: 'review' } } },
    });
    expect(parseRules(json, 'rules.json')).toEqual({
      timezone: 'UTC',
      default: { max_amount: { above: 5000000, action: 'reject' } },
      tenants: { acme: { duplicate: { within_minutes: 1440, action: 'review' } } },
    });
  });

  it('the zone defaults to UTC, the sections to none', () => {
    expect(parseRules('tenants: { acme: { max_amount: { above: 1, action: review } } }', 'r.yaml')).toEqual({
      timezone: 'UTC',
      default: {},
      tenants: { acme: { max_amount: { above: 1, action: 'review' } } },
    });
  });

  it('the limits at their bounds are taken', () => {
    const rules = parseRules(
      `default:
  max_amount: { above: 10000000000, action: reject }
  duplicate: { within_minutes: 1, action: reject }
  allowed_hours: { from: "23:59", to: "0:00", action: review }
`,
      'r.yaml',
    );
    expect(rules.default.max_amount?.above).toBe(10_000_000_000);
    expect(rules.default.allowed_hours).toEqual({ from: '23:59', to: '0:00', action: 'review' });
  });
});

describe('a tenant section over the default', () => {
  const rules = parseRules(YAML, 'rules.yaml');

  it('replaces the rules it names, keeps the others, and a null removes one', () => {
    const acme = rulesFor(rules, 'acme');
    expect(acme.max_amount).toEqual({ above: 100000, action: 'reject' });
    expect(acme.card_per_day).toEqual(rules.default.card_per_day);
    expect(acme.allowed_hours).toEqual(rules.default.allowed_hours);
    expect('duplicate' in acme).toBe(false);
  });

  it('an empty section, or none at all, is the default', () => {
    expect(rulesFor(rules, 'beta')).toEqual(rules.default);
    expect(rulesFor(rules, 'gamma')).toEqual(rules.default);
  });

  it('a null in the default leaves the rule off, and a tenant may still turn it on', () => {
    const r = parseRules('default: { duplicate: null }\ntenants: { acme: { duplicate: { within_minutes: 5, action: review } } }', 'r.yaml');
    expect(rulesFor(r, 'other')).toEqual({});
    expect(rulesFor(r, 'acme')).toEqual({ duplicate: { within_minutes: 5, action: 'review' } });
  });

  it('a tenant id that is also an Object property is just a tenant', () => {
    expect(rulesFor(rules, 'constructor')).toEqual(rules.default);
  });

  it('one start-up line for the default and one per tenant', () => {
    expect(describeRules(rules)).toEqual([
      'rules for every tenant by default (Europe/Moscow): max_amount above 5000000 → reject; card_per_day count 10 sum 10000000 → review; recipient_per_day count 20 → review; tenant_per_hour sum 500000000 → reject; duplicate within 10 min → review; allowed_hours 08:00-22:00 → review',
      'rules for tenant acme (Europe/Moscow): max_amount above 100000 → reject; card_per_day count 10 sum 10000000 → review; recipient_per_day count 20 → review; tenant_per_hour sum 500000000 → reject; allowed_hours 08:00-22:00 → review',
      'rules for tenant beta (Europe/Moscow): max_amount above 5000000 → reject; card_per_day count 10 sum 10000000 → review; recipient_per_day count 20 → review; tenant_per_hour sum 500000000 → reject; duplicate within 10 min → review; allowed_hours 08:00-22:00 → review',
    ]);
  });
});

describe('a bad rules file names every problem with its line and column', () => {
  it.each<[string, string, string]>([
    [
      'an unknown top-level key',
      'timezone: UTC\ndefualt: {}\n',
      'rules.yaml:2:1: defualt: is not a known key (expected one of: timezone, default, tenants)',
    ],
    [
      'an unknown rule',
      'default:\n  max_amout: { above: 1, action: reject }\n',
      'rules.yaml:2:3: default.max_amout: is not a known key (expected one of: max_amount, card_per_day, recipient_per_day, tenant_per_hour, duplicate, allowed_hours)',
    ],
    [
      'an unknown key in a rule',
      'default:\n  duplicate: { within_minutes: 5, action: review, window: 3 }\n',
      'rules.yaml:2:51: default.duplicate.window: is not a known key (expected one of: within_minutes, action)',
    ],
    [
      'a bad action',
      'default:\n  max_amount:\n    above: 100\n    action: block\n',
      'rules.yaml:4:13: default.max_amount.action: must be reject or review',
    ],
    [
      'a negative count',
      'default:\n  card_per_day: { count: -1, action: review }\n',
      'rules.yaml:2:26: default.card_per_day.count: must be greater than 0',
    ],
    [
      'a fractional count',
      'default:\n  card_per_day: { count: 2.5, action: review }\n',
      'rules.yaml:2:26: default.card_per_day.count: must be a whole number',
    ],
    [
      'a sum above 100,000,000.00 RUB',
      'default:\n  tenant_per_hour: { sum: 10000000001, action: review }\n',
      'rules.yaml:2:27: default.tenant_per_hour.sum: must be at most 10000000000 (100,000,000.00 RUB)',
    ],
    [
      'an amount given as text',
      'default:\n  max_amount: { above: "5000", action: review }\n',
      'rules.yaml:2:24: default.max_amount.above: must be a number of kopecks',
    ],
    [
      'a counter with neither count nor sum',
      'default:\n  recipient_per_day:\n    action: review\n',
      'rules.yaml:2:3: default.recipient_per_day: needs count, sum or both',
    ],
    [
      'a missing action',
      'tenants:\n  acme:\n    max_amount: { above: 100 }\n',
      'rules.yaml:3:5: tenants.acme.max_amount.action: is required',
    ],
    [
      'a window of more than a day',
      'default:\n  duplicate: { within_minutes: 1441, action: review }\n',
      'rules.yaml:2:32: default.duplicate.within_minutes: must be at most 1440 (a day)',
    ],
    [
      'a bad time zone',
      'timezone: Europe/Moskva\n',
      'rules.yaml:1:11: timezone: is not a time zone this Node.js knows (an IANA name such as Europe/Moscow or UTC)',
    ],
    [
      'a bad time',
      'default:\n  allowed_hours: { from: "8am", to: "22:00", action: review }\n',
      'rules.yaml:2:26: default.allowed_hours.from: must be a time from 00:00 to 23:59 (HH:MM)',
    ],
    [
      'an hour past 23',
      'default:\n  allowed_hours: { from: "08:00", to: "24:00", action: review }\n',
      'rules.yaml:2:39: default.allowed_hours.to: must be a time from 00:00 to 23:59 (HH:MM)',
    ],
    [
      'from equal to to',
      'default:\n  allowed_hours: { from: "08:00", to: "8:00", action: review }\n',
      'rules.yaml:2:39: default.allowed_hours.to: from and to must differ (leave the rule out to allow every hour)',
    ],
    [
      'a tenant id that is not one',
      'tenants:\n  Acme_Corp: {}\n',
      'rules.yaml:2:3: tenants.Acme_Corp: must be 1 to 32 lower-case letters, digits or "-", starting with a letter or digit',
    ],
    [
      'a rule that is not a map',
      'default:\n  duplicate: 10\n',
      'rules.yaml:2:14: default.duplicate: must be a map of within_minutes, action',
    ],
    ['a file that is not a map', '- max_amount\n', 'rules.yaml:1:1: must be a map of timezone, default, tenants'],
    ['an empty file', '# nothing yet\n', 'rules.yaml:1:1: the file holds no rules (it is empty, or only comments)'],
    [
      'a YAML syntax error',
      'default:\n  max_amount: above: 1\n',
      'rules.yaml:2:15: not valid YAML: Nested mappings are not allowed in compact mappings',
    ],
    ['a tab for indentation', 'default:\n\tmax_amount: {}\n', 'rules.yaml:2:1: not valid YAML: Tabs are not allowed as indentation'],
    [
      'an unclosed flow map',
      'default:\n  max_amount: { above: 1, action: reject\n',
      'rules.yaml:3:1: not valid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    ],
    ['a key given twice', 'timezone: UTC\ntimezone: Europe/Moscow\n', 'rules.yaml:2:1: not valid YAML: Map keys must be unique'],
  ])('%s', (_what, text, expected) => {
    expect(problems(text)).toEqual([expected]);
  });

  it('every problem at once, in the order of the file', () => {
    const text = `timezone: Nowhere/Town
default:
  max_amount: { above: 0, action: reject }
  card_per_day: { count: 10, action: hold, extra: 1 }
tenants:
  acme:
    duplicate: { action: review }
`;
    expect(problems(text)).toEqual([
      'rules.yaml:1:11: timezone: is not a time zone this Node.js knows (an IANA name such as Europe/Moscow or UTC)',
      'rules.yaml:3:24: default.max_amount.above: must be greater than 0',
      'rules.yaml:4:38: default.card_per_day.action: must be reject or review',
      'rules.yaml:4:44: default.card_per_day.extra: is not a known key (expected one of: count, sum, action)',
      'rules.yaml:7:5: tenants.acme.duplicate.within_minutes: is required',
    ]);
  });

  it('in JSON, at the line and column of the JSON', () => {
    const json = '{\n  "default": {\n    "max_amount": { "above": 100, "action": "deny" }\n  }\n}\n';
    expect(problems(json, 'rules.json')).toEqual(['rules.json:3:45: default.max_amount.action: must be reject or review']);
  });

  it('the message lists them under one heading', () => {
    expect(() => parseRules('timezone: Nowhere/Town\n', 'r.yaml')).toThrow(
      'invalid rules file:\n  - r.yaml:1:11: timezone: is not a time zone this Node.js knows',
    );
  });
});

describe('loading RULES_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and checks the file, naming it in problems', () => {
    const good = join(dir, 'rules.yaml');
    writeFileSync(good, YAML);
    expect(loadRules(good).timezone).toBe('Europe/Moscow');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'timezone: 5\n');
    expect(() => loadRules(bad)).toThrow(`${bad}:1:11: timezone: must be an IANA time zone such as Europe/Moscow`);
  });

  it('a file it cannot read is a RulesFileError naming the path', () => {
    const missing = join(dir, 'missing.yaml');
    expect(() => loadRules(missing)).toThrow(RulesFileError);
    expect(() => loadRules(missing)).toThrow(`${missing}: cannot read the rules file (ENOENT)`);
  });
});
