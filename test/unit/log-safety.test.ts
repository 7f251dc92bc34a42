import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CENSOR, CENSOR_EMAIL, createLogger } from '../../src/log.js';

/** src/log.ts at every level: whatever is logged, the logger neither throws nor writes a secret. */
function capture(level = 'trace') {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
  return { log: createLogger({ level }, sink), lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logging never throws on what it is given', () => {
  it("a client error with Node's raw packet (the bytes of a malformed request) is logged at every level, bytes described, never written", () => {
    const { log, lines, parsed } = capture();
    const err = Object.assign(new Error('Parse Error: Invalid method encountered'), {
      code: 'HPE_INVALID_METHOD',
      bytesParsed: 0,
      rawPacket: Buffer.from('GARBAGE / HTTP/1.1\r\nAuthorization: Bearer SECRET-KEY\r\n\r\n'),
    });
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
      expect(() => log[level]({ err }, 'client error')).not.toThrow();
      expect(() => log[level](err)).not.toThrow();
      expect(() =>
        log[level]({ nested: { deeper: { bytes: new Uint8Array(4), buf: Buffer.alloc(3), ab: new ArrayBuffer(2) } } }, 'bytes'),
      ).not.toThrow();
    }
    const first = parsed()[0]!;
    expect(first.err).toMatchObject({
      type: 'Error',
      message: 'Parse Error: Invalid method encountered',
      code: 'HPE_INVALID_METHOD',
      rawPacket: expect.stringMatching(/^\[Buffer of \d+ bytes\]$/),
    });
    expect(lines.join('')).not.toContain('SECRET-KEY');
    expect(lines.join('')).not.toContain('GARBAGE');
  });

  it('survives cycles, throwing getters, BigInt, URLs with credentials, Maps, Sets and a __proto__ key, and redacts by name at any depth and case', () => {
    const { log, lines, parsed } = capture();
    const cyclic: Record<string, unknown> = { id: 'p1' };
    cyclic.self = cyclic;
    const hostile = Object.defineProperty(
      { big: 10n, url: new URL('https://user:pw@example.com/cb'), map: new Map([['k', { number_hash: 'HASH-M' }]]), set: new Set(['a']) },
      'boom',
      {
        enumerable: true,
        get() {
          throw new Error('getter');
        },
      },
    );
    Object.defineProperty(hostile, '__proto__', { value: { polluted: true }, enumerable: true });
    let deep: Record<string, unknown> = { full_name: 'Deep Name' };
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(() =>
      log.info(
        {
          cyclic,
          hostile,
          deep,
          headers: { Authorization: 'Bearer K1', 'X-Partner-Sign': 'SIG1' },
          a: { b: { c: { d: { e: { f: { number_hash: 'HASH-6' } } } } } },
        },
        'hostile',
      ),
    ).not.toThrow();
    const line = parsed()[0]!;
    expect(line.cyclic).toEqual({ id: 'p1', self: '[Circular]' });
    expect(line.hostile).toMatchObject({
      big: '10',
      url: 'https://example.com/cb',
      map: { k: { number_hash: '[redacted]' } },
      set: ['a'],
      boom: '[unserialisable]',
    });
    const out = lines.join('');
    for (const secret of ['HASH-M', 'HASH-6', 'K1', 'SIG1', 'pw@', 'Deep Name']) expect(out).not.toContain(secret);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a child logger's bindings are made safe too", () => {
    const { log, lines } = capture('info');
    expect(() => log.child({ payout: { recipient: { full_name: 'Child Name' } }, raw: Buffer.from('x') }).info('bound')).not.toThrow();
    expect(lines.join('')).not.toContain('Child Name');
    expect(lines.join('')).toContain('[Buffer of 1 bytes]');
  });
});

describe('redaction by value and by structure never throws either', () => {
  it("throwing getters on an error's command or message, a message that is not text, odd log arguments", () => {
    const { log, lines, parsed } = capture();
    const hostileCommand = Object.defineProperty(new Error('boom'), 'command', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const hostileMessage = Object.defineProperty({}, 'message', {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
    const notText = Object.assign(new Error('x'), { message: { number_hash: 'HASH-7' } });
    expect(() => log.error({ err: hostileCommand }, 'command getter')).not.toThrow();
    expect(() => log.error({ err: hostileMessage })).not.toThrow();
    expect(() => log.error(notText)).not.toThrow();
    expect(() => log.error({ err: notText }, undefined)).not.toThrow();
    expect(() => log.info(null)).not.toThrow();
    expect(() => log.info(undefined as unknown as string)).not.toThrow();
    expect(() => log.info({ a: 1 }, 'with %o and %j', { number_hash: 'HASH-8' }, [{ full_name: 'Format Name' }])).not.toThrow();
    expect(parsed()[0]!.err).toMatchObject({ type: 'Error', message: 'boom', stack: expect.stringMatching(/^Error: boom\n/) });
    for (const secret of ['HASH-7', 'HASH-8', 'Format Name']) expect(lines.join('')).not.toContain(secret);
  });

  it('long text: a key past the cut still censors all of it; an address cut in two at the limit is masked, not half shown', () => {
    const { log, lines, parsed } = capture();
    const pad = 'x '.repeat(4_095); // 8,190 characters: the address starts just before the cut at 8,192
    const cut = `${pad}vasilisa.k@example.org and more ${'z'.repeat(10_000)}`;
    log.info({ late: `${'y'.repeat(20_000)} {"number_hash":"HASH-9"}`, cut });
    const line = parsed()[0]!;
    expect(line.late).toBe(CENSOR);
    expect(line.cut).toBe(`${`${pad}${CENSOR_EMAIL}`.slice(0, 8_192)}…[${cut.length - 8_192} more characters]`);
    expect(lines.join('')).not.toContain('vasilisa');
  });

  it('options given to createLogger keep working: another logMethod hook runs after ours, another error and message key are honoured', () => {
    const seen: unknown[][] = [];
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()) });
    const log = createLogger(
      {
        level: 'info',
        errorKey: 'error',
        messageKey: 'message',
        hooks: {
          logMethod(args, method) {
            seen.push([...args]);
            method.apply(this, args);
          },
        },
      },
      sink,
    );
    log.info({ error: new Error('mail to vasilisa.k@example.org failed') });
    expect(seen).toEqual([[expect.any(Object), `mail to ${CENSOR_EMAIL} failed`]]);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      message: `mail to ${CENSOR_EMAIL} failed`,
      error: { message: `mail to ${CENSOR_EMAIL} failed` },
    });
  });
});
