import { describe, expect, it } from 'vitest';
import { silentLogger } from '@missive/core';
import { AckBatcher } from './pg-acks.js';

describe('AckBatcher', () => {
  it('sends the acks of one turn in one delete and tells each whether its lease held', async () => {
    const calls: string[][] = [];
    const batcher = new AckBatcher(async (seqs) => {
      calls.push(seqs);
      return new Set(seqs.filter((s) => s !== '2'));
    }, silentLogger);
    const results = await Promise.all(['1', '2', '3'].map((seq) => batcher.ack(seq, `t${seq}`)));
    expect(calls).toEqual([['1', '2', '3']]);
    expect(results).toEqual([true, false, true]);
    expect(await batcher.ack('4', 't4')).toBe(true);
    expect(calls.length).toBe(2);
  });

  it('rejects every ack of a batch whose delete failed', async () => {
    const batcher = new AckBatcher(() => Promise.reject(new Error('server gone')), silentLogger);
    const results = await Promise.allSettled([batcher.ack('1', 't'), batcher.ack('2', 't')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
