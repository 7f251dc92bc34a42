import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Bank131Client } from '../src/bank131/client.js';
import type { StartPayoutRequest } from '../src/bank131/schemas.js';
import { SIGNATURE_HEADER, checkSignature } from '../src/bank131/signature.js';
import { signCallback } from '../src/payouts/callback-signature.js';
import { bankMetadataFor } from '../src/payouts/schemas.js';
import { request } from './lib.js';

/**
 * What both skeletons (bench/skeleton-pipeline.ts, bench/skeleton-queued.ts) share: their
 * settings, the signed bank client, the payout they start and the signed callback they send, so
 * that the two make exactly the same calls.
 */
export interface SkeletonSettings {
  count: number;
  concurrency: number;
  run: string;
  bankPublicKey: KeyObject;
  client: Bank131Client;
  /** The Standard Webhooks callback upstream, signed, checked for a 200. */
  sendCallback(payoutId: string, status: string): Promise<void>;
}

export function skeletonSettings(defaultRun: string): SkeletonSettings {
  const env = process.env;
  const callbackUrl = env.BENCH_CALLBACK_URL!;
  const callbackSecret = env.BENCH_CALLBACK_SECRET!;
  return {
    count: Number(env.BENCH_COUNT ?? 2000),
    concurrency: Number(env.BENCH_CONCURRENCY ?? 50),
    run: env.BENCH_RUN ?? defaultRun,
    bankPublicKey: createPublicKey(readFileSync(env.BENCH_BANK_PUBLIC_KEY_FILE!, 'utf8')),
    client: new Bank131Client({
      baseUrl: env.BENCH_SANDBOX_URL!,
      project: env.BENCH_PROJECT!,
      privateKey: createPrivateKey(readFileSync(env.BENCH_PARTNER_PRIVATE_KEY_FILE!, 'utf8')),
      timeoutMs: 30_000,
    }),
    async sendCallback(payoutId, status) {
      const id = `evt_${payoutId}_${status}`;
      const body = JSON.stringify({ id, type: `payout.${status}`, created_at: new Date().toISOString(), payout: { id: payoutId, status } });
      const headers = signCallback({ id, timestamp: Math.floor(Date.now() / 1000), body, secret: callbackSecret });
      const answer = await request(callbackUrl, 'POST', body, { ...headers });
      if (answer.status !== 200) throw new Error(`callback answered ${answer.status}`);
    },
  };
}

/** The payout both skeletons start: the service's bench order, to the sandbox's paying test card. */
export function skeletonPayout(payoutId: string, sessionId: string): StartPayoutRequest {
  return {
    session_id: sessionId,
    payout_details: { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: 'sandbox_ok_4242' } } },
    amount_details: { amount: 10_000, currency: 'rub' },
    participant_details: { recipient: { full_name: 'Ivanov Ivan Ivanovich' } },
    metadata: bankMetadataFor(payoutId),
  };
}

/** What a skeleton reads of a Bank 131 webhook. */
export interface SkeletonWebhook {
  type: string;
  session: { id: string; payout_list?: Array<{ status: string }>; payments?: Array<{ status: string }> };
}

/**
 * The skeletons' webhook endpoint: the signature checked over the raw body with the bank's key
 * (401 and `onBadSignature` otherwise), then `handle`; 200 once it has resolved, 503 if it fails.
 */
export function receiveWebhooks(
  port: number,
  bankPublicKey: KeyObject,
  handle: (webhook: SkeletonWebhook) => unknown,
  onBadSignature: () => void = () => undefined,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = req.headers[SIGNATURE_HEADER];
      if (!checkSignature(raw, typeof header === 'string' ? header : undefined, bankPublicKey).ok) {
        onBadSignature();
        res.writeHead(401).end();
        return;
      }
      Promise.resolve()
        .then(() => handle(JSON.parse(raw.toString('utf8')) as SkeletonWebhook))
        .then(
          () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
          () => res.writeHead(503).end(),
        );
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** CPU the process has used, in ms. */
export const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** The moment a skeleton starts sending, announced as `{"t0": <ms>}` for bench/run.ts. */
export function startClock(): { t0: number; cpuMsAtT0: number } {
  const t0 = Date.now();
  const cpuMsAtT0 = cpuMs();
  process.stdout.write(`${JSON.stringify({ t0 })}\n`);
  return { t0, cpuMsAtT0 };
}
