/**
 * Entries hold a message's id, type and body in one field `m`; entries written before (with `i`,
 * `t` and `b`) read the same.
 */
import { describe, expect, it } from 'vitest';
import { entryFields, readEntry } from './entry.js';

/** The fields as ioredis returns them in buffer mode. */
const asRead = (fields: readonly (string | Buffer)[]) => fields.map((f) => (typeof f === 'string' ? Buffer.from(f) : f));

describe('redis stream entries', () => {
  it('write id, type and body as one field, and read them back (UTF-8, empty body)', () => {
    const message = { id: 'é-1', type: 'shop.💳-charged', body: Buffer.from('{"a":1}'), headers: { h: '1' }, partitionKey: 'k' };
    const fields = entryFields(message);
    expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['m', 'h', 'k']);
    expect(readEntry(asRead(fields)).message).toEqual(message);
    const empty = readEntry(asRead(entryFields({ id: 'x', type: 't', body: new Uint8Array(0), headers: {} }))).message;
    expect(empty).toMatchObject({ id: 'x', type: 't', headers: {} });
    expect(empty.body.byteLength).toBe(0);
  });

  it('read entries written with separate i, t and b fields', () => {
    const read = readEntry(asRead(['i', 'm-1', 't', 'shop.x', 'b', Buffer.from('{}'), 'dc', '2', 'o', '1-0']));
    expect(read.message).toMatchObject({ id: 'm-1', type: 'shop.x', headers: {} });
    expect(Buffer.from(read.message.body).toString()).toBe('{}');
    expect(read).toMatchObject({ priorDeliveries: 2, token: '1-0' });
  });
});
