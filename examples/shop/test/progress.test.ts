/** The shop's progress line fits the terminal, so rewriting it with `\r` never stacks rows. */
import { describe, expect, it } from 'vitest';
import { progressLine } from '../src/progress.js';

const busy = { placed: 200, orders: 200, confirmed: 180, cancelled: 20, inFlight: 0, retries: 1234, deadLetters: 12, killed: 'payment#1' };

describe('progressLine', () => {
  it('uses the full wording on a wide terminal', () => {
    expect(progressLine(busy, 200)).toBe(
      'placed 200/200 · confirmed 180 · cancelled 20 · in flight 0 · retries 1234 · dead letters 12 · killed payment#1',
    );
  });

  it('fits every width, shortest wording last, keeping the numbers while it can', () => {
    for (const columns of [120, 100, 80, 72, 60, 50, 40, 20, 5, 1]) {
      const line = progressLine(busy, columns);
      expect(line.length, `${columns} columns`).toBeLessThanOrEqual(Math.max(1, columns - 1));
    }
    const calm = { ...busy, killed: undefined };
    expect(progressLine(calm, 80)).toBe('200/200 placed · 180 ok · 20 cancelled · 0 in flight · 1234 retries · 12 dead');
    expect(progressLine(calm, undefined)).toBe(progressLine(calm, 80));
    expect(progressLine(busy, 80)).toBe('200/200 ok 180 cancel 20 fly 0 retry 1234 dead 12 killed');
  });
});
