import { idempotencyKey } from '../src/payouts/idempotency-key.js';
import { bankMetadataFor } from '../src/payouts/schemas.js';
import { cpuMs, receiveWebhooks, skeletonPayout, skeletonSettings, startClock } from './skeleton-common.js';

/**
 * The bare skeleton the pipeline is measured against: one process, the same signed calls to the
 * bank in the same order as the service's workers (session/create, session/start/payout, wait for
 * the ready_to_confirm webhook, session/confirm, wait for payment_finished) and the same signed
 * callback upstream, with N payouts in flight, and nothing else: no store, no queue, no policy,
 * no audit. Webhooks are checked against the bank's key, as the service checks them.
 *
 * Prints `{"t0": <ms>}` when it starts sending and `{"done": true, ...}` at the end, then waits
 * for SIGTERM.
 */

const env = process.env;
const { count, concurrency, run, bankPublicKey, client, sendCallback } = skeletonSettings('skeleton');

interface Waiters {
  ready_to_confirm: (body: unknown) => void;
  payment_finished: (body: unknown) => void;
}
const waiting = new Map<string, Partial<Waiters>>();
const early = new Map<string, unknown>();
let badSignatures = 0;

function webhookArrived(type: string, sessionId: string, body: unknown): void {
  const w = waiting.get(sessionId)?.[type as keyof Waiters];
  if (w) w(body);
  else early.set(`${sessionId}/${type}`, body);
}

function waitFor(sessionId: string, type: keyof Waiters): Promise<unknown> {
  const already = early.get(`${sessionId}/${type}`);
  if (already !== undefined) {
    early.delete(`${sessionId}/${type}`);
    return Promise.resolve(already);
  }
  return new Promise((resolve) => {
    const entry = waiting.get(sessionId) ?? {};
    entry[type] = resolve;
    waiting.set(sessionId, entry);
  });
}

const receiver = await receiveWebhooks(
  Number(env.BENCH_WEBHOOK_PORT),
  bankPublicKey,
  (body) => webhookArrived(body.type, body.session.id, body),
  () => (badSignatures += 1),
);

let failed = 0;
async function onePayout(i: number): Promise<void> {
  const payoutId = `${run}-${i}`;
  const session = await client.createSession({ metadata: bankMetadataFor(payoutId) });
  const ready = waitFor(session.id, 'ready_to_confirm');
  const finished = waitFor(session.id, 'payment_finished');
  await client.startPayout(skeletonPayout(payoutId, session.id), { idempotencyKey: idempotencyKey(session.id, 'start') });
  await ready;
  await client.confirmSession(session.id, { idempotencyKey: idempotencyKey(session.id, 'confirm') });
  const outcome = (await finished) as { session: { payout_list?: Array<{ status: string }>; payments?: Array<{ status: string }> } };
  waiting.delete(session.id);
  const status = (outcome.session.payout_list ?? outcome.session.payments ?? [])[0]?.status ?? 'unknown';
  if (status !== 'succeeded') failed += 1;
  await sendCallback(payoutId, status);
}

const { t0, cpuMsAtT0 } = startClock();
let next = 0;
let errors = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      await onePayout(i).catch((err: unknown) => {
        errors += 1;
        if (errors <= 5) process.stdout.write(`payout ${i}: ${(err as Error).message}\n`);
      });
    }
  }),
);
process.stdout.write(`${JSON.stringify({ done: true, t0, tEnd: Date.now(), failed, errors, badSignatures, cpuMsAtT0, cpuMs: cpuMs() })}\n`);
client.close();
receiver.close();
// Stays until told, so the parent can read what it used from /proc first.
process.once('SIGTERM', () => process.exit(0));
setInterval(() => undefined, 60_000);
