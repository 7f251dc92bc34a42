import type { PipelineTiming } from '../../src/pipeline/pipeline-deps.js';
import type { Env } from '../../src/settings/env.js';
import { loadWebSettings, type WebSettings } from '../../src/settings/web.js';
import { loadWorkerSettings, type WorkerSettings } from '../../src/settings/worker.js';
import { keyPath } from './keys.js';

export const TEST_API_KEY = 'test-api-key-0123456789';
/** Standard Webhooks form: whsec_ + base64 of 32 bytes. */
export const TEST_CALLBACK_SECRET = 'whsec_a3iS1HBpNNtA8EuicVqomG22FE2tSUDSW1Ltk2V+7yo=';

/**
 * What a test deployment sets: the fixture keys, a bank that is not called unless a test says where
 * it is, any free port. Settings are read from it the way the processes read theirs
 * (src/settings/), then a test replaces what it needs to.
 */
const TEST_ENV: Env = {
  BANK131_BASE_URL: 'http://127.0.0.1:9',
  BANK131_PROJECT: 'test-project',
  BANK131_PRIVATE_KEY_FILE: keyPath('partner-private'),
  BANK131_PUBLIC_KEY_FILE: keyPath('bank-public'),
  API_KEYS: TEST_API_KEY,
  CALLBACK_SECRET: TEST_CALLBACK_SECRET,
  PORT: '0',
  // the web's bank probe is a test's to turn on (test/integration/readiness.test.ts): most never reach a bank
  BANK_PROBE_MS: '0',
};

type Overrides<S> = Partial<Omit<S, 'timing'>> & { timing?: Partial<PipelineTiming> };

function apply<S extends { timing: PipelineTiming }>(settings: S, overrides: Overrides<S>): S {
  return { ...settings, ...overrides, timing: { ...settings.timing, ...overrides.timing } } as S;
}

export function webSettings(overrides: Overrides<WebSettings> = {}, env: Env = {}): WebSettings {
  return apply(loadWebSettings({ ...TEST_ENV, ...env }), overrides);
}

export function workerSettings(overrides: Overrides<WorkerSettings> = {}, env: Env = {}): WorkerSettings {
  return apply(loadWorkerSettings({ ...TEST_ENV, ...env }), overrides);
}
