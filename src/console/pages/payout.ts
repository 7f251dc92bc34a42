import type { PayoutRecord } from '../../payouts/schemas.js';
import { tenantOf } from '../../tenants/identity.js';
import { rub, stateText, utc, utcMs } from '../format.js';
import { html, type Html, type Markup } from '../html.js';
import type { PayoutPageData } from '../reads.js';
import type { TimelineEntry } from '../timeline.js';
import { decisionForms } from './decision.js';
import { page, type Chrome } from './layout.js';
import { cardText } from './search.js';

/**
 * `/console/payouts/:id`: what the payout is (state, amount, tenant, order, card's last 4, the
 * person paid, error, review), the decision forms while it awaits review, and one timeline of its
 * state changes, bank calls and event deliveries. The recipient's name is shown here, to operators
 * who need it, and nowhere else in the console; the card's hashes are never read into a page. Pure.
 */
export function orderIdOf(p: Pick<PayoutRecord, 'id'>): string {
  return tenantOf(p.id).orderId;
}

/** The person paid, as the order or the saved recipient named them. */
export function recipientNameOf(p: PayoutRecord): string {
  const r = p.recipientName ?? p.order.recipient ?? null;
  if (!r) return '';
  return r.full_name ?? [r.last_name, r.first_name, r.middle_name].filter(Boolean).join(' ');
}

function row(label: string, value: Markup): Html | '' {
  if (value === '' || value === null || value === undefined || value === false) return '';
  return html`<div>
    <dt>${label}</dt>
    <dd>${value}</dd>
  </div>`;
}

function summary(p: PayoutRecord): Html {
  return html`<dl class="facts">
    ${row('State', html`<span class="state s-${p.state}">${stateText(p.state)}</span>`)}
    ${row('Amount', rub(p.order.amount_details.amount))} ${row('Tenant', p.tenant)} ${row('Order id', orderIdOf(p))}
    ${row('Card', cardText(p))} ${row('Recipient', recipientNameOf(p))} ${row('Saved recipient', p.recipientId)}
    ${row('Customer reference', p.customerReference)} ${row('Metadata', p.order.metadata)}
    ${row('Error', p.errorCode ? `${p.errorCode}${p.errorText ? `: ${p.errorText}` : ''}` : '')}
    ${row('Bank fee', p.fee === null ? '' : rub(p.fee))}
    ${row('Returned', p.returned ? `${rub(p.returned.amount)} on ${utc(p.returned.at)} (${p.returned.reason})` : '')}
    ${row('Accepted by', p.createdBy)} ${row('Bank session', p.sessionId)} ${row('Created', utc(p.createdAt))}
    ${row('Updated', utc(p.updatedAt))} ${row('Finished', utc(p.finishedAt))}
  </dl>`;
}

function review(p: PayoutRecord): Html | '' {
  const r = p.review;
  if (!r) return '';
  return html`<section aria-labelledby="review">
    <h2 id="review">Review</h2>
    <dl class="facts">
      ${row(
        'Held by',
        r.rules.length
          ? html`<ul class="rules">
              ${r.rules.map((rule) => html`<li><code>${rule}</code></li>`)}
            </ul>`
          : '',
      )}
      ${row('Why', r.reason)}
      ${row(p.state === 'awaiting_review' ? 'Rejected unless decided by' : 'Review expiry', r.expiresAt === null ? '' : utc(r.expiresAt))}
      ${row('Decision', r.decision)} ${row('Decided by', r.decidedBy)} ${row('Reason given', r.decisionReason)}
    </dl>
  </section>`;
}

const HOW = { state: 'State', note: 'Note', bank: 'Bank call', delivery: 'Delivery' } as const;

function entryText(e: TimelineEntry): Html {
  switch (e.kind) {
    case 'state':
      return html`<strong>${e.from ? `${stateText(e.from)} → ` : ''}${stateText(e.to)}</strong>:
        ${e.why}${e.by ? html` <span class="by">by ${e.by}</span>` : ''}`;
    case 'note':
      return html`<span class="muted">in ${stateText(e.state)}:</span> ${e.why}`;
    case 'bank':
      return html`<code>${e.call}</code> <span class="${e.ok ? 'good' : 'bad'}">${e.ok ? 'ok' : 'failed'}</span>: ${e.outcome}
        <span class="muted">(${e.ms} ms)</span>`;
    case 'delivery': {
      const answer = e.status === null ? 'no answer' : `HTTP ${e.status}`;
      return html`<code>${e.event}</code> to <code>${e.destination}</code>:
        <span class="${e.error ? 'bad' : 'good'}">${answer}</span>${e.error ? `, ${e.error}` : ''} <span class="muted">(${e.ms} ms)</span>`;
    }
  }
}

export function timeline(entries: readonly TimelineEntry[]): Html {
  if (entries.length === 0) return html`<p>Nothing has happened to it yet.</p>`;
  return html`<ol class="timeline">
    ${entries.map(
      (e) =>
        html`<li class="t-${e.kind}">
          <time datetime="${e.at}">${utcMs(e.at)}</time> <span class="kind">${HOW[e.kind]}</span>
          <p>${entryText(e)}</p>
        </li>`,
    )}
  </ol>`;
}

export function payoutPage(d: PayoutPageData, chrome: Chrome): string {
  const p = d.payout;
  const held = p.state === 'awaiting_review';
  const body = html`<p class="crumbs"><a href="/console/payouts">Payouts</a></p>
    <h1 id="payout-0">Payout <span class="id">${p.id}</span></h1>
    ${summary(p)}
    ${
      held
        ? html`<section aria-labelledby="decide" class="card">
            <h2 id="decide">Decide</h2>
            <p>It waits for a reviewer: approve it to send it to the bank, or reject it with a reason.</p>
            ${decisionForms({ id: p.id, csrf: chrome.csrf, back: 'payout', n: 0 })}
          </section>`
        : ''
    }
    ${review(p)}
    <section aria-labelledby="history">
      <h2 id="history">Timeline</h2>
      <p class="hint">State changes, calls to the bank and deliveries of its events to the tenant, oldest first; times in UTC.</p>
      ${timeline(d.timeline)}
    </section>`;
  return page(`Payout ${p.id}`, body, chrome);
}
