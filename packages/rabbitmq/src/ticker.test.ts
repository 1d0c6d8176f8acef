import { describe, expect, it } from 'vitest';
import { Ticker } from './ticker.js';

describe('Ticker', () => {
  it('runs one at a time: a kick during a run makes exactly one more run after it', async () => {
    let runs = 0;
    let release!: () => void;
    const ticker = new Ticker(
      async () => {
        runs++;
        if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      60_000,
      0,
      () => undefined,
    );
    ticker.kick();
    ticker.kick();
    ticker.kick();
    expect(runs).toBe(1);
    let second!: () => void;
    const ran = new Promise<void>((resolve) => (second = resolve));
    const check = setInterval(() => runs === 2 && second(), 1);
    release();
    await ran;
    clearInterval(check);
    ticker.stop();
    ticker.kick();
    expect(runs).toBe(2);
  });
});
