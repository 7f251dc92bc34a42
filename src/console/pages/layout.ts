import type { Flash } from '../flash.js';
import { html, type Html } from '../html.js';

/**
 * The frame every console page shares: one stylesheet from /console/assets/ (no inline style or
 * script, which the content security policy forbids), a skip link, the navigation with the review
 * queue's count, and the operator's log-out form carrying the session's CSRF token. Pure.
 */
export const CSS_PATH = '/console/assets/console.css';

export type Section = 'overview' | 'payouts' | 'review';

export interface Chrome {
  user: string;
  csrf: string;
  section: Section | null;
  /** Payouts awaiting review, for the navigation; null when not read for this page. */
  held: number | null;
  flash?: Flash | null | undefined;
}

/** The path of a payout's page. */
export function payoutPath(id: string): string {
  return `/console/payouts/${encodeURIComponent(id)}`;
}

function nav(chrome: Chrome): Html {
  const item = (section: Section, href: string, label: string, extra: Html | string = '') =>
    html`<li><a href="${href}" ${section === chrome.section ? html` aria-current="page"` : ''}>${label}${extra}</a></li>`;
  const count = chrome.held === null ? '' : html` <span class="count">${chrome.held}</span>`;
  return html`<nav aria-label="Console">
    <ul>
      ${item('overview', '/console', 'Overview')} ${item('payouts', '/console/payouts', 'Payouts')}
      ${item('review', '/console/review', 'Review queue', count)}
    </ul>
  </nav>`;
}

export function flashBlock(flash: Flash | null | undefined): Html | '' {
  if (!flash) return '';
  return flash.kind === 'ok'
    ? html`<p class="flash ok" role="status">${flash.text}</p>`
    : html`<p class="flash problem" role="alert">${flash.text}</p>`;
}

/** A whole page: `chrome` null for the login page, which has no navigation. */
export function page(title: string, body: Html, chrome: Chrome | null): string {
  const header = chrome
    ? html`<header class="top">
        <p class="brand"><a href="/console">Payouts console</a></p>
        ${nav(chrome)}
        <form class="logout" method="post" action="/console/logout">
          <input type="hidden" name="csrf" value="${chrome.csrf}" />
          <span class="who">${chrome.user}</span> <button type="submit" class="link">Log out</button>
        </form>
      </header>`
    : html`<header class="top"><p class="brand">Payouts console</p></header>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="robots" content="noindex" />
        <link rel="icon" href="data:," />
        <title>${title} · Payouts console</title>
        <link rel="stylesheet" href="${CSS_PATH}" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        ${header}
        <main id="main" tabindex="-1">${flashBlock(chrome?.flash)} ${body}</main>
      </body>
    </html> `.value;
}

/** A page that only says something went wrong: an unknown payout, a bad search. */
export function messagePage(title: string, message: string, chrome: Chrome | null): string {
  return page(
    title,
    html`<h1>${title}</h1>
      <p>${message}</p>
      <p><a href="/console">Back to the overview</a></p>`,
    chrome,
  );
}
