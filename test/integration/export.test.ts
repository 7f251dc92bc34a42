import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_COLUMNS } from '../../src/cli/export.js';
import type { PayoutOrder } from '../../src/payouts/schemas.js';
import type { StepInput, StepName } from '../../src/payouts/steps.js';
import { PayoutStore } from '../../src/store/payout-store.js';
import { payoutKeyOf } from '../../src/tenants/identity.js';
import { applyStep } from '../support/steps.js';
import { connectRedis, deleteKeys, redisUrl, testPrefix } from '../support/redis.js';

/**
 * `bank131-payouts export`, run as a real child process on Redis directly: every column of a
 * statement row, CSV quoting and JSON lines, --status, --tenant, --by created, the range
 * [from, to), and 100,000 payouts streamed in the memory that 10,000 take.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const prefix = testPrefix('export');
let redis: Redis;
let store: PayoutStore;
let dir: string;

beforeAll(async () => {
  redis = connectRedis();
  store = new PayoutStore(redis, prefix);
  dir = mkdtempSync(join(tmpdir(), 'b131-export-'));
});
afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (redis) await deleteKeys(redis, prefix);
  await redis?.quit();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The child's peak resident memory (VmHWM, read every 50 ms while it ran), in MB. */
  peakMb: number;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: redisUrl(), REDIS_PREFIX: prefix, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peakKb = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        for (const field of ['VmHWM', 'VmRSS']) {
          const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
          peakKb = Math.max(peakKb, kb);
        }
      } catch {
        // gone already
      }
    };
    const sampler = setInterval(sample, 50);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ code, stdout, stderr, peakMb: peakKb / 1024 });
    });
  });
}

/** A named step applied without its follow-up job (no worker runs here). */
const step = <N extends StepName>(id: string, name: N, input: StepInput<N>) => applyStep(store, id, name, input);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function orderOf(id: string, extra: Partial<PayoutOrder> = {}): PayoutOrder {
  return {
    id,
    amount_details: { amount: 150_050, currency: 'rub' },
    recipient: { full_name: 'Ivanov Ivan Ivanovich' },
    encrypted_card: { number_hash: 'card-hash-never-exported', expiration_date_hash: 'exp-hash-never-exported' },
    customer: { reference: `person-${id}`, contacts: [{ email: 'never-exported@example.com' }] },
    metadata: `order ${id}`,
    ...extra,
  } as PayoutOrder;
}

async function create(tenant: string, orders: PayoutOrder[]): Promise<void> {
  const made = await store.createMany(orders, () => 'queued', Date.now() + 3_600_000, { tenant, keyId: '' });
  expect(made.map((m) => m.status)).toEqual(orders.map(() => 'created'));
}

const TRICKY = 'invoice 7, "June"\r\nsecond line';
const bankFacts = (id: string) => ({
  bank_payout_id: `po_${id}`,
  card_last4: '4242',
  fee_amount: '1500',
  bank_finished_at: '2026-11-26T10:04:59.000Z',
  receipt_id: `receipt-${id}`,
  receipt_link: `https://receipts.example/${id}?a=1,b=2`,
});

/** The finished index's score of a payout: the ms it first ended. */
const finishedMs = async (tenant: string, id: string) => Number(await redis.zscore(store.finishedKey(tenant), id));
const iso = (ms: number) => new Date(ms).toISOString();
const rows = (text: string) => parse(text, { columns: true }) as Array<Record<string, string>>;

describe('one row per payout', () => {
  const started = new Date(Date.now() - 1_000).toISOString();
  let until: string;

  beforeAll(async () => {
    await create('default', [
      orderOf('e-paid', { metadata: TRICKY, customer: { reference: 'user-1' } }),
      orderOf('e-failed'),
      orderOf('e-cancelled'),
      orderOf('e-returned'),
      orderOf('e-queued'),
    ]);
    await create('acme', [orderOf('a-paid'), orderOf('a-failed')]);
    // to a saved self-employed recipient: the record carries the recipient, their ИНН and their
    // reference, as src/pipeline/saved-recipients.ts plans it
    const saved = orderOf('e-saved', {
      recipient: undefined,
      encrypted_card: undefined,
      customer: undefined,
      recipient_id: 'rcp_0123456789abcdef',
      fiscalization: { tax_reference: '500100732259', services: [{ name: 'design', amount: 150_050, quantity: 1 }] },
    });
    const made = await store.createMany(
      [saved],
      () => ({
        state: 'queued',
        fields: {
          recipient_id: 'rcp_0123456789abcdef',
          recipient_name: JSON.stringify({ full_name: 'Sidorov Sidor' }),
          tax_reference: '500100732259',
        },
        reference: 'saved-person-7',
      }),
      Date.now() + 3_600_000,
    );
    expect(made[0]).toMatchObject({ status: 'created' });
    // each ends in its own ms, in this order, across both tenants
    const endings: Array<[string, () => Promise<void>]> = [
      [
        'e-paid',
        async () => {
          await step('e-paid', 'recordSession', { sessionId: 'ps_e-paid' });
          await step('e-paid', 'succeed', { facts: bankFacts('e-paid'), why: 'paid' });
        },
      ],
      [
        'a-paid',
        async () => {
          await step(payoutKeyOf('acme', 'a-paid'), 'recordSession', { sessionId: 'ps_a-paid' });
          await step(payoutKeyOf('acme', 'a-paid'), 'succeed', { facts: bankFacts('a-paid'), why: 'paid' });
        },
      ],
      [
        'e-failed',
        () => step('e-failed', 'fail', { code: 'declined_by_issuer_bank', description: 'declined by the issuer', why: 'declined' }),
      ],
      [
        'e-returned',
        async () => {
          await step('e-returned', 'recordSession', { sessionId: 'ps_e-returned' });
          await step('e-returned', 'succeed', { facts: bankFacts('e-returned'), why: 'paid' });
        },
      ],
      [
        'a-failed',
        () => step(payoutKeyOf('acme', 'a-failed'), 'fail', { code: 'card_number_does_not_exist', description: 'no card', why: 'x' }),
      ],
      ['e-cancelled', () => step('e-cancelled', 'cancel', {})],
      [
        'e-saved',
        async () => {
          await step('e-saved', 'recordSession', { sessionId: 'ps_e-saved' });
          await step('e-saved', 'succeed', { facts: bankFacts('e-saved'), why: 'paid' });
        },
      ],
    ];
    for (const [, end] of endings) {
      await end();
      await pause(3);
    }
    // money sent back later: the payout's finished time stays when it succeeded
    await step('e-returned', 'markReturned', {
      returned: { amount: 150_050, reason: 'the card account is closed', at: '2026-11-28T09:00:00.000Z', refundId: 'rf_1' },
      why: 'returned',
    });
    until = new Date(Date.now() + 60_000).toISOString();
  });

  it('CSV: a header, every column of each finished payout of every tenant, in finished order; quoted where it must be', async () => {
    const out = join(dir, 'statement.csv');
    const r = await cli(['export', '--from', started, '--to', until, '--out', out]);
    expect(r.stderr).toBe(`exported 7 payouts finished from ${started} to ${until} (all tenants) to ${out}\n`);
    expect(r.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text.split('\r\n')[0]).toBe(EXPORT_COLUMNS.join(','));
    expect(text).toContain(`,"invoice 7, ""June""\r\nsecond line",`);
    const got = rows(text);
    expect(got.map((x) => `${x.tenant}/${x.id}`)).toEqual([
      'default/e-paid',
      'acme/a-paid',
      'default/e-failed',
      'default/e-returned',
      'acme/a-failed',
      'default/e-cancelled',
      'default/e-saved',
    ]);
    const paid = got[0]!;
    expect(paid).toEqual({
      tenant: 'default',
      id: 'e-paid',
      status: 'succeeded',
      amount: '150050',
      amount_rub: '1500.50',
      currency: 'rub',
      fee: '1500',
      bank_session_id: 'ps_e-paid',
      bank_payout_id: 'po_e-paid',
      card_last4: '4242',
      metadata: TRICKY,
      reference: 'user-1',
      recipient_id: '',
      tax_reference: '',
      receipt_id: 'receipt-e-paid',
      receipt_link: 'https://receipts.example/e-paid?a=1,b=2',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      finished_at: iso(await finishedMs('default', 'e-paid')),
      bank_finished_at: '2026-11-26T10:04:59.000Z',
      returned_amount: '',
      returned_at: '',
      returned_reason: '',
      error_code: '',
    });
    expect(got[3]).toMatchObject({
      id: 'e-returned',
      status: 'returned',
      returned_amount: '150050',
      returned_at: '2026-11-28T09:00:00.000Z',
      returned_reason: 'the card account is closed',
      finished_at: iso(await finishedMs('default', 'e-returned')),
    });
    expect(got[2]).toMatchObject({ id: 'e-failed', status: 'failed', error_code: 'declined_by_issuer_bank', fee: '', bank_session_id: '' });
    expect(got[6]).toMatchObject({
      id: 'e-saved',
      recipient_id: 'rcp_0123456789abcdef',
      tax_reference: '500100732259',
      reference: 'saved-person-7',
      receipt_id: 'receipt-e-saved',
    });
    for (const secret of ['card-hash-never-exported', 'exp-hash-never-exported', 'Ivanov', 'Sidorov', 'never-exported@example.com'])
      expect(text).not.toContain(secret);
  });

  it('JSON lines to stdout: the same rows as objects, numbers as numbers, null for unknown', async () => {
    const r = await cli(['export', '--from', started, '--to', until, '--format', 'jsonl']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const got = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got.map((x) => x.id)).toEqual(['e-paid', 'a-paid', 'e-failed', 'e-returned', 'a-failed', 'e-cancelled', 'e-saved']);
    expect(Object.keys(got[0]!)).toEqual([...EXPORT_COLUMNS]);
    expect(got[0]).toMatchObject({ amount: 150_050, amount_rub: '1500.50', fee: 1500, metadata: TRICKY, recipient_id: null });
    expect(got[3]).toMatchObject({ returned_amount: 150_050 });
    expect(r.stderr).toContain('exported 7 payouts');
  });

  it('--status, --tenant, --by created', async () => {
    const ids = async (...args: string[]) => {
      const r = await cli(['export', '--from', started, '--to', until, '--format', 'jsonl', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout
        .trimEnd()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { id: string }).id);
    };
    expect(await ids('--status', 'succeeded,returned')).toEqual(['e-paid', 'a-paid', 'e-returned', 'e-saved']);
    expect(await ids('--status', 'failed', '--tenant', 'acme')).toEqual(['a-failed']);
    expect(await ids('--tenant', 'acme')).toEqual(['a-paid', 'a-failed']);
    // by creation: the payout not yet finished too, in the order they were created
    expect(await ids('--by', 'created', '--tenant', 'default')).toEqual([
      'e-paid',
      'e-failed',
      'e-cancelled',
      'e-returned',
      'e-queued',
      'e-saved',
    ]);
    expect(await ids('--by', 'created', '--status', 'queued')).toEqual(['e-queued']);
  });

  it('the range is [from, to): a payout finished at --from is in, one finished at --to is out', async () => {
    const from = iso(await finishedMs('default', 'e-failed'));
    const to = iso(await finishedMs('acme', payoutKeyOf('acme', 'a-failed')));
    const r = await cli(['export', '--from', from, '--to', to, '--format', 'jsonl']);
    expect(
      r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { id: string }).id),
    ).toEqual(['e-failed', 'e-returned']);
    const none = await cli(['export', '--from', to, '--to', iso(Date.parse(to) + 1), '--tenant', 'default']);
    expect(none.stdout).toBe(`${EXPORT_COLUMNS.join(',')}\r\n`);
    expect(none.stderr).toContain('exported 0 payouts');
  });

  it('bad usage names the option; an unknown tenant is said; an unreachable Redis exits 3', async () => {
    const badFrom = await cli(['export', '--from', 'yesterday', '--to', until]);
    expect(badFrom.code).toBe(2);
    expect(badFrom.stderr).toContain("option '--from <time>' argument 'yesterday' is invalid");
    const backwards = await cli(['export', '--from', until, '--to', started]);
    expect([backwards.code, backwards.stderr.trim()]).toEqual([
      2,
      `bank131-payouts: --to (${started}) must be later than --from (${until})`,
    ]);
    const badStatus = await cli(['export', '--from', started, '--to', until, '--status', 'paid']);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain("option '--status <states>' argument 'paid' is invalid");
    const nobody = await cli(['export', '--from', started, '--to', until, '--tenant', 'nobody']);
    expect([nobody.code, nobody.stderr.trim()]).toEqual([1, 'bank131-payouts: no tenant nobody: bank131-payouts tenants list shows them']);
    const away = await cli(['export', '--from', started, '--to', until], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(away.code).toBe(3);
    expect(away.stderr).toMatch(/^bank131-payouts: Redis at redis:\/\/127\.0\.0\.1:1: .+ \(nothing was written\)\n$/);
  });
});

/**
 * Copies of one payout record as the service wrote it, each under its own id, tenant and times, with
 * the index entries the create and transition scripts make (all, per state, finished, metadata,
 * reference): 100,000 of them in a few seconds, where taking the steps one by one would take minutes.
 * KEYS: the source payout. ARGV: key prefix, the source's order id, its metadata key suffix, its
 * reference key suffix, then per copy: tenant ('' for the default), order id, created ISO, list
 * score, finished ISO, finished ms.
 */
const CLONE = `
local src = redis.call('HGETALL', KEYS[1])
local prefix, srcOrderId, metaSuffix, refSuffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local fields = {}
for i = 1, #src, 2 do fields[src[i]] = src[i + 1] end
local needle = '"id":"' .. srcOrderId .. '"'
local at = string.find(fields.order, needle, 1, true)
local before, after = string.sub(fields.order, 1, at - 1), string.sub(fields.order, at + #needle)
local state = fields.state
local srcIndexes = fields.indexes
local function replaced(text, from, to)
  local out, at = '', 1
  while true do
    local i, j = string.find(text, from, at, true)
    if not i then return out .. string.sub(text, at) end
    out, at = out .. string.sub(text, at, i - 1) .. to, j + 1
  end
end
for a = 5, #ARGV, 6 do
  local tenant, orderId, createdIso, score, finishedIso, finishedMs = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local id = tenant == '' and orderId or (tenant .. '~' .. orderId)
  local key = prefix .. ':payout:' .. id
  fields.id = id
  fields.order = before .. '"id":"' .. orderId .. '"' .. after
  fields.created_at = createdIso
  fields.updated_at = finishedIso
  fields.finished_at = finishedIso
  fields.list_score = score
  fields.session_id = 'ps_' .. orderId
  fields.bank_payout_id = 'po_' .. orderId
  if tenant == '' then fields.tenant = nil else fields.tenant = tenant end
  local flat = {}
  for k, v in pairs(fields) do flat[#flat + 1] = k; flat[#flat + 1] = v end
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(flat))
  local lists = prefix .. ':list:' .. (tenant == '' and '' or ('t:' .. tenant .. ':'))
  -- a record that names its own index keys names its tenant's
  if srcIndexes then fields.indexes = replaced(srcIndexes, prefix .. ':list:', lists) end
  redis.call('ZADD', lists .. 'all', score, id)
  redis.call('ZADD', lists .. 'state:' .. state, score, id)
  redis.call('ZADD', lists .. 'finished', finishedMs, id)
  redis.call('ZADD', lists .. metaSuffix, score, id)
  redis.call('ZADD', lists .. refSuffix, score, id)
end
return (#ARGV - 4) / 6
`;

describe('100,000 payouts', () => {
  const BASE = Date.UTC(2020, 0, 1);
  const COUNT = 100_000;
  /** Copy i: created at BASE + 10i ms, finished 5 ms later; even ones the default tenant's, odd ones acme's. */
  const createdMs = (i: number) => BASE + i * 10;

  beforeAll(async () => {
    await create('default', [orderOf('bulk-src', { metadata: 'statement 2020-01', customer: { reference: 'bulk-person' } })]);
    await step('bulk-src', 'recordSession', { sessionId: 'ps_bulk-src' });
    await step('bulk-src', 'succeed', { facts: bankFacts('bulk-src'), why: 'paid' });
    const suffix = (key: string) => key.slice(`${prefix}:list:`.length);
    const metaSuffix = suffix(store.metadataKey('default', 'statement 2020-01'));
    const refSuffix = suffix(store.referenceKey('default', 'bulk-person'));
    const started = Date.now();
    const pending: Array<Promise<unknown>> = [];
    for (let from = 0; from < COUNT; from += 5_000) {
      const args: string[] = [prefix, 'bulk-src', metaSuffix, refSuffix];
      for (let i = from; i < from + 5_000; i++) {
        const created = createdMs(i);
        args.push(
          i % 2 ? 'acme' : '',
          `bulk-${i}`,
          iso(created),
          String(created * 1000 + (i % 1000)),
          iso(created + 5),
          String(created + 5),
        );
      }
      pending.push(redis.eval(CLONE, 1, store.key('bulk-src'), ...args));
    }
    await Promise.all(pending);
    // the copies are the only payouts of 2020
    expect(await redis.zcount(store.finishedKey('default'), BASE, BASE + 86_400_000)).toBe(COUNT / 2);
    expect(await redis.zcount(store.finishedKey('acme'), BASE, BASE + 86_400_000)).toBe(COUNT / 2);
    console.log(`seeded ${COUNT.toLocaleString('en')} payouts in ${Date.now() - started} ms`);
  }, 60_000);

  it('are streamed in the memory 10,000 take: the rows all there, in order across tenants, memory flat', async () => {
    const small = join(dir, 'small.csv');
    const large = join(dir, 'large.csv');
    const t0 = Date.now();
    const ten = await cli(['export', '--from', iso(BASE), '--to', iso(createdMs(10_000)), '--out', small]);
    const t1 = Date.now();
    const hundred = await cli(['export', '--from', iso(BASE), '--to', '2020-01-02', '--out', large]);
    const t2 = Date.now();
    expect([ten.code, hundred.code], ten.stderr + hundred.stderr).toEqual([0, 0]);
    expect(ten.stderr).toContain('exported 10,000 payouts');
    expect(hundred.stderr).toContain('exported 100,000 payouts');
    console.log(
      `export of 10,000: ${t1 - t0} ms, peak RSS ${ten.peakMb.toFixed(1)} MB; of 100,000: ${t2 - t1} ms, peak RSS ${hundred.peakMb.toFixed(1)} MB (${(statSync(large).size / 1e6).toFixed(1)} MB of CSV)`,
    );
    expect(hundred.peakMb).toBeGreaterThan(0);
    expect(hundred.peakMb - ten.peakMb).toBeLessThan(25);

    const text = readFileSync(large, 'utf8');
    const lines = text.split('\r\n');
    expect(lines).toHaveLength(COUNT + 2); // the header, the rows, and after the last CRLF nothing
    expect(lines.at(-1)).toBe('');
    const first = rows(lines.slice(0, 4).join('\r\n'));
    expect(first.map((x) => `${x.tenant}/${x.id}`)).toEqual(['default/bulk-0', 'acme/bulk-1', 'default/bulk-2']);
    expect(first[1]).toMatchObject({
      status: 'succeeded',
      amount: '150050',
      bank_session_id: 'ps_bulk-1',
      bank_payout_id: 'po_bulk-1',
      metadata: 'statement 2020-01',
      reference: 'bulk-person',
      created_at: iso(createdMs(1)),
      finished_at: iso(createdMs(1) + 5),
    });
    expect(lines.at(-2)!.startsWith('acme,bulk-99999,succeeded,')).toBe(true);
    // every row once, in finished order
    const order = lines.slice(1, -1).map((l) => Number(l.split(',')[1]!.slice('bulk-'.length)));
    expect(order.every((n, i) => n === i)).toBe(true);
  }, 120_000);
});
