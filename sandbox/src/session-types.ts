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
  /**
   * The bank's fee for the payout (merchant_fee), in kopecks: reported, never taken from the
   * wallet. Absent on entries written before fees were reported.
   */
  fee?: number;
}

/** Money coming back: (part of) a paid payout the card's bank returned, credited to the wallet. */
export interface ReturnEntry {
  session_id: string;
  payout_id: string;
  refund_id: string;
  amount: number;
  currency: string;
  metadata: unknown;
  reason: string;
  at: string;
}

export type WebhookType = 'ready_to_confirm' | 'payment_finished' | 'payment_refunded';

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

/** fiscalization_details.professional_income_taxpayer as the partner sent it (sandbox/src/requests.ts). */
export interface ProfessionalIncomeTaxpayer {
  [field: string]: unknown;
  tax_reference: string;
  services: Array<{ [field: string]: unknown; name: string; amount_details: Amount; quantity: number }>;
}

/** A self-employed payout's start: what was sent, and the taxpayer as the bank's registry saw it then. */
export interface FiscalTerms {
  taxpayer: ProfessionalIncomeTaxpayer;
  registry: TaxpayerView;
}

/** A taxpayer in the sandbox's registry (sandbox/src/taxpayers.ts), as GET /sandbox/taxpayers/:ref shows it. */
export interface TaxpayerView {
  tax_reference: string;
  /** Registered as self-employed (НПД) at all. */
  self_employed: boolean;
  /** Has allowed the bank to register income for them. */
  bound: boolean;
  /** A test taxpayer whose binding cannot be changed. */
  fixed: boolean;
  /** Income the sandbox registered for them this calendar year (Moscow time). */
  income: { year: number; amount: number; currency: 'rub' };
  income_limit: { amount: number; currency: 'rub' };
}

/** One return of (part of) a paid payout by the card's bank, as the payout's `refunds` show it. */
export interface PayoutRefund {
  id: string;
  createdAt: string;
  finishedAt: string;
  amount: number;
  currency: string;
  reason: string;
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
  /** The bank's fee, fixed when the payout succeeded (the fee knobs then). */
  fee?: number | undefined;
  /** Returns by the card's bank, oldest first (POST /sandbox/sessions/:id/refund). */
  refunds?: PayoutRefund[] | undefined;
  /** A self-employed payout's fiscalization: what was sent; the receipt once the payout succeeded. */
  fiscalization?: { taxpayer: ProfessionalIncomeTaxpayer; receiptId?: string | undefined } | undefined;
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
  /** Money back into the wallet. */
  credit?: ReturnEntry | undefined;
  /** Income registered for a self-employed taxpayer (kopecks, under `field`: sandbox/src/taxpayers.ts incomeField). */
  income?: { field: string; amount: number } | undefined;
  webhook?: WebhookType | undefined;
  /**
   * Which webhook of its type this is, when a session sends that type more than once (the refund
   * id of a payment_refunded): the pending mark in Redis is forgotten only when this one was sent.
   */
  webhookTag?: string | undefined;
  /** Gives back knob counters (errorSessions, mismatch) taken by a change that did not commit. */
  undo?: (() => void) | undefined;
}
