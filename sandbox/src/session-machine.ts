/**
 * The sandbox bank's view of one payout session (docs/bank131-protocol.md §4), as a pure transition table.
 *
 *   created ──start──▶ started ──ready──▶ awaiting_confirm ──confirm──▶ confirmed ──succeed──▶ succeeded
 *      │                 │                     │      │                      └──────decline──▶ declined
 *      └──cancel──▶ cancelled ◀──cancel────────┘      └──expire (no answer in time)──▶ expired
 *
 *   started, awaiting_confirm, confirmed ──error──▶ error ──succeed──▶ succeeded
 *                                                     └────decline──▶ declined
 *
 * `error` is the bank's "result unknown" status: not final, and left only by
 * the bank resolving it, never by a partner's call.
 */
export type SandboxSessionState =
  'created' | 'started' | 'awaiting_confirm' | 'confirmed' | 'error' | 'succeeded' | 'declined' | 'cancelled' | 'expired';

/** The session statuses the bank reports (docs/bank131-protocol.md §4). */
export type SessionStatus = 'created' | 'in_progress' | 'accepted' | 'cancelled' | 'error';

/** The payout statuses the bank reports inside a session. */
export type PayoutStatus = 'pending' | 'in_progress' | 'succeeded' | 'failed';

export type SandboxEvent = 'start' | 'ready' | 'confirm' | 'cancel' | 'succeed' | 'decline' | 'expire' | 'error';

const NEXT: Record<SandboxSessionState, Partial<Record<SandboxEvent, SandboxSessionState>>> = {
  created: { start: 'started', cancel: 'cancelled' },
  started: { ready: 'awaiting_confirm', cancel: 'cancelled', decline: 'declined', error: 'error' },
  awaiting_confirm: { confirm: 'confirmed', cancel: 'cancelled', expire: 'expired', error: 'error' },
  confirmed: { succeed: 'succeeded', decline: 'declined', error: 'error' },
  error: { succeed: 'succeeded', decline: 'declined' },
  succeeded: {},
  declined: {},
  cancelled: {},
  expired: {},
};

export function nextState(state: SandboxSessionState, event: SandboxEvent): SandboxSessionState | null {
  return NEXT[state][event] ?? null;
}

export function isFinal(state: SandboxSessionState): boolean {
  return Object.keys(NEXT[state]).length === 0;
}

/** How the bank reports a state: session status, payout status (null: no payout yet), next action. */
export function reportedStatus(state: SandboxSessionState): {
  session: SessionStatus;
  payout: PayoutStatus | null;
  nextAction?: 'confirm';
} {
  switch (state) {
    case 'created':
      return { session: 'created', payout: null };
    case 'started':
      return { session: 'in_progress', payout: 'in_progress' };
    case 'awaiting_confirm':
      return { session: 'in_progress', payout: 'pending', nextAction: 'confirm' };
    case 'confirmed':
      return { session: 'in_progress', payout: 'in_progress' };
    case 'error':
      // The payout's fate is what is unknown, so it is still reported as under way.
      return { session: 'error', payout: 'in_progress' };
    case 'succeeded':
      return { session: 'accepted', payout: 'succeeded' };
    case 'declined':
    case 'cancelled':
    case 'expired':
      return { session: 'cancelled', payout: 'failed' };
  }
}
