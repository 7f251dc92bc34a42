import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ENDPOINTS_PER_TENANT } from '../../src/payouts/webhook-endpoints.js';
import { startPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * Webhook endpoints through the API (src/http/webhook-endpoints.ts), with CALLBACK_ALLOW_PRIVATE off
 * as in production: two tenants, each seeing and changing only its own; the SSRF rules of a
 * payout's callback_url; a secret shown when it is made or rotated, and in no other answer.
 */
let p: Pipeline;
let acme: Record<string, string>;
beforeAll(async () => {
  p = await startPipeline({ allowPrivateCallbacks: false, workerSets: 0 });
  acme = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('acme', 'test')).secret}` };
});
afterAll(() => p?.close());

const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/; // base64 of 32 bytes
const create = (body: unknown, headers: Record<string, string> = {}) => p.api('POST', '/v1/webhook-endpoints', body, headers);

describe('each tenant its own', () => {
  it('made with a whsec_ secret shown once; read, listed, changed and removed by its tenant only; another’s is a 404', async () => {
    const made = await create({ url: 'https://hooks.example.com/payouts', description: 'billing' });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      id: expect.stringMatching(/^we_[0-9a-f]{16}$/),
      url: 'https://hooks.example.com/payouts',
      // every type, unless it names some
      events: [
        'payout.succeeded',
        'payout.failed',
        'payout.cancelled',
        'payout.expired',
        'payout.returned',
        'payout.rejected',
        'recipient.card_invalid',
      ],
      description: 'billing',
      disabled: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      previous_secret_expires_at: null,
      secret: expect.stringMatching(SECRET),
    });
    const { id, secret } = made.body as { id: string; secret: string };
    const theirs = await create({ url: 'https://acme.example.com/in', events: ['payout.failed', 'payout.failed'] }, acme);
    expect(theirs.body.events).toEqual(['payout.failed']);
    expect(theirs.body.secret).not.toBe(secret);

    // each lists its own, without secrets
    const mine = await p.api('GET', '/v1/webhook-endpoints');
    expect(mine.body.data.map((e: { id: string }) => e.id)).toContain(id);
    expect(mine.body.data.map((e: { id: string }) => e.id)).not.toContain(theirs.body.id);
    expect((await p.api('GET', '/v1/webhook-endpoints', undefined, acme)).body.data.map((e: { id: string }) => e.id)).toEqual([
      theirs.body.id,
    ]);

    const got = await p.api('GET', `/v1/webhook-endpoints/${id}`);
    expect(got.status).toBe(200);
    const { secret: _shown, ...view } = made.body;
    expect(got.body).toEqual(view);

    // another tenant's endpoint does not exist for it, on every route
    const notFound = { status: 404, body: { error: { code: 'not_found', message: `no webhook endpoint ${id}` } } };
    expect(await p.api('GET', `/v1/webhook-endpoints/${id}`, undefined, acme)).toMatchObject(notFound);
    expect(await p.api('PATCH', `/v1/webhook-endpoints/${id}`, { disabled: true }, acme)).toMatchObject(notFound);
    expect(await p.api('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, {}, acme)).toMatchObject(notFound);
    expect(await p.api('DELETE', `/v1/webhook-endpoints/${id}`, undefined, acme)).toMatchObject(notFound);
    expect((await p.api('GET', `/v1/webhook-endpoints/${id}`)).body).toEqual(view); // untouched

    const changed = await p.api('PATCH', `/v1/webhook-endpoints/${id}`, { events: ['payout.expired'], description: null, disabled: true });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ id, url: view.url, events: ['payout.expired'], description: null, disabled: true });
    expect(changed.body).not.toHaveProperty('secret');

    expect(await p.api('DELETE', `/v1/webhook-endpoints/${id}`)).toMatchObject({ status: 200, body: { id, deleted: true } });
    expect((await p.api('GET', `/v1/webhook-endpoints/${id}`)).status).toBe(404);
    expect((await p.api('DELETE', `/v1/webhook-endpoints/${id}`)).status).toBe(404);
    // acme's is still there
    expect((await p.api('GET', `/v1/webhook-endpoints/${theirs.body.id}`, undefined, acme)).status).toBe(200);
  });

  it('a rotation answers the new secret once; the old one still signs until the overlap ends', async () => {
    const made = await create({ url: 'https://hooks.example.com/rotate' });
    const { id, secret: first } = made.body as { id: string; secret: string };
    const rotated = await p.api('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlap_seconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ id, secret: expect.stringMatching(SECRET), previous_secret_expires_at: expect.any(String) });
    expect(rotated.body.secret).not.toBe(first);
    const until = Date.parse(rotated.body.previous_secret_expires_at);
    expect(until - Date.now()).toBeGreaterThan(3_590_000);
    expect(until - Date.now()).toBeLessThanOrEqual(3_600_000);
    // the secrets, stored to sign with, are in no answer but the one that made them
    const read = JSON.stringify([
      (await p.api('GET', `/v1/webhook-endpoints/${id}`)).body,
      (await p.api('GET', '/v1/webhook-endpoints')).body,
    ]);
    for (const s of [first, rotated.body.secret]) expect(read).not.toContain(s);
    expect((await p.api('GET', `/v1/webhook-endpoints/${id}`)).body.previous_secret_expires_at).toBe(
      rotated.body.previous_secret_expires_at,
    );
    // no body: a day's overlap; 0: none
    const again = await p.api('POST', `/v1/webhook-endpoints/${id}/rotate-secret`);
    expect(Date.parse(again.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(86_390_000);
    const none = await p.api('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlap_seconds: 0 });
    expect(none.body).toEqual({ id, secret: expect.stringMatching(SECRET), previous_secret_expires_at: null });
    const tooLong = await p.api('POST', `/v1/webhook-endpoints/${id}/rotate-secret`, { overlap_seconds: 7 * 86_400 + 1 });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.issues).toEqual([{ field: 'overlap_seconds', problem: 'must be at most 604800 (7 days)' }]);
  });
});

describe('what an endpoint may be', () => {
  it('a url on a private, loopback or metadata address, or with credentials, is refused naming url, when made or changed', async () => {
    for (const [url, problem] of [
      ['http://127.0.0.1:8080/in', /^must not point at 127\.0\.0\.1/],
      ['http://169.254.169.254/latest/meta-data/', /^must not point at 169\.254\.169\.254/],
      ['https://localhost/in', /^must not point at localhost/],
      ['http://10.1.2.3/in', /^must not point at 10\.1\.2\.3/],
      ['https://user:pw@hooks.example.com/in', /^must not carry a user name or password/],
      ['ftp://hooks.example.com/in', /^must be an http\(s\) URL/],
    ] as const) {
      const res = await create({ url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.issues).toEqual([{ field: 'url', problem: expect.stringMatching(problem) }]);
      expect(JSON.stringify(res.body)).not.toContain('pw@');
    }
    const ok = await create({ url: 'https://hooks.example.com/ok' });
    const patched = await p.api('PATCH', `/v1/webhook-endpoints/${ok.body.id}`, { url: 'http://[::1]/in' });
    expect(patched.status).toBe(400);
    expect(patched.body.error.issues).toEqual([{ field: 'url', problem: expect.stringMatching(/^must not point at ::1/) }]);
    expect((await p.api('GET', `/v1/webhook-endpoints/${ok.body.id}`)).body.url).toBe('https://hooks.example.com/ok');
  });

  it('events are known types, at least one; fields are known; ids are endpoint ids', async () => {
    const unknownType = await create({ url: 'https://hooks.example.com/x', events: ['payout.paid'] });
    expect(unknownType.body.error.issues).toEqual([
      { field: 'events.0', problem: expect.stringMatching(/^must be one of payout\.succeeded/) },
    ]);
    expect((await create({ url: 'https://hooks.example.com/x', events: [] })).body.error.issues).toEqual([
      { field: 'events', problem: 'must name at least one event type' },
    ]);
    expect((await create({ url: 'https://hooks.example.com/x', secret: 'whsec_mine' })).body.error.issues).toEqual([
      { field: '(body)', problem: 'has unknown field secret: check the spelling' },
    ]);
    expect((await p.api('GET', '/v1/webhook-endpoints/not-an-id')).status).toBe(400);
    expect((await p.api('GET', '/v1/webhook-endpoints/we_0000000000000000')).status).toBe(404);
  });

  it(`a tenant has at most ${MAX_ENDPOINTS_PER_TENANT}`, async () => {
    const other = { authorization: `Bearer ${(await p.runtime.tenants.store.createKey('many', 'test')).secret}` };
    for (let i = 0; i < MAX_ENDPOINTS_PER_TENANT; i += 1)
      expect((await create({ url: `https://hooks.example.com/${i}` }, other)).status).toBe(201);
    const over = await create({ url: 'https://hooks.example.com/one-more' }, other);
    expect(over).toMatchObject({ status: 409, body: { error: { code: 'too_many_endpoints' } } });
    expect((await p.api('GET', '/v1/webhook-endpoints', undefined, other)).body.data).toHaveLength(MAX_ENDPOINTS_PER_TENANT);
  });

  it('every route needs a key', async () => {
    expect((await p.api('GET', '/v1/webhook-endpoints', undefined, { authorization: 'Bearer nope-nope-nope-nope' })).status).toBe(401);
  });
});
