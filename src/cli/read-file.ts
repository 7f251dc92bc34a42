import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { CsvError, parse } from 'csv-parse/sync';
import { PayoutOrder } from '../payouts/schemas.js';
import { issuesOf } from '../http/errors.js';
import { CliFailure, EXIT } from './exit.js';
import { orderOf, planColumns } from './fields.js';

export const FORMATS = ['csv', 'jsonl'] as const;
export type Format = (typeof FORMATS)[number];

const BY_EXTENSION: Record<string, Format> = { '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' };

/** The format named, or the one the file's extension says. */
export function formatOf(file: string, named: Format | undefined): Format {
  if (named) return named;
  const format = BY_EXTENSION[extname(file).toLowerCase()];
  if (!format)
    throw new CliFailure(
      EXIT.badInput,
      `cannot tell the format of ${file} from its extension (.csv, .jsonl, .ndjson): pass --format csv or --format jsonl`,
    );
  return format;
}

/** One row of the file: where it starts, and what it holds or what is wrong with it. */
export interface Row {
  line: number;
  value: unknown;
  problems: Array<{ field: string; problem: string }>;
}

/** A payout ready to send, by the line it came from. */
export interface GoodRow {
  line: number;
  id: string;
  order: unknown;
}
export interface BadRow {
  line: number;
  field: string;
  problem: string;
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new CliFailure(EXIT.badInput, `cannot read ${file}: ${why}`);
  }
}

/** CSV with a header row of field paths. Problems of the file as a whole end the command (exit 2). */
export function csvRows(text: string, file: string, delimiter = ','): Row[] {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // with `info`, each record comes as { record, info }
    records = parse(text, {
      bom: true,
      delimiter,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (err) {
    if (err instanceof CsvError) {
      const line = typeof err.lines === 'number' ? err.lines : undefined;
      throw new CliFailure(
        EXIT.badInput,
        `${file}${line ? ` line ${line}` : ''}: not valid CSV: ${err.message.replace(/ at line \d+/, '')}; nothing was sent`,
      );
    }
    throw err;
  }
  const [header, ...data] = records;
  if (!header)
    throw new CliFailure(EXIT.badInput, `${file} is empty: it needs a header row of field paths and a row per payout; nothing was sent`);
  const plan = planColumns(header.record);
  if ('problems' in plan)
    throw new CliFailure(EXIT.badInput, `${file} line ${startLine(header)}: ${plan.problems.join('; ')}; nothing was sent`);
  const width = header.record.length;
  return data.map((r) => {
    const line = startLine(r);
    const { value, problems } = orderOf(plan.columns, r.record);
    if (r.record.length !== width) problems.unshift({ field: '(row)', problem: `has ${r.record.length} cells; the header has ${width}` });
    return { line, value, problems };
  });
}

/** csv-parse counts lines to a record's end; a quoted cell may span lines, so step back over them. */
function startLine(r: { record: string[]; info: { lines: number } }): number {
  const inside = r.record.reduce((n, cell) => n + (cell.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
  return r.info.lines - inside;
}

/** JSON lines: one payout (a `POST /v1/payouts` body) per line; blank lines are skipped. */
export function jsonlRows(text: string): Row[] {
  const rows: Row[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((source, i) => {
      if (!source.trim()) return;
      try {
        rows.push({ line: i + 1, value: JSON.parse(source), problems: [] });
      } catch (err) {
        rows.push({
          line: i + 1,
          value: undefined,
          problems: [{ field: '(row)', problem: `is not valid JSON: ${(err as Error).message}` }],
        });
      }
    });
  return rows;
}

/**
 * The whole file judged by the service's own schema, in the service's words; an id that repeats
 * within the file is bad after its first use (the batch API would refuse it the same way).
 */
export function checkRows(rows: Row[]): { good: GoodRow[]; bad: BadRow[] } {
  const good: GoodRow[] = [];
  const bad: BadRow[] = [];
  const firstLineOf = new Map<string, number>();
  for (const row of rows) {
    const problems = [...row.problems];
    if (!problems.length) {
      const parsed = PayoutOrder.safeParse(row.value);
      if (!parsed.success)
        problems.push(...issuesOf(parsed.error.issues).map((i) => ({ ...i, field: i.field === '(body)' ? '(row)' : i.field })));
    }
    const id = (row.value as { id?: unknown } | null | undefined)?.id;
    if (typeof id === 'string') {
      const first = firstLineOf.get(id);
      if (first !== undefined) problems.push({ field: 'id', problem: `repeats the id of line ${first}` });
      else firstLineOf.set(id, row.line);
    }
    if (problems.length) bad.push(...problems.map((p) => ({ line: row.line, ...p })));
    else good.push({ line: row.line, id: id as string, order: row.value });
  }
  return { good, bad };
}
