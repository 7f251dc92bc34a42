import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

describe('logs never carry card hashes, names or keys', () => {
  it('redacts them at any depth a log object nests them', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger({ level: 'info' }, sink);
    log.info({
      order: { encrypted_card: { number_hash: 'HASH-1' }, recipient: { full_name: 'Ivanov Ivan' } },
      job: { data: { payout: { order: { encrypted_card: { number_hash: 'HASH-2' } } } } },
      session: { payout_list: [{ participant_details: { recipient: { full_name: 'Petrov Petr' } } }] },
      number_hash: 'HASH-3',
      req: { headers: { authorization: 'Bearer SECRET-KEY', 'x-partner-sign': 'SIGNATURE' } },
    }, 'payout event');
    const out = lines.join('');
    for (const secret of ['HASH-1', 'HASH-2', 'HASH-3', 'Ivanov', 'SECRET-KEY', 'SIGNATURE']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
    expect(out).toContain('payout event');
  });
});
