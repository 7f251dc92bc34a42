import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { signBody } from '../../src/bank131/signature.js';
import { createLogger } from '../../src/log.js';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { createRuntime, runtimeOptionsFor } from '../../src/runtime.js';
import { loadWebSettings } from '../../src/settings/web.js';
import { startWeb } from '../../src/web-process.js';
import { keys } from '../support/keys.js';
import { connectRedis, deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { eventually } from '../support/sandbox.js';
import { webSettings } from '../support/settings.js';
import { readyToConfirm } from '../support/webhooks.js';

/**
 * Card collection links over HTTP (the browser test walks the same path in chromium): single use,
 * unknown and expired tokens, the expiry of a payout nobody gave a card for, and the headers a
 * card page needs. COLLECT_TTL is 2 s here.
 */
let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline({ timing: { collectTtlMs: 2_000, reconcileIntervalMs: 150, reconcileAfterMs: 400 } });
});
afterAll(() => p?.close());

async function withoutCard(overrides: Record<string, unknown> = {}) {
  const o = order({ callback_url: p.upstream.url, ...overrides });
  delete (o as { encrypted_card?: unknown }).encrypted_card;
  const res = await p.api('POST', '/v1/payouts', o);
  expect(res.status).toBe(202);
  expect(res.body).toEqual({
    id: o.id,
    status: 'awaiting_card',
    collect_url: expect.stringMatching(new RegExp(`^${p.url}/collect/[A-Za-z0-9_-]{32}$`)),
  });
  const url = res.body.collect_url as string;
  return { o, url, token: url.split('/').pop()! };
}
const page = (url: string, lang = 'ru') => fetch(url, { headers: { 'accept-language': lang } });
const postCard = (url: string, card: unknown) =>
  fetch(`${url}/card`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(card) });
const callbacksFor = (id: string) =>
  p.upstream.received
    .map((r) => JSON.parse(r.body.toString()) as { type: string; payout: { id: string } })
    .filter((c) => c.payout.id === id)
    .map((c) => c.type);

describe('a payout accepted without a card', () => {
  it('waits in awaiting_card with its link in reads and lists; the same order again answers the same link', async () => {
    const { o, url } = await withoutCard();
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({
      status: 'awaiting_card',
      collect_url: url,
      card: { last4: null },
    });
    expect(await p.api('POST', '/v1/payouts', { ...o })).toMatchObject({
      status: 200,
      body: { status: 'awaiting_card', collect_url: url },
    });
    const batch = await p.api('POST', '/v1/payouts/batch', { payouts: [o] });
    expect(batch.body.results[0]).toMatchObject({ status: 'existing', state: 'awaiting_card', collect_url: url });
  });

  it("the page sends the headers of a card form: a content security policy for our origin and the widget's, no framing", async () => {
    const { url } = await withoutCard();
    const res = await page(url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain(`script-src 'self' ${new URL(p.sandbox.url).origin}`);
    expect(csp).toContain(`frame-src ${new URL(p.sandbox.url).origin}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    expect(html).toContain('<html lang="ru">');
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script
    expect(await (await page(url, 'en-GB,en;q=0.9')).text()).toContain('<html lang="en">');
  });

  it('page loads share one widget token per link, until the widget spends it on a card', async () => {
    const { url } = await withoutCard();
    const tokenOf = async () => /data-public-token="([^"]+)"/.exec(await (await page(url)).text())?.[1];
    const issued = () => p.sandbox.bank.calls.filter((c) => c.endpoint === 'token').length;
    const before = issued();
    const first = await tokenOf();
    expect(first).toBeTruthy();
    expect(await Promise.all([tokenOf(), tokenOf(), tokenOf()])).toEqual([first, first, first]);
    expect(issued() - before).toBe(1);
    // a card the bank does not know is refused; the reloaded page gets a token the widget can use
    p.sandbox.bank.setKnobs({ faults: [{ endpoint: 'token/info', kind: 'error', code: 'card_number_does_not_exist', times: 1 }] });
    expect((await postCard(url, { number_hash: 'sandbox_ok_4242' })).status).toBe(400);
    const next = await tokenOf();
    expect(next).toBeTruthy();
    expect(next).not.toBe(first);
    expect(issued() - before).toBe(2);
  });

  it('a card given once starts the payout; the link cannot be used again', async () => {
    const { o, url } = await withoutCard();
    const first = await postCard(url, { number_hash: 'sandbox_ok_4242' });
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({ status: 'queued', last4: '4242', amount: expect.stringMatching(/^100,00\s₽$/) });
    const second = await postCard(url, { number_hash: 'sandbox_ok_4242' });
    expect(second.status).toBe(409);
    expect(await second.json()).toEqual({ error: { code: 'link_used', message: 'a card was already given through this collection link' } });
    await p.waitFor([o.id], ['succeeded']);
    await eventually(() => callbacksFor(o.id).length > 0, 5_000, 'the callback');
    expect(callbacksFor(o.id)).toEqual(['payout.succeeded']);
    const status = await (await fetch(`${url}/status`, { headers: { 'accept-language': 'en' } })).json();
    expect(status).toEqual({
      phase: 'succeeded',
      text: expect.stringMatching(/^Done: RUB\s100\.00 sent to card •••• 4242\.$/),
      last4: '4242',
      ask: null,
    });
    // the audit says how the card came
    const audit = (await p.api('GET', `/v1/payouts/${o.id}`)).body.audit as Array<{ why: string }>;
    expect(audit.map((e) => e.why)).toContain('card •••• 4242 given through the collection link');
  });

  it('the bank reporting another card than the one the recipient gave is cancelled, never confirmed', async () => {
    // ready_to_confirm comes late from the sandbox: the bank's word here is one the test signs itself
    p.sandbox.bank.setKnobs({ readyDelayMs: 3_000 });
    try {
      const { o, url } = await withoutCard();
      expect((await postCard(url, { number_hash: 'sandbox_ok_4242' })).status).toBe(202);
      await eventually(async () => ((await p.runtime.store.get(o.id))?.state === 'started' ? true : undefined), 5_000, 'started');
      const sessionId = (await p.runtime.store.get(o.id))!.sessionId!;
      const other = readyToConfirm(sessionId, {
        metadata: bankMetadataFor(o.id),
        payout: { payout_details: { type: 'card', card: { last4: '9999', brand: 'visa' } } },
      });
      const body = JSON.stringify(other);
      expect(
        (
          await fetch(`${p.url}/webhooks/bank131`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-partner-sign': signBody(body, keys.bankPrivate) },
            body,
          })
        ).status,
      ).toBe(200);
      await p.waitFor([o.id], ['cancelled', 'succeeded', 'failed']);
      const payout = (await p.api('GET', `/v1/payouts/${o.id}`)).body;
      expect(payout).toMatchObject({
        status: 'cancelled',
        error: { code: 'policy_card_mismatch', description: 'bank reports card •••• 9999, the card given for this payout ends 4242' },
      });
      expect(p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(o.id))).toEqual([]);
    } finally {
      p.sandbox.bank.setKnobs({ readyDelayMs: 5 });
    }
  });

  it('two cards sent at once: one wins, the other is told the link is used', async () => {
    const { o, url } = await withoutCard();
    const answers = await Promise.all([
      postCard(url, { number_hash: 'sandbox_ok_4242' }),
      postCard(url, { number_hash: 'sandbox_ok_1111' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
    await p.waitFor([o.id], ['succeeded']);
    expect(p.sandbox.bank.ledger.filter((e) => e.metadata === `payout:${o.id}`)).toHaveLength(1);
  });

  it('declined, with no saved recipient: the page offers no card, says what failed and what happens next; a card is refused', async () => {
    const { o, url } = await withoutCard();
    expect((await postCard(url, { number_hash: 'sandbox_decline_declined_by_issuer_bank' })).status).toBe(202);
    await p.waitFor([o.id], ['failed']);
    const html = await (await page(url, 'en')).text();
    expect(html).toContain('data-phase="failed"');
    expect(html).toContain('data-ask=""');
    expect(html).not.toContain('data-public-token');
    expect(html).toContain('<div id="bank131-tokenize" hidden></div>');
    expect(html).toContain(
      'The payout failed: the card’s bank declined it. Ask your bank why. Test Payer LLC has been told. If they send the payout again, you will get a new link.',
    );
    expect(html).not.toMatch(/another card/);
    const ru = await (await page(url, 'ru')).text();
    expect(ru).toContain('Test Payer LLC уже знает об этом. Если выплату отправят снова, вы получите новую ссылку.');
    expect(await (await postCard(url, { number_hash: 'sandbox_ok_4242' })).json()).toMatchObject({ error: { code: 'link_used' } });
    expect(await (await fetch(`${url}/status`, { headers: { 'accept-language': 'en' } })).json()).toMatchObject({
      phase: 'failed',
      ask: null,
    });
  });

  it('the self-employed step is refused where the link is for nobody self-employed', async () => {
    const { url } = await withoutCard();
    const bind = (u: string) =>
      fetch(`${u}/self-employed`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"tax_reference":"500100732259"}',
      });
    expect(await (await bind(url)).json()).toMatchObject({
      error: { code: 'invalid_request', issues: [{ field: 'tax_reference', problem: 'this link is for no self-employed recipient' }] },
    });
    expect((await bind(`${p.url}/collect/${'z'.repeat(32)}`)).status).toBe(404);
  });

  it('an unknown token gets a clear page and a 404; a malformed card body a 400 naming the field', async () => {
    const unknown = await page(`${p.url}/collect/${'x'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toContain('Ссылка не найдена');
    expect(await (await postCard(`${p.url}/collect/${'x'.repeat(32)}`, { number_hash: 'h' })).json()).toMatchObject({
      error: { code: 'not_found' },
    });
    const { url } = await withoutCard();
    const bad = await postCard(url, { number: '4242424242424242' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { issues: unknown } }).error.issues).toEqual([
      { field: 'number_hash', problem: 'is required' },
      { field: '(body)', problem: 'has unknown field number: check the spelling' },
    ]);
  });

  it('expires after COLLECT_TTL: the page says so, a card is refused, the payout ends expired and upstream is told once', async () => {
    const { o, url } = await withoutCard();
    await p.waitFor([o.id], ['expired'], 10_000);
    const res = await page(url, 'en');
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('This link has expired. Ask Test Payer LLC for a new one.');
    expect(await (await postCard(url, { number_hash: 'sandbox_ok_4242' })).json()).toEqual({
      error: { code: 'link_expired', message: 'this collection link has expired' },
    });
    await eventually(() => callbacksFor(o.id).length > 0, 5_000, 'the expiry callback');
    expect(callbacksFor(o.id)).toEqual(['payout.expired']);
    expect((await p.api('GET', `/v1/payouts/${o.id}`)).body).toMatchObject({
      status: 'expired',
      error: { code: 'collect_expired' },
      collect_url: null,
    });
  });
});

describe('widget tokens and limits', () => {
  it('POST /v1/widget-tokens gives a single-use public token for an upstream page that hosts the widget', async () => {
    const res = await p.api('POST', '/v1/widget-tokens');
    expect(res.status).toBe(201);
    expect(res.body.public_token).toMatch(/^[0-9a-f]{64}$/);
    expect((await p.api('POST', '/v1/widget-tokens', undefined, { authorization: 'Bearer nope' })).status).toBe(401);
  });

  it('the collect routes are rate-limited per client, in the error shape', async () => {
    const url = `${p.url}/collect/${'y'.repeat(32)}/card`;
    let last: Response | undefined;
    for (let i = 0; i < 61; i++)
      last = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"number_hash":"h"}' });
    expect(last!.status).toBe(429);
    expect(await last!.json()).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/^too many requests: try again in \d+ s$/) },
    });
  });
});

describe('the page tells the service why a widget could not be used', () => {
  /** A second web on the pipeline's Redis, with COLLECT_PAYER_NAME unset and its log kept, line by line. */
  const lines: Array<Record<string, unknown>> = [];
  let web: { server: FastifyInstance; url: string };
  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
    const settings = webSettings({ redisPrefix: p.prefix, widgetUrl: p.sandbox.url, timing: { collectTtlMs: 60_000 } });
    web = await startWeb(p.runtime, settings, { logger: createLogger({ level: 'info' }, sink) });
  });
  afterAll(() => web?.server.close());

  const warnings = () => lines.filter((l) => l.level === 40);
  const problems = () => warnings().filter((l) => l.msg === 'a card page could not use the Bank 131 widget');
  const report = (token: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${web.url}/collect/${token}/widget-problem`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const linkOn = async () => {
    const { o, token } = await withoutCard();
    return { id: o.id, token, url: `${web.url}/collect/${token}` };
  };

  it('COLLECT_PAYER_NAME unset: one warning at start naming the setting, and the page names the host the recipient came by', async () => {
    const start = warnings().filter((l) => l.setting === 'COLLECT_PAYER_NAME');
    expect(start).toHaveLength(1);
    expect(start[0]!.msg).toMatch(/^COLLECT_PAYER_NAME is not set/);
    const { url } = await linkOn();
    const html = await (await page(url)).text();
    expect(html).toContain('<p class="payer">Выплата от 127.0.0.1</p>');
    expect(html).not.toContain('bank131-payouts');
    expect(await (await page(url.replace('127.0.0.1', 'localhost'), 'en')).text()).toContain(
      '<p class="payer">A payout from localhost</p>',
    );
  });

  it('logs one warning naming the payout, the widget and the reason: no token, no card, no name', async () => {
    const { id, token } = await linkOn();
    const before = problems().length;
    const res = await report(token, { widget: 'card', reason: 'script_load_failed' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const logged = problems().slice(before);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ payoutId: id, tenant: 'default', widget: 'card', reason: 'script_load_failed', phase: 'card' });
    const line = JSON.stringify(logged[0]);
    for (const secret of [token, 'Ivanov', 'sandbox_ok']) expect(line).not.toContain(secret);

    await report(token, { widget: 'card', reason: 'widget_error', code: 'internal_error' });
    expect(problems().slice(before)[1]).toMatchObject({ payoutId: id, reason: 'widget_error', code: 'internal_error' });
  });

  it('a few reports per link are logged; more are answered alike and dropped', async () => {
    const { token } = await linkOn();
    const before = problems().length;
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await report(token, { widget: 'card', reason: 'timeout' })).status);
    expect(answers).toEqual([204, 204, 204, 204, 204, 204]);
    expect(problems().length - before).toBe(3);
  });

  it("a card link's report names the recipient", async () => {
    const made = await p.api('POST', '/v1/recipients', { reference: `wp-${Date.now().toString(36)}`, full_name: 'Sidorova Maria' });
    const link = await p.api('POST', `/v1/recipients/${made.body.id}/card-links`);
    const token = (link.body.url as string).split('/').pop()!;
    const before = problems().length;
    expect((await report(token, { widget: 'card', reason: 'render_failed', code: 'typeerror' })).status).toBe(204);
    expect(problems().slice(before)).toEqual([
      expect.objectContaining({ recipientId: made.body.id, tenant: 'default', reason: 'render_failed', code: 'typeerror' }),
    ]);
    expect(JSON.stringify(problems().slice(before))).not.toContain('Sidorova');
  });

  it('the widget saying its public token is spent: the page reloaded gets a fresh one', async () => {
    const { token, url } = await linkOn();
    const tokenOf = async () => /data-public-token="([^"]+)"/.exec(await (await page(url)).text())?.[1];
    const first = await tokenOf();
    expect(first).toBeTruthy();
    expect(await tokenOf()).toBe(first);
    // an error about the widget that is not about its token keeps it
    await report(token, { widget: 'card', reason: 'widget_error', code: 'network_error' });
    expect(await tokenOf()).toBe(first);
    await report(token, { widget: 'card', reason: 'widget_error', code: 'public_token_used' });
    const next = await tokenOf();
    expect(next).toBeTruthy();
    expect(next).not.toBe(first);
  });

  it('refuses junk with a 4xx in the error shape, never a 500, and logs none of it', async () => {
    const { token } = await linkOn();
    const before = problems().length;
    const junk: Array<[string, number, unknown, Record<string, string>?]> = [
      ['no body', 400, ''],
      ['not JSON', 400, '{"widget":'],
      ['an array', 400, [{ widget: 'card', reason: 'timeout' }]],
      ['an unknown reason', 400, { widget: 'card', reason: 'it broke' }],
      ['an unknown widget', 400, { widget: 'sbp', reason: 'timeout' }],
      ['no reason', 400, { widget: 'card' }],
      ['a field more', 400, { widget: 'card', reason: 'timeout', card: '4242424242424242' }],
      ['a code that is no code', 400, { widget: 'card', reason: 'widget_error', code: 'Ivanov Ivan <script>' }],
      ['a long code', 400, { widget: 'card', reason: 'widget_error', code: 'x'.repeat(41) }],
      ['a number for a code', 400, { widget: 'card', reason: 'widget_error', code: 42 }],
      ['a body too big', 413, { widget: 'card', reason: 'timeout', pad: 'x'.repeat(300) }],
      ['a form', 415, 'widget=card&reason=timeout', { 'content-type': 'application/x-www-form-urlencoded' }],
    ];
    for (const [what, status, body, headers] of junk) {
      const res = await report(token, body, headers);
      expect(res.status, what).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code, what).toMatch(/^[a-z_]+$/);
    }
    expect((await report('z'.repeat(32), { widget: 'card', reason: 'timeout' })).status).toBe(404);
    expect((await report('no', { widget: 'card', reason: 'timeout' })).status).toBe(400);
    expect(problems().length).toBe(before);
  });
});

describe('the sandbox, run as `npm run sandbox`', () => {
  let child: ChildProcess | undefined;
  let keysDir: string;
  const prefix = testPrefix('sandbox-main');
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    const redis = connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
    if (keysDir) rmSync(keysDir, { recursive: true, force: true });
  });

  it('prints every setting the service needs against it, BANK131_WIDGET_URL included: with them alone the card page works', async () => {
    keysDir = mkdtempSync(join(tmpdir(), 'sandbox-keys-'));
    child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/src/main.ts'], {
      env: {
        ...process.env,
        SANDBOX_REDIS_URL: redisUrl(),
        SANDBOX_REDIS_PREFIX: prefix,
        SANDBOX_PORT: '0',
        SANDBOX_KEYS_DIR: keysDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await eventually(() => out.includes('control:'), 30_000, `the sandbox's settings (so far: ${out})`);
    const printed = Object.fromEntries([...out.matchAll(/^ {4}([A-Z0-9_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(printed).sort()).toEqual([
      'BANK131_BASE_URL',
      'BANK131_PRIVATE_KEY_FILE',
      'BANK131_PROJECT',
      'BANK131_PUBLIC_KEY_FILE',
      'BANK131_WIDGET_URL',
    ]);
    // the sandbox serves the widget: its own URL
    expect(printed.BANK131_WIDGET_URL).toBe(printed.BANK131_BASE_URL);
    expect(out).toMatch(/API_KEYS \(web\) and CALLBACK_SECRET \(worker\)/);

    // the web on exactly these, and its own API key: a payout's card page loads the widget from the sandbox
    const webPrefix = testPrefix('sandbox-main-web');
    const settings = loadWebSettings({
      ...printed,
      API_KEYS: API_KEY,
      PORT: '0',
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: webPrefix,
      BANK_PROBE_MS: '0',
      COLLECT_PAYER_NAME: 'Sandbox Payer',
    });
    expect(settings.widgetUrl).toBe(printed.BANK131_WIDGET_URL);
    const runtime = createRuntime(runtimeOptionsFor(settings, 'web'));
    const started = await startWeb(runtime, settings, { logger: false });
    try {
      const o: Partial<ReturnType<typeof order>> = order();
      delete o.encrypted_card;
      const accepted = await fetch(`${started.url}/v1/payouts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(o),
      });
      expect(accepted.status).toBe(202);
      const collectUrl = new URL(((await accepted.json()) as { collect_url: string }).collect_url).pathname;
      const res = await fetch(`${started.url}${collectUrl}`);
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain(`<script src="${printed.BANK131_WIDGET_URL}/tokenize.js"></script>`);
      expect(html).toMatch(/data-public-token="[^"]+"/);
      expect(res.headers.get('content-security-policy')).toContain(`frame-src ${new URL(printed.BANK131_WIDGET_URL!).origin}`);
      const script = await fetch(`${printed.BANK131_WIDGET_URL}/tokenize.js`);
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('Bank131Tokenize');
    } finally {
      await started.server.close();
      await runtime.close();
      const redis = connectRedis();
      await deleteKeys(redis, webPrefix);
      await redis.quit();
    }
  }, 60_000);
});
