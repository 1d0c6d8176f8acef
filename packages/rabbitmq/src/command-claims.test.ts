import { describe, expect, it } from 'vitest';
import { ClaimBook, claimRecord, type ClaimRecord } from './command-claims.js';
import { parseRecord } from './queue-registry.js';

const claim = (id: string, queue: string, types: string[], takeOver = false): ClaimRecord => ({
  claim: id,
  queue,
  service: `svc-${queue}`,
  types,
  takeOver,
  at: 1000,
});

describe('command claims in stream order', () => {
  it('round-trips through the registry parser', () => {
    const record = claim('c-1', 'payment', ['shop.charge-card'], true);
    expect(parseRecord(claimRecord(record))).toEqual({ claimed: record });
    expect(parseRecord(Buffer.from('{"claim":"c-2","queue":"x","types":[1]}'))).toBeUndefined();
  });

  it('the first claim of a type wins; a later claim by another queue is refused whole; the same queue again is no conflict', () => {
    const book = new ClaimBook();
    for (const id of ['a', 'b', 'c']) book.expect(id);
    book.apply(claim('a', 'alpha', ['do-thing']));
    book.apply(claim('b', 'gamma', ['other', 'do-thing']));
    book.apply(claim('c', 'alpha', ['do-thing']));
    expect(book.outcome('a')).toEqual({ moved: [] });
    expect(book.outcome('b')).toEqual({
      refused: { type: 'do-thing', owner: { type: 'do-thing', queue: 'alpha', service: 'svc-alpha', since: 1000 } },
    });
    expect(book.outcome('c')).toEqual({ moved: [] });
    expect(book.ownerOf('other')).toBeUndefined(); // all or nothing
    expect(book.list().map((o) => [o.type, o.queue])).toEqual([['do-thing', 'alpha']]);
  });

  it('a take-over moves the type; a deletion releases it; unexpected outcomes are not kept', () => {
    const book = new ClaimBook();
    book.apply(claim('a', 'alpha', ['do-thing']));
    book.expect('t');
    book.apply(claim('t', 'beta', ['do-thing'], true));
    expect(book.outcome('t')).toEqual({ moved: [{ type: 'do-thing', from: 'alpha' }] });
    expect(book.outcome('a')).toBeUndefined();
    expect(book.lostBy('alpha', 'do-thing')).toBe(true);
    expect(book.lostBy('beta', 'do-thing')).toBe(false);
    book.release('beta');
    expect(book.ownerOf('do-thing')).toBeUndefined();
  });
});
