import { rub, utc } from '../format.js';
import { html } from '../html.js';
import type { ReviewQueue } from '../reads.js';
import { decisionForms } from './decision.js';
import { page, payoutPath, type Chrome } from './layout.js';
import { cardText } from './search.js';

/**
 * `/console/review`: every payout held for review, over all tenants, oldest first, each with why it
 * is held, when it is rejected unless someone decides, and the approve and reject forms. Pure.
 */
export function reviewPage(q: ReviewQueue, chrome: Chrome): string {
  const items = q.held.map(
    (p, i) =>
      html`<li class="card held">
        <h2 id="payout-${i + 1}"><a href="${payoutPath(p.id)}">${p.id}</a></h2>
        <dl class="facts">
          <div>
            <dt>Amount</dt>
            <dd>${rub(p.order.amount_details.amount)}</dd>
          </div>
          <div>
            <dt>Tenant</dt>
            <dd>${p.tenant}</dd>
          </div>
          ${
            cardText(p)
              ? html`<div>
                  <dt>Card</dt>
                  <dd>${cardText(p)}</dd>
                </div>`
              : ''
          }
          <div>
            <dt>Held by</dt>
            <dd>${p.review?.rules.length ? p.review.rules.map((r, k) => html`${k ? ', ' : ''}<code>${r}</code>`) : 'review'}</dd>
          </div>
          ${
            p.review?.reason
              ? html`<div>
                  <dt>Why</dt>
                  <dd>${p.review.reason}</dd>
                </div>`
              : ''
          }
          <div>
            <dt>Accepted</dt>
            <dd>${utc(p.createdAt)}${p.createdBy ? ` by ${p.createdBy}` : ''}</dd>
          </div>
          ${
            p.review?.expiresAt
              ? html`<div>
                  <dt>Rejected unless decided by</dt>
                  <dd>${utc(p.review.expiresAt)}</dd>
                </div>`
              : ''
          }
        </dl>
        ${decisionForms({ id: p.id, csrf: chrome.csrf, back: 'review', n: i + 1 })}
      </li>`,
  );
  const body = html`<h1>Review queue</h1>
    <p class="hint">
      Payouts held before any call to the bank, by an approval rule or for their amount. Approve sends one on; reject ends it unpaid and
      tells the tenant.
    </p>
    ${
      q.held.length === 0
        ? html`<p>Nothing is waiting for review.</p>`
        : html`<ol class="held-list">
            ${items}
          </ol>`
    }
    ${q.more ? html`<p class="hint">More are held than shown here: decide on these first.</p>` : ''}`;
  return page('Review queue', body, chrome);
}
