import { createPrivateKey, createPublicKey } from 'node:crypto';
import { inject } from 'vitest';

const pem = inject('sandboxKeys');

/** The partner's keys (it signs requests) and the bank's (it signs webhooks), made for this run by the global setup. */
export const keys = {
  partnerPrivate: createPrivateKey(pem.partnerPrivate),
  partnerPublic: createPublicKey(pem.partnerPublic),
  bankPrivate: createPrivateKey(pem.bankPrivate),
  bankPublic: createPublicKey(pem.bankPublic),
};
