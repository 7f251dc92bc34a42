import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SandboxBank } from './bank.js';
import { SandboxError } from './errors.js';
import { describeIssues } from './issues.js';
import { Fault } from './knobs.js';
import { receiptHtml, receiptView } from './receipts.js';
import { refuse } from './replies.js';
import type { WebhookDispatcher } from './webhook-dispatcher.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;
type TaxpayerRequest = FastifyRequest<{ Params: { taxReference: string } }>;

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
  // Payouts and what the card's banks sent back are kept apart: a returned payout was still paid
  // once, so returns never count towards sessions_paid_more_than_once.
  server.get('/sandbox/ledger', async () => {
    const [ledger, returns] = await Promise.all([bank.readLedger(), bank.readReturns()]);
    const sessions = bank.ledgerBySession(ledger, returns);
    return {
      sessions,
      movements: ledger.length,
      amount_total: ledger.reduce((s, e) => s + e.amount, 0),
      fee_total: ledger.reduce((s, e) => s + (e.fee ?? 0), 0),
      returns,
      returned_total: returns.reduce((s, r) => s + r.amount, 0),
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
  // Body: {"amount"?: kopecks (default: all not yet returned), "reason"?: text}.
  server.post(
    '/sandbox/sessions/:id/refund',
    control((id, body) => bank.refundPayout(id, body)),
  );

  server.get('/sandbox/taxpayers/:taxReference', async (req: TaxpayerRequest, reply) => {
    const done = await guarded(reply, () => bank.taxpayer(req.params.taxReference));
    return 'refused' in done ? done.refused : done.value;
  });
  // Body: {"bound": true|false}.
  server.put('/sandbox/taxpayers/:taxReference', async (req: TaxpayerRequest, reply) => {
    const done = await guarded(reply, () => bank.setTaxpayer(req.params.taxReference, req.body ?? {}));
    return 'refused' in done ? done.refused : done.value;
  });

  // The link a succeeded self-employed payout's receipt carries: a page for people, JSON on ?format=json.
  server.get<{ Params: { id: string }; Querystring: { format?: string } }>('/sandbox/receipts/:id', async (req, reply) => {
    const found = await bank.receipt(req.params.id);
    if (!found) return refuse(reply, new SandboxError('invalid_request', `no receipt ${req.params.id}`, 404));
    const view = receiptView(req.params.id, found.session, found.taxpayer, bank.baseUrl);
    if (req.query.format === 'json') return view;
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'")
      .header('x-content-type-options', 'nosniff')
      .send(receiptHtml(view));
  });

  server.post('/sandbox/reset', async () => {
    await bank.reset();
    webhooks.reset();
    return { ok: true };
  });
}
