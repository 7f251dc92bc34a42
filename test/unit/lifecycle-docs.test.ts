import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderBankWordTable, renderStateTable, renderStepTable } from '../../src/payouts/lifecycle-docs.js';

const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

/** The table lines of one `## ` section of docs/architecture.md, as one text. */
function tablesIn(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`);
  expect(start, `docs/architecture.md has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf('\n## ', start + 1);
  return doc
    .slice(start, end === -1 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .join('\n');
}

// On failure, paste the rendered table into docs/architecture.md: the code is what runs.
describe('docs/architecture.md holds exactly the tables the code runs on', () => {
  it('"States": each state, what it means, and the steps that move it on (src/payouts/steps.ts)', () => {
    expect(tablesIn('States')).toBe(renderStateTable());
  });

  it('"Steps": each step, where it goes, and the job that follows it', () => {
    expect(tablesIn('Steps')).toBe(renderStepTable());
  });

  it('"The bank\'s word": what each word does in each state (src/payouts/bank-word.ts)', () => {
    expect(tablesIn("The bank's word")).toBe(renderBankWordTable());
  });
});

describe('the rendering', () => {
  it('marks a step that stays in its state, and says a final state is moved on by nothing', () => {
    const rows = renderStateTable().split('\n');
    expect(rows.slice(0, 2)).toEqual(['| state | meaning | moved on by |', '|---|---|---|']);
    expect(rows.find((r) => r.startsWith('| `awaiting_funds` |'))).toMatch(/ \| `awaitFunds` \(again\), `markStarted`, /);
    expect(rows.find((r) => r.startsWith('| `succeeded` |'))).toBe('| `succeeded` | final: the bank paid | `markReturned` |');
    expect(rows.find((r) => r.startsWith('| `failed` |'))).toMatch(/ \| — \|$/);
    expect(rows).toHaveLength(2 + 16);
  });

  it('says what drives a payout on when no job follows a step', () => {
    const rows = renderStepTable().split('\n');
    expect(rows.slice(0, 2)).toEqual(['| step | to | follow-up |', '|---|---|---|']);
    expect(rows).toContain("| `markStarted` | `started` | none: the bank's `ready_to_confirm` comes next |");
    expect(rows).toContain('| `awaitFunds` | `awaiting_funds` | a start job delayed by `WALLET_RETRY_MS` |');
    expect(rows).toContain('| `requestCancel` | `cancelling` | the cancel job (`cancel-<session>`, on the confirm queue) |');
  });

  it('names every action of the bank’s word table in a few words', () => {
    const rows = renderBankWordTable().split('\n');
    const words = [
      'paid',
      'returned',
      'session_cancelled',
      'unpaid',
      'awaiting_confirm',
      'payout_in_progress',
      'session_in_progress',
      'created',
      'unknown',
    ];
    expect(rows[0]).toBe(`| state | ${words.map((w) => `\`${w}\``).join(' | ')} |`);
    expect(rows).toContain(
      '| `awaiting_confirmation` | `succeed`, alarm | `succeed`, alarm, then `markReturned` | `fail` | `fail` | `reportAgain`, re-drive confirm | wait | wait | wait | ask again |',
    );
    expect(rows).toContain('| `failed` | operator | operator | ended | ended | cancel the session | — | — | — | ask again |');
    expect(rows).toContain('| `succeeded` | ended | `markReturned` | ended | ended | — | — | — | — | ask again |');
  });
});
