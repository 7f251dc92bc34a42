import http from 'node:http';
import { Bank131Client, type Bank131ClientOptions } from '../../src/bank131/client.js';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js';
import type { KnobsPatch } from '../../src/sandbox/knobs.js';
import { keys } from './keys.js';

export const PROJECT = 'test-project';

/** The sandbox bank on a free port, with the fixture keys and a project id to check. */
export function startTestSandbox(knobs: KnobsPatch = {}): Promise<RunningSandbox> {
  return startSandbox({ partnerPublicKey: keys.partnerPublic, bankPrivateKey: keys.bankPrivate, project: PROJECT, knobs });
}

export function clientFor(sandbox: { url: string }, options: Partial<Bank131ClientOptions> = {}): Bank131Client {
  return new Bank131Client({ baseUrl: sandbox.url, project: PROJECT, privateKey: keys.partnerPrivate, timeoutMs: 2_000, ...options });
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

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
