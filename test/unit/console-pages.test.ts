import { describe, expect, it } from 'vitest';
import type { PayoutRecord } from '../../src/payouts/schemas.js';
import { age } from '../../src/console/format.js';
import type { Chrome } from '../../src/console/pages/layout.js';
import { loginPage } from '../../src/console/pages/login.js';
import { overviewPage } from '../../src/console/pages/overview.js';
import { payoutPage } from '../../src/console/pages/payout.js';
import { reviewPage } from '../../src/console/pages/review.js';
import { searchPage } from '../../src/console/pages/search.js';
import { SearchForm } from '../../src/console/search.js';
import { timelineOf } from '../../src/console/timeline.js';
import { toRecord } from '../../src/store/payout-record.js';

const HASH = 'card-hash-that-must-never-show-1234';
const EVIL = '<img src=x onerror=alert(1)>';

/** A payout as the store reads it from its hash. */
function payout(fields: Record<string, string> = {}): PayoutRecord {
  const order = {
    id: 'order-1',
    amount_details: { amount: 1_234_56, currency: 'rub' },
    recipient: { full_name: 'Petrova Anna' },
    encrypted_card: { number_hash: HASH },
    metadata: EVIL,
  };
  return toRecord({
    id: 'order-1',
    state: 'awaiting_review',
    order: JSON.stringify(order),
    fingerprint: 'f',
    given_last4: '1234',
    collected_card: JSON.stringify({ number_hash: HASH }),
    created_at: '2025-03-01T10:00:00.000Z',
    updated_at: '2025-03-01T10:00:01.000Z',
    created_by: 'api_keys#1',
    review_rules: 'review_above,card_per_day',
    review_reason: `over 1,000.00 RUB ${EVIL}`,
    review_expires_at: String(Date.UTC(2025, 2, 2, 10)),
    ...fields,
  });
}

const chrome: Chrome = { user: 'ops', csrf: 'token-1', section: 'payouts', held: 3 };

/** What every page must be: one language, a viewport, a skip link to main, our stylesheet, and no inline code. */
function expectFrame(page: string) {
  expect(page).toMatch(/^<!doctype html>\s*<html lang="en">/);
  expect(page).toContain('<meta name="viewport" content="width=device-width, initial-scale=1"');
  expect(page).toContain('<a class="skip" href="#main">Skip to content</a>');
  expect(page).toContain('<main id="main"');
  expect(page).toContain('<link rel="stylesheet" href="/console/assets/console.css"');
  // attribute values are escaped text: what is left of a tag is its names
  expect(page.replace(/"[^"]*"/g, '""')).not.toMatch(/<script|<style|<[^>]*\s(style|on[a-z]+)=/i);
  expect(page).not.toContain(HASH);
}

describe('the login page', () => {
  it('asks for a user and a password, with labels; after a failure says only that', () => {
    const first = loginPage({ failed: false });
    expectFrame(first);
    expect(first).toContain('<label for="user">User</label>');
    expect(first).toContain('<label for="password">Password</label>');
    expect(first).not.toContain('role="alert"');
    const again = loginPage({ failed: true, user: EVIL, next: '/console/review' });
    expect(again).toContain('Those credentials were not accepted.');
    expect(again).toContain('value="&lt;img src=x onerror=alert(1)&gt;"');
    expect(again).toContain('name="next" value="/console/review"');
  });
});

describe('the payout page', () => {
  const p = payout();
  const page = payoutPage({ payout: p, timeline: [] }, chrome);

  it('shows what the payout is, the name of the person paid, the card by its last 4 only', () => {
    expectFrame(page);
    const text = page.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(text).toContain('Payout order-1');
    expect(text).toContain('RUB 1,234.56');
    expect(text).toContain('•••• 1234');
    expect(text).toContain('Petrova Anna');
    expect(text).toContain('review_above');
    expect(text).toContain('Rejected unless decided by 2025-03-02 10:00:00 UTC');
  });

  it('escapes what the tenant wrote', () => {
    expect(page).not.toContain(EVIL);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('offers approve and reject, each with the CSRF token; reject needs a reason', () => {
    expect(page.match(/<form method="post" action="\/console\/payouts\/order-1\/decision"/g)).toHaveLength(2);
    expect(page.match(/name="csrf" value="token-1"/g)).toHaveLength(3); // and the log-out form
    expect(page).toMatch(/<input id="reason-0" name="reason" required/);
  });

  it('offers no decision once the payout is not held', () => {
    const done = payoutPage(
      { payout: payout({ state: 'rejected', review_decision: 'rejected', reviewed_by: 'operator:ann' }), timeline: [] },
      chrome,
    );
    expect(done).not.toContain('/decision');
    expect(done).toContain('operator:ann');
  });

  it('ids with a tenant are written into links encoded', () => {
    const other = payoutPage({ payout: payout({ id: 'acme~order-1', tenant: 'acme' }), timeline: [] }, chrome);
    expect(other).toContain('action="/console/payouts/acme~order-1/decision"');
    expect(other.replace(/<[^>]+>/g, ' ')).toMatch(/Order id\s+order-1/);
  });
});

describe('the timeline', () => {
  it('merges the audit, bank calls and deliveries by time, the audit first at the same moment', () => {
    const t = (s: number) => new Date(Date.UTC(2025, 2, 1, 10, 0, s)).toISOString();
    const entries = timelineOf(
      [
        { at: t(0), from: null, to: 'queued', why: 'accepted', by: 'api_keys#1' },
        { at: t(2), from: 'queued', to: 'session_created', why: 'created' },
        { at: t(5), state: 'started', why: 'webhook' },
      ],
      [
        { at: t(1), call: 'session/create', ok: true, outcome: 'created', ms: 30 },
        { at: t(2), call: 'session/start/payout', ok: false, outcome: 'timeout', ms: 2000 },
      ],
      [{ event: 'succeeded', attempts: [{ destination: 'callback_url', at: t(4), status: 500, latency_ms: 12, error: 'HTTP 500' }] }],
    );
    expect(entries.map((e) => `${e.kind}@${new Date(e.at).getUTCSeconds()}`)).toEqual([
      'state@0',
      'bank@1',
      'state@2',
      'bank@2',
      'delivery@4',
      'note@5',
    ]);
    const page = payoutPage({ payout: payout({ state: 'queued' }), timeline: entries }, chrome).replace(/\s+/g, ' ');
    expect(page).toContain('2025-03-01 10:00:02.000 UTC');
    expect(page).toMatch(/session\/start\/payout<\/code> <span class="bad">failed<\/span>: timeout/);
    expect(page).toMatch(/callback_url<\/code>: <span class="bad">HTTP 500<\/span>, HTTP 500/);
  });
});

describe('the review queue', () => {
  it('lists each held payout with its own labelled reject field', () => {
    const page = reviewPage({ held: [payout(), payout({ id: 'order-2' })], more: false }, { ...chrome, section: 'review' });
    expectFrame(page);
    expect(page).toContain('aria-current="page">Review queue');
    expect(page).toContain('<label for="reason-1">Reason to reject</label>');
    expect(page).toContain('<label for="reason-2">Reason to reject</label>');
    expect(page).not.toContain('More are held');
    expect(reviewPage({ held: [], more: false }, chrome)).toContain('Nothing is waiting for review.');
  });
});

describe('the search page', () => {
  it('keeps the form as asked, escaped, and links to the next page with the same filters', () => {
    const form = SearchForm.parse({ q: EVIL, state: 'failed', tenant: 'acme' });
    const page = searchPage(
      {
        form,
        tenants: ['default', 'acme'],
        result: { rows: [payout()], matchedAs: { id: false, filter: 'reference' }, next: 'CURSOR', cursorLost: false },
        problem: null,
      },
      chrome,
    );
    expectFrame(page);
    expect(page).toContain('value="&lt;img src=x onerror=alert(1)&gt;"');
    expect(page).toMatch(/<option value="acme"\s+selected>/);
    expect(page).toMatch(/<option value="failed"\s+selected>/);
    expect(page).toContain(
      'href="/console/payouts?q=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E&amp;tenant=acme&amp;state=failed&amp;after=CURSOR"',
    );
    expect(page).toContain('•••• 1234');
  });
});

describe('the overview', () => {
  it('counts per state, the queue, and both charts with their tables', () => {
    const now = Date.UTC(2025, 2, 1, 12);
    const hours = Array.from({ length: 24 }, (_, i) => ({
      hour: new Date(now - (23 - i) * 3_600_000).toISOString(),
      states: { succeeded: i },
      paidKopecks: i * 100,
    }));
    const page = overviewPage(
      {
        now,
        hours,
        held: 2,
        counts: [
          { state: 'awaiting_review', count: 2, oldestCreatedMs: now - 90 * 60_000 },
          { state: 'queued', count: 0, oldestCreatedMs: null },
        ],
      },
      { ...chrome, section: 'overview' },
    );
    expectFrame(page);
    const text = page.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    expect(text).toContain('Review queue: 2 held');
    expect(text).toContain('awaiting review 2 90 min');
    expect(text).not.toContain('queued');
    expect(page.match(/<svg/g)).toHaveLength(2);
    expect(page.match(/<table/g)).toHaveLength(3);
  });

  it('ages read as a person says them', () => {
    expect([0, 59_000, 119_999, 120_000, 7_199_000, 7_200_000, 172_799_000, 172_800_000].map(age)).toEqual([
      '0 s',
      '59 s',
      '119 s',
      '2 min',
      '119 min',
      '2 h',
      '47 h',
      '2 d',
    ]);
  });
});
