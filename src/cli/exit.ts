/** The CLI's exit codes (docs/operations.md, "The command line"). */
export const EXIT = {
  /** Everything accepted (created or existing); a read found what it asked for. */
  ok: 0,
  /** The service answered some rows conflict or invalid; `status` of an unknown payout. */
  refused: 1,
  /** A bad file (nothing was sent) or bad usage. */
  badInput: 2,
  /** The service is unreachable, refused the API key, or answered something unusable. */
  unreachable: 3,
  /** A bug of the CLI itself. */
  internal: 70,
  /** Interrupted (Ctrl-C): re-run the same command. */
  interrupted: 130,
} as const;

/** A failure that ends the command with one line on stderr and this exit code. */
export class CliFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}
