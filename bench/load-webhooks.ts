import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { SIGNATURE_HEADER } from '../src/bank131/signature.js';
import { percentile } from './lib.js';

/**
 * The webhook load generator, in a process of its own: a steady BENCH_RATE signed webhooks per
 * second for BENCH_DURATION_S to POST /webhooks/bank131, each a real sandbox webhook body (from
 * GET /bench/samples) with a session id of its own, signed beforehand with the bank's key so that
 * signing costs nothing while it sends. Prints the acknowledgement latencies as one JSON line.
 */

const env = process.env;
const rate = Number(env.BENCH_RATE ?? 1000);
const durationS = Number(env.BENCH_DURATION_S ?? 5);
const total = Math.round(rate * durationS);
const url = new URL('/webhooks/bank131', env.BENCH_URL!);
const bankKey = createPrivateKey(readFileSync(env.BENCH_BANK_PRIVATE_KEY_FILE!, 'utf8'));
const template = JSON.parse(readFileSync(env.BENCH_SAMPLE_FILE!, 'utf8')) as { session: { id: string } };

const signAsync = (body: Buffer) =>
  new Promise<string>((resolve, reject) =>
    sign('sha256', body, bankKey, (err, sig) => (err ? reject(err) : resolve(sig.toString('base64')))),
  );
const prepared: Array<{ body: Buffer; signature: string }> = [];
for (let i = 0; i < total; i += 200) {
  const chunk = Array.from({ length: Math.min(200, total - i) }, (_, k) => {
    const body = Buffer.from(
      JSON.stringify({ ...template, session: { ...template.session, id: `bench_wh_${Date.now().toString(36)}_${i + k}` } }),
      'utf8',
    );
    return signAsync(body).then((signature) => ({ body, signature }));
  });
  prepared.push(...(await Promise.all(chunk)));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const latencies: number[] = [];
const statuses: Record<string, number> = {};
let outstanding = 0;
let sent = 0;

function send(item: { body: Buffer; signature: string }): void {
  outstanding += 1;
  const started = performance.now();
  const req = http.request(url, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/json', 'content-length': String(item.body.length), [SIGNATURE_HEADER]: item.signature },
  });
  req.on('response', (res) => {
    res.resume();
    res.on('end', () => {
      latencies.push(performance.now() - started);
      statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
      outstanding -= 1;
    });
  });
  req.on('error', (err) => {
    statuses[err.message] = (statuses[err.message] ?? 0) + 1;
    outstanding -= 1;
  });
  req.end(item.body);
}

// Warm the connections and the route (not counted).
await new Promise<void>((resolve) => {
  let left = 20;
  for (let i = 0; i < 20; i++) {
    const body = Buffer.from(JSON.stringify({ ...template, session: { ...template.session, id: `bench_wh_warm_${i}` } }));
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: sign('sha256', body, bankKey).toString('base64') },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => --left === 0 && resolve());
    });
    req.on('error', () => --left === 0 && resolve());
    req.end(body);
  }
});

const start = performance.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) send(prepared[sent++]!);
    if (sent >= total) {
      clearInterval(timer);
      resolve();
    }
  }, 2);
});
const sendingMs = performance.now() - start;
const deadline = Date.now() + 30_000;
while (outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
const sorted = latencies.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    sent,
    answered: latencies.length,
    statuses,
    sendingMs,
    ratePerS: sent / (sendingMs / 1000),
    latency: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
    },
  })}\n`,
);
agent.destroy();
