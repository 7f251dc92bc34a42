import type { ApiVersion } from './requests.js';
import type { SandboxSessionState } from './session-machine.js';
import type { CardBehaviour } from './test-cards.js';

/** One movement of money: a payout the bank paid. */
export interface LedgerEntry {
  session_id: string;
  payout_id: string;
  amount: number;
  currency: string;
  metadata: unknown;
  at: string;
}

export type WebhookType = 'ready_to_confirm' | 'payment_finished';

export interface Amount {
  amount: number;
  currency: string;
}

/** What session/create may carry (sandbox/src/requests.ts SandboxCreateRequest fits it). */
export interface SessionTerms {
  amount_details?: Amount | undefined;
  metadata?: unknown;
  customer?: unknown;
  participant_details?: unknown;
}

/** What start/payout or init/payout carries (sandbox/src/requests.ts SandboxStartRequest fits it). */
export interface PayoutTerms extends SessionTerms {
  payout_details: { card: { encrypted_card: { number_hash: string } } };
}

export interface SandboxPayout {
  id: string;
  behaviour: CardBehaviour;
  card: { brand: string; last4: string };
  createdAt: string;
  finishedAt?: string;
  amountDetails: Amount;
  metadata: unknown;
  customer: unknown;
  participantDetails: unknown;
  /** What ready_to_confirm and status report, when a mismatch was injected. */
  reportedAmount: number;
  reportedMetadata: unknown;
}

/** An ErrorPlan (sandbox/src/knobs.ts) settled for one session. */
export interface SessionErrorPlan {
  resolveTo: 'succeeded' | 'failed';
  resolveAfterMs: number | undefined;
  code: string;
}

export interface SandboxSession {
  id: string;
  /** The API version of the URL the session was created on: the spelling of its webhooks. */
  version: ApiVersion;
  state: SandboxSessionState;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** What session/create carried: start/payout falls back on it for what it leaves out. */
  given: SessionTerms;
  payout?: SandboxPayout;
  error?: { code: string; description: string };
  /** Taken from the errorSessions knob at start or confirm: this session will go to `error`. */
  errorPlan?: SessionErrorPlan | undefined;
  /** Bumped by every change (1 once created): what a change to the stored session compares before it writes. */
  rev?: number | undefined;
  /** The bank's next step on its own clock, and when (epoch ms): re-armed by a restarted sandbox. */
  due?: Due | undefined;
}

/**
 * What the bank does next without being asked: `ready` (ready_to_confirm after start), `expire`
 * (confirm_timeout), `finish` (the outcome after confirm), `resolve` (leave `error`).
 */
export interface Due {
  kind: 'ready' | 'expire' | 'finish' | 'resolve';
  at: number;
}

/**
 * An idempotency key a call is trying to keep (sandbox/src/idempotency.ts): the first change the
 * call commits keeps it, in the same Redis script.
 */
export interface IdempotencyClaim {
  member: string;
  kept: boolean;
}

/** What a change does besides the session itself; applied only once the change is committed. */
export interface Effects {
  movement?: LedgerEntry | undefined;
  webhook?: WebhookType | undefined;
  /** Gives back knob counters (errorSessions, mismatch) taken by a change that did not commit. */
  undo?: (() => void) | undefined;
}
