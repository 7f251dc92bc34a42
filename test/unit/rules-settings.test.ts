import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/settings/env.js';
import { workerSettings } from '../support/settings.js';

/** RULES_FILE, REVIEW_ABOVE and REVIEW_TTL as the worker reads them at start: a bad file stops it, naming each line. */
describe('the worker’s approval settings', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'rules-settings-')), 'rules.yaml');
    writeFileSync(path, text);
    return path;
  };

  it('reads the rules file, the review threshold and how long a review waits', () => {
    const path = file('tenants:\n  acme:\n    max_amount: { above: 100000, action: reject }\n');
    const s = workerSettings({}, { RULES_FILE: path, REVIEW_ABOVE: '5000000', REVIEW_TTL: '2h' });
    expect(s.approval.reviewAbove).toBe(5_000_000);
    expect(s.approval.reviewTtlMs).toBe(7_200_000);
    expect(s.approval.rules?.tenants.acme?.max_amount).toEqual({ above: 100_000, action: 'reject' });
  });

  it('has none by default: nothing is screened, a review would wait a day', () => {
    expect(workerSettings().approval).toEqual({ rules: null, reviewAbove: null, reviewTtlMs: 86_400_000 });
  });

  it('stops at a bad file with one line per problem, each naming RULES_FILE and where in the file', () => {
    const path = file('default:\n  card_per_day: { count: -1, action: reject }\n  duplicate: { within_minutes: 5, action: hold }\n');
    let problems: readonly string[] = [];
    try {
      workerSettings({}, { RULES_FILE: path, REVIEW_TTL: 'soon' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^RULES_FILE: ${path}:2:26: default\\.card_per_day\\.count: `)),
      expect.stringMatching(new RegExp(`^RULES_FILE: ${path}:3:43: default\\.duplicate\\.action: must be reject or review$`)),
      expect.stringMatching(/^REVIEW_TTL: must be a duration/),
    ]);
  });

  it('names a file it cannot read', () => {
    expect(() => workerSettings({}, { RULES_FILE: '/nonexistent/rules.yaml' })).toThrow(
      /RULES_FILE: \/nonexistent\/rules\.yaml: cannot read/,
    );
  });
});
