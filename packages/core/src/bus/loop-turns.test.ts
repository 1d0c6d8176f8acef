import { describe, expect, it } from 'vitest';
import { LoopTurns } from './loop-turns.js';

describe('LoopTurns', () => {
  it('lets every caller that finds a turn due wait for the same turn', async () => {
    const turns = new LoopTurns(0);
    expect(turns.due()).toBeUndefined(); // starts counting
    const first = turns.due();
    const second = turns.due();
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first);
    await first;
    expect(turns.due()).toBeUndefined(); // the loop turned: counting starts again
  });
});
