import { InvalidArgumentError, Option, type Command } from 'commander';
import { EVENT_TYPES, EndpointId, EventId } from '../payouts/events.js';
import { PayoutId } from '../payouts/schemas.js';
import type { z } from 'zod';
import type { EventSummary } from '../http/webhook-schemas.js';
import { errorMessage, unexpected, type PayoutsApi } from './api.js';
import { apiFrom, wholeNumber, withConnection, type Connection } from './connection.js';
import { EXIT } from './exit.js';

type EventView = z.infer<typeof EventSummary>;

/** A value the API's own schema accepts, or the schema's words for why not. */
const checked =
  <T>(schema: z.ZodType<T>) =>
  (text: string): T => {
    const parsed = schema.safeParse(text);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'is invalid');
    return parsed.data;
  };

interface ListOptions {
  type?: string;
  payout?: string;
  limit: number;
  json: boolean;
}

/** `events list`: the tenant's events newest first, page by page through `GET /v1/events`, up to --limit. */
export async function runEventList(api: PayoutsApi, options: ListOptions): Promise<number> {
  const found: EventView[] = [];
  let after: string | null = null;
  let more: boolean;
  do {
    const query = new URLSearchParams({ limit: String(Math.min(100, options.limit - found.length)) });
    if (options.type) query.set('type', options.type);
    if (options.payout) query.set('payout', options.payout);
    if (after) query.set('starting_after', after);
    const answer = await api.request('GET', `/v1/events?${query}`);
    if (answer.status !== 200) throw unexpected(api, 'listing events', answer);
    const page = answer.body as { data: EventView[]; has_more: boolean; next_starting_after: string | null };
    found.push(...page.data);
    more = page.has_more;
    after = page.next_starting_after;
  } while (more && after && found.length < options.limit);

  const what = `${options.type ? `${options.type} ` : ''}events${options.payout ? ` of payout ${options.payout}` : ''}`;
  if (options.json) process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
  else if (found.length === 0) process.stderr.write(`no ${what}\n`);
  else {
    const table = [
      ['created', 'id', 'type', 'payout', 'delivery', 'delivered'],
      ...found.map((e) => [e.created_at, e.id, e.type, e.payout, e.delivery.status, e.delivery.delivered_at ?? '']),
    ];
    const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
    process.stdout.write(
      `${table
        .map((r) =>
          r
            .map((v, c) => v.padEnd(widths[c]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n')}\n`,
    );
  }
  if (more && found.length >= options.limit)
    process.stderr.write(`showing the newest ${found.length} ${what}; there are more (raise --limit)\n`);
  return EXIT.ok;
}

/** `events resend`: the event again, through `POST /v1/events/{id}/resend`; exit 1 when the service refuses it. */
export async function runEventResend(api: PayoutsApi, id: string, endpoint: string | undefined): Promise<number> {
  const answer = await api.request('POST', `/v1/events/${encodeURIComponent(id)}/resend`, endpoint ? { endpoint } : {});
  if (answer.status === 202) {
    const sent = answer.body as { destinations: string[] };
    process.stdout.write(`event ${id} sent again to ${sent.destinations.join(', ')}\n`);
    return EXIT.ok;
  }
  if ([400, 404, 409].includes(answer.status) && errorMessage(answer.body)) {
    process.stderr.write(`${answer.status === 404 ? `no event ${id}` : errorMessage(answer.body)}\n`);
    return EXIT.refused;
  }
  throw unexpected(api, `resending event ${id}`, answer);
}

/** `events list` and `events resend`, through the HTTP API with the tenant's key. */
export function addEventCommands(program: Command, setExit: (code: number) => void): void {
  const events = program.command('events').description("The tenant's payout events (each outcome) and their deliveries.");
  withConnection(
    events
      .command('list')
      .description('List events, newest first (GET /v1/events, page by page).')
      .addOption(new Option('--type <type>', 'only events of this type').choices(EVENT_TYPES))
      .addOption(new Option('--payout <id>', 'only the events of this payout (your order id)').argParser(checked(PayoutId)))
      .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(wholeNumber(1, 100_000)))
      .option('--json', 'print a JSON array of events as the API answers them'),
    2,
  )
    .addHelpText(
      'after',
      '\nExample: bank131-payouts events list --type payout.failed\nExit codes: 0 listed (even if none), 2 bad usage, 3 the service is unreachable or refused the API key.',
    )
    .action(async (o: Connection & { type?: string; payout?: string; limit: number; json?: boolean }) =>
      setExit(await runEventList(apiFrom(o), { type: o.type, payout: o.payout, limit: o.limit, json: o.json === true })),
    );

  withConnection(
    events
      .command('resend')
      .description('Send an event again, with the same webhook-id: to every destination that takes it now, or to one endpoint.')
      .argument('<event-id>', 'the event id, e.g. evt_order-123_succeeded', checked(EventId))
      .addOption(new Option('--endpoint <id>', 'only this webhook endpoint (we_…)').argParser(checked(EndpointId))),
    2,
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 sent again, 1 no such event, or nowhere to send it, 2 bad usage, 3 the service is unreachable or refused the API key.',
    )
    .action(async (id: string, o: Connection & { endpoint?: string }) => setExit(await runEventResend(apiFrom(o), id, o.endpoint)));
}
