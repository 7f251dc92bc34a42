import type { PayoutView } from '../payouts/schemas.js';
import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';
import { PayoutId } from '../payouts/schemas.js';
import { errorMessage, unexpected, type PayoutsApi } from './api.js';
import { CliFailure, EXIT } from './exit.js';

/** 10000 kopecks → "100.00 RUB". */
export function money(amount: { amount: number; currency: string }): string {
  const roubles = (amount.amount / 100).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return `${roubles} ${amount.currency.toUpperCase()}`;
}

function recipientName(r: PayoutView['recipient']): string {
  return r.full_name ?? [r.last_name, r.first_name, r.middle_name].filter(Boolean).join(' ');
}

/** `status <id>`: the payout, its card, its error and its audit trail; or the JSON the API answered. */
export async function runStatus(api: PayoutsApi, id: string, json: boolean): Promise<number> {
  const checked = PayoutId.safeParse(id);
  if (!checked.success)
    throw new CliFailure(EXIT.badInput, `"${id}" is not a payout id: it ${checked.error.issues[0]?.message ?? 'is invalid'}`);
  const answer = await api.request('GET', `/v1/payouts/${encodeURIComponent(id)}`);
  if (answer.status === 404 && errorMessage(answer.body)) {
    process.stderr.write(`no payout ${id}\n`);
    return EXIT.refused;
  }
  if (answer.status === 410 && errorMessage(answer.body)) {
    // retired after PAYOUT_RETENTION_DAYS: how it ended is all that is left
    process.stderr.write(`${errorMessage(answer.body)}\n`);
    return EXIT.refused;
  }
  if (answer.status !== 200) throw unexpected(api, `reading payout ${id}`, answer);
  const p = answer.body as PayoutView;
  if (json) {
    process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
    return EXIT.ok;
  }
  const lines: Array<[string, string | null | undefined]> = [
    ['status', p.status],
    ['amount', `${money(p.amount_details)} (${p.amount_details.amount} kopecks)`],
    ['recipient', recipientName(p.recipient)],
    ['card', p.card.last4 ? `**** ${p.card.last4}` : p.status === 'awaiting_card' ? 'not given yet' : null],
    ['error', p.error ? `${p.error.code}${p.error.description ? `: ${p.error.description}` : ''}` : null],
    ['collect_url', p.collect_url],
    ['metadata', p.metadata],
    ['customer', p.customer?.reference],
    ['callback_url', p.callback_url],
    ['bank', p.bank.session_id ? `session ${p.bank.session_id}${p.bank.payout_id ? `, payout ${p.bank.payout_id}` : ''}` : null],
    ['created', p.created_at],
    ['updated', p.updated_at],
  ];
  const out = [`payout ${p.id}`];
  for (const [label, value] of lines) if (value) out.push(`  ${label.padEnd(13)}${value}`);
  out.push('', 'audit trail');
  for (const e of p.audit ?? []) {
    const what = 'to' in e ? `${e.from ?? '(new)'} → ${e.to}` : `(${e.state})`;
    out.push(`  ${e.at}  ${what.padEnd(40)}  ${e.why}`);
  }
  if (!p.audit?.length) out.push('  (empty)');
  process.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}

export interface ListOptions {
  status?: PayoutState;
  limit: number;
  since?: string;
  until?: string;
  json: boolean;
}

/** An ISO 8601 time with an offset, or a date (midnight UTC); undefined when not one. */
export function isoTime(text: string): string | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text = `${text}T00:00:00Z`;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) || Number.isNaN(Date.parse(text))) return undefined;
  return new Date(text).toISOString();
}

export const STATES: readonly string[] = PAYOUT_STATES;

/** `list`: payouts newest first, page by page through `GET /v1/payouts`, up to --limit. */
export async function runList(api: PayoutsApi, options: ListOptions): Promise<number> {
  const found: PayoutView[] = [];
  let after: string | null = null;
  let more: boolean;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(100, options.limit - found.length)) });
    if (options.status) query.set('status', options.status);
    if (options.since) query.set('created_gte', options.since);
    if (options.until) query.set('created_lte', options.until);
    if (after) query.set('starting_after', after);
    const answer = await api.request('GET', `/v1/payouts?${query}`);
    if (answer.status !== 200) throw unexpected(api, 'listing payouts', answer);
    const page = answer.body as { data: PayoutView[]; has_more: boolean; next_starting_after: string | null };
    found.push(...page.data);
    more = page.has_more;
    after = page.next_starting_after;
  } while (more && after && found.length < options.limit);

  const what = `${options.status ? `${options.status} ` : ''}payouts${options.since ? ` since ${options.since}` : ''}${options.until ? ` until ${options.until}` : ''}`;
  if (options.json) {
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
  } else if (found.length) {
    const table = [
      ['created', 'id', 'status', 'amount', 'card', 'error'],
      ...found.map((p) => [
        p.created_at,
        p.id,
        p.status,
        money(p.amount_details),
        p.card.last4 ? `**** ${p.card.last4}` : '',
        p.error ? p.error.code : '',
      ]),
    ];
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    process.stdout.write(
      table
        .map((r) =>
          r
            .map((v, c) => (c === 3 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
            .join('  ')
            .trimEnd(),
        )
        .join('\n') + '\n',
    );
  } else {
    process.stderr.write(`no ${what}\n`);
  }
  if (more && found.length >= options.limit)
    process.stderr.write(`showing the newest ${found.length} ${what}; there are more (raise --limit)\n`);
  return EXIT.ok;
}
