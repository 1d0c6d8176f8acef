import { describe, expect, it } from 'vitest';
import { Timestamps } from './timestamps.js';

describe('Timestamps', () => {
  it('writes what toISOString writes, within a second, across seconds and at the edges', () => {
    const timestamps = new Timestamps();
    const base = Date.UTC(2026, 10, 23, 23, 59, 58, 990);
    const times = [
      0,
      1,
      999,
      1000,
      base,
      base + 5,
      base + 9,
      base + 10,
      base + 99,
      base + 100,
      base + 1009,
      base + 2010,
      base - 1,
      253402300799999,
      253402300800000,
      8.64e15,
    ];
    for (const ms of times) expect(timestamps.format(ms)).toBe(new Date(ms).toISOString());
  });

  it('keeps toISOString for fractional and negative times', () => {
    const timestamps = new Timestamps();
    for (const ms of [1.5, 1999.999, -1, -1000.5]) expect(timestamps.format(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws the same RangeError for an invalid time', () => {
    const timestamps = new Timestamps();
    for (const ms of [Number.NaN, 8.64e15 + 1, Number.POSITIVE_INFINITY]) expect(() => timestamps.format(ms)).toThrow(RangeError);
  });
});
