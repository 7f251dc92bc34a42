import type { Bank131Client } from '../bank131/client.js';
import type { PipelineDeps } from './pipeline-deps.js';

/** The bank client for a payout's calls: for its tenant's submerchant, when the tenant has one. */
export async function bankFor(deps: Pick<PipelineDeps, 'bank' | 'tenants'>, payout: { tenant: string }): Promise<Bank131Client> {
  const tenant = deps.tenants ? await deps.tenants.get(payout.tenant) : null;
  return deps.bank.withSubmerchant(tenant?.submerchant);
}
