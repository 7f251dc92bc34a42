import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CARDS } from 'bank131-sandbox';
import { API_KEY, startPipeline, type Pipeline } from '../support/pipeline.js';
import { redisUrl } from '../support/redis.js';

/**
 * The bank131-payouts command line, run as a real child process against the real service (web,
 * workers, sandbox bank): imports, re-runs, bad files, reads, and a service that is away.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = Date.now().toString(36);

let p: Pipeline;
let dir: string;
beforeAll(async () => {
  p = await startPipeline();
  dir = mkdtempSync(join(tmpdir(), 'b131-cli-'));
});
afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await p?.close();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, PAYOUTS_URL: p.url, PAYOUTS_API_KEY: API_KEY, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const results = (path: string) => parse(readFileSync(path, 'utf8'), { columns: true }) as Array<Record<string, string>>;

const HEADER =
  'id,amount_details.amount,amount_details.currency,recipient.full_name,recipient.first_name,recipient.last_name,encrypted_card.number_hash,encrypted_card.expiration_date_hash,metadata,customer.reference,callback_url';

/** n rows of good payouts; every fifth by first and last name, some with commas, quotes and line breaks. */
function goodCsv(prefix: string, n: number, card: string = TEST_CARDS.ok): { text: string; ids: string[] } {
  const ids: string[] = [];
  const rows = Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${i + 1}`;
    ids.push(id);
    const name = i % 5 === 0 ? ',Ivan,Ivanov' : 'Петров Пётр Петрович,,';
    const metadata = i === 1 ? '"invoice 7, ""June"""' : i === 2 ? '"two\nlines"' : `m-${i}`;
    return `${id},${10_000 + i},RUB,${name},${card},,${metadata},${i % 2 ? `user${i}` : ''},`;
  });
  return { text: `${HEADER}\n${rows.join('\n')}\n`, ids };
}

async function countPayouts(): Promise<number> {
  let n = 0;
  let after: string | null = null;
  do {
    const res = await p.api('GET', `/v1/payouts?limit=100${after ? `&starting_after=${after}` : ''}`);
    n += res.body.data.length;
    after = res.body.next_starting_after;
  } while (after);
  return n;
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('import', () => {
  it('imports a CSV of 50 payouts in chunks; all succeed and the result file says so line by line', async () => {
    const { text, ids } = goodCsv(`csv-${run}`, 50);
    const input = file('payouts.csv', text);
    const r = await cli(['import', input, '--chunk-size', '20']);
    expect(r.stderr).toContain('chunk 3/3: 50/50 rows answered');
    expect(r.stdout).toContain('50 payouts: 50 created, 0 existing, 0 conflict, 0 invalid');
    expect(r.code).toBe(0);

    const rows = results(`${input}.results.csv`);
    expect(rows.map((x) => x.id)).toEqual(ids);
    expect(rows.every((x) => x.status === 'created' && x.state === 'queued' && x.problem === '' && x.collect_url === '')).toBe(true);
    // line numbers of the file: the header is line 1, and line 4's metadata spans two lines
    expect(rows.slice(0, 5).map((x) => x.line)).toEqual(['2', '3', '4', '6', '7']);

    await p.waitFor(ids, ['succeeded'], 25_000);
    const second = await p.api('GET', `/v1/payouts/${ids[1]}`);
    expect(second.body).toMatchObject({
      amount_details: { amount: 10_001, currency: 'rub' },
      recipient: { full_name: 'Петров Пётр Петрович' },
      metadata: 'invoice 7, "June"',
      customer: { reference: 'user1' },
    });
    expect((await p.api('GET', `/v1/payouts/${ids[2]}`)).body.metadata).toBe('two\nlines');
    expect((await p.api('GET', `/v1/payouts/${ids[0]}`)).body).toMatchObject({
      recipient: { first_name: 'Ivan', last_name: 'Ivanov' },
      customer: null,
      callback_url: null,
    });
  });

  it('a file with bad rows names each line and field, and sends nothing', async () => {
    const { text, ids } = goodCsv(`bad-${run}`, 8);
    const lines = text.split('\n');
    // text lines are file lines - 1 (the third row's metadata spans lines 4 and 5)
    lines[3] = lines[3]!.replace(',10002,', ',100.5,'); // line 4: not whole kopecks
    lines[8] = `${ids[0]},10000,rub,,Ivan,,${TEST_CARDS.ok},,,,`; // line 9: a repeated id, and no last name
    const input = file('bad.csv', lines.join('\n'));
    const before = await countPayouts();
    const r = await cli(['import', input]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`bad.csv line 4: amount_details.amount: must be a whole number of kopecks`);
    expect(r.stderr).toMatch(/bad\.csv line 9: recipient: needs full_name, or first_name and last_name/);
    expect(r.stderr).toContain(`bad.csv line 9: id: repeats the id of line 2`);
    expect(r.stderr).toContain('2 of 8 rows are bad; nothing was sent');
    expect(r.stdout).toBe('');
    expect(existsSync(`${input}.results.csv`)).toBe(false);
    for (const id of ids) expect((await p.api('GET', `/v1/payouts/${id}`)).status).toBe(404);
    expect(await countPayouts()).toBe(before);
  });

  it('a header with an unknown column is a bad file, named by column', async () => {
    const input = file('typo.csv', `id,ammount_details.amount\nx-${run},100\n`);
    const r = await cli(['import', input]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('typo.csv line 1: column "ammount_details.amount" is not a payout field');
  });

  it('a re-run after an interruption creates only what is missing: sent rows answer existing, no duplicates', async () => {
    const { text, ids } = goodCsv(`rerun-${run}`, 30);
    const input = file('rerun.csv', text);
    const out = join(dir, 'rerun-results.csv');
    // the first 10 rows (11 lines: one cell spans two) made it before the "interruption"
    const first = await cli(['import', file('first.csv', text.split('\n').slice(0, 12).join('\n') + '\n')]);
    expect(first.code).toBe(0);
    const before = await countPayouts();

    const again = await cli(['import', input, '--out', out, '--chunk-size', '7']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('30 payouts: 20 created, 10 existing, 0 conflict, 0 invalid');
    expect(results(out).map((x) => x.status)).toEqual([...Array(10).fill('existing'), ...Array(20).fill('created')]);
    expect(await countPayouts()).toBe(before + 20);

    const third = await cli(['import', input, '--out', out]);
    expect(third.code).toBe(0);
    expect(results(out).every((x) => x.status === 'existing')).toBe(true);
    expect(await countPayouts()).toBe(before + 20);
    await p.waitFor(ids, ['succeeded'], 25_000);
  });

  it('a row the service refuses (same id, another body) is a conflict: exit 1, named in the result file', async () => {
    const { text } = goodCsv(`conf-${run}`, 3);
    const input = file('conf.csv', text);
    expect((await cli(['import', input])).code).toBe(0);
    const changed = file('conf2.csv', text.replace(`conf-${run}-3,10002,`, `conf-${run}-3,99999,`));
    const r = await cli(['import', changed]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`line 4: conf-${run}-3: conflict: a payout with this id exists with a different amount_details`);
    const rows = results(`${changed}.results.csv`);
    expect(rows.map((x) => x.status)).toEqual(['existing', 'existing', 'conflict']);
    expect(rows[2]!.problem).toContain('amount_details');
  });

  it('reads JSON lines (by extension), and a payout without a card comes back with its collect_url', async () => {
    const base = { amount_details: { amount: 5_000, currency: 'rub' }, recipient: { full_name: 'Sidorov Sidor' } };
    const lines = [
      JSON.stringify({
        id: `jl-${run}-1`,
        ...base,
        encrypted_card: { number_hash: TEST_CARDS.ok },
        customer: { reference: 'u1', contacts: [{ email: 'u1@example.com' }] },
      }),
      '',
      JSON.stringify({ id: `jl-${run}-2`, ...base }),
    ];
    const input = file('payouts.jsonl', lines.join('\n') + '\n');
    const r = await cli(['import', input]);
    expect(r.code).toBe(0);
    const rows = results(`${input}.results.csv`);
    expect(rows.map((x) => [x.line, x.id, x.status, x.state])).toEqual([
      ['1', `jl-${run}-1`, 'created', 'queued'],
      ['3', `jl-${run}-2`, 'created', 'awaiting_card'],
    ]);
    expect(rows[1]!.collect_url).toMatch(/\/collect\/\S+$/);
    await p.waitFor([`jl-${run}-1`], ['succeeded']);

    // --format overrides the extension; a line that is not JSON is named
    const odd = file('odd.txt', `${lines[0]}\n{"id":\n`);
    const bad = await cli(['import', odd, '--format', 'jsonl']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('odd.txt line 2: (row): is not valid JSON');
  });

  it('retries a chunk the service answers 503, then goes on', async () => {
    let refused = 0;
    const flaky = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (req.url === '/v1/payouts/batch' && refused < 2) {
          refused += 1;
          res
            .writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' })
            .end('{"error":{"code":"unavailable","message":"stopping"}}');
          return;
        }
        const headers = {
          authorization: req.headers.authorization ?? '',
          'content-type': req.headers['content-type'] ?? 'application/json',
        };
        const upstream = await fetch(`${p.url}${req.url}`, {
          method: req.method,
          headers,
          body: chunks.length ? Buffer.concat(chunks) : undefined,
        });
        res
          .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
          .end(Buffer.from(await upstream.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const { text, ids } = goodCsv(`flaky-${run}`, 4);
      const r = await cli(['import', file('flaky.csv', text)], {
        PAYOUTS_URL: `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}`,
      });
      expect(r.code).toBe(0);
      expect(refused).toBe(2);
      expect(r.stderr).toContain('chunk 1/1: it answered 503 unavailable (stopping); retry 1 in 0.0 s');
      expect(r.stdout).toContain('4 payouts: 4 created');
      await p.waitFor(ids, ['succeeded']);
    } finally {
      await new Promise((resolve) => flaky.close(resolve));
    }
  });
});

describe('status and list', () => {
  it('status prints the payout, its card and its audit trail; --json the API answer', async () => {
    const { text, ids } = goodCsv(`st-${run}`, 1);
    expect((await cli(['import', file('st.csv', text)])).code).toBe(0);
    await p.waitFor(ids, ['succeeded']);
    const r = await cli(['status', ids[0]!]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`payout ${ids[0]}`);
    expect(r.stdout).toMatch(/status\s+succeeded/);
    expect(r.stdout).toMatch(/amount\s+100\.00 RUB \(10000 kopecks\)/);
    expect(r.stdout).toMatch(/card\s+\*\*\*\* 4242/);
    expect(r.stdout).toContain('audit trail');
    expect(r.stdout).toMatch(/\(new\) → queued/);
    expect(r.stdout).toMatch(/→ succeeded/);

    const json = await cli(['status', ids[0]!, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: ids[0], status: 'succeeded', card: { last4: '4242' } });

    const missing = await cli(['status', `nope-${run}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`no payout nope-${run}`);
  });

  it('list --status failed shows the failed payouts with their error, page by page', async () => {
    const { text, ids } = goodCsv(`fail-${run}`, 3, TEST_CARDS.declinedByIssuer);
    expect((await cli(['import', file('fail.csv', text)])).code).toBe(0);
    await p.waitFor(ids, ['failed']);

    const r = await cli(['list', '--status', 'failed']);
    expect(r.code).toBe(0);
    const listed = r.stdout.trim().split('\n');
    expect(listed[0]).toMatch(/^created\s+id\s+status\s+amount\s+card\s+error$/);
    for (const id of ids) expect(listed.find((l) => l.includes(id))).toMatch(/failed\s+100\.0\d RUB.*declined_by_issuer_bank/);
    expect(r.stdout).not.toContain('succeeded');

    // newest first, two per page under the hood, stops at --limit
    const json = await cli(['list', '--status', 'failed', '--limit', '2', '--json']);
    const data = JSON.parse(json.stdout) as Array<{ id: string; status: string }>;
    expect(data.map((d) => d.id)).toEqual([ids[2], ids[1]]);
    expect(json.stderr).toContain('there are more');

    const future = await cli(['list', '--status', 'failed', '--since', '2999-01-01']);
    expect(future.code).toBe(0);
    expect(future.stdout).toBe('');
    expect(future.stderr.trim()).toBe('no failed payouts since 2999-01-01T00:00:00.000Z');

    const badUsage = await cli(['list', '--status', 'lost']);
    expect(badUsage.code).toBe(2);
  });
});

describe('when the service is away or refuses', () => {
  it('an unreachable URL exits 3 with one clear line', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { text } = goodCsv(`away-${run}`, 2);
    const input = file('away.csv', text);
    const r = await cli(['import', input, '--retries', '0'], { PAYOUTS_URL: url });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toEqual([
      `bank131-payouts: cannot reach the payouts service at ${url}: connection refused (ECONNREFUSED)`,
    ]);
    expect(results(`${input}.results.csv`).map((x) => x.status)).toEqual(['unanswered', 'unanswered']);

    const list = await cli(['list', '--status', 'failed', '--retries', '0'], { PAYOUTS_URL: url });
    expect(list.code).toBe(3);
    expect(list.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a wrong API key exits 3 and says so', async () => {
    const r = await cli(['status', 'x'], { PAYOUTS_API_KEY: 'wrong-key-wrong-key' });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(
      `bank131-payouts: the payouts service at ${p.url} refused the API key (401 unauthorized): check --api-key or PAYOUTS_API_KEY`,
    );
  });

  it('--help for each command; no address is bad usage', async () => {
    for (const cmd of ['import', 'status', 'list']) {
      const r = await cli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: bank131-payouts ${cmd}`);
      expect(r.stdout).toContain('--url <url>');
    }
    const none = await cli(['list'], { PAYOUTS_URL: '' });
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('bank131-payouts: no service address: pass --url or set PAYOUTS_URL');
  });
});

describe('status of a retired payout', () => {
  // Last in this file: retention removes every finished payout of this pipeline.
  it('says how it ended and exits 1, as for a payout it cannot show', async () => {
    const { text, ids } = goodCsv(`ret-${run}`, 1);
    expect((await cli(['import', file('ret.csv', text)])).code).toBe(0);
    await p.waitFor(ids, ['succeeded']);
    await p.runtime.store.retireFinished(new Date(Date.now() + 1_000));
    const r = await cli(['status', ids[0]!]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      new RegExp(`^payout ${ids[0]} ended succeeded at .+; its record was removed after the retention period, and its id stays taken$`),
    );
  });
});

describe('keys and tenants', () => {
  const onRedis = () => ({ REDIS_URL: redisUrl(), REDIS_PREFIX: p.prefix });

  it('keys create prints a secret once that the API takes; list shows it without the secret; revoke refuses it at once', async () => {
    const made = await cli(['keys', 'create', '--tenant', 'cli-co', '--name', 'billing'], onRedis());
    expect(made.code).toBe(0);
    const secret = made.stdout.split('\n').find((l) => l.startsWith('b131_'))!;
    expect(secret).toMatch(/^b131_[A-Za-z0-9_-]{43}$/);
    const keyId = /key (key_[0-9a-f]{12}) for tenant cli-co \(billing\)/.exec(made.stdout)![1]!;
    const asKey = { authorization: `Bearer ${secret}` };
    expect((await p.api('GET', '/v1/payouts', undefined, asKey)).status).toBe(200);

    const listed = await cli(['keys', 'list', '--tenant', 'cli-co', '--json'], onRedis());
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { id: keyId, tenant: 'cli-co', name: 'billing', review: false, createdAt: expect.any(String), revokedAt: null },
    ]);
    expect(listed.stdout).not.toContain(secret);

    expect((await cli(['keys', 'revoke', keyId, '--tenant', 'cli-co'], onRedis())).code).toBe(0);
    expect((await p.api('GET', '/v1/payouts', undefined, asKey)).status).toBe(401);
    const unknown = await cli(['keys', 'revoke', 'key_000000000000', '--tenant', 'cli-co'], onRedis());
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'bank131-payouts: tenant cli-co has no key key_000000000000']);
  });

  it('tenants set and list: settings by name, a bad one refused, secrets never printed', async () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const set = await cli(
      ['tenants', 'set', 'cli-co', '--rate-limit', '600', '--callback-secret', secret, '--submerchant', 'sub-1'],
      onRedis(),
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('tenant cli-co: rate limit 600/min, callback secret set, submerchant sub-1');
    const listed = await cli(['tenants', 'list'], onRedis());
    expect(listed.stdout).toContain('cli-co  rate limit 600/min  callback secret set  submerchant sub-1');
    expect(listed.stdout + set.stdout).not.toContain(secret);
    const bad = await cli(['tenants', 'set', 'Not_A_Tenant'], onRedis());
    expect(bad.code).toBe(2);
    const cleared = await cli(['tenants', 'set', 'cli-co', '--submerchant', 'none'], onRedis());
    expect(cleared.stdout).toContain('submerchant none');
  });
});
