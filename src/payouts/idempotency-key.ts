/** The bank calls that carry an idempotency key. */
export type KeyedAction = 'start' | 'confirm' | 'cancel';

/**
 * One key per session and action, the same on every try, so that the bank recognises a repeat
 * (docs/bank131-protocol.md §7). The generation moves on only when the bank answered
 * `idempotency_key_already_exists` while `session/status` shows the call never acted: a bank that
 * remembers refused keys would otherwise refuse every later try. A fresh key is safe then, since
 * a session holds one payout and the bank refuses a second start or confirm of it.
 */
export function idempotencyKey(sessionId: string, action: KeyedAction, generation = 0): string {
  return generation === 0 ? `${sessionId}-${action}` : `${sessionId}-${action}-${generation + 1}`;
}
