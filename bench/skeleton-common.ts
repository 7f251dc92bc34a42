import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Bank131Client } from '../src/bank131/client.js';
import type { StartPayoutRequest } from '../src/bank131/schemas.js';
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
