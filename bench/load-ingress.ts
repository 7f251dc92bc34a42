import autocannon from 'autocannon';

/**
 * The ingress load generator, in a process of its own: autocannon against POST /v1/payouts, each
 * request with an id of its own (so each one creates a payout). Prints its result as one JSON line.
 */

const env = process.env;
const run = env.BENCH_RUN ?? 'ingress';
const callbackUrl = env.BENCH_CALLBACK_URL;
let n = 0;
const result = await autocannon({
  url: env.BENCH_URL!,
  connections: Number(env.BENCH_CONNECTIONS ?? 50),
  duration: Number(env.BENCH_DURATION_S ?? 10),
  requests: [
    {
      method: 'POST',
      path: '/v1/payouts',
      headers: { 'content-type': 'application/json', ...(env.BENCH_API_KEY ? { authorization: `Bearer ${env.BENCH_API_KEY}` } : {}) },
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({
          id: `${run}-${++n}`,
          amount_details: { amount: 10_000, currency: 'rub' },
          recipient: { full_name: 'Ivanov Ivan Ivanovich' },
          encrypted_card: { number_hash: 'sandbox_ok_4242' },
          metadata: `bench-${n}`,
          ...(callbackUrl ? { callback_url: callbackUrl } : {}),
        }),
      }),
    },
  ],
});
const ok = result['2xx'];
process.stdout.write(
  `${JSON.stringify({
    sent: n,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    durationS: result.duration,
    reqPerS: ok / result.duration,
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
  })}\n`,
);
