import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { Redis } from 'ioredis';
import type { PayoutRecord } from '../payouts/schemas.js';
import { PAYOUT_STATES, type PayoutState } from '../payouts/state-machine.js';
import { IndexMerge } from '../store/payout-list.js';
import { PayoutStore } from '../store/payout-store.js';
import type { RedisClient } from '../store/redis-client.js';
import { redisCluster } from '../store/redis-connection.js';
import { maskUrl, redisTrouble } from '../store/redis-errors.js';
import { TenantId } from '../tenants/identity.js';
import { csvLine } from './csv.js';
import { CliFailure, EXIT } from './exit.js';
import { fmt } from './progress.js';
import { isoTime } from './show.js';

/**
 * `bank131-payouts export`: one row per payout, with what an accountant matches against Bank 131's
 * statement, read from Redis directly (REDIS_URL, REDIS_PREFIX, REDIS_CLUSTER as the service reads
 * them, like `keys` and `tenants`). Payouts are selected by the time they first ended (the
 * `finished` index) or were created (`list:all`), in `[from, to)`, over every tenant as one merge
 * in time order, or one tenant's. Streamed: the indexes are read `CHUNK` members at a time, the
 * records of a chunk fetched in one pipeline and written before the next is read, waiting for the
 * output to drain, so memory stays the same whatever the size of the export.
 * Never card hashes, never names or contacts: only the columns below.
 */

/** Members read from each index at a time, and records fetched per pipeline. */
export const CHUNK = 1000;

/** Rows between two full garbage collections (see `fullCollection`). */
export const COLLECT_EVERY = 5 * CHUNK;

/**
 * A full garbage collection, when the runtime lets us ask for one (else nothing). An export keeps
 * only one chunk alive at a time, but V8 lets the dead ones pile up in its old generation, growing
 * its limit as the allocation goes on, so a long export would sit some 50 MB above a short one
 * before V8 collects. Collecting every few chunks (a few ms for a heap of ~20 MB) keeps the
 * resident memory of a million-row export where a ten-thousand-row one is.
 */
let collect: (() => void) | undefined;
export function fullCollection(): void {
  if (!collect) {
    collect = () => undefined;
    try {
      setFlagsFromString('--expose-gc');
      const gc: unknown = runInNewContext('gc');
      if (typeof gc === 'function') collect = () => void gc();
    } catch {
      // not offered: V8 collects on its own schedule
    }
  }
  collect();
}

export const EXPORT_COLUMNS = [
  'tenant',
  'id',
  'status',
  'amount',
  'amount_rub',
  'currency',
  'fee',
  'bank_session_id',
  'bank_payout_id',
  'card_last4',
  'metadata',
  'reference',
  'recipient_id',
  'tax_reference',
  'receipt_id',
  'receipt_link',
  'created_at',
  'finished_at',
  'bank_finished_at',
  'returned_amount',
  'returned_at',
  'returned_reason',
  'error_code',
] as const;
export type ExportColumn = (typeof EXPORT_COLUMNS)[number];
export type ExportRow = Record<ExportColumn, string | number | null>;

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const EXPORT_BY = ['finished', 'created'] as const;
export type ExportBy = (typeof EXPORT_BY)[number];

/** 10050 kopecks → "100.50": exact, in whole numbers (no floating point on money). */
export function amountRub(kopecks: number): string {
  const sign = kopecks < 0 ? '-' : '';
  const k = Math.abs(kopecks);
  return `${sign}${Math.floor(k / 100)}.${String(k % 100).padStart(2, '0')}`;
}

/** A payout as one row: the tenant's own order id, amounts in kopecks, null where unknown. */
export function rowOf(p: PayoutRecord): ExportRow {
  const { order } = p;
  return {
    tenant: p.tenant,
    id: order.id,
    status: p.state,
    amount: order.amount_details.amount,
    amount_rub: amountRub(order.amount_details.amount),
    currency: order.amount_details.currency,
    fee: p.fee,
    bank_session_id: p.sessionId,
    bank_payout_id: p.bankPayoutId,
    card_last4: p.cardLast4,
    metadata: order.metadata ?? null,
    reference: p.customerReference ?? order.customer?.reference ?? null,
    recipient_id: p.recipientId,
    tax_reference: p.taxReference,
    receipt_id: p.receipt?.id ?? null,
    receipt_link: p.receipt?.link ?? null,
    created_at: p.createdAt,
    finished_at: p.finishedAt,
    bank_finished_at: p.bankFinishedAt,
    returned_amount: p.returned?.amount ?? null,
    returned_at: p.returned?.at ?? null,
    returned_reason: p.returned?.reason ?? null,
    error_code: p.errorCode,
  };
}

/** The header (CSV only: a JSON line names its fields). */
export function headerOf(format: ExportFormat): string {
  return format === 'csv' ? csvLine(EXPORT_COLUMNS) : '';
}

/** Rows as text: CSV records (CRLF) or JSON lines (LF). */
export function formatRows(rows: readonly ExportRow[], format: ExportFormat): string {
  let text = '';
  for (const row of rows) text += format === 'csv' ? csvLine(EXPORT_COLUMNS.map((c) => row[c])) : `${JSON.stringify(row)}\n`;
  return text;
}

/** Writes `text`, and when the stream's buffer is full waits until it drains (or fails). */
export async function writeDrained(out: Writable, text: string): Promise<void> {
  if (text && !out.write(text)) await once(out, 'drain');
}

export interface ExportQuery {
  from: Date;
  to: Date;
  by: ExportBy;
  /** Only payouts now in one of these states; all when empty. */
  states: readonly PayoutState[];
  /** Whose payouts: their indexes are merged. */
  tenants: readonly string[];
}

/** The store's keys and record reads an export needs (src/store/payout-store.ts). */
export interface ExportStore {
  listKey(state?: PayoutState | '', tenant?: string): string;
  finishedKey(tenant?: string): string;
  tenants(): Promise<string[]>;
  getMany(ids: string[]): Promise<Array<PayoutRecord | null>>;
}

/**
 * The payouts of the query in time order, a chunk at a time (oldest first; where times tie, by id):
 * the finished index is scored in ms, `list:all` in `ms * 1000 + seq`. A payout removed since it
 * was indexed (retention) is left out.
 */
export async function* exportChunks(redis: RedisClient, store: ExportStore, q: ExportQuery, chunk = CHUNK): AsyncGenerator<PayoutRecord[]> {
  const keys = q.tenants.map((t) => (q.by === 'finished' ? store.finishedKey(t) : store.listKey(undefined, t)));
  const scale = q.by === 'finished' ? 1 : 1000;
  const merge = new IndexMerge(
    redis,
    keys,
    { order: 'asc', start: q.from.getTime() * scale, end: q.to.getTime() * scale, endExclusive: true },
    chunk,
  );
  const states = q.states.length > 0 ? new Set<string>(q.states) : null;
  for (;;) {
    const entries = await merge.take(chunk);
    if (entries.length === 0) return;
    const records = await store.getMany(entries.map((e) => e.id));
    yield records.filter((r): r is PayoutRecord => r !== null && (states === null || states.has(r.state)));
    if (entries.length < chunk) return;
  }
}

/** Where the rows go: a file (`--out`) or stdout. */
interface Output {
  stream: Writable;
  name: string;
  close(): Promise<void>;
  abort(): void;
}

async function openOutput(path: string | undefined): Promise<Output> {
  if (path === undefined) return { stream: process.stdout, name: 'stdout', close: async () => undefined, abort: () => undefined };
  const stream = createWriteStream(path);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new CliFailure(EXIT.badInput, `cannot write ${path}: ${(err as Error).message}`);
  }
  return {
    stream,
    name: path,
    close: async () => {
      stream.end();
      await once(stream, 'close');
    },
    abort: () => stream.destroy(),
  };
}

export interface ExportOptions extends Omit<ExportQuery, 'tenants'> {
  /** One tenant's payouts; every tenant's when unset. */
  tenant?: string | undefined;
  format: ExportFormat;
  out?: string | undefined;
  /** How Redis is named in a failure (its URL, without a password). */
  redisName: string;
  /** After each chunk written. */
  progress?: (written: number) => void;
}

/** Tagged so that a failure to write is told apart from a failure to read Redis. */
class OutputError extends Error {}

/** Writes the export; answers how many payouts it wrote. Failures are CliFailures in the CLI's words. */
export async function runExport(redis: RedisClient, store: ExportStore, o: ExportOptions): Promise<number> {
  // Redis away or refusing is exit 3; anything else is a bug, and goes up as it is.
  const redisFailed = (err: unknown, after: string) =>
    redisTrouble(err) ? new CliFailure(EXIT.unreachable, `Redis at ${o.redisName}: ${redisTrouble(err)!.reason}${after}`) : err;
  let tenants: string[];
  try {
    tenants = await store.tenants();
  } catch (err) {
    throw redisFailed(err, ' (nothing was written)');
  }
  if (o.tenant !== undefined && !tenants.includes(o.tenant))
    throw new CliFailure(EXIT.refused, `no tenant ${o.tenant}: bank131-payouts tenants list shows them`);
  const out = await openOutput(o.out);
  const write = async (text: string) => {
    try {
      await writeDrained(out.stream, text);
    } catch (err) {
      throw new OutputError(`cannot write ${out.name}: ${(err as Error).message}`);
    }
  };
  let written = 0;
  try {
    await write(headerOf(o.format));
    let read = 0;
    for await (const records of exportChunks(redis, store, { ...o, tenants: o.tenant === undefined ? tenants : [o.tenant] })) {
      await write(formatRows(records.map(rowOf), o.format));
      written += records.length;
      o.progress?.(written);
      read += CHUNK;
      if (read % COLLECT_EVERY === 0) fullCollection();
    }
    await out.close();
  } catch (err) {
    out.abort();
    const incomplete = ` (the export is incomplete: ${fmt(written)} payouts written to ${out.name})`;
    if (err instanceof OutputError) throw new CliFailure(EXIT.badInput, `${err.message}${incomplete}`);
    throw redisFailed(err, incomplete);
  }
  return written;
}

// ---------------------------------------------------------------- the command

interface RedisOptions {
  redisUrl: string;
  redisPrefix: string;
  redisCluster?: boolean | string;
}

const time = (text: string) => {
  const iso = isoTime(text);
  if (!iso) throw new InvalidArgumentError('must be an ISO 8601 time with an offset (2026-11-26T00:00:00Z) or a date (2026-11-26)');
  return iso;
};

/** `succeeded,returned` → the states, each once; an unknown one is bad usage. */
export const stateList = (text: string): PayoutState[] => {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((s) => !(PAYOUT_STATES as readonly string[]).includes(s));
  if (names.length === 0 || unknown.length > 0)
    throw new InvalidArgumentError(`must be states separated by commas, among ${PAYOUT_STATES.join(', ')}`);
  return [...new Set(names)] as PayoutState[];
};

const tenantId = (text: string) => {
  const parsed = TenantId.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return text;
};

/** CSV unless --format says otherwise or --out ends in .jsonl or .ndjson. */
export function formatFor(format: ExportFormat | undefined, out: string | undefined): ExportFormat {
  return format ?? (out && /\.(jsonl|ndjson)$/i.test(out) ? 'jsonl' : 'csv');
}

/** Words wrapped to `width` columns, each line indented. */
function wrapped(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, indent + line].join('\n');
}

export const EXPORT_HELP = `
Columns (CSV with a header row, RFC 4180: quoted where a value holds a comma, a quote or a line
break, CRLF line ends; or JSON lines with the same fields, numbers as numbers, null for unknown):
${wrapped(EXPORT_COLUMNS.join(', '), 96, '  ')}
amount, fee and returned_amount are kopecks; amount_rub is the amount in roubles ("1500.00");
id is the tenant's order id; reference is the tenant's reference for the person paid. Card
hashes, names and contacts are never exported.

Payouts are selected by when they first ended (--by finished: succeeded, failed, cancelled or
expired; a later return does not move it) or were created (--by created), from --from (included)
to --to (excluded), and come oldest first, all tenants merged in time order.

Exit codes: 0 exported (even none), 1 no such tenant, 2 bad usage or the output cannot be written,
3 Redis is unreachable or failed (the output is then incomplete).

Example:
  REDIS_URL=redis://127.0.0.1:6379 bank131-payouts export --from 2026-11-01 --to 2026-12-01 --status succeeded,returned --out november.csv`;

export function addExportCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('export')
    .description("Export payouts for reconciling with the bank's statement: one row each, CSV or JSON lines (on Redis directly).")
    .requiredOption('--from <time>', 'from this time, included (ISO 8601 with an offset, or a date meaning midnight UTC)', time)
    .requiredOption('--to <time>', 'to this time, excluded', time)
    .option('--status <states>', 'only payouts now in these states, comma-separated (e.g. succeeded,returned)', stateList)
    .option('--tenant <id>', "only this tenant's payouts (default: every tenant's)", tenantId)
    .addOption(
      new Option('--by <event>', 'select and order by when payouts finished or were created').choices(EXPORT_BY).default('finished'),
    )
    .addOption(
      new Option('--format <format>', 'csv or jsonl (default: by --out extension: .jsonl or .ndjson, else csv)').choices(EXPORT_FORMATS),
    )
    .option('--out <file>', 'write to this file (default: stdout)')
    .addOption(new Option('--redis-url <url>', "the service's Redis").env('REDIS_URL').default('redis://127.0.0.1:6379'))
    .addOption(new Option('--redis-prefix <prefix>', "the service's key prefix").env('REDIS_PREFIX').default('{b131}'))
    .addOption(new Option('--redis-cluster', 'REDIS_URL is one node of a Redis Cluster').env('REDIS_CLUSTER'))
    .addHelpText('after', EXPORT_HELP)
    .action(
      async (
        o: RedisOptions & {
          from: string;
          to: string;
          status?: PayoutState[];
          tenant?: string;
          by: ExportBy;
          format?: ExportFormat;
          out?: string;
        },
      ) => {
        const from = new Date(o.from);
        const to = new Date(o.to);
        if (to.getTime() <= from.getTime()) throw new CliFailure(EXIT.badInput, `--to (${o.to}) must be later than --from (${o.from})`);
        const format = formatFor(o.format, o.out);
        const cluster = o.redisCluster === true || String(o.redisCluster) === 'true';
        const redis: RedisClient = cluster
          ? redisCluster(o.redisUrl, 'web')
          : new Redis(o.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: true });
        redis.on('error', () => undefined);
        const tty = process.stderr.isTTY === true;
        try {
          const n = await runExport(redis, new PayoutStore(redis, o.redisPrefix), {
            from,
            to,
            by: o.by,
            states: o.status ?? [],
            tenant: o.tenant,
            format,
            out: o.out,
            redisName: maskUrl(o.redisUrl),
            ...(tty ? { progress: (written: number) => process.stderr.write(`\r\x1b[2Kexported ${fmt(written)} payouts…`) } : {}),
          });
          if (tty) process.stderr.write('\r\x1b[2K');
          const which = `${o.status ? `${o.status.join(', ')} ` : ''}payouts ${o.by} from ${o.from} to ${o.to}`;
          process.stderr.write(
            `exported ${fmt(n)} ${which} (${o.tenant ? `tenant ${o.tenant}` : 'all tenants'}) to ${o.out ?? 'stdout'}\n`,
          );
          setExit(EXIT.ok);
        } catch (err) {
          if (tty) process.stderr.write('\n');
          throw err;
        } finally {
          redis.disconnect();
        }
      },
    );
}
