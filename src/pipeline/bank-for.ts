import type { Bank131Client } from '../bank131/client.js';
import type { BankCall } from '../store/payout-store.js';
import type { PipelineDeps } from './pipeline-deps.js';

/** The session calls a payout's story shows (the operator console's timeline), by the bank's own names. */
const RECORDED: Partial<Record<keyof Bank131Client, string>> = {
  createSession: 'session/create',
  startPayout: 'session/start/payout',
  startPayoutWithFiscalization: 'session/start/payout (fiscalization)',
  initPayout: 'session/init/payout',
  confirmSession: 'session/confirm',
  cancelSession: 'session/cancel',
  sessionStatus: 'session/status',
};

/**
 * The bank client for a payout's calls: for its tenant's submerchant, when the tenant has one. Each
 * session call it makes is kept with the payout (which call, the bank's status or error code, how
 * long): never the request or the answer, which carry the card hashes and the recipient's name.
 */
export async function bankFor(
  deps: Pick<PipelineDeps, 'bank' | 'tenants'> & { store?: Pick<PipelineDeps['store'], 'recordBankCall'> },
  payout: { tenant: string; id?: string },
): Promise<Bank131Client> {
  const tenant = deps.tenants ? await deps.tenants.get(payout.tenant) : null;
  const client = deps.bank.withSubmerchant(tenant?.submerchant);
  const { store } = deps;
  const id = payout.id;
  if (!store || !id) return client;
  return new Proxy(client, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      const call = typeof prop === 'string' ? RECORDED[prop as keyof Bank131Client] : undefined;
      if (!call || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const started = Date.now();
        const record = (entry: Pick<BankCall, 'ok' | 'outcome'>) =>
          void store
            .recordBankCall(id, { at: new Date(started).toISOString(), call, ...entry, ms: Date.now() - started })
            .catch(() => undefined);
        try {
          const answer = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as { status?: unknown } | null;
          record({ ok: true, outcome: typeof answer?.status === 'string' ? answer.status : 'ok' });
          return answer;
        } catch (err) {
          const e = err as { code?: unknown; name?: unknown };
          record({ ok: false, outcome: typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error' });
          throw err;
        }
      };
    },
  });
}
