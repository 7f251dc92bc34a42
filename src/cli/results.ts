import { appendFileSync, writeFileSync } from 'node:fs';
import { CliFailure, EXIT } from './exit.js';

/** One line of the result file: what became of a row of the input. */
export interface ResultRow {
  line: number;
  id: string;
  /** created | existing | conflict | invalid | unanswered (not sent, or sent without an answer) */
  status: string;
  state: string;
  collect_url: string;
  problem: string;
}

export const RESULT_COLUMNS = ['line', 'id', 'status', 'state', 'collect_url', 'problem'] as const;

/** RFC 4180 quoting for what we write (parsing is csv-parse's job). */
function cell(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * The result file, written as each chunk is answered (synchronously: an interrupted run leaves
 * every answered row in it).
 */
export class ResultFile {
  constructor(readonly path: string) {
    this.write(writeFileSync, `${RESULT_COLUMNS.join(',')}\n`);
  }

  add(rows: ResultRow[]): void {
    if (rows.length) this.write(appendFileSync, rows.map((r) => RESULT_COLUMNS.map((c) => cell(r[c])).join(',')).join('\n') + '\n');
  }

  private write(how: typeof writeFileSync | typeof appendFileSync, text: string): void {
    try {
      how(this.path, text);
    } catch (err) {
      throw new CliFailure(EXIT.badInput, `cannot write the result file ${this.path}: ${(err as Error).message}`);
    }
  }
}
