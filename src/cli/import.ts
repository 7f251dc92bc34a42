import { MAX_BATCH } from '../payouts/schemas.js';
import { unexpected, type PayoutsApi } from './api.js';
import { CliFailure, EXIT } from './exit.js';
import { Progress, fmt, type Counts } from './progress.js';
import { checkRows, csvRows, formatOf, jsonlRows, readText, type Format, type GoodRow } from './read-file.js';
import { ResultFile, type ResultRow } from './results.js';

export interface ImportOptions {
  format?: Format;
  delimiter: string;
  out?: string;
  chunkSize: number;
  dryRun: boolean;
  /** Present unless --dry-run (checked by the caller). */
  api?: PayoutsApi;
  /** Bad rows printed on stderr at most (all are counted). */
  maxProblems: number;
}

interface BatchItem {
  index: number;
  id: string | null;
  status: 'created' | 'existing' | 'conflict' | 'invalid';
  state?: string;
  collect_url?: string;
  fields?: string[];
  issues?: Array<{ field: string; problem: string }>;
}

/**
 * `import <file>`: judge every row first (nothing is sent if any is bad), then send the file
 * through `POST /v1/payouts/batch` in chunks. Ids are idempotency keys, so a re-run after an
 * interruption answers `existing` for what was sent and creates the rest.
 */
export async function runImport(file: string, options: ImportOptions): Promise<number> {
  const format = formatOf(file, options.format);
  const text = await readText(file);
  const rows = format === 'csv' ? csvRows(text, file, options.delimiter) : jsonlRows(text);
  if (!rows.length) throw new CliFailure(EXIT.badInput, `${file} holds no payouts; nothing was sent`);

  const { good, bad } = checkRows(rows);
  if (bad.length) {
    for (const b of bad.slice(0, options.maxProblems)) process.stderr.write(`${file} line ${b.line}: ${b.field}: ${b.problem}\n`);
    if (bad.length > options.maxProblems) process.stderr.write(`… and ${fmt(bad.length - options.maxProblems)} more problems\n`);
    const badLines = new Set(bad.map((b) => b.line)).size;
    process.stderr.write(`${fmt(badLines)} of ${fmt(rows.length)} rows are bad; nothing was sent\n`);
    return EXIT.badInput;
  }
  if (options.dryRun || !options.api) {
    process.stdout.write(`${fmt(good.length)} payouts in ${file} are valid; nothing was sent (--dry-run)\n`);
    return EXIT.ok;
  }
  return send(file, good, options.api, options);
}

async function send(file: string, good: GoodRow[], api: PayoutsApi, options: ImportOptions): Promise<number> {
  const out = options.out ?? `${file}.results.csv`;
  const results = new ResultFile(out);
  const size = Math.min(options.chunkSize, MAX_BATCH);
  const chunks = Math.ceil(good.length / size);
  const counts: Counts = { created: 0, existing: 0, conflict: 0, invalid: 0 };
  const refused: ResultRow[] = [];
  const progress = new Progress(good.length);
  let done = 0;

  const abandon = (why: string) => {
    progress.finish();
    results.add(good.slice(done).map((g) => ({ line: g.line, id: g.id, status: 'unanswered', state: '', collect_url: '', problem: why })));
  };
  const onInterrupt = () => {
    abandon('interrupted: re-run to send');
    process.stderr.write(
      `interrupted after ${fmt(done)} of ${fmt(good.length)} rows were answered (results in ${out}); re-run the same command: sent payouts answer existing\n`,
    );
    process.exit(EXIT.interrupted);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  api.onRetry = (reason, delayMs, attempt) =>
    progress.note(`chunk ${Math.floor(done / size) + 1}/${chunks}: ${reason}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s`);

  try {
    for (let at = 0; at < good.length; at += size) {
      const chunk = good.slice(at, at + size);
      const answer = await api.request('POST', '/v1/payouts/batch', { payouts: chunk.map((g) => g.order) });
      const items = (answer.body as { results?: BatchItem[] } | null)?.results;
      if (answer.status !== 200 || !Array.isArray(items) || items.length !== chunk.length) {
        throw unexpected(api, `sending rows from line ${chunk[0]!.line}`, answer);
      }
      const rows = chunk.map((g, i): ResultRow => {
        const item = items[i]!;
        counts[item.status] += 1;
        const problem =
          item.status === 'conflict'
            ? `a payout with this id exists with a different ${item.fields?.join(', ') || 'body'}`
            : item.status === 'invalid'
              ? (item.issues ?? []).map((x) => `${x.field}: ${x.problem}`).join('; ')
              : '';
        return { line: g.line, id: g.id, status: item.status, state: item.state ?? '', collect_url: item.collect_url ?? '', problem };
      });
      results.add(rows);
      refused.push(...rows.filter((r) => r.problem));
      done += chunk.length;
      progress.update(done, counts, at / size + 1, chunks);
    }
  } catch (err) {
    if (err instanceof CliFailure && done > 0) {
      abandon('not sent, or sent without an answer: re-run to send');
      throw new CliFailure(
        err.exitCode,
        `${err.message}; ${fmt(done)} of ${fmt(good.length)} rows were answered before (results in ${out}): re-run the same command to send the rest`,
      );
    }
    if (err instanceof CliFailure) abandon('not sent');
    throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
  progress.finish();

  for (const r of refused.slice(0, options.maxProblems))
    process.stderr.write(`${file} line ${r.line}: ${r.id}: ${r.status}: ${r.problem}\n`);
  if (refused.length > options.maxProblems)
    process.stderr.write(`… and ${fmt(refused.length - options.maxProblems)} more refused rows (see ${out})\n`);
  process.stdout.write(
    `${fmt(good.length)} payouts: ${fmt(counts.created)} created, ${fmt(counts.existing)} existing, ${fmt(counts.conflict)} conflict, ${fmt(counts.invalid)} invalid; results in ${out}\n`,
  );
  return refused.length ? EXIT.refused : EXIT.ok;
}
