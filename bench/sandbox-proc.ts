import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startSandbox } from 'bank131-sandbox';

/**
 * The bank stand-in for `npm run bench`, in a process of its own so it never shares an event loop
 * with what is measured: the sandbox (the bank131-sandbox package, no added latency, its bank in a
 * redis-server of its own so the service's Redis figures are the service's alone) plus what the
 * bench needs to see from the bank's side:
 *  - GET /bench/calls?from=N: the time (ms since epoch) and path of every API call from the N-th
 *    on, as they arrived (for the rate limit and for calls per payout);
 *  - GET /bench/samples: one real webhook body of each type, for the webhook load generator;
 *  - GET /bench/memory: this process's memory (after a full collection when run with --expose-gc).
 * BENCH_RECORD_CALLS=0 records no calls, here or in the sandbox's own list of them: a
 * million-payout backlog would otherwise grow this process's heap by millions of entries, and its
 * garbage collection with it, over the drain it measures.
 */

const env = process.env;
const callTimes: number[] = [];
const callPaths: string[] = [];
const samples: Record<string, unknown> = {};
const recordCalls = env.BENCH_RECORD_CALLS !== '0';

const sandbox = await startSandbox({
  host: '127.0.0.1',
  port: Number(env.BENCH_SANDBOX_PORT ?? 0),
  partnerPublicKey: createPublicKey(readFileSync(env.BENCH_PARTNER_PUBLIC_KEY_FILE!, 'utf8')),
  bankPrivateKey: createPrivateKey(readFileSync(env.BENCH_BANK_PRIVATE_KEY_FILE!, 'utf8')),
  project: env.BENCH_PROJECT,
  logger: false,
  redisUrl: env.BENCH_SANDBOX_REDIS_URL!,
  redisPrefix: '{bench-sandbox}',
  knobs: {
    readyDelayMs: Number(env.BENCH_READY_DELAY_MS ?? 1),
    finishDelayMs: Number(env.BENCH_FINISH_DELAY_MS ?? 1),
    webhookRetryBaseMs: 50,
    webhookRetryMaxMs: 1_000,
    webhookMaxAttempts: 1_000,
    webhookTimeoutMs: 10_000,
    confirmTimeoutMs: 3_600_000,
  },
  onWebhook: (webhook) => {
    samples[webhook.type] ??= webhook.body;
  },
  routes: (app) => {
    // Before Fastify sees it: the moment the bank is reached, whatever it answers.
    app.server.prependListener('request', (req: { url?: string }) => {
      if (recordCalls && req.url?.startsWith('/api/')) {
        callTimes.push(Date.now());
        callPaths.push(req.url.slice(5));
      }
    });
    app.get<{ Querystring: { from?: string } }>('/bench/calls', async (req) => {
      const from = Number(req.query.from ?? 0);
      return { from, t: callTimes.slice(from), e: callPaths.slice(from), next: callTimes.length };
    });
    app.get('/bench/samples', async () => samples);
    app.get('/bench/memory', async () => {
      (globalThis as { gc?: () => void }).gc?.();
      return process.memoryUsage();
    });
  },
});
process.stdout.write(`bench sandbox listening on ${sandbox.url}\n`);
// The sandbox keeps every call for tests to inspect; nothing here reads them when not recording.
if (!recordCalls) setInterval(() => (sandbox.bank.calls.length = 0), 1_000).unref();

const stop = () => {
  void sandbox.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
