import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../src/console/routes.js';
import { order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * The operator console against the whole service: real Redis, the sandbox bank, a worker set that
 * holds payouts above 500 RUB for review (REVIEW_ABOVE). Logged in as a browser would be: a form
 * post, a cookie, the CSRF token read from each page's forms.
 */
const ops = { name: 'ops', password: 'console-password-1' };
const ann = { name: 'ann', password: 'another-password-2' };
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({
    web: { console: { users: [ops, ann], sessionSecret: null } },
    worker: { approval: { rules: null, reviewAbove: 500_00, reviewTtlMs: 3_600_000 } },
  });
}, 60_000);
afterAll(() => p?.close());

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function request(
  method: string,
  path: string,
  options: { cookie?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${p.url}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(options.cookie ? { cookie: options.cookie } : {}),
      ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...options.headers,
    },
    body: options.form ? new URLSearchParams(options.form).toString() : undefined,
  });
  return { status: res.status, headers: res.headers, body: await res.text() } satisfies Answer;
}

async function login(user = ops): Promise<string> {
  const res = await request('POST', '/console/login', { form: { user: user.name, password: user.password } });
  expect(res.status).toBe(303);
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0]!;
}

/** The CSRF token a page's forms carry. */
const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
/** What a page says, without its markup (entities as written). */
const textOf = (page: string) => page.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

let n = 0;
/** A card hash the sandbox pays, whose last 4 are `last4`; never to be seen in a page. */
const cardHash = (last4: string) => `console-secret-hash-${Date.now().toString(36)}-${++n}-${last4}`;
const randomLast4 = () => String(1000 + Math.floor(Math.random() * 9000));

describe('login', () => {
  it('every page needs a session: a page redirects to the login, a form is refused', async () => {
    for (const path of ['/console', '/console/payouts', '/console/review', '/console/payouts/x', '/console/nowhere']) {
      const res = await request('GET', path);
      expect(res.status, path).toBe(302);
      expect(res.headers.get('location'), path).toBe(`/console/login?next=${encodeURIComponent(path)}`);
    }
    const post = await request('POST', '/console/payouts/x/decision', { form: { decision: 'approve', csrf: 'x' } });
    expect(post.status).toBe(401);
    expect(post.body).toContain('action="/console/login"');
    const page = await request('GET', '/console/login');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<label for="password">Password</label>');
    const css = await request('GET', '/console/assets/console.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('a wrong password, or an unknown user: 401 and the form again, saying not which part was wrong', async () => {
    const wrongPassword = await request('POST', '/console/login', { form: { user: ops.name, password: 'not-the-password' } });
    const unknownUser = await request('POST', '/console/login', { form: { user: 'nobody', password: ops.password } });
    const boardPassword = await request('POST', '/console/login', { form: { user: ann.name, password: ops.password } });
    for (const res of [wrongPassword, unknownUser, boardPassword]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(textOf(res.body)).toContain('Those credentials were not accepted.');
      expect(res.body).not.toMatch(/unknown user|wrong password|no such user/i);
    }
    expect(wrongPassword.body.replace(/value="ops"/, '')).toBe(unknownUser.body.replace(/value="nobody"/, ''));
    // nothing goes with it but the login form: no page of the console
    expect(await request('GET', '/console', { cookie: 'console_session=forged.value' })).toMatchObject({ status: 302 });
  });

  it('a login sets an HttpOnly, SameSite=Strict cookie for /console, 8 hours; logout needs the CSRF token and clears it', async () => {
    const res = await request('POST', '/console/login', { form: { user: ann.name, password: ann.password, next: '/console/review' } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/review');
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/^console_session=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=28800$/);
    const cookie = set.split(';')[0]!;
    const overview = await request('GET', '/console', { cookie });
    expect(overview.status).toBe(200);
    expect(textOf(overview.body)).toContain('ann Log out');

    // another site's page is never where a login goes on to
    const away = await request('POST', '/console/login', { form: { user: ann.name, password: ann.password, next: '//evil.example/x' } });
    expect(away.headers.get('location')).toBe('/console');

    expect((await request('POST', '/console/logout', { cookie, form: {} })).status).toBe(403);
    const out = await request('POST', '/console/logout', { cookie, form: { csrf: csrfOf(overview.body) } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/console/login');
    expect(out.headers.get('set-cookie')).toMatch(/^console_session=; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=0$/);
  });

  it('a changed cookie is no session', async () => {
    const cookie = await login();
    const [payload, signature] = cookie.slice('console_session='.length).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { u: string; e: number };
    const longer = Buffer.from(JSON.stringify({ ...claims, e: claims.e + 86_400_000 })).toString('base64url');
    expect((await request('GET', '/console', { cookie: `console_session=${longer}.${signature}` })).status).toBe(302);
    expect((await request('GET', '/console', { cookie })).status).toBe(200);
  });

  it('every console answer carries the strict content security policy and no-store', async () => {
    const cookie = await login();
    for (const [path, withCookie] of [
      ['/console/login', false],
      ['/console', false],
      ['/console', true],
      ['/console/payouts', true],
      ['/console/review', true],
      ['/console/payouts/nope', true],
      ['/console/nowhere', true],
      ['/console/assets/console.css', false],
    ] as const) {
      const res = await request('GET', path, withCookie ? { cookie } : {});
      expect(res.headers.get('content-security-policy'), path).toBe(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      );
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    const missing = await request('GET', '/console/nowhere', { cookie });
    expect(missing.status).toBe(404);
    // no inline script or style anywhere
    const overview = (await request('GET', '/console', { cookie })).body;
    expect(overview).not.toMatch(/<script|style=|<style/i);
  });

  it('stays out of the API document', async () => {
    const doc = (await (await fetch(`${p.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/console'))).toEqual([]);
  });
});

describe('search and the payout page', () => {
  const last4 = randomLast4();
  const hash = cardHash(last4);
  const reference = `cust-${Date.now().toString(36)}`;
  let paid: ReturnType<typeof order>;
  let other: ReturnType<typeof order>;
  let cookie: string;
  beforeAll(async () => {
    cookie = await login();
    paid = order({ customer: { reference }, callback_url: p.upstream.url, recipient: { full_name: 'Petrova Anna Sergeevna' } }, hash);
    other = order({}, cardHash(randomLast4()));
    for (const o of [paid, other]) expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([paid.id, other.id], ['succeeded']);
    // the callback is delivered after the payout ends
    await eventually(
      async () => ((await p.api('GET', `/v1/payouts/${paid.id}`)).body.notification?.status === 'delivered' ? true : undefined),
      10_000,
      'the callback',
    );
  });

  const search = async (query: Record<string, string>) =>
    (await request('GET', `/console/payouts?${new URLSearchParams(query)}`, { cookie })).body;
  const linksIn = (page: string) => [...page.matchAll(/href="\/console\/payouts\/([^"?]+)"/g)].map((m) => decodeURIComponent(m[1]!));

  it('finds a payout by its id, its card’s last 4, its customer reference, its metadata, and lists by state', async () => {
    expect(linksIn(await search({ q: paid.id }))).toEqual([paid.id]);
    expect(linksIn(await search({ q: paid.id, field: 'id' }))).toEqual([paid.id]);
    expect(linksIn(await search({ q: last4 }))).toEqual([paid.id]);
    expect(linksIn(await search({ q: last4, field: 'last4' }))).toEqual([paid.id]);
    expect(linksIn(await search({ q: reference }))).toEqual([paid.id]);
    expect(linksIn(await search({ q: other.metadata }))).toEqual([other.id]);
    expect(linksIn(await search({ q: other.metadata, field: 'metadata' }))).toEqual([other.id]);
    const succeeded = linksIn(await search({ state: 'succeeded' }));
    expect(succeeded).toEqual(expect.arrayContaining([paid.id, other.id]));
    expect(linksIn(await search({ q: last4, state: 'failed' }))).toEqual([]);
    const table = await search({ q: last4 });
    expect(textOf(table)).toContain(`•••• ${last4}`);
    expect(textOf(table)).toContain('RUB 100.00');
    // a query that cannot be what it is said to be
    const bad = await request('GET', `/console/payouts?q=12345&field=last4`, { cookie });
    expect(bad.status).toBe(400);
    expect(textOf(bad.body)).toContain('a card’s last 4 are four digits');
  });

  it('pages through every payout once', async () => {
    const more = Array.from({ length: 30 }, () => order({ metadata: 'paged' }, cardHash('0000')));
    expect((await p.api('POST', '/v1/payouts/batch', { payouts: more })).status).toBeLessThan(300);
    const seen: string[] = [];
    let path: string | null = `/console/payouts?q=paged&field=metadata`;
    for (let pages = 0; path && pages < 5; pages++) {
      const page: string = (await request('GET', path, { cookie })).body;
      seen.push(...linksIn(page));
      path = /href="(\/console\/payouts\?[^"]*after=[^"]+)" rel="next"/.exec(page)?.[1]?.replaceAll('&amp;', '&') ?? null;
    }
    expect(seen.sort()).toEqual(more.map((o) => o.id).sort());
  });

  it('the payout page: summary, and one timeline of its state changes, bank calls and callback deliveries', async () => {
    const res = await request('GET', `/console/payouts/${encodeURIComponent(paid.id)}`, { cookie });
    expect(res.status).toBe(200);
    const text = textOf(res.body);
    expect(text).toContain(`Payout ${paid.id}`);
    expect(text).toContain('RUB 100.00');
    expect(text).toContain(`•••• ${last4}`);
    expect(text).toContain('Petrova Anna Sergeevna');
    expect(text).toContain(reference);
    // state changes
    expect(text).toMatch(/State queued → session created/);
    expect(text).toMatch(/succeeded/);
    // bank calls
    expect(text).toMatch(/Bank call session\/create ok/);
    // the callback's delivery attempt
    expect(text).toMatch(/Delivery succeeded to callback_url : HTTP 200/);
    // in time order
    const times = [...res.body.matchAll(/<time datetime="([^"]+)"/g)].map((m) => Date.parse(m[1]!));
    expect(times.length).toBeGreaterThan(4);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // no decision forms for a payout that is not held
    expect(res.body).not.toContain('/decision');
  });

  it('never shows a card’s hashes', async () => {
    for (const path of [
      `/console/payouts/${encodeURIComponent(paid.id)}`,
      `/console/payouts?q=${last4}`,
      '/console/payouts',
      '/console',
      '/console/review',
    ]) {
      const page = (await request('GET', path, { cookie })).body;
      expect(page, path).not.toContain(hash);
      expect(page, path).not.toContain('console-secret-hash');
    }
  });

  it('an unknown payout: 404 page', async () => {
    const res = await request('GET', '/console/payouts/no-such-payout', { cookie });
    expect(res.status).toBe(404);
    expect(textOf(res.body)).toContain('No such payout');
  });

  it('user input comes back escaped', async () => {
    const page = await search({ q: '<img src=x onerror=alert(1)>"' });
    expect(page).not.toContain('<img src=x');
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;');
    const flash = (await request('GET', `/console/review?done=not_found&id=${encodeURIComponent('<b>x</b>')}`, { cookie })).body;
    expect(flash).toContain('There is no payout &lt;b&gt;x&lt;/b&gt;.');
  });
});

describe('the review queue', () => {
  let cookie: string;
  beforeAll(async () => {
    cookie = await login();
  });

  async function held(): Promise<ReturnType<typeof order>> {
    const o = order({ amount_details: { amount: 1_500_00, currency: 'rub' }, callback_url: p.upstream.url }, cardHash(randomLast4()));
    expect((await p.api('POST', '/v1/payouts', o)).status).toBe(202);
    await p.waitFor([o.id], ['awaiting_review']);
    return o;
  }

  it('lists held payouts with why; approve sends one on to the bank', async () => {
    const o = await held();
    const queue = await request('GET', '/console/review', { cookie });
    expect(queue.status).toBe(200);
    const text = textOf(queue.body);
    expect(text).toContain(o.id);
    expect(text).toContain('RUB 1,500.00');
    expect(text).toContain('review_above');
    expect(text).toMatch(/Rejected unless decided by \d{4}-\d{2}-\d{2} /);
    const overview = await request('GET', '/console', { cookie });
    expect(textOf(overview.body)).toMatch(/Review queue: [1-9]\d* held/);

    const action = `/console/payouts/${encodeURIComponent(o.id)}/decision`;
    // without the session's CSRF token: refused, nothing done
    for (const csrf of [undefined, 'forged', csrfOf((await request('GET', '/console', { cookie: await login(ann) })).body)]) {
      const res = await request('POST', action, { cookie, form: { decision: 'approve', back: 'review', ...(csrf ? { csrf } : {}) } });
      expect(res.status).toBe(403);
    }
    // a browser posting from another site: refused too
    const crossSite = await request('POST', action, {
      cookie,
      form: { decision: 'approve', csrf: csrfOf(queue.body) },
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.status).toBe('awaiting_review');

    const res = await request('POST', action, { cookie, form: { decision: 'approve', back: 'review', csrf: csrfOf(queue.body) } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/console/review?done=approved&id=${encodeURIComponent(o.id)}&state=queued`);
    const after = await request('GET', res.headers.get('location')!, { cookie });
    expect(textOf(after.body)).toContain(`Approved ${o.id}: it goes on to the bank (now queued).`);
    await p.waitFor([o.id], ['succeeded']);
    const payout = await request('GET', `/console/payouts/${encodeURIComponent(o.id)}`, { cookie });
    expect(textOf(payout.body)).toContain('by operator:ops');

    // decided already: said so
    const again = await request('POST', action, { cookie, form: { decision: 'approve', back: 'payout', csrf: csrfOf(queue.body) } });
    expect(again.headers.get('location')).toMatch(
      /^\/console\/payouts\/[^?]+\?done=not_awaiting_review&id=.+&state=(confirmed|succeeded|confirming|started|queued|session_created|awaiting_confirmation)$/,
    );
  });

  it('reject needs a reason; with one, the payout ends rejected', async () => {
    const o = await held();
    const page = await request('GET', `/console/payouts/${encodeURIComponent(o.id)}`, { cookie });
    expect(page.body).toContain('<input id="reason-0" name="reason" required');
    const action = `/console/payouts/${encodeURIComponent(o.id)}/decision`;
    const csrf = csrfOf(page.body);
    const none = await request('POST', action, { cookie, form: { decision: 'reject', reason: '  ', csrf } });
    expect(none.headers.get('location')).toBe(
      `/console/payouts/${encodeURIComponent(o.id)}?done=reason_required&id=${encodeURIComponent(o.id)}`,
    );
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body.status).toBe('awaiting_review');

    const res = await request('POST', action, { cookie, form: { decision: 'reject', reason: 'not a customer of ours', csrf } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('done=rejected');
    const view = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
    expect(view).toMatchObject({
      status: 'rejected',
      review: { decision: 'rejected', decided_by: 'operator:ops', decision_reason: 'not a customer of ours' },
    });
    const after = textOf((await request('GET', res.headers.get('location')!, { cookie })).body);
    expect(after).toContain(`Rejected ${o.id}: it will not be paid (now rejected).`);
    expect(after).toContain('not a customer of ours');
    expect((await request('GET', '/console/review', { cookie })).body).not.toContain(`>${o.id}<`);
  });
});

describe('guessing', () => {
  it('logins are limited per client address: a page saying so, 429, with Retry-After', async () => {
    let res: Answer | undefined;
    for (let i = 0; i < 25 && res?.status !== 429; i++)
      res = await request('POST', '/console/login', { form: { user: ops.name, password: `guess-${i}` } });
    expect(res?.status).toBe(429);
    expect(res?.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(Number(res?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(textOf(res!.body)).toContain('Too many logins from here');
    expect(res?.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    // even the right password waits
    expect((await request('POST', '/console/login', { form: { user: ops.name, password: ops.password } })).status).toBe(429);
  });
});

describe('with ADMIN_PORT', () => {
  let admin: Pipeline;
  beforeAll(async () => {
    admin = await startPipeline({
      web: { admin: { port: 0, host: '127.0.0.1' }, trustProxy: '127.0.0.1', console: { users: [ops], sessionSecret: 's'.repeat(32) } },
    });
  }, 60_000);
  afterAll(() => admin?.close());

  it('the console is on the admin listener only, next to the queue board', async () => {
    expect((await fetch(`${admin.adminUrl}/console/login`)).status).toBe(200);
    const onPublic = await fetch(`${admin.url}/console/login`);
    expect(onPublic.status).toBe(404);
    expect(onPublic.headers.get('content-type')).toContain('application/json');
  });

  it('behind a proxy that says the browser came over https, the cookie is Secure', async () => {
    const res = await fetch(`${admin.adminUrl}/console/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
      body: new URLSearchParams({ user: ops.name, password: ops.password }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=28800; Secure$/);
  });
});
