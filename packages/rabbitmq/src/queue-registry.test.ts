import { describe, expect, it } from 'vitest';
import { deletionRecord, parseRecord, registryRecord, typesRecord } from './queue-registry.js';

describe('queue registry records', () => {
  it('round-trips a queue and skips what is not a record', () => {
    expect(parseRecord(registryRecord({ name: 'billing', topics: ['shop.#'], ordered: true }))).toEqual({
      name: 'billing',
      topics: ['shop.#'],
      ordered: true,
    });
    expect(parseRecord(registryRecord({ name: 'audit', topics: [] }))).toEqual({ name: 'audit', topics: [], ordered: false });
    expect(parseRecord(deletionRecord('billing'))).toEqual({ name: 'billing', deleted: true });
    expect(parseRecord(typesRecord(['shop.order-placed']))).toEqual({ types: ['shop.order-placed'] });
    expect(parseRecord(Buffer.from('{"types":[1]}'))).toBeUndefined();
    expect(parseRecord(Buffer.from('{"marker":"m-1"}'))).toEqual({ marker: 'm-1' });
    for (const junk of ['', 'null', '{"name":3,"topics":[]}', '{"name":"x","topics":[1]}', '{"name":"x"}', '{'])
      expect(parseRecord(Buffer.from(junk))).toBeUndefined();
  });
});
