/**
 * Unref'd timers that can all be dropped at once, so a closed or reset sandbox never acts on a
 * session or delivery it has forgotten, and never keeps a test process alive.
 */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private closed = false;

  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.pending.delete(t);
      if (!this.closed) fn();
    }, ms);
    t.unref();
    this.pending.add(t);
  }

  clear(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }
}
