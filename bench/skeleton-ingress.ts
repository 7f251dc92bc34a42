import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

/**
 * The bare ingress the service's POST /v1/payouts is measured against: a Fastify route (Fastify's
 * defaults: no logger, JSON body parser) that only does queue.add, with the order's id as the job id.
 */

const connection = new Redis(process.env.BENCH_REDIS_URL!, { maxRetriesPerRequest: null });
const queue = new Queue('payout-start', { connection, prefix: '{benchbare}', defaultJobOptions: { removeOnComplete: true } });
const app = Fastify({ bodyLimit: 1024 * 1024 });

app.post<{ Body: { id: string } }>('/v1/payouts', async (req, reply) => {
  await queue.add('start', req.body, { jobId: `start-${req.body.id}` });
  return reply.code(202).send({ id: req.body.id, status: 'queued' });
});

await app.listen({ host: '127.0.0.1', port: Number(process.env.BENCH_PORT ?? 0) });
process.stdout.write(`bare ingress listening on ${(app.server.address() as { port: number }).port}\n`);
const stop = () => {
  void app
    .close()
    .then(() => queue.close())
    .then(() => connection.quit())
    .finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
