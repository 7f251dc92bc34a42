import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface KeyPairFiles {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePath: string;
  publicPath: string;
}

/**
 * A 2048-bit RSA key pair kept as PEM files in `dir` (made on first use, reused after), so that a
 * sandbox restarted later still verifies the service configured against its earlier keys.
 */
export function ensureKeyPair(dir: string, name: string): KeyPairFiles {
  const privatePath = join(dir, `${name}-private.pem`);
  const publicPath = join(dir, `${name}-public.pem`);
  if (!existsSync(privatePath) || !existsSync(publicPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    writeFileSync(privatePath, pair.privateKey, { mode: 0o600 });
    writeFileSync(publicPath, pair.publicKey, { mode: 0o644 });
  }
  return {
    privateKey: createPrivateKey(readFileSync(privatePath, 'utf8')),
    publicKey: createPublicKey(readFileSync(publicPath, 'utf8')),
    privatePath,
    publicPath,
  };
}
