import { describe, expect, it } from 'vitest';
import { saturation } from '../src/saturation.js';

describe('saturation', () => {
  it('a backlog that keeps growing while orders are placed is saturation; a steady one is not', () => {
    expect(saturation([40, 95, 150, 200], 50)).toEqual({ saturated: true, from: 40, to: 200, seconds: 3 });
    expect(saturation([12, 15, 14, 16], 50).saturated).toBe(false);
    // A brief bump that is worked off is not saturation.
    expect(saturation([10, 80, 120, 30], 50).saturated).toBe(false);
    expect(saturation([], 50).saturated).toBe(false);
  });
});
