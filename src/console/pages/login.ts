import { html } from '../html.js';
import { page } from './layout.js';

/**
 * The login form. After a failed attempt it says only that the credentials were not accepted:
 * never which of the two was wrong. Pure.
 */
export function loginPage(d: { failed: boolean; user?: string; next?: string }): string {
  const body = html`<h1>Log in</h1>
    ${d.failed ? html`<p class="flash problem" role="alert">Those credentials were not accepted.</p>` : ''}
    <form class="card login" method="post" action="/console/login">
      ${d.next ? html`<input type="hidden" name="next" value="${d.next}" />` : ''}
      <p>
        <label for="user">User</label>
        <input
          id="user"
          name="user"
          autocomplete="username"
          autocapitalize="none"
          spellcheck="false"
          required
          maxlength="64"
          value="${d.user ?? ''}"
        />
      </p>
      <p>
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="512" />
      </p>
      <p><button type="submit" class="primary">Log in</button></p>
    </form>`;
  return page('Log in', body, null);
}
