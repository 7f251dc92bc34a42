import { run } from './program.js';

/**
 * `bank131-payouts`: the command line (docs/operations.md, "The command line"). Run through
 * bin/bank131-payouts.js, `node dist/src/cli/main.js`, or `node --import tsx src/cli/main.ts`.
 */
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0); // `… | head`
  throw err;
});
process.exitCode = await run(process.argv.slice(2));
