import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bank131Client } from '../../src/bank131/client.js';
import { buildServer } from '../../src/http/server.js';
import { DEFAULT_TIMING } from '../../src/pipeline/pipeline-deps.js';
import { PAYOUT_STATES } from '../../src/payouts/state-machine.js';
import type { StepInput, StepName } from '../../src/payouts/steps.js';
import { createQueues, type Queues } from '../../src/queues.js';
import { EXAMINE_PER_ITEM } from '../../src/store/payout-list.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { payoutKeyOf } from '../../src/tenants/identity.js';
import { keys } from '../support/keys.js';
import { applyStep } from '../support/steps.js';
import { connectRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { webSettings } from '../support/settings.js';
import { tenantsOn } from '../support/tenants.js';

/**
 * `GET /v1/payouts` filtered by several states, by metadata and by reference, with creation time,
 * paged by cursor: served from the indexes (per-state indexes merged; the metadata and reference
 * indexes with the states checked on the records), newest first, no payout twice and none missed,
 * each tenant's apart, a bad filter named.
 */
const API_KEY = 'payout-filters-test-key-0123456789';
const prefix = testPrefix('payout-filters');
let app: FastifyInstance;
let redis: Redis;
let queues: Queues;
let store: PayoutStore;
let acmeKey: string;

beforeAll(async () => {
  redis = connectRedis();
  queues = createQueues(redis, prefix);
  store = new PayoutStore(redis, prefix);
  const tenants = tenantsOn(redis, prefix);
  app = await buildServer({
    settings: webSettings({
      apiKeys: [API_KEY],
      publicUrl: 'http://payouts.test',
      widgetUrl: 'https://widget-demo.bank131.ru',
      collectPayerName: 'Test Payer LLC',
      timing: DEFAULT_TIMING,
    }),
    // these routes never reach the bank
    bank: new Bank131Client({ baseUrl: 'http://127.0.0.1:9', project: 'p', privateKey: keys.partnerPrivate }),
    store,
    tenants,
    queues,
    redis,
    publicUrl: () => 'http://payouts.test',
  });
  await app.ready();
  acmeKey = (await tenants.store.createKey('acme', 'statements')).secret;
});
afterAll(async () => {
  await app?.close();
  await queues?.close();
  if (redis) await deleteKeys(redis, prefix);
  await redis?.quit();
});

const auth = (key = API_KEY) => ({ authorization: `Bearer ${key}` });
const get = (url: string, key = API_KEY) => app.inject({ method: 'GET', url, headers: auth(key) });

/** A named step applied without its follow-up job (no worker runs here). */
const step = <N extends StepName>(id: string, name: N, input: StepInput<N>) => applyStep(store, id, name, input);

type Ending = 'queued' | 'failed' | 'succeeded' | 'cancelled' | 'returned';
const facts = { bank_payout_id: 'po_1', card_last4: '4242' };
async function end(id: string, how: Ending): Promise<void> {
  if (how === 'queued') return;
  if (how === 'cancelled') return step(id, 'cancel', {});
  if (how === 'failed') return step(id, 'fail', { code: 'declined_by_issuer_bank', description: 'declined', why: 'declined' });
  await step(id, 'recordSession', { sessionId: `ps_${id}` });
  await step(id, 'succeed', { facts, why: 'paid' });
  if (how === 'returned')
    await step(id, 'markReturned', {
      returned: { amount: 10_000, reason: 'account closed', at: new Date().toISOString(), refundId: 'rf_1' },
      why: 'returned',
    });
}

interface Spec {
  id: string;
  metadata: string;
  reference: string;
  ending: Ending;
}

async function create(specs: Spec[], key = API_KEY): Promise<void> {
  const payouts = specs.map((s) => ({
    id: s.id,
    amount_details: { amount: 10_000, currency: 'rub' },
    recipient: { full_name: 'Ivanov Ivan Ivanovich' },
    encrypted_card: { number_hash: 'sandbox_ok_4242' },
    metadata: s.metadata,
    customer: { reference: s.reference },
  }));
  const res = await app.inject({ method: 'POST', url: '/v1/payouts/batch', payload: { payouts }, headers: auth(key) });
  expect(res.json().counts).toMatchObject({ created: specs.length });
}

/** Every page of a query, following next_starting_after; checks each page's shape on the way. */
async function walk(query: string, key = API_KEY): Promise<{ ids: string[]; pages: Array<{ size: number; has_more: boolean }> }> {
  const ids: string[] = [];
  const pages: Array<{ size: number; has_more: boolean }> = [];
  let cursor: string | null = null;
  for (let n = 0; n < 200; n++) {
    const res = await get(`/v1/payouts?${query}${cursor ? `&starting_after=${encodeURIComponent(cursor)}` : ''}`, key);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { data: Array<{ id: string }>; has_more: boolean; next_starting_after: string | null };
    ids.push(...body.data.map((p) => p.id));
    pages.push({ size: body.data.length, has_more: body.has_more });
    expect(body.has_more).toBe(body.next_starting_after !== null);
    if (!body.has_more) return { ids, pages };
    cursor = body.next_starting_after;
  }
  throw new Error('no last page');
}

const META = 'invoice 7, "June"\nline two & more';
const ENDINGS: Ending[] = ['queued', 'failed', 'succeeded', 'cancelled', 'returned'];
/** 60 payouts created in two batches a few ms apart: metadata, reference and ending vary with i. */
const specs: Spec[] = Array.from({ length: 60 }, (_, i) => ({
  id: `f-${String(i).padStart(2, '0')}`,
  metadata: i % 4 === 0 ? META : `m-${i}`,
  reference: i % 2 === 0 ? 'ref-even' : 'ref-odd',
  ending: ENDINGS[i % 5]!,
}));
/** Newest first: the order of every list. */
const newest = (pick: (s: Spec, i: number) => boolean) =>
  specs
    .filter(pick)
    .map((s) => s.id)
    .reverse();
let secondBatchAt: string;
let firstBatchAt: string;

beforeAll(async () => {
  await create(specs.slice(0, 30));
  await new Promise((resolve) => setTimeout(resolve, 5));
  await create(specs.slice(30));
  for (const s of specs) await end(s.id, s.ending);
  firstBatchAt = (await get(`/v1/payouts/${specs[29]!.id}`)).json().created_at;
  secondBatchAt = (await get(`/v1/payouts/${specs[30]!.id}`)).json().created_at;
  expect(secondBatchAt > firstBatchAt).toBe(true);
  // acme: the same metadata and references, ids of its own
  await create(
    specs.slice(0, 10).map((s) => ({ ...s, id: `acme-${s.id}` })),
    acmeKey,
  );
  for (const s of specs.slice(0, 10)) await end(payoutKeyOf('acme', `acme-${s.id}`), s.ending);
});

describe('several states', () => {
  it('comma-separated: the per-state indexes merged newest first, paged without a payout twice or missed', async () => {
    const want = newest((s) => s.ending === 'succeeded' || s.ending === 'returned');
    const { ids, pages } = await walk('status=succeeded,returned&limit=5');
    expect(ids).toEqual(want);
    // served from the indexes: every page but the last is full
    expect(pages.slice(0, -1).every((p) => p.size === 5)).toBe(true);
  });

  it('repeated, three states, with a page size that does not divide them', async () => {
    const want = newest((s) => ['failed', 'cancelled', 'queued'].includes(s.ending));
    expect((await walk('status=failed&status=cancelled&status=queued&limit=7')).ids).toEqual(want);
    expect((await walk('status=queued,queued&limit=100')).ids).toEqual(newest((s) => s.ending === 'queued'));
  });

  it('with creation time: created_gte and created_lte bound every index', async () => {
    const later = (await walk(`status=failed,returned&created_gte=${encodeURIComponent(secondBatchAt)}&limit=3`)).ids;
    expect(later).toEqual(newest((s, i) => i >= 30 && (s.ending === 'failed' || s.ending === 'returned')));
    const earlier = (await walk(`status=failed,returned&created_lte=${encodeURIComponent(firstBatchAt)}&limit=3`)).ids;
    expect(earlier).toEqual(newest((s, i) => i < 30 && (s.ending === 'failed' || s.ending === 'returned')));
  });
});

describe('metadata and reference', () => {
  it('metadata exactly (a comma, quotes, a line break), alone and with states', async () => {
    expect((await walk(`metadata=${encodeURIComponent(META)}&limit=4`)).ids).toEqual(newest((s) => s.metadata === META));
    expect((await walk(`metadata=${encodeURIComponent(META)}&status=succeeded,returned&limit=2`)).ids).toEqual(
      newest((s) => s.metadata === META && (s.ending === 'succeeded' || s.ending === 'returned')),
    );
    expect((await walk(`metadata=m-7`)).ids).toEqual(['f-07']);
    expect((await walk(`metadata=${encodeURIComponent('invoice 7')}`)).ids).toEqual([]);
  });

  it('reference, with metadata, states and creation time together', async () => {
    expect((await walk('reference=ref-odd&limit=10')).ids).toEqual(newest((s) => s.reference === 'ref-odd'));
    const q = `reference=ref-even&metadata=${encodeURIComponent(META)}&status=failed,queued,returned&created_gte=${encodeURIComponent(secondBatchAt)}&limit=1`;
    expect((await walk(q)).ids).toEqual(
      newest((s, i) => i >= 30 && s.reference === 'ref-even' && s.metadata === META && ['failed', 'queued', 'returned'].includes(s.ending)),
    );
  });

  it(`a sparse filter examines at most ${EXAMINE_PER_ITEM} × limit candidates a page: short pages say there is more, and going on finds the rest`, async () => {
    // 50 payouts to one person; only the newest but four and the oldest failed
    const sparse = Array.from({ length: 50 }, (_, i) => ({
      id: `s-${String(i).padStart(2, '0')}`,
      metadata: `s-${i}`,
      reference: 'sparse-person',
      ending: (i === 45 || i === 0 ? 'failed' : 'queued') as Ending,
    }));
    await create(sparse);
    for (const s of sparse) await end(s.id, s.ending);
    const { ids, pages } = await walk('reference=sparse-person&status=failed&limit=1');
    expect(ids).toEqual(['s-45', 's-00']);
    // 20 examined a page: s-49..s-30 (s-45 found), s-29..s-10 (none), s-09..s-00 (s-00, the end)
    expect(pages).toEqual([
      { size: 1, has_more: true },
      { size: 0, has_more: true },
      { size: 1, has_more: false },
    ]);
    const first = (await get('/v1/payouts?reference=sparse-person&status=failed&limit=1')).json();
    expect(first.next_starting_after).toBe('s-30'); // the last one examined, not the last one shown
  });
});

describe('a saved recipient', () => {
  it("reference finds payouts to a saved recipient by the recipient's reference, beside orders that give it themselves", async () => {
    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload, headers: auth() });
    const saved = await post('/v1/recipients', { reference: 'saved-person', full_name: 'Petrov Petr Petrovich' });
    expect(saved.statusCode, saved.body).toBe(201);
    const amount_details = { amount: 10_000, currency: 'rub' };
    const toSaved = await post('/v1/payouts', { id: 'r-1', amount_details, recipient_id: saved.json().id, metadata: 'r' });
    expect(toSaved.json()).toMatchObject({ id: 'r-1', status: 'awaiting_card' });
    const named = await post('/v1/payouts', {
      id: 'r-2',
      amount_details,
      recipient: { full_name: 'Petrov Petr Petrovich' },
      encrypted_card: { number_hash: 'sandbox_ok_4242' },
      customer: { reference: 'saved-person' },
    });
    expect(named.statusCode).toBe(202);
    expect((await walk('reference=saved-person')).ids).toEqual(['r-2', 'r-1']);
    expect((await walk('reference=saved-person&status=awaiting_card')).ids).toEqual(['r-1']);
    expect((await walk('reference=saved-person&metadata=r')).ids).toEqual(['r-1']);
  });
});

describe('tenants', () => {
  it("each tenant's filters read only its own indexes; another's cursor is unknown", async () => {
    const acme = (await walk(`metadata=${encodeURIComponent(META)}&status=failed,succeeded,returned,queued,cancelled`, acmeKey)).ids;
    expect(acme).toEqual(
      specs
        .slice(0, 10)
        .filter((s) => s.metadata === META)
        .map((s) => `acme-${s.id}`)
        .reverse(),
    );
    expect((await walk('reference=ref-even&limit=100', acmeKey)).ids.every((id) => id.startsWith('acme-'))).toBe(true);
    expect((await walk('reference=ref-even&limit=100')).ids.some((id) => id.startsWith('acme-'))).toBe(false);
    expect((await walk('status=succeeded,returned', acmeKey)).ids).toEqual(['acme-f-09', 'acme-f-07', 'acme-f-04', 'acme-f-02']);
    const res = await get('/v1/payouts?status=failed,succeeded&starting_after=f-10', acmeKey);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe('query.starting_after: no payout f-10');
  });
});

describe('bad filters', () => {
  const issues = async (query: string) => {
    const res = await get(`/v1/payouts?${query}`);
    expect(res.statusCode).toBe(400);
    return res.json().error.issues as Array<{ field: string; problem: string }>;
  };

  it('an unknown state is a 400 naming the field, the states and what was wrong', async () => {
    expect(await issues('status=succeeded,paid')).toEqual([
      { field: 'query.status', problem: `must be one of ${PAYOUT_STATES.join(', ')} (not "paid")` },
    ]);
    expect(await issues('status=failed&status=lost')).toEqual([
      { field: 'query.status', problem: expect.stringMatching(/\(not "lost"\)$/) },
    ]);
    expect(await issues('status=')).toEqual([{ field: 'query.status', problem: expect.stringMatching(/^must be one of /) }]);
  });

  it('metadata and reference: empty, too long, or given twice, are named', async () => {
    expect(await issues('metadata=')).toEqual([{ field: 'query.metadata', problem: 'must not be empty' }]);
    expect(await issues('metadata=a&metadata=b')).toEqual([{ field: 'query.metadata', problem: 'must be given once' }]);
    expect(await issues(`reference=${'r'.repeat(257)}`)).toEqual([{ field: 'query.reference', problem: 'must be at most 256 characters' }]);
    expect(await issues('refrence=x')).toEqual([{ field: 'query', problem: expect.stringContaining('refrence') }]);
  });
});

describe('by card last 4', () => {
  it('finds the payouts whose card the bank named, by the last 4 a step learned, with the other filters on the records', async () => {
    const ids = ['l4-a', 'l4-b', 'l4-c'];
    await create(ids.map((id) => ({ id, metadata: 'l4', reference: 'ref-l4', ending: 'queued' as const })));
    await step('l4-a', 'recordSession', { sessionId: 'ps_l4-a' });
    await step('l4-a', 'succeed', { facts: { card_last4: '7777' }, why: 'paid' });
    await step('l4-b', 'recordSession', { sessionId: 'ps_l4-b' });
    await step('l4-b', 'succeed', { facts: { card_last4: '8888' }, why: 'paid' });
    expect((await walk('card_last4=7777')).ids).toEqual(['l4-a']);
    expect((await walk('card_last4=7777&status=failed')).ids).toEqual([]);
    expect((await walk('card_last4=9999')).ids).toEqual([]);
    const bad = await get('/v1/payouts?card_last4=77a7');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.issues).toEqual([{ field: 'query.card_last4', problem: 'must be 4 digits' }]);
  });
});
