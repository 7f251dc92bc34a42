import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
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

describe('the web logs one line per response', () => {
  it('method, path without the query, status and time, with the request id; nothing from the query', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const { default: Fastify, LogController } = await import('fastify');
    const { logResponses } = await import('../../src/http/access-log.js');
    const app = Fastify({ loggerInstance: createLogger({ level: 'info' }, sink) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
    logResponses(app);
    app.get('/v1/payouts', async () => ({ ok: true }));
    await app.inject({ method: 'GET', url: '/v1/payouts?starting_after=order-secret-42' });
    await app.close();
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 30, msg: 'request', method: 'GET', path: '/v1/payouts', status: 200, reqId: expect.stringMatching(/^req-/) });
    expect(lines.join('')).not.toContain('order-secret-42');
  });
});
