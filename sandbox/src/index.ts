/**
 * bank131-sandbox: a Bank 131 partner API emulator (sandbox/README.md). What a harness, a demo or a
 * test needs from it; everything else is the package's own. Its HTTP API (the bank's routes and
 * /sandbox/...) is the other way in.
 */
export { startSandbox, sendWebhook, type RunningSandbox, type SandboxOptions } from './server.js';
export { DEFAULT_SANDBOX_PREFIX } from './store.js';
export { ensureKeyPair, type KeyPairFiles } from './keys.js';
export { TEST_CARDS, TEST_CARD_NUMBERS, type CardBehaviour } from './test-cards.js';
export { TEST_TAXPAYERS, NPD_INCOME_LIMIT } from './taxpayers.js';
export type { ErrorPlan, Fault, Knobs, KnobsPatch } from './knobs.js';
export type { CallRecord, SandboxBank } from './bank.js';
export type { LedgerEntry, ReturnEntry, TaxpayerView } from './session-types.js';
export type { SandboxSessionState } from './session-machine.js';
export type { DeliveryRecord, OutgoingWebhook, WebhookDispatcher } from './webhook-dispatcher.js';
