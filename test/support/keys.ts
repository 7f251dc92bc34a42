import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createPrivateKey, createPublicKey } from 'node:crypto';

export const KEYS_DIR = fileURLToPath(new URL('../fixtures/keys/', import.meta.url));

export const keyPath = (name: string) => `${KEYS_DIR}${name}.pem`;
export const pem = (name: string) => readFileSync(keyPath(name), 'utf8');

/** Our side's keys (we sign requests) and the bank's (it signs webhooks), as the tests use them. */
export const keys = {
  partnerPrivate: createPrivateKey(pem('partner-private')),
  partnerPublic: createPublicKey(pem('partner-public')),
  bankPrivate: createPrivateKey(pem('bank-private')),
  bankPublic: createPublicKey(pem('bank-public')),
};
