import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { describeIssues } from './issues.js';
import { Fault } from './knobs.js';
import { refuse } from './replies.js';
import type { WebhookDispatcher } from './webhook-dispatcher.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/** Control routes: test and demo plumbing, not part of the bank's API, and unsigned (sandbox/README.md lists them). */
export function registerControl(server: FastifyInstance, bank: SandboxBank, webhooks: WebhookDispatcher): void {
  /** Runs `act`; a SandboxError it throws is answered in the bank's shape (the reply), anything else is a fault. */
  const guarded = async <T>(reply: FastifyReply, act: () => T | Promise<T>): Promise<{ value: T } | { refused: FastifyReply }> => {
    try {
      return { value: await act() };
    } catch (err) {
      if (err instanceof SandboxError) return { refused: refuse(reply, err) };
      throw err;
    }
  };

  server.get('/healthz', async () => ({ ok: true }));
  server.get('/sandbox/ledger', async () => {
    const ledger = await bank.readLedger();
    const sessions = bank.ledgerBySession(ledger);
    return {
      sessions,
      movements: ledger.length,
      amount_total: ledger.reduce((s, e) => s + e.amount, 0),
      sessions_paid_more_than_once: sessions.filter((s) => s.movements.length > 1).map((s) => s.session_id),
    };
  });
  server.get('/sandbox/knobs', async () => bank.knobs);
  server.patch('/sandbox/knobs', async (req, reply) => {
    const done = await guarded(reply, () => bank.setKnobs(req.body ?? {}));
    return 'refused' in done ? done.refused : done.value;
  });
  server.post('/sandbox/faults', async (req, reply) => {
    const parsed = Fault.array().safeParse(req.body);
    if (!parsed.success) return refuse(reply, new SandboxError('invalid_request', describeIssues(parsed.error).join('; ')));
    bank.addFaults(parsed.data);
    return bank.knobs.faults;
  });
  server.put('/sandbox/wallet', async (req, reply) => {
    const amount = (req.body as { amount?: unknown } | undefined)?.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 0) {
      return refuse(reply, new SandboxError('invalid_request', 'amount: must be a whole number of kopecks, 0 or more'));
    }
    await bank.setWalletBalance(amount);
    return { amount };
  });
  server.get('/sandbox/webhooks', async () => webhooks.deliveries());
  // Answers after the first attempt, so a caller sees the receiver's answer without polling.
  server.post('/sandbox/webhooks/send', async (req, reply) => {
    const request = req.body as { body?: unknown } | undefined;
    if (!request || typeof request !== 'object' || !('body' in request)) {
      return refuse(reply, new SandboxError('invalid_request', 'body: is required (the webhook body to sign and send)'));
    }
    return webhooks.firstAttempt(webhooks.send(request.body));
  });
  server.get<{ Params: { id: string } }>('/sandbox/sessions/:id', async (req, reply) => {
    const state = bank.sessionState(req.params.id);
    if (!state) return refuse(reply, new SandboxError('invalid_request', `no session ${req.params.id}`, 404));
    return { id: req.params.id, state, session: bank.sessionView(req.params.id) };
  });
  const control = (act: (id: string, body: unknown) => Promise<void>) => async (req: IdRequest, reply: FastifyReply) => {
    const id = req.params.id;
    if (!bank.sessionState(id)) return refuse(reply, new SandboxError('invalid_request', `no session ${id}`, 404));
    const done = await guarded(reply, () => act(id, req.body ?? {}));
    if ('refused' in done) return done.refused;
    return { id, state: bank.sessionState(id), session: bank.sessionView(id) };
  };
  // Body: an ErrorPlan (sandbox/src/knobs.ts), e.g. {"resolveTo":"succeeded","resolveAfterMs":500}.
  server.post(
    '/sandbox/sessions/:id/error',
    control((id, body) => bank.markSessionError(id, body)),
  );
  // Body: {"to":"succeeded"|"failed"}, or {} for what the session's plan says.
  server.post(
    '/sandbox/sessions/:id/resolve',
    control(async (id, body) => {
      const to = (body as { to?: unknown }).to;
      if (to !== undefined && to !== 'succeeded' && to !== 'failed')
        throw new SandboxError('invalid_request', 'to: must be succeeded or failed');
      await bank.resolveSessionError(id, to);
    }),
  );
  server.post('/sandbox/reset', async () => {
    await bank.reset();
    webhooks.reset();
    return { ok: true };
  });
}
