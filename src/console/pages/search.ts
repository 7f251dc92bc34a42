import type { PayoutRecord } from '../../payouts/schemas.js';
import { PAYOUT_STATES } from '../../payouts/state-machine.js';
import { rub, stateText, utc } from '../format.js';
import { html, type Html } from '../html.js';
import { FIELD_LABELS, SEARCH_FIELDS, type SearchForm, type SearchResult } from '../search.js';
import { page, payoutPath, type Chrome } from './layout.js';

/**
 * `/console/payouts`: the search form (a query and its kind, tenant, state, created from/to) and a
 * page of payouts, newest first, with a link to the next page. Pure.
 */
export interface SearchPageData {
  form: SearchForm;
  tenants: string[];
  /** Null before anything was asked (the bare page lists the newest payouts anyway). */
  result: SearchResult | null;
  problem: string | null;
}

const MATCHED: Record<string, string> = {
  reference: 'as a customer reference',
  metadata: 'as metadata',
  recipient: 'as a saved recipient id',
  last4: 'as a card’s last 4',
};

function option(value: string, label: string, selected: string): Html {
  return html`<option value="${value}" ${value === selected ? html` selected` : ''}>${label}</option>`;
}

function searchForm(form: SearchForm, tenants: string[]): Html {
  return html`<form class="card search" method="get" action="/console/payouts" role="search" aria-label="Payouts">
    <div class="query">
      <p>
        <label for="q">Search</label>
        <input
          id="q"
          name="q"
          type="search"
          value="${form.q}"
          maxlength="256"
          autocapitalize="none"
          spellcheck="false"
          aria-describedby="q-hint"
        />
        <span class="hint" id="q-hint">A payout id, a customer reference, metadata, a saved recipient id (rcp_…) or a card’s last 4.</span>
      </p>
      <p>
        <label for="field">Search as</label>
        <select id="field" name="field">
          ${SEARCH_FIELDS.map((f) => option(f, FIELD_LABELS[f], form.field))}
        </select>
      </p>
    </div>
    <div class="filters">
      <p>
        <label for="tenant">Tenant</label>
        <select id="tenant" name="tenant">
          ${option('', 'All tenants', form.tenant)}${tenants.map((t) => option(t, t, form.tenant))}
        </select>
      </p>
      <p>
        <label for="state">State</label>
        <select id="state" name="state">
          ${option('', 'Any state', form.state)}${PAYOUT_STATES.map((s) => option(s, stateText(s), form.state))}
        </select>
      </p>
      <p><label for="from">Created from</label> <input id="from" name="from" type="date" value="${form.from}" /></p>
      <p><label for="to">Created to</label> <input id="to" name="to" type="date" value="${form.to}" /></p>
    </div>
    <p><button type="submit" class="primary">Search</button> <a href="/console/payouts">Clear</a></p>
  </form>`;
}

/** A payout's card as the console shows it: the last 4 only. */
export function cardText(p: Pick<PayoutRecord, 'cardLast4' | 'givenLast4'>): string {
  const last4 = p.cardLast4 ?? p.givenLast4;
  return last4 ? `•••• ${last4}` : '';
}

export function payoutRows(rows: readonly PayoutRecord[], caption: string): Html {
  return html`<div class="scroll" tabindex="0" role="region" aria-label="${caption}">
    <table class="payouts">
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          <th scope="col">Payout</th>
          <th scope="col">Tenant</th>
          <th scope="col">State</th>
          <th scope="col" class="num">Amount</th>
          <th scope="col">Card</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              <th scope="row"><a href="${payoutPath(r.id)}">${r.id}</a></th>
              <td>${r.tenant}</td>
              <td><span class="state s-${r.state}">${stateText(r.state)}</span></td>
              <td class="num">${rub(r.order.amount_details.amount)}</td>
              <td class="nowrap">${cardText(r)}</td>
              <td class="nowrap">${utc(r.createdAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** The search again, from its first page or from `after`. */
function searchLink(form: SearchForm, after?: string): string {
  const params = new URLSearchParams();
  for (const key of ['q', 'field', 'tenant', 'state', 'from', 'to'] as const)
    if (form[key] && form[key] !== 'any') params.set(key, form[key]);
  if (after) params.set('after', after);
  const query = params.toString();
  return query ? `/console/payouts?${query}` : '/console/payouts';
}

function summary(d: SearchPageData): Html | '' {
  const r = d.result;
  if (!r || !d.form.q) return '';
  const how = [r.matchedAs.id ? 'as a payout id' : '', r.matchedAs.filter ? MATCHED[r.matchedAs.filter] : ''].filter(Boolean).join(' and ');
  return r.rows.length === 0
    ? html`<p role="status">Nothing matches “${d.form.q}”.</p>`
    : html`<p role="status">“${d.form.q}” matched ${how || 'nothing more'}.</p>`;
}

export function searchPage(d: SearchPageData, chrome: Chrome): string {
  const r = d.result;
  const results = !r
    ? ''
    : html`${r.cursorLost ? html`<p class="flash problem" role="alert">A payout this page went on from is gone; the list may have moved. <a href="/console/payouts">Start again</a>.</p>` : ''}
      ${r.rows.length > 0 ? payoutRows(r.rows, d.form.after ? 'Payouts, further on' : 'Payouts, newest first') : d.form.q ? '' : html`<p>No payouts match.</p>`}
      ${
        r.next || d.form.after
          ? html`<nav class="pages" aria-label="Pages">
              <ul>
                ${d.form.after ? html`<li><a href="${searchLink(d.form)}">First page</a></li>` : ''}${r.next ? html`<li><a href="${searchLink(d.form, r.next)}" rel="next">Next page</a></li>` : ''}
              </ul>
            </nav>`
          : ''
      }`;
  const body = html`<h1>Payouts</h1>
    ${searchForm(d.form, d.tenants)} ${d.problem ? html`<p class="flash problem" role="alert">${d.problem}</p>` : ''} ${summary(d)}
    ${results}`;
  return page(d.form.q ? `Payouts: ${d.form.q}` : 'Payouts', body, chrome);
}
