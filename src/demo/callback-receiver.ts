import http from 'node:http';
import { verifyCallback } from '../payouts/callback-signature.js';

/** Upstream's side: verifies each callback's Standard Webhooks signature with our verifier. */
export async function startCallbackReceiver(secret: string) {
  const state = { received: 0, badSignatures: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const ok = verifyCallback({ body: Buffer.concat(chunks), headers: req.headers, secret });
      state.received += 1;
      if (!ok) state.badSignatures += 1;
      res.statusCode = ok ? 200 : 400;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/payout-events`,
    get received() {
      return state.received;
    },
    get badSignatures() {
      return state.badSignatures;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}
