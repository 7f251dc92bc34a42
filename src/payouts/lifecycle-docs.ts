import { BANK_WORDS, BANK_WORD_TABLE, type BankAction } from './bank-word.js';
import { PAYOUT_STATES, STATE_MEANING, stepsFrom } from './state-machine.js';
import { STEPS, type FollowUp, type StepName } from './steps.js';

/**
 * The tables of docs/architecture.md ("States", "Steps", "The bank's word"), rendered from the
 * tables the code runs on, so the docs cannot say other than the code does:
 * test/unit/lifecycle-docs.test.ts checks the file holds exactly these. Pure.
 */

const code = (s: string): string => `\`${s}\``;
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const table = (head: readonly string[], rows: ReadonlyArray<readonly string[]>): string =>
  [row(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(row)].join('\n');

/** state → meaning → the steps that move it on (`(again)`: a step that stays in the state, looked at again). */
export function renderStateTable(): string {
  return table(
    ['state', 'meaning', 'moved on by'],
    PAYOUT_STATES.map((state) => {
      const steps = stepsFrom(state).map((name) => (STEPS[name].to === state ? `${code(name)} (again)` : code(name)));
      return [code(state), STATE_MEANING[state], steps.length > 0 ? steps.join(', ') : '—'];
    }),
  );
}

const FOLLOW_UP: Record<FollowUp, string> = {
  none: 'none',
  start: 'the start job (`start-<payout>`)',
  retry_start: 'a start job delayed by `WALLET_RETRY_MS`',
  confirm: 'the confirm job (`confirm-<session>`)',
  cancel: 'the cancel job (`cancel-<session>`, on the confirm queue)',
  notify:
    'a delivery job per destination of its event (`notify-<payout>-<event>` for the `callback_url`, `…-<endpoint>` per webhook endpoint); none if nobody is to be told',
};

/** step → the state it reaches → the job that follows it. */
export function renderStepTable(): string {
  return table(
    ['step', 'to', 'follow-up'],
    (Object.keys(STEPS) as StepName[]).map((name) => {
      const { to, followUp, note } = STEPS[name];
      const then = note === undefined ? FOLLOW_UP[followUp] : followUp === 'none' ? `none: ${note}` : `${FOLLOW_UP[followUp]}: ${note}`;
      return [code(name), code(to), then];
    }),
  );
}

function actionText(a: BankAction): string {
  switch (a.act) {
    case 'step': {
      const first = a.alarm ? `${code(a.step)}, alarm` : code(a.step);
      return a.then ? `${first}, then ${code(a.then)}` : first;
    }
    case 'redrive':
      return `${a.first ? `${code(a.first)}, ` : ''}re-drive ${a.job}`;
    case 'cancel_stray_session':
      return 'cancel the session';
    case 'nothing':
      return { nothing_to_do: '—', waiting_for_bank: 'wait', already_final: 'ended' }[a.outcome];
    case 'operator':
      return 'operator';
    case 'not_final':
      return 'ask again';
  }
}

/** state × the bank's word → what is done (src/payouts/bank-word.ts). */
export function renderBankWordTable(): string {
  return table(
    ['state', ...BANK_WORDS.map(code)],
    PAYOUT_STATES.map((state) => [code(state), ...BANK_WORDS.map((word) => actionText(BANK_WORD_TABLE[word][state]))]),
  );
}
