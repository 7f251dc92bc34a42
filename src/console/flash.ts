import { z } from 'zod';
import { PAYOUT_STATES } from '../payouts/state-machine.js';
import { stateText } from './format.js';

/**
 * What a decision's redirect says on the page it lands on. The query string names what happened
 * (from this list), the payout and its state; the words are ours, so a link made elsewhere cannot
 * put a message of its own on an operator's screen, and the id is shown as text.
 */
export const FLASHES = [
  'approved',
  'rejected',
  'not_found',
  'not_awaiting_review',
  'self_approval',
  'reason_required',
  'expired_form',
] as const;
export type FlashCode = (typeof FLASHES)[number];

export const FlashQuery = z.object({
  done: z.enum(FLASHES),
  id: z.string().max(200).default(''),
  state: z.enum(PAYOUT_STATES).optional(),
});
export type FlashQuery = z.infer<typeof FlashQuery>;

export interface Flash {
  kind: 'ok' | 'problem';
  text: string;
}

/** The flash a query string asks for, or null when it asks for none we know. */
export function flashOf(query: unknown): Flash | null {
  const parsed = FlashQuery.safeParse(query);
  return parsed.success ? flashText(parsed.data) : null;
}

export function flashText(f: FlashQuery): Flash {
  const now = f.state ? ` (now ${stateText(f.state)})` : '';
  switch (f.done) {
    case 'approved':
      return { kind: 'ok', text: `Approved ${f.id}: it goes on to the bank${now}.` };
    case 'rejected':
      return { kind: 'ok', text: `Rejected ${f.id}: it will not be paid${now}.` };
    case 'not_found':
      return { kind: 'problem', text: `There is no payout ${f.id}.` };
    case 'not_awaiting_review':
      return { kind: 'problem', text: `${f.id} is no longer awaiting review${now}: someone decided first, or its review expired.` };
    case 'self_approval':
      return { kind: 'problem', text: `${f.id} was accepted under your name: someone else must approve it.` };
    case 'reason_required':
      return { kind: 'problem', text: `Say why ${f.id} is rejected: a reason is required.` };
    case 'expired_form':
      return { kind: 'problem', text: 'That form had expired (or came from another session): nothing was done. Try again.' };
  }
}

/** The query string of a redirect that shows this flash. */
export function flashQuery(f: { done: FlashCode; id?: string; state?: string | undefined }): string {
  const params = new URLSearchParams({ done: f.done });
  if (f.id) params.set('id', f.id);
  if (f.state) params.set('state', f.state);
  return params.toString();
}
