/**
 * Progress of an import on stderr: a bar redrawn in place on a terminal, plain lines otherwise
 * (a log file or CI gets one line per chunk, no control characters).
 */
export interface Counts {
  created: number;
  existing: number;
  conflict: number;
  invalid: number;
}

export class Progress {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private drawn = false;

  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  /** After each answered chunk. */
  update(done: number, counts: Counts, chunk: number, chunks: number): void {
    const tally = `created ${fmt(counts.created)}, existing ${fmt(counts.existing)}, conflict ${fmt(counts.conflict)}, invalid ${fmt(counts.invalid)}`;
    if (!this.tty) {
      this.out.write(`chunk ${chunk}/${chunks}: ${fmt(done)}/${fmt(this.total)} rows answered (${tally})\n`);
      return;
    }
    const pct = this.total ? Math.floor((done / this.total) * 100) : 100;
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? `${fmt(Math.round(done / seconds))}/s` : '';
    const text = ` ${fmt(done)}/${fmt(this.total)} ${String(pct).padStart(3)}% ${rate}  ${tally}`;
    const columns = this.out.columns || 80;
    const width = Math.max(10, Math.min(40, columns - text.length - 3));
    const filled = this.total ? Math.round((done / this.total) * width) : width;
    this.draw(`[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]${text}`.slice(0, columns - 1));
  }

  /** A line that stays (a retry notice): above the bar on a terminal. */
  note(line: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
    this.drawn = false;
  }

  /** Leave the bar where it is and move below it. */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private draw(line: string): void {
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}

export const fmt = (n: number) => n.toLocaleString('en');
