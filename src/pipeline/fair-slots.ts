/**
 * The notify worker's slots, shared fairly (workers/payout-notify.ts): one destination (the origin
 * of the URL a delivery goes to) holds at most a quarter of them, and one tenant at most half, so
 * that neither one slow receiver nor one tenant's flood of slow receivers can keep the others'
 * deliveries waiting. A delivery that would go over either share is put back for later, for about
 * as long as the deliveries ahead of it take. In one worker process only: each process shares its
 * own slots, which needs no Redis round trip and bounds the whole service at the same fractions.
 * Pure apart from the clock and the jitter, which can be given.
 */
export interface Shares {
  destination: number;
  tenant: number;
}

/** A quarter of the slots per destination and half per tenant; at least one each, and a tenant at least a destination's. */
export function sharesOf(slots: number): Shares {
  const destination = Math.max(1, Math.floor(slots / 4));
  return { destination, tenant: Math.max(destination, Math.floor(slots / 2)) };
}

/** Who a delivery is for and where it goes. */
export interface Claim {
  tenant: string;
  /** The origin of the URL it is sent to. */
  destination: string;
}

/** A slot taken, or the share that is full. */
export type Taken = 'taken' | keyof Shares;

/** The shortest wait of a delivery put back (jittered). */
export const MIN_WAIT_MS = 50;

interface Line {
  /** Deliveries in flight. */
  held: number;
  /** Jobs put back, by id, and when each is due back: their place in line. */
  waiting: Map<string, number>;
  /** How long a delivery here takes, smoothed (a cut-off one counts its full deadline). */
  typicalMs: number;
}

export interface Clock {
  now(): number;
  /** In [0, 1). */
  random(): number;
}

export class FairSlots {
  private readonly lines = new Map<string, Line>();

  constructor(
    readonly shares: Shares,
    private readonly deadlineMs: number,
    private readonly clock: Clock = { now: Date.now, random: Math.random },
  ) {}

  /** Synchronous, so two jobs of one process cannot both take the last place. */
  take(claim: Claim, jobId: string): Taken {
    const [d, t] = this.linesOf(claim);
    d.waiting.delete(jobId);
    t.waiting.delete(jobId);
    if (d.held >= this.shares.destination) return 'destination';
    if (t.held >= this.shares.tenant) return 'tenant';
    d.held += 1;
    t.held += 1;
    return 'taken';
  }

  give(claim: Claim, tookMs: number): void {
    this.linesOf(claim).forEach((line, i) => {
      line.held -= 1;
      line.typicalMs += (tookMs - line.typicalMs) / 4;
      this.forgetOverdue(line);
      if (line.held === 0 && line.waiting.size === 0) this.lines.delete(keysOf(claim)[i]!);
    });
  }

  /** Deliveries in flight for this destination and this tenant. */
  held(claim: Claim): { destination: number; tenant: number } {
    return { destination: this.lines.get(keysOf(claim)[0])?.held ?? 0, tenant: this.lines.get(keysOf(claim)[1])?.held ?? 0 };
  }

  /**
   * How long a job put back now waits: until the jobs ahead of it in the full line (or lines) could
   * have been delivered, at that line's usual pace through its share. A fixed or doubling wait
   * would either come back far more often than places free (a long line), or leave free places idle.
   */
  waitFor(claim: Claim, jobId: string): number {
    const [d, t] = this.linesOf(claim);
    const full = [
      [d, this.shares.destination],
      [t, this.shares.tenant],
    ].filter(([line, share]) => (line as Line).held >= (share as number)) as Array<[Line, number]>;
    let turn = 0;
    for (const [line, share] of full) {
      this.forgetOverdue(line);
      turn = Math.max(turn, ((line.waiting.size + 1) * line.typicalMs) / share);
    }
    // At most twice the deadline: every delivery in flight has ended by then, so a receiver that
    // recovered does not leave its line waiting long. Jittered, so the line does not return at once.
    const waitMs = Math.round(Math.min(2 * this.deadlineMs, Math.max(MIN_WAIT_MS, turn)) * (0.75 + this.clock.random() / 2));
    for (const [line] of full) line.waiting.set(jobId, this.clock.now() + waitMs);
    return waitMs;
  }

  /** Jobs long overdue were taken by another process, or removed: they are no longer in this line. */
  private forgetOverdue(line: Line): void {
    const cutoff = this.clock.now() - this.deadlineMs;
    for (const [id, due] of line.waiting) {
      if (due > cutoff) break; // roughly in due order: what is left goes at a later call
      line.waiting.delete(id);
    }
  }

  private linesOf(claim: Claim): [Line, Line] {
    const [dk, tk] = keysOf(claim);
    return [this.line(dk), this.line(tk)];
  }

  private line(key: string): Line {
    let line = this.lines.get(key);
    if (!line) this.lines.set(key, (line = { held: 0, waiting: new Map(), typicalMs: MIN_WAIT_MS }));
    return line;
  }
}

/** A destination's line and a tenant's line never share a key. */
function keysOf(claim: Claim): [string, string] {
  return [`d ${claim.destination}`, `t ${claim.tenant}`];
}
