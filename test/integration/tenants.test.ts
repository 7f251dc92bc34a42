import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankMetadataFor } from '../../src/payouts/schemas.js';
import { createLogger } from '../../src/log.js';
import { payoutKeyOf } from '../../src/tenants/identity.js';
import { startWeb } from '../../src/web-process.js';
import { webSettings } from '../support/settings.js';
import { API_KEY, CALLBACK_SECRET, order, startPipeline, type Pipeline } from '../support/pipeline.js';
import { eventually } from '../support/sandbox.js';

/**
 * Two upstream systems on one service: the default tenant (API_KEYS) and `acme` (a key made as the
 * CLI makes it). Neither reads, lists, cancels or pays through the other's payouts; the same order
 * id under both is two payouts; keys are revoked at once and rotate without losing a request.
 */
let p: Pipeline;
let acme: string;
const ACME_SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
beforeAll(async () => {
  p = await startPipeline();
  acme = (await p.runtime.tenants.store.createKey('acme', 'billing')).secret;
});
afterAll(() => p?.close());

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const withoutCard = (o: Record<string, unknown>) => {
  const copy = { ...o };
  delete copy.encrypted_card;
  return copy;
};
const ledgerFor = (id: string) => p.sandbox.bank.ledger.filter((e) => e.metadata === bankMetadataFor(id));

describe('isolation', () => {
  it('the same order id under two tenants is two payouts, each paid once, each seen only by its own', async () => {
    const mine = order({ amount_details: { amount: 10_000, currency: 'rub' } });
    const theirs = { ...mine, amount_details: { amount: 20_000, currency: 'rub' } };
    expect((await p.api('POST', '/v1/payouts', mine)).status).toBe(202);
    expect((await p.api('POST', '/v1/payouts', theirs, as(acme))).status).toBe(202);
    await p.waitFor([mine.id, payoutKeyOf('acme', mine.id)], ['succeeded']);
    expect((await p.api('GET', `/v1/payouts/${mine.id}`)).body).toMatchObject({ id: mine.id, amount_details: { amount: 10_000 } });
    expect((await p.api('GET', `/v1/payouts/${mine.id}`, undefined, as(acme))).body).toMatchObject({
      id: mine.id,
      amount_details: { amount: 20_000 },
    });
    expect(ledgerFor(mine.id)).toHaveLength(1);
    expect(ledgerFor(payoutKeyOf('acme', mine.id))).toHaveLength(1);
  });

  it('every route: another tenant’s payout is not found (404, never 403), and no list shows it', async () => {
    const waiting = withoutCard(order());
    const res = await p.api('POST', '/v1/payouts', waiting);
    expect(res.body.collect_url).toBeTruthy();
    const notFound = { status: 404, body: { error: { code: 'not_found', message: `no payout ${waiting.id as string}` } } };
    expect(await p.api('GET', `/v1/payouts/${waiting.id as string}`, undefined, as(acme))).toMatchObject(notFound);
    expect(await p.api('POST', `/v1/payouts/${waiting.id as string}/cancel`, undefined, as(acme))).toMatchObject(notFound);
    for (const query of ['', '?status=awaiting_card', '?limit=100']) {
      const listed = (await p.api('GET', `/v1/payouts${query}`, undefined, as(acme))).body.data as Array<{
        id: string;
        collect_url: string | null;
      }>;
      expect(listed.map((l) => l.id)).not.toContain(waiting.id);
      expect(listed.map((l) => l.collect_url)).not.toContain(res.body.collect_url);
    }
    // a cursor naming the other tenant's payout is unknown here
    expect((await p.api('GET', `/v1/payouts?starting_after=${waiting.id as string}`, undefined, as(acme))).status).toBe(400);
    // the batch route too: the same id is acme's own, new payout
    const batch = await p.api(
      'POST',
      '/v1/payouts/batch',
      { payouts: [{ ...waiting, amount_details: { amount: 5_000, currency: 'rub' } }] },
      as(acme),
    );
    expect(batch.body.results[0]).toMatchObject({ id: waiting.id, status: 'created', state: 'awaiting_card' });
    // the payout is untouched and still the default tenant's
    expect((await p.api('GET', `/v1/payouts/${waiting.id as string}`)).body).toMatchObject({
      status: 'awaiting_card',
      amount_details: { amount: 10_000 },
    });
    // widget tokens are any tenant's to have: they name no payout
    expect((await p.api('POST', '/v1/widget-tokens', undefined, as(acme))).status).toBe(201);
  });

  it('a collection link stays bound to its payout, whoever opens it', async () => {
    const waiting = withoutCard(order());
    const link = (await p.api('POST', '/v1/payouts', waiting, as(acme))).body.collect_url as string;
    expect(
      (
        await fetch(`${link}/card`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"number_hash":"sandbox_ok_4242"}',
        })
      ).status,
    ).toBe(202);
    await p.waitFor([payoutKeyOf('acme', waiting.id as string)], ['succeeded']);
    expect(await p.runtime.store.get(waiting.id as string)).toBeNull();
    expect((await p.api('GET', `/v1/payouts/${waiting.id as string}`, undefined, as(acme))).body).toMatchObject({
      status: 'succeeded',
      card: { last4: '4242' },
    });
  });
});

describe('keys', () => {
  it('a revoked key is refused at its next request; the tenant’s other key goes on (rotation loses no request)', async () => {
    const first = await p.runtime.tenants.store.createKey('rotating', 'old');
    const second = await p.runtime.tenants.store.createKey('rotating', 'new');
    const statuses: number[] = [];
    let revoked = false;
    // both keys in use while the old one is revoked: every request with the new one succeeds
    const sender = (async () => {
      for (let i = 0; i < 40; i++) {
        const o = order();
        statuses.push((await p.api('POST', '/v1/payouts', o, as(second.secret))).status);
        if (i === 20) {
          expect(await p.runtime.tenants.store.revokeKey('rotating', first.key.id)).toBe(true);
          revoked = true;
        }
      }
    })();
    await sender;
    expect(revoked).toBe(true);
    expect(statuses.every((s) => s === 202)).toBe(true);
    const refused = await p.api('GET', '/v1/payouts', undefined, as(first.secret));
    expect(refused).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    // any other web process refuses it too: nothing about keys is kept in a process
    const other = await startWeb(p.runtime, webSettings({ apiKeys: [API_KEY] }), { logger: false });
    try {
      expect((await fetch(`${other.url}/v1/payouts`, { headers: as(first.secret) })).status).toBe(401);
      expect((await fetch(`${other.url}/v1/payouts`, { headers: as(second.secret) })).status).toBe(200);
    } finally {
      await other.server.close();
    }
    expect((await p.api('GET', '/v1/payouts', undefined, as(second.secret))).status).toBe(200);
    const keys = await p.runtime.tenants.store.listKeys('rotating');
    expect(keys.map((k) => [k.name, k.revokedAt !== null])).toEqual([
      ['old', true],
      ['new', false],
    ]);
    // nothing in Redis holds a key's secret
    const dump: unknown[] = [];
    for (const key of await p.runtime.redis.keys(`${p.prefix}:*`)) {
      const type = await p.runtime.redis.type(key);
      if (type === 'hash') dump.push(await p.runtime.redis.hgetall(key));
      else if (type === 'string') dump.push(await p.runtime.redis.get(key));
      else if (type === 'set') dump.push(await p.runtime.redis.smembers(key));
    }
    const text = JSON.stringify(dump);
    expect(text).not.toContain(first.secret);
    expect(text).not.toContain(second.secret);
  });

  it('the audit and the access line name the key that accepted and cancelled, never the key itself', async () => {
    const o = withoutCard(order());
    await p.api('POST', '/v1/payouts', o, as(acme));
    const keyId = (await p.runtime.tenants.store.listKeys('acme'))[0]!.id;
    await p.api('POST', `/v1/payouts/${o.id as string}/cancel`, undefined, as(acme));
    const audit = (await p.api('GET', `/v1/payouts/${o.id as string}`, undefined, as(acme))).body.audit as Array<{
      to?: string;
      by?: string;
    }>;
    expect(audit.filter((e) => e.to).map((e) => [e.to, e.by])).toEqual([
      ['awaiting_card', keyId],
      ['cancelled', keyId],
    ]);
    const mine = order();
    await p.api('POST', '/v1/payouts', mine);
    const mineAudit = (await p.api('GET', `/v1/payouts/${mine.id}`)).body.audit as Array<{ by?: string }>;
    expect(mineAudit[0]!.by).toBe('api_keys#1');
    expect(JSON.stringify(audit)).not.toContain(acme);
    // the access line, from a web of its own whose log is read
    const lines: string[] = [];
    const logger = createLogger({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const web = await startWeb(p.runtime, webSettings({ apiKeys: [API_KEY] }), { logger });
    try {
      await fetch(`${web.url}/v1/payouts/${o.id as string}`, { headers: as(acme) });
      const access = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'request' && l.path === `/v1/payouts/${o.id as string}`);
      expect(access).toMatchObject({ status: 200, tenant: 'acme', key: keyId });
      expect(lines.join('')).not.toContain(acme);
    } finally {
      await web.server.close();
    }
  });
});

describe('per-tenant settings', () => {
  it('a tenant flooding the API is answered 429 with Retry-After; another tenant keeps its pace', async () => {
    const flood = await p.runtime.tenants.store.createKey('flooder', 'loop');
    await p.runtime.tenants.store.configure('flooder', { rateLimitPerMinute: 30 });
    const answers: Array<{ status: number; retryAfter: string | null }> = [];
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${p.url}/v1/payouts?limit=1`, { headers: as(flood.secret) });
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
    }
    expect(answers.filter((a) => a.status === 200)).toHaveLength(30);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited).toHaveLength(10);
    expect(Number(limited[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    // the other tenants are not held back by it
    const started = Date.now();
    for (let i = 0; i < 20; i++) expect((await p.api('GET', '/v1/payouts?limit=1', undefined, as(acme))).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a tenant’s callbacks are signed with its own secret, and its bank calls name its submerchant', async () => {
    await p.runtime.tenants.store.configure('acme', { callbackSecret: ACME_SECRET, submerchant: 'acme-llc' });
    // the workers read tenant settings at most every few seconds
    await new Promise((r) => setTimeout(r, 5_100));
    const o = order({ callback_url: p.upstream.url });
    await p.api('POST', '/v1/payouts', o, as(acme));
    const id = payoutKeyOf('acme', o.id);
    await p.waitFor([id], ['succeeded']);
    const callback = await eventually(
      () =>
        p.upstream.received.find(
          (r) =>
            (JSON.parse(r.body.toString()) as { payout: { id: string } }).payout.id === o.id &&
            r.headers['webhook-id'] === `evt_${id}_succeeded`,
        ),
      5_000,
      'the callback',
    );
    const headers = callback.headers as Record<string, string>;
    expect(() => new Webhook(ACME_SECRET).verify(callback.body, headers)).not.toThrow();
    expect(() => new Webhook(CALLBACK_SECRET).verify(callback.body, headers)).toThrow();
    const sessionId = (await p.runtime.store.get(id))!.sessionId!;
    const calls = p.sandbox.bank.calls.filter((c) => c.sessionId === sessionId);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.every((c) => c.submerchant === 'acme-llc')).toBe(true);
    // the default tenant's calls name none
    expect(p.sandbox.bank.calls.filter((c) => c.endpoint === 'session/create').some((c) => c.submerchant === null)).toBe(true);
  }, 20_000);
});
