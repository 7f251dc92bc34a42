import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { MAX_BATCH } from '../payouts/schemas.js';
import type { PayoutState } from '../payouts/state-machine.js';
import { apiFrom, wholeNumber, withConnection, type Connection } from './connection.js';
import { addEventCommands } from './event-commands.js';
import { addExportCommand } from './export.js';
import { CliFailure, EXIT } from './exit.js';
import { knownColumns } from './fields.js';
import { runImport } from './import.js';
import { FORMATS, type Format } from './read-file.js';
import { STATES, isoTime, runList, runStatus } from './show.js';
import { addTenantCommands } from './tenant-commands.js';

const time = (text: string) => {
  const iso = isoTime(text);
  if (!iso) throw new InvalidArgumentError('must be an ISO 8601 time with an offset (2026-11-26T00:00:00Z) or a date (2026-11-26)');
  return iso;
};

function wrap(text: string, width: number, indent: string): string {
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

const EXIT_CODES = `
Exit codes:
  0  every payout accepted (created, or existing from an earlier run)
  1  the service answered some rows conflict or invalid (see the result file)
  2  a bad file (nothing was sent) or bad usage
  3  the service is unreachable, refused the API key, or answered something unusable`;

/** The command line; `run` answers the exit code. */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('bank131-payouts')
    .description('Send files of payouts to the bank131-payouts service, look at payouts, and export them for reconciliation.')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortOptions: false });

  withConnection(
    program
      .command('import')
      .description('Check a CSV or JSON lines file of payouts, then send it through POST /v1/payouts/batch.')
      .argument('<file>', 'payouts: CSV with a header row of field paths, or JSON lines (one POST /v1/payouts body per line)')
      .addOption(new Option('--format <format>', 'the file format (default: by extension: .csv; .jsonl or .ndjson)').choices(FORMATS))
      .option('--out <file>', 'the result file (default: <file>.results.csv)')
      .addOption(new Option('--chunk-size <n>', 'payouts per batch request').default(1000).argParser(wholeNumber(1, MAX_BATCH)))
      .option('--delimiter <char>', 'the CSV delimiter', ',')
      .option('--dry-run', 'only check the file; send nothing (needs no --url)')
      .addOption(new Option('--max-problems <n>', 'bad rows to print at most').default(200).argParser(wholeNumber(1, 1_000_000))),
    6,
  )
    .addHelpText(
      'after',
      `
CSV columns are the API's field paths; empty cells are absent fields; amounts are kopecks
(100 RUB = 10000). A column naming an object or a list holds it as JSON. Columns:
${wrap(knownColumns().join(', '), 96, '  ')}

Every row is checked first: if any is bad (with its line and field), nothing is sent. Ids are
idempotency keys, so running the same file again (after an interruption) answers "existing" for
what was sent and creates only the rest. The result file has line,id,status,state,collect_url,problem.
${EXIT_CODES}

Example:
  PAYOUTS_URL=http://127.0.0.1:3000 PAYOUTS_API_KEY=… bank131-payouts import payouts.csv`,
    )
    .action(
      async (
        file: string,
        o: Connection & { format?: Format; out?: string; chunkSize: number; delimiter: string; dryRun?: boolean; maxProblems: number },
      ) => {
        if (o.delimiter.length !== 1) throw new CliFailure(EXIT.badInput, '--delimiter must be one character');
        const api = o.dryRun === true ? undefined : apiFrom(o);
        setExit(
          await runImport(file, {
            format: o.format,
            out: o.out,
            chunkSize: o.chunkSize,
            delimiter: o.delimiter,
            dryRun: o.dryRun === true,
            api,
            maxProblems: o.maxProblems,
          }),
        );
      },
    );

  withConnection(
    program
      .command('status')
      .description('Show one payout: status, amount, card, error and its audit trail.')
      .argument('<id>', 'the payout id')
      .option('--json', 'print the payout as the API answers it (GET /v1/payouts/{id})'),
    2,
  )
    .addHelpText(
      'after',
      '\nExit codes: 0 shown, 1 no such payout (or one retired after PAYOUT_RETENTION_DAYS: how it ended is printed), 2 bad usage, 3 the service is unreachable or refused the API key.',
    )
    .action(async (id: string, o: Connection & { json?: boolean }) => setExit(await runStatus(apiFrom(o), id, o.json === true)));

  withConnection(
    program
      .command('list')
      .description('List payouts, newest first (GET /v1/payouts, page by page).')
      .addOption(new Option('--status <state>', 'only payouts in this state').choices(STATES))
      .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser(wholeNumber(1, 100_000)))
      .addOption(new Option('--since <time>', 'created at or after (ISO 8601, or a date meaning midnight UTC)').argParser(time))
      .addOption(new Option('--until <time>', 'created at or before').argParser(time))
      .option('--json', 'print a JSON array of payouts as the API answers them'),
    2,
  )
    .addHelpText(
      'after',
      '\nExample: bank131-payouts list --status failed --since 2026-11-26\nExit codes: 0 listed (even if none), 2 bad usage, 3 the service is unreachable or refused the API key.',
    )
    .action(async (o: Connection & { status?: PayoutState; limit: number; since?: string; until?: string; json?: boolean }) =>
      setExit(await runList(apiFrom(o), { status: o.status, limit: o.limit, since: o.since, until: o.until, json: o.json === true })),
    );

  addEventCommands(program, setExit);
  addTenantCommands(program, setExit);
  addExportCommand(program, setExit);

  program.addHelpText('after', `\nRun "bank131-payouts <command> --help" for a command's options.\n${EXIT_CODES}`);
  return program;
}

/** Parse and run; answers the exit code (never exits by itself). */
export async function run(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.badInput; // commander printed why
    if (err instanceof CliFailure) {
      process.stderr.write(`bank131-payouts: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`bank131-payouts: internal error (a bug): ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.internal;
  }
}
