import { timingSafeEqual, createHash } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Queues } from './queues.js';

export const BOARD_PATH = '/admin/queues';

/** Bull Board at /admin/queues behind HTTP basic auth (BOARD_USER / BOARD_PASSWORD). */
export async function mountBoard(app: FastifyInstance, queues: Queues, credentials: { user: string; password: string }): Promise<void> {
  const expected = digest(`${credentials.user}:${credentials.password}`);
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (req, reply) => {
      const header = req.headers.authorization ?? '';
      const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
      if (!given || !timingSafeEqual(digest(given), expected)) {
        return reply.code(401).header('www-authenticate', 'Basic realm="bank131-payouts queues"').send({ error: { code: 'unauthorized', message: 'queue board: basic auth required' } });
      }
    });
    const adapter = new FastifyAdapter();
    adapter.setBasePath(BOARD_PATH);
    createBullBoard({ queues: queues.all().map((q) => new BullMQAdapter(q)), serverAdapter: adapter });
    await scope.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
