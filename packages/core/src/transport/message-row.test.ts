import { describe, expect, it } from 'vitest';
import { readMessageRow, rowToMessage } from './message-row.js';

describe('rowToMessage', () => {
  it('views the bytes without copying, parses JSON headers, and maps a null key to undefined', () => {
    const pool = Buffer.from('xxhelloyy');
    const body = pool.subarray(2, 7);
    const message = rowToMessage({ id: 'm', type: 't', body, headers: '{"missive-attempts":"2"}', partition_key: null });
    expect(message).toEqual({
      id: 'm',
      type: 't',
      body: new Uint8Array(Buffer.from('hello')),
      headers: { 'missive-attempts': '2' },
      partitionKey: undefined,
    });
    expect(Buffer.isBuffer(message.body)).toBe(false);
    pool[2] = 'H'.charCodeAt(0);
    expect(message.body[0]).toBe('H'.charCodeAt(0));
  });

  it('takes headers already parsed (a jsonb column) and keeps a partition key', () => {
    const message = rowToMessage({ id: 'm', type: 't', body: new Uint8Array(0), headers: { a: 'b' }, partition_key: 'k' });
    expect(message.headers).toEqual({ a: 'b' });
    expect(message.partitionKey).toBe('k');
  });

  it('never throws on a row Missive did not write: empty headers, and the reason for Delivery.unreadable', () => {
    const base = { id: 'm', type: 't', body: Buffer.from('x'), partition_key: null };
    const cases: [unknown, RegExp][] = [
      ['null', /not a JSON object \("null"\)/],
      ['{not json', /not JSON/],
      ['[1]', /not a JSON object/],
      ['{"missive-attempts":3}', /header "missive-attempts" is not a string/],
      [null, /not a JSON object \(null\)/],
    ];
    for (const [headers, reason] of cases) {
      const read = readMessageRow({ ...base, headers: headers as string });
      expect(read.message.headers).toEqual({});
      expect(read.unreadable).toMatch(reason);
      expect(() => rowToMessage({ ...base, headers: headers as string })).not.toThrow();
    }
    expect(readMessageRow({ ...base, body: null as unknown as Uint8Array, headers: '{}' }).unreadable).toMatch(/body is not bytes/);
    expect(readMessageRow({ ...base, headers: '{"a":"b"}' })).toEqual({
      message: { id: 'm', type: 't', body: new Uint8Array(Buffer.from('x')), headers: { a: 'b' }, partitionKey: undefined },
    });
  });
});
