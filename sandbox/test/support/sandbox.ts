import http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import type { KnobsPatch } from '../../src/knobs.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/server.js';
import { checkSignature } from '../../src/signature.js';
import { TEST_CARDS } from '../../src/test-cards.js';
import { PROJECT, readSession, type WireWebhook } from './client.js';
import { keys } from './keys.js';
import { connectRedis, deleteKeys, redisUrl, testPrefix } from './redis.js';
import { eventually } from './wait.js';

export { PROJECT, clientFor } from './client.js';
export { eventually } from './wait.js';

/**
 * The sandbox on a free port, with this run's keys, a project id to check and a Redis prefix of its
 * own, whose keys go when it closes. `options` adds to them; a test that restarts a sandbox on the
 * same bank passes its own `redisPrefix`, and clears it itself.
 */
export async function startTestSandbox(knobs: KnobsPatch = {}, options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const ownPrefix = options.redisPrefix ? null : testPrefix('sandbox');
  const sandbox = await startSandbox({
    partnerPublicKey: keys.partnerPublic,
    bankPrivateKey: keys.bankPrivate,
    project: PROJECT,
    knobs,
    redisUrl: redisUrl(),
    redisPrefix: ownPrefix ?? options.redisPrefix!,
    ...options,
  });
  if (!ownPrefix) return sandbox;
  return {
    ...sandbox,
    async close() {
      await sandbox.close();
      const redis = connectRedis();
      await deleteKeys(redis, ownPrefix).finally(() => redis.disconnect());
    },
  };
}

type CardHashes = { number_hash: string; expiration_date_hash?: string; security_code_hash?: string; cardholder_name_hash?: string };

/** start/payout's body in v2 spelling (the test client renames the card for v1). */
export type PayoutRequest = {
  session_id: string;
  payout_details: { type: 'card'; card: { type: 'encrypted_card'; encrypted_card: CardHashes } };
  amount_details: { amount: number; currency: string };
  participant_details: { recipient: { full_name: string } };
  metadata: string;
};

/** A card payout of 100.00 rub for `sessionId`, as session/start/payout takes it. */
export function startPayoutRequest(sessionId: string, numberHash: string = TEST_CARDS.ok, metadata = `order-${sessionId}`): PayoutRequest {
  return {
    session_id: sessionId,
    payout_details: { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } } },
    amount_details: { amount: 10_000, currency: 'rub' },
    participant_details: { recipient: { full_name: 'Ivanov Ivan Ivanovich' } },
    metadata,
  };
}

/** fiscalization_details for a self-employed payout of `amount` kopecks: one service, or `quantity` of a cheaper one. */
export function fiscalizationDetails(taxReference: string, amount = 10_000, quantity = 1) {
  return {
    professional_income_taxpayer: {
      tax_reference: taxReference,
      services: [{ name: 'Дизайн логотипа', amount_details: { amount: amount / quantity, currency: 'rub' }, quantity }],
      payer_type: 'legal',
      payer_tax_number: '7707083893',
      payer_name: 'ООО Ромашка',
    },
  };
}

/** A self-employed payout of 100.00 rub for `sessionId`, as session/start/payout/fiscalization takes it. */
export function fiscalPayoutRequest(sessionId: string, taxReference: string, amount = 10_000) {
  const request = startPayoutRequest(sessionId);
  return { ...request, amount_details: { amount, currency: 'rub' }, fiscalization_details: fiscalizationDetails(taxReference, amount) };
}

/** A tax reference no other test uses: self-employed, and unbound until bound. */
export function freshTaxReference(): string {
  return `77${String(Math.floor(Math.random() * 1e10)).padStart(10, '0')}`;
}

export interface CapturedRequest {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A bare HTTP receiver for webhooks: records every request with its raw bytes and answers with
 * the status `answer` returns (200 by default), so a test can refuse deliveries on purpose.
 */
export async function startReceiver(answer: (req: CapturedRequest, n: number) => number = () => 200) {
  const received: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured = { headers: req.headers, body: Buffer.concat(chunks) };
      received.push(captured);
      res.statusCode = answer(captured, received.length);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/webhooks/bank131`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** The webhooks a receiver got for one session, read in either spelling; any the bank's key did not sign fails the test. */
export function signedWebhooks(receiver: Receiver, sessionId: string): WireWebhook[] {
  return receiver.received
    .map((r) => {
      const check = checkSignature(r.body, r.headers['x-partner-sign'] as string | undefined, keys.bankPublic);
      if (!check.ok) throw new Error(`a webhook whose signature is ${check.reason}: ${r.body.toString('utf8').slice(0, 200)}`);
      return JSON.parse(r.body.toString('utf8')) as { type: string; session?: Record<string, unknown> };
    })
    .filter((w) => w.session?.id === sessionId)
    .map((w) => ({ type: w.type, session: readSession(w.session!) }));
}

export interface SandboxWithReceiver {
  /** The running sandbox; read it inside tests and hooks, not at the top of the file. */
  readonly sandbox: RunningSandbox;
  /** The receiver its webhooks go to. */
  readonly receiver: Receiver;
  /** Signed webhooks the receiver got for a session, in arrival order. */
  webhooksFor(sessionId: string): WireWebhook[];
  /** Waits until at least `count` webhooks of `type` came for a session; resolves to all of them. */
  waitForWebhook(sessionId: string, type: string, count?: number): Promise<[WireWebhook, ...WireWebhook[]]>;
}

/**
 * For a test file: registers a beforeAll that starts a webhook receiver (answering with `answer`)
 * and a fast sandbox that sends its webhooks there, and an afterAll that closes both.
 */
export function useSandboxWithReceiver(
  options: { knobs?: KnobsPatch; answer?: (req: CapturedRequest, n: number) => number } = {},
): SandboxWithReceiver {
  let sandbox: RunningSandbox | undefined;
  let receiver: Receiver | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the sandbox starts in beforeAll: use it inside tests and hooks');
    return value;
  };
  beforeAll(async () => {
    receiver = await startReceiver(options.answer);
    sandbox = await startTestSandbox({
      webhookUrl: receiver.url,
      readyDelayMs: 5,
      finishDelayMs: 5,
      webhookRetryBaseMs: 10,
      ...options.knobs,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
    await receiver?.close();
  });
  const webhooksFor = (sessionId: string) => signedWebhooks(started(receiver), sessionId);
  return {
    get sandbox() {
      return started(sandbox);
    },
    get receiver() {
      return started(receiver);
    },
    webhooksFor,
    waitForWebhook: (sessionId, type, count = 1) =>
      eventually(
        () => {
          const hits = webhooksFor(sessionId).filter((w) => w.type === type);
          return hits.length >= count ? (hits as [WireWebhook, ...WireWebhook[]]) : undefined;
        },
        5_000,
        `${count} ${type} for ${sessionId}`,
      ),
  };
}
