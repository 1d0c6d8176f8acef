import { describe, expect, it } from 'vitest';
import { readStoredHeaders } from './stored-headers.js';

describe('readStoredHeaders', () => {
  it('reads JSON text, its bytes and an object alike', () => {
    const expected = { headers: { 'missive-attempts': '2' } };
    expect(readStoredHeaders('{"missive-attempts":"2"}', 'row')).toEqual(expected);
    expect(readStoredHeaders(Buffer.from('{"missive-attempts":"2"}'), 'entry')).toEqual(expected);
    expect(readStoredHeaders({ 'missive-attempts': '2' }, 'row')).toEqual(expected);
    expect(readStoredHeaders(new TextEncoder().encode('{}'), 'entry')).toEqual({ headers: {} });
  });

  it('never throws: what is not a JSON object of strings reads as no headers, with the reason naming the record', () => {
    const cases: [unknown, RegExp][] = [
      ['{"a":', /^the entry's headers are not JSON/],
      [Buffer.from('[1,2]'), /^the entry's headers are not a JSON object \("\[1,2\]"\)$/],
      ['null', /^the entry's headers are not a JSON object \("null"\)$/],
      [42, /^the entry's headers are not a JSON object \(number\)$/],
      [null, /^the entry's headers are not a JSON object \(null\)$/],
      ['{"missive-attempts":{"a":1}}', /^the entry's header "missive-attempts" is not a string$/],
    ];
    for (const [value, reason] of cases) {
      const read = readStoredHeaders(value, 'entry');
      expect(read.headers).toEqual({});
      expect(read.unreadable).toMatch(reason);
    }
  });
});
