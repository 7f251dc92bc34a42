import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** The payout a request is about (the service's id), set by the route: the access line names it. */
    payoutId?: string;
  }
}

/**
 * One `info` line per response: method, path (never the query: it may hold ids a caller would
 * rather keep out of logs), status and time, with the request id Fastify binds to the line, and
 * for the API the caller's tenant and key id (never the key), and the payout a route is about.
 * A 500 is logged by the error handler besides; a Redis outage (503) goes to the outage report.
 */
export function logResponses(app: FastifyInstance): void {
  app.addHook('onResponse', async (req, reply) => {
    const caller = req.caller ? { tenant: req.caller.tenant, key: req.caller.keyId } : {};
    const payout = req.payoutId ? { payoutId: req.payoutId } : {};
    // a card page's token lets whoever holds it give a card: its line shows the route, and the payout
    const route = req.routeOptions.url;
    const path = route?.includes(':token') ? route : req.url.split('?')[0];
    req.log.info(
      {
        method: req.method,
        path,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...caller,
        ...payout,
      },
      'request',
    );
  });
}
