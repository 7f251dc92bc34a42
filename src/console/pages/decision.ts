import { html, type Html } from '../html.js';
import { payoutPath } from './layout.js';

/**
 * The approve button and the reject form of a payout held for review, as the payout page and the
 * review queue show them. Each form carries the session's CSRF token and where to come back to;
 * rejecting needs a reason (the browser asks for one, and the server refuses without). Pure.
 */
export function decisionForms(d: { id: string; csrf: string; back: 'payout' | 'review'; n: number }): Html {
  const action = `${payoutPath(d.id)}/decision`;
  const common = html`<input type="hidden" name="csrf" value="${d.csrf}" /><input type="hidden" name="back" value="${d.back}" />`;
  return html`<div class="decide">
    <form method="post" action="${action}">
      ${common}<input type="hidden" name="decision" value="approve" />
      <button type="submit" class="primary" aria-describedby="payout-${d.n}">Approve</button>
    </form>
    <form method="post" action="${action}" class="reject">
      ${common}<input type="hidden" name="decision" value="reject" />
      <label for="reason-${d.n}">Reason to reject</label>
      <input id="reason-${d.n}" name="reason" required maxlength="500" autocomplete="off" />
      <button type="submit" class="danger" aria-describedby="payout-${d.n}">Reject</button>
    </form>
  </div>`;
}
