import { describe, expect, it } from 'vitest';
import { Latch } from './latch.js';

describe('Latch', () => {
  it('settles once: the first of open and fail wins', async () => {
    const opened = new Latch();
    opened.open();
    opened.fail(new Error('late'));
    await expect(opened.promise).resolves.toBeUndefined();
    expect(opened.settled).toBe(true);

    const failed = new Latch();
    failed.fail(new Error('no queue'));
    failed.open();
    await expect(failed.promise).rejects.toThrow('no queue');
  });

  it('is pending until settled', async () => {
    const latch = new Latch();
    const state = await Promise.race([latch.promise.then(() => 'open'), Promise.resolve('pending')]);
    expect(state).toBe('pending');
    expect(latch.settled).toBe(false);
  });
});
