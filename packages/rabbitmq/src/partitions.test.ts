import { describe, expect, it } from 'vitest';
import { PARTITIONS, partitionLock, partitionOf, partitionQueue } from './partitions.js';

describe('partitions', () => {
  it('puts a key in the same partition every time, and spreads keys over all partitions', () => {
    expect(partitionOf('order-42')).toBe(partitionOf('order-42'));
    const used = new Set(Array.from({ length: 1000 }, (_, i) => partitionOf(`key-${i}`)));
    expect([...used].every((p) => Number.isInteger(p) && p >= 0 && p < PARTITIONS)).toBe(true);
    expect(used.size).toBe(PARTITIONS);
  });

  it('hashes the UTF-8 bytes of the key (FNV-1a), so every process and language agrees', () => {
    // FNV-1a 32-bit of "a" is 0xe40c292c; of "" the offset basis 0x811c9dc5.
    expect(partitionOf('a')).toBe(0xe40c292c % PARTITIONS);
    expect(partitionOf('')).toBe(0x811c9dc5 % PARTITIONS);
    expect(partitionOf('ü')).not.toBe(partitionOf('u'));
  });

  it('names partition queues and their locks', () => {
    expect(partitionQueue('billing', 3)).toBe('billing.partition-3');
    expect(partitionLock('billing', 3)).toBe('billing.partition-3.owner');
  });
});
