import { describe, expect, it } from 'vitest';
import { rowToMessage } from './message-row.js';

describe('rowToMessage', () => {
  it('views the bytes without copying, parses JSON headers, and maps a null key to undefined', () => {
    const pool = Buffer.from('xxhelloyy');
    const body = pool.subarray(2, 7);
    const message = rowToMessage({ id: 'm', type: 't', body, headers: '{"missive-attempts":"2"}', partition_key: null });
    expect(message).toEqual({ id: 'm', type: 't', body: new Uint8Array(Buffer.from('hello')), headers: { 'missive-attempts': '2' }, partitionKey: undefined });
    expect(Buffer.isBuffer(message.body)).toBe(false);
    pool[2] = 'H'.charCodeAt(0);
    expect(message.body[0]).toBe('H'.charCodeAt(0));
  });

  it('takes headers already parsed (a jsonb column) and keeps a partition key', () => {
    const message = rowToMessage({ id: 'm', type: 't', body: new Uint8Array(0), headers: { a: 'b' }, partition_key: 'k' });
    expect(message.headers).toEqual({ a: 'b' });
    expect(message.partitionKey).toBe('k');
  });
});
