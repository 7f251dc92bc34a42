import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import type { SandboxError } from './errors.js';

/** A refusal in the bank's shape: `{status:"error", error:{code, description}}` with its HTTP status. */
export function refuse(reply: FastifyReply, err: SandboxError): FastifyReply {
  return reply.code(err.httpStatus).send({ status: 'error', error: { code: err.code, description: err.description } });
}

/**
 * Holds a connection without answering for `hangMs()`, then drops it: what a client sees as a
 * timeout. Every held connection waits on `stopping`, so closing the sandbox never waits for them.
 */
export function holder(stopping: AbortSignal, hangMs: () => number): (reply: FastifyReply) => Promise<void> {
  return async (reply) => {
    reply.hijack();
    await sleep(hangMs(), undefined, { signal: stopping }).catch(() => undefined);
    reply.raw.destroy();
  };
}
