import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKeyPair, startSandbox } from 'bank131-sandbox';
import { BOARD_PATH } from '../board.js';
import { bankMetadataFor } from '../payouts/schemas.js';
import { isTerminal, type PayoutState } from '../payouts/state-machine.js';
import { createLogger } from '../log.js';
import { startLocalRedis, type LocalRedis } from '../local-redis.js';
import { createRuntime, runtimeOptionsFor } from '../runtime.js';
import { loadWebSettings } from '../settings/web.js';
import { loadWorkerSettings } from '../settings/worker.js';
import { startWeb } from '../web-process.js';
import { startWorkers } from '../../workers/worker-process.js';
import { makeSamples } from './samples.js';
import { startCallbackReceiver, waitUntil } from './callback-receiver.js';

const USAGE = `npm run demo [-- --count N] [--keep]

Runs the whole service on its embedded defaults: a local Redis (from redis-server, unless
REDIS_URL is set), the Bank 131 sandbox, the web process and a worker; sends N sample payouts
(default 200) through the HTTP API, and shows how they end.
  --count N   how many payouts (1..10000)
  --keep      keep everything running afterwards, to look around (Ctrl-C stops)`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '200' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    console.error(`--count: must be a whole number from 1 to 10000, got ${values.count}\n\n${USAGE}`);
    return 2;
  }
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };

  try {
    // Redis: yours, or a throwaway one with AOF in a temporary folder.
    let redisUrl = process.env.REDIS_URL;
    let localRedis: LocalRedis | null = null;
    if (!redisUrl) {
      localRedis = await startLocalRedis();
      redisUrl = localRedis.url;
      cleanups.push(() => localRedis!.stop());
    }
    const keysDir = mkdtempSync(join(tmpdir(), 'b131-demo-keys-'));
    cleanups.push(() => rmSync(keysDir, { recursive: true, force: true }));
    const partner = ensureKeyPair(keysDir, 'partner');
    const bankKeys = ensureKeyPair(keysDir, 'bank');
    const project = 'demo-project';

    // The sandbox keeps its bank in the same Redis, under a prefix of its own.
    const run = randomBytes(3).toString('hex');
    const sandbox = await startSandbox({
      partnerPublicKey: partner.publicKey,
      bankPrivateKey: bankKeys.privateKey,
      project,
      knobs: { latencyMs: 2 },
      redisUrl,
      redisPrefix: `{b131demo-sandbox-${run}}`,
    });
    cleanups.push(() => sandbox.close());

    const apiKey = `demo-${randomBytes(12).toString('hex')}`;
    const board = { user: 'demo', password: randomBytes(9).toString('base64url') };
    const callbackSecret = `whsec_${randomBytes(32).toString('base64')}`; // Standard Webhooks' secret form
    // The settings an operator would give the two processes, read the way they read them.
    const env = {
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `{b131demo-${run}}`,
      BANK131_BASE_URL: sandbox.url,
      BANK131_PROJECT: project,
      BANK131_PRIVATE_KEY_FILE: partner.privatePath,
      BANK131_PUBLIC_KEY_FILE: bankKeys.publicPath,
      BANK131_MAX_RPS: '2000',
      BANK131_TIMEOUT_MS: '10000',
      // the sandbox serves the tokenization widget too: recipients' pages load it from there
      BANK131_WIDGET_URL: sandbox.url,
      // the demo's callback receiver runs on 127.0.0.1
      CALLBACK_ALLOW_PRIVATE: 'true',
      PORT: '0',
      API_KEYS: apiKey,
      BOARD_USER: board.user,
      BOARD_PASSWORD: board.password,
      COLLECT_PAYER_NAME: 'Demo Payer LLC',
      CALLBACK_SECRET: callbackSecret,
      PAYOUT_CONCURRENCY: '32',
    };
    const web = loadWebSettings(env);
    const runtime = createRuntime(runtimeOptionsFor(web, 'worker'));
    cleanups.push(() => runtime.close());
    const { server, url } = await startWeb(runtime, web, { logger: log });
    cleanups.push(() => server.close());
    sandbox.bank.setKnobs({ webhookUrl: `${url}/webhooks/bank131` });

    const callbacks = await startCallbackReceiver(callbackSecret);
    cleanups.push(() => callbacks.close());

    const workers = startWorkers(runtime, loadWorkerSettings(env), { log });
    cleanups.push(() => workers.close());

    console.log(`bank131-payouts demo: ${count} payouts`);
    console.log(`  redis    ${localRedis ? `${redisUrl} (local redis-server, AOF in ${localRedis.dir})` : redisUrl}`);
    console.log(`  sandbox  ${sandbox.url}   (Bank 131 emulator: signs webhooks, checks our signatures; its bank in the same Redis)`);
    console.log(`  service  ${url}\n`);

    const samples = makeSamples(count, callbacks.url);
    const started = Date.now();
    for (let i = 0; i < samples.length; i += 1_000) {
      const res = await fetch(`${url}/v1/payouts/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ payouts: samples.slice(i, i + 1_000).map((s) => s.body) }),
      });
      if (res.status !== 200) throw new Error(`batch refused: HTTP ${res.status} ${await res.text()}`);
    }
    const accepted = Date.now();

    const ids = samples.map((s) => s.id);
    const final = await watch(runtime.store, ids, started);
    const finished = Date.now();
    await sandbox.webhooks.idle();
    await waitUntil(() => callbacks.received >= count, 5_000);

    // ------------------------------------------------------------------ report
    const records = await runtime.store.getMany(ids);
    const byState = new Map<string, number>();
    let unexpected = 0;
    samples.forEach((s, i) => {
      const state = records[i]?.state ?? 'missing';
      byState.set(state, (byState.get(state) ?? 0) + 1);
      if (state !== s.expect) unexpected += 1;
    });
    const expected = new Map<string, number>();
    for (const s of samples) expected.set(s.expect, (expected.get(s.expect) ?? 0) + 1);
    const why: Record<string, string> = {
      succeeded: 'paid out',
      cancelled: 'policy cancelled: the bank reported another amount or metadata',
      failed: 'the bank declined the card',
    };
    console.log('\noutcome     payouts  expected  why');
    for (const state of [
      'succeeded',
      'cancelled',
      'failed',
      ...[...byState.keys()].filter((k) => !['succeeded', 'cancelled', 'failed'].includes(k)),
    ]) {
      const n = byState.get(state) ?? 0;
      if (n === 0 && !expected.has(state)) continue;
      console.log(`${state.padEnd(11)} ${String(n).padStart(7)}  ${String(expected.get(state) ?? 0).padStart(8)}  ${why[state] ?? ''}`);
    }

    const latencies = records
      .filter((r) => r && isTerminal(r.state))
      .map((r) => Date.parse(r!.updatedAt) - Date.parse(r!.createdAt))
      .sort((a, b) => a - b);
    const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    console.log('\ntimings');
    console.log(`  accepted by the API     ${accepted - started} ms for ${count} payouts`);
    console.log(
      `  all settled             ${((finished - started) / 1000).toFixed(1)} s  (${(count / ((finished - started) / 1000)).toFixed(0)} payouts/s)`,
    );
    console.log(`  accepted → final state  p50 ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${latencies.at(-1) ?? 0} ms`);

    const paid = sandbox.bank.ledger;
    const perPayout = new Map<string, number>();
    for (const e of paid) perPayout.set(String(e.metadata), (perPayout.get(String(e.metadata)) ?? 0) + 1);
    const twice = ids.filter((id) => (perPayout.get(bankMetadataFor(id)) ?? 0) > 1);
    const succeeded = byState.get('succeeded') ?? 0;
    const exactlyOnce = twice.length === 0 && paid.length === succeeded;
    console.log('\nchecks');
    console.log(
      `  exactly once            ${exactlyOnce ? 'ok' : 'FAILED'}: the sandbox ledger shows ${paid.length} money movements for ${succeeded} succeeded payouts${twice.length ? `, ${twice.length} paid twice` : ''}`,
    );
    console.log(`  callbacks to upstream   ${callbacks.received} received, ${callbacks.badSignatures} with a bad signature`);
    console.log(`  outcomes as expected    ${unexpected === 0 ? 'ok' : `FAILED: ${unexpected} payouts ended otherwise`}`);

    // A few payouts without a card: the recipient gives it through a link (the sandbox widget).
    const links: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const res = await fetch(`${url}/v1/payouts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `demo-collect-${randomBytes(3).toString('hex')}-${i}`,
          amount_details: { amount: i * 250_00, currency: 'rub' },
          recipient: { full_name: 'Petrov Petr' },
          callback_url: callbacks.url,
        }),
      });
      const body = (await res.json()) as { collect_url?: string };
      if (res.status !== 202 || !body.collect_url)
        throw new Error(`a payout without a card was refused: HTTP ${res.status} ${JSON.stringify(body)}`);
      links.push(body.collect_url);
    }

    const sample = samples.find((s) => s.expect === 'cancelled') ?? samples[0]!;
    console.log('\nwhere to look next');
    if (values.keep) {
      console.log(
        "  payouts waiting for their recipient's card (open one in a browser; test card 4242 4242 4242 4242, any future expiry, any CVC;",
      );
      console.log('  4000 0000 0000 0002 is declined):');
      for (const link of links) console.log(`    ${link}`);
      console.log(`  a payout and its audit trail: curl -s -H 'authorization: Bearer ${apiKey}' ${url}/v1/payouts/${sample.id}`);
      console.log(`  the queues (Bull Board):      ${url}${BOARD_PATH}   user ${board.user}, password ${board.password}`);
      console.log(`  the sandbox ledger:           ${sandbox.url}/sandbox/ledger`);
      console.log('  Ctrl-C stops everything.');
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    } else {
      console.log(
        `  npm run demo -- --keep       keep the service up: browse a payout, Bull Board, the sandbox ledger, and ${links.length} card collection links`,
      );
      console.log('  npm run sandbox              the Bank 131 emulator alone (sandbox/README.md: knobs, test cards)');
      console.log('  README.md, docs/api.md, docs/operations.md   the concepts, the API, settings and running web + worker');
    }
    void final;
    return exactlyOnce && unexpected === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

/** A mix the policy and the bank must sort out: mostly good cards, some the policy must cancel, some the bank declines. */
async function watch(store: ReturnType<typeof createRuntime>['store'], ids: string[], started: number): Promise<Map<string, PayoutState>> {
  const tty = process.stdout.isTTY;
  let lastLine = 0;
  for (;;) {
    const records = await store.getMany(ids);
    const counts = new Map<string, number>();
    let done = 0;
    for (const r of records) {
      if (!r) continue;
      counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
      if (isTerminal(r.state)) done += 1;
    }
    const width = 30;
    const filled = Math.round((done / ids.length) * width);
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(done).padStart(String(ids.length).length)}/${ids.length}  succeeded ${counts.get('succeeded') ?? 0}  cancelled ${counts.get('cancelled') ?? 0}  failed ${counts.get('failed') ?? 0}  in flight ${ids.length - done}  ${rate.toFixed(0)}/s`;
    if (tty) process.stdout.write(`\r${line}`);
    else if (Date.now() - lastLine > 1_000 || done === ids.length) {
      console.log(line);
      lastLine = Date.now();
    }
    if (done === ids.length) {
      if (tty) process.stdout.write('\n');
      return new Map(records.map((r) => [r!.id, r!.state]));
    }
    if (Date.now() - started > 10 * 60_000) throw new Error('payouts did not settle within 10 minutes');
    await new Promise((r) => setTimeout(r, 150));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
