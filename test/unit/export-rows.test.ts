import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvCell, csvLine } from '../../src/cli/csv.js';
import { EXPORT_COLUMNS, amountRub, formatFor, formatRows, headerOf, rowOf, stateList, writeDrained } from '../../src/cli/export.js';
import { toRecord } from '../../src/store/payout-record.js';

/** The rows of `bank131-payouts export`: what each column holds, CSV as RFC 4180 says, JSON lines, writing with backpressure. */

/** A payout hash as the create and transition scripts leave it (src/store/scripts/). */
function stored(fields: Record<string, string> = {}, order: Record<string, unknown> = {}): Record<string, string> {
  return {
    id: 'acme~order-7',
    tenant: 'acme',
    state: 'succeeded',
    order: JSON.stringify({
      id: 'order-7',
      amount_details: { amount: 150_050, currency: 'rub' },
      recipient: { full_name: 'Ivanov Ivan Ivanovich' },
      encrypted_card: { number_hash: 'secret-hash', expiration_date_hash: 'secret-exp' },
      metadata: 'invoice 7, "June"\nsecond line',
      customer: { reference: 'user-42', contacts: [{ email: 'ivan@example.com', phone: '+79990000000' }] },
      ...order,
    }),
    fingerprint: 'f',
    created_at: '2026-11-26T10:00:00.000Z',
    updated_at: '2026-11-26T10:05:00.000Z',
    start_attempts: '1',
    session_id: 'ps_123',
    bank_payout_id: 'po_456',
    card_last4: '4242',
    fee_amount: '1500',
    bank_finished_at: '2026-11-26T10:04:59.000Z',
    finished_at: '2026-11-26T10:05:00.000Z',
    customer_reference: 'user-42',
    receipt_id: 'rcpt-1',
    receipt_link: 'https://receipts.example/1?a=1,b=2',
    tax_reference: '500100732259',
    recipient_id: 'rcp_0123456789abcdef',
    list_score: '1764151200000001',
    ...fields,
  };
}

describe('a payout as a row', () => {
  it('holds every field a statement is matched by, the order id without its tenant, amounts in kopecks and roubles', () => {
    expect(rowOf(toRecord(stored()))).toEqual({
      tenant: 'acme',
      id: 'order-7',
      status: 'succeeded',
      amount: 150_050,
      amount_rub: '1500.50',
      currency: 'rub',
      fee: 1500,
      bank_session_id: 'ps_123',
      bank_payout_id: 'po_456',
      card_last4: '4242',
      metadata: 'invoice 7, "June"\nsecond line',
      reference: 'user-42',
      recipient_id: 'rcp_0123456789abcdef',
      tax_reference: '500100732259',
      receipt_id: 'rcpt-1',
      receipt_link: 'https://receipts.example/1?a=1,b=2',
      created_at: '2026-11-26T10:00:00.000Z',
      finished_at: '2026-11-26T10:05:00.000Z',
      bank_finished_at: '2026-11-26T10:04:59.000Z',
      returned_amount: null,
      returned_at: null,
      returned_reason: null,
      error_code: null,
    });
    expect(Object.keys(rowOf(toRecord(stored())))).toEqual([...EXPORT_COLUMNS]);
  });

  it('a returned payout says how much came back, when and why; a failed one its code; unknowns are null', () => {
    const returned = rowOf(
      toRecord(
        stored({
          state: 'returned',
          returned_amount: '150050',
          returned_at: '2026-11-28T09:00:00.000Z',
          returned_reason: 'account closed',
          refund_id: 'rf_1',
        }),
      ),
    );
    expect(returned).toMatchObject({
      status: 'returned',
      returned_amount: 150_050,
      returned_at: '2026-11-28T09:00:00.000Z',
      returned_reason: 'account closed',
    });
    const bare = {
      state: 'failed',
      error_code: 'declined_by_issuer_bank',
      fee_amount: '',
      bank_payout_id: '',
      card_last4: '',
      receipt_id: '',
      receipt_link: '',
      tax_reference: '',
      recipient_id: '',
      customer_reference: '',
      bank_finished_at: '',
    };
    const failed = rowOf(toRecord(stored(bare, { customer: undefined, metadata: undefined })));
    expect(failed).toMatchObject({
      status: 'failed',
      error_code: 'declined_by_issuer_bank',
      fee: null,
      bank_payout_id: null,
      card_last4: null,
      metadata: null,
      reference: null,
      receipt_id: null,
      receipt_link: null,
      bank_finished_at: null,
    });
  });

  it('never carries card hashes, names or contacts', () => {
    for (const format of ['csv', 'jsonl'] as const) {
      const text = headerOf(format) + formatRows([rowOf(toRecord(stored()))], format);
      for (const secret of ['secret-hash', 'secret-exp', 'Ivanov', 'ivan@example.com', '+7999']) expect(text).not.toContain(secret);
    }
  });

  it('amount_rub is exact, in whole kopecks', () => {
    expect([1, 10, 99, 100, 101, 10_000, 150_050, 100_000_000_00, 30].map(amountRub)).toEqual([
      '0.01',
      '0.10',
      '0.99',
      '1.00',
      '1.01',
      '100.00',
      '1500.50',
      '100000000.00',
      '0.30',
    ]);
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes a field holding a comma, a quote, CR or LF, doubling quotes; leaves others bare; null is empty', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\rhere')).toBe('"cr\rhere"');
    expect(csvCell(' spaced ')).toBe(' spaced ');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(0)).toBe('0');
    expect(csvLine(['a', 1, null, 'x,y'])).toBe('a,1,,"x,y"\r\n');
  });

  it('a header row, CRLF line ends, and a parser reads every value back exactly', () => {
    const rows = [rowOf(toRecord(stored())), rowOf(toRecord(stored({ id: 'acme~order-8' }, { id: 'order-8', metadata: '"' })))];
    const text = headerOf('csv') + formatRows(rows, 'csv');
    expect(text.startsWith(`${EXPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    const back = parse(text, { columns: true }) as Array<Record<string, string>>;
    expect(back).toHaveLength(2);
    expect(back[0]).toMatchObject({ id: 'order-7', metadata: 'invoice 7, "June"\nsecond line', amount: '150050', returned_amount: '' });
    expect(back[0]!.receipt_link).toBe('https://receipts.example/1?a=1,b=2');
    expect(back[1]).toMatchObject({ id: 'order-8', metadata: '"' });
  });
});

describe('JSON lines', () => {
  it('one object per line with the same fields, numbers as numbers and null for unknown; no header', () => {
    const text = headerOf('jsonl') + formatRows([rowOf(toRecord(stored())), rowOf(toRecord(stored({ fee_amount: '' })))], 'jsonl');
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const [first, second] = lines.slice(0, 2).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(first!)).toEqual([...EXPORT_COLUMNS]);
    expect(first).toMatchObject({ amount: 150_050, fee: 1500, metadata: 'invoice 7, "June"\nsecond line' });
    expect(second!.fee).toBeNull();
  });
});

describe('options', () => {
  it('--status takes states separated by commas, each once; an unknown one is refused naming the states', () => {
    expect(stateList('succeeded,returned')).toEqual(['succeeded', 'returned']);
    expect(stateList(' failed , failed ')).toEqual(['failed']);
    expect(() => stateList('succeeded,paid')).toThrow(/^must be states separated by commas, among awaiting_card, queued/);
    expect(() => stateList(',')).toThrow(/must be states/);
  });

  it('--format by --out extension unless given', () => {
    expect(formatFor(undefined, undefined)).toBe('csv');
    expect(formatFor(undefined, 'x.csv')).toBe('csv');
    expect(formatFor(undefined, 'x.JSONL')).toBe('jsonl');
    expect(formatFor(undefined, 'x.ndjson')).toBe('jsonl');
    expect(formatFor('csv', 'x.jsonl')).toBe('csv');
  });
});

describe('writing with backpressure', () => {
  it('waits for a slow output to drain before the next write, so at most one buffer is held', async () => {
    let held = 0;
    let most = 0;
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _enc, done) {
        held += chunk.length;
        most = Math.max(most, held);
        setTimeout(() => {
          held -= chunk.length;
          done();
        }, 1);
      },
    });
    const piece = 'x'.repeat(100);
    for (let i = 0; i < 50; i++) {
      await writeDrained(slow, piece);
      // after each awaited write the stream's own buffer is under its mark again or holds only this piece
      expect(slow.writableLength).toBeLessThanOrEqual(piece.length);
    }
    expect(most).toBeLessThanOrEqual(piece.length);
  });

  it('a failing output rejects the wait instead of hanging', async () => {
    const broken = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, done) {
        setTimeout(() => done(new Error('ENOSPC: no space left on device')), 1);
      },
    });
    broken.on('error', () => undefined);
    await expect(writeDrained(broken, 'abc')).rejects.toThrow('ENOSPC');
  });
});
