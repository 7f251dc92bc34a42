import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildSandbox } from '../src/sandbox/server.js';

/**
 * The bank stand-in for `npm run bench`, in a process of its own so it never shares an event loop
 * with what is measured: the sandbox (src/sandbox/server.ts, in memory, no added latency) plus
 * what the bench needs to see from the bank's side:
 *  - GET /bench/calls?from=N: the time (ms since epoch) and path of every API call from the N-th
 *    on, as they arrived (for the rate limit and for calls per payout);
 *  - GET /bench/samples: one real webhook body of each type, for the webhook load generator.
 */

const env = process.env;
const sandboxBuilt = buildSandbox({
  partnerPublicKey: createPublicKey(readFileSync(env.BENCH_PARTNER_PUBLIC_KEY_FILE!, 'utf8')),
  bankPrivateKey: createPrivateKey(readFileSync(env.BENCH_BANK_PRIVATE_KEY_FILE!, 'utf8')),
  project: env.BENCH_PROJECT,
  logger: false,
  knobs: {
    readyDelayMs: Number(env.BENCH_READY_DELAY_MS ?? 1),
    finishDelayMs: Number(env.BENCH_FINISH_DELAY_MS ?? 1),
    webhookRetryBaseMs: 50,
    webhookRetryMaxMs: 1_000,
    webhookMaxAttempts: 1_000,
    webhookTimeoutMs: 10_000,
    confirmTimeoutMs: 3_600_000,
  },
});
const { server, webhooks } = sandboxBuilt;

const callTimes: number[] = [];
const callPaths: string[] = [];
// Before Fastify sees it: the moment the bank is reached, whatever it answers.
server.server.prependListener('request', (req: { url?: string }) => {
  if (req.url?.startsWith('/api/')) {
    callTimes.push(Date.now());
    callPaths.push(req.url.slice(5));
  }
});

const samples: Record<string, unknown> = {};
const dispatch = webhooks.dispatch.bind(webhooks);
webhooks.dispatch = (webhook) => {
  samples[webhook.type] ??= webhook.body;
  dispatch(webhook);
};

server.get<{ Querystring: { from?: string } }>('/bench/calls', async (req) => {
  const from = Number(req.query.from ?? 0);
  return { from, t: callTimes.slice(from), e: callPaths.slice(from), next: callTimes.length };
});
server.get('/bench/samples', async () => samples);

await server.ready();
await server.listen({ host: '127.0.0.1', port: Number(env.BENCH_SANDBOX_PORT ?? 0) });
const address = server.server.address() as { port: number };
process.stdout.write(`bench sandbox listening on http://127.0.0.1:${address.port}\n`);

const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
