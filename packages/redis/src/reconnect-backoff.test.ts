import { describe, expect, it } from 'vitest';
import { defaultReconnectBackoff, reconnectDelay } from './reconnect-backoff.js';

describe('reconnect backoff', () => {
  it('doubles from the first wait up to the cap', () => {
    const highest = (attempt: number) => reconnectDelay(attempt, defaultReconnectBackoff, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map(highest)).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
  });

  it('never waits less than half the ceiling (no tight loop)', () => {
    const lowest = (attempt: number) => reconnectDelay(attempt, defaultReconnectBackoff, () => 0);
    expect([1, 2, 3, 7, 50].map(lowest)).toEqual([25, 50, 100, 1000, 1000]);
  });

  it('spreads the waits of processes that lost Redis together (jitter)', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const waits = Array.from({ length: 200 }, () => reconnectDelay(10, defaultReconnectBackoff, random));
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2000);
    expect(new Set(waits).size).toBeGreaterThan(100); // not one instant for all
    expect(Math.max(...waits) - Math.min(...waits)).toBeGreaterThan(800);
  });

  it('takes other bounds', () => {
    expect(reconnectDelay(3, { firstMs: 10, capMs: 30 }, () => 0.999_999)).toBe(30);
    expect(reconnectDelay(0, { firstMs: 10, capMs: 30 }, () => 0)).toBe(5);
  });
});
