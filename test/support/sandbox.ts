import http from 'node:http';
import { afterAll, beforeAll } from 'vitest';
import { TEST_CARDS, startSandbox, type KnobsPatch, type RunningSandbox, type SandboxOptions } from 'bank131-sandbox';
import { Bank131Client, type Bank131ClientOptions } from '../../src/bank131/client.js';
import type { StartPayoutRequest, Webhook } from '../../src/bank131/schemas.js';
import { verifyWebhook } from '../../src/bank131/webhook.js';
import { keys } from './keys.js';
import { connectRedis, deleteKeys, redisUrl, testPrefix } from './redis.js';
import { eventually } from './wait.js';

export const PROJECT = 'test-project';

/**
 * The sandbox bank (the bank131-sandbox package) on a free port, with the fixture keys, a project id
 * to check, and its bank in the suite's Redis under a prefix of its own, whose keys go when it
 * closes. The suite's Redis even when the service under test has another (one a test kills or
 * fills): the bank is not ours to break. `options` adds to them.
 */
export async function startTestSandbox(knobs: KnobsPatch = {}, options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const prefix = testPrefix('sandbox');
  const sandbox = await startSandbox({
    partnerPublicKey: keys.partnerPublic,
    bankPrivateKey: keys.bankPrivate,
    project: PROJECT,
    knobs,
    redisUrl: redisUrl(),
    redisPrefix: prefix,
    ...options,
  });
  return {
    ...sandbox,
    async close() {
      await sandbox.close();
      const redis = connectRedis();
      await deleteKeys(redis, options.redisPrefix ?? prefix).finally(() => redis.disconnect());
    },
  };
}

export function clientFor(sandbox: { url: string }, options: Partial<Bank131ClientOptions> = {}): Bank131Client {
  return new Bank131Client({ baseUrl: sandbox.url, project: PROJECT, privateKey: keys.partnerPrivate, timeoutMs: 2_000, ...options });
}

/** A card payout of 100.00 rub for `sessionId`, as session/start/payout takes it. */
export function startPayoutRequest(
  sessionId: string,
  numberHash: string = TEST_CARDS.ok,
  metadata = `order-${sessionId}`,
): StartPayoutRequest {
  return {
    session_id: sessionId,
    payout_details: { type: 'card', card: { type: 'encrypted_card', encrypted_card: { number_hash: numberHash } } },
    amount_details: { amount: 10_000, currency: 'rub' },
    participant_details: { recipient: { full_name: 'Ivanov Ivan Ivanovich' } },
    metadata,
  };
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

export interface SandboxWithReceiver {
  /** The running sandbox; read it inside tests and hooks, not at the top of the file. */
  readonly sandbox: RunningSandbox;
  /** The receiver its webhooks go to. */
  readonly receiver: Receiver;
  /** Verified webhooks the receiver got for a session, in arrival order. */
  webhooksFor(sessionId: string): Webhook[];
  /** Waits until at least `count` webhooks of `type` came for a session; resolves to all of them. */
  waitForWebhook(sessionId: string, type: string, count?: number): Promise<[Webhook, ...Webhook[]]>;
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
  const webhooksFor = (sessionId: string) =>
    started(receiver)
      .received.map((r) => verifyWebhook(r.body, r.headers['x-partner-sign'] as string, keys.bankPublic))
      .filter((w) => w.session && 'id' in w.session && w.session.id === sessionId);
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
          return hits.length >= count ? (hits as [Webhook, ...Webhook[]]) : undefined;
        },
        5_000,
        `${count} ${type} for ${sessionId}`,
      ),
  };
}

export { eventually };
