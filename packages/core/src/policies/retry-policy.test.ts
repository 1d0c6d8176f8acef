import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { retryPolicy } from './retry-policy.js';

describe('retry policy', () => {
  it('grows delays exponentially up to the cap', () => {
    const policy = retryPolicy({ immediate: 2, delayed: { attempts: 5, initialMs: 100, factor: 3, maxMs: 1000, jitter: 0 } });
    expect([1, 2, 3, 4, 5].map((n) => policy.delayFor(n))).toEqual([100, 300, 900, 1000, 1000]);
    expect(policy.immediate).toBe(2);
    expect(policy.delayedAttempts).toBe(5);
  });

  it('spreads delays by the jitter fraction', () => {
    const low = retryPolicy({ delayed: { attempts: 1, initialMs: 1000, jitter: 0.2 } }, () => 0);
    const high = retryPolicy({ delayed: { attempts: 1, initialMs: 1000, jitter: 0.2 } }, () => 1);
    expect(low.delayFor(1)).toBe(800);
    expect(high.delayFor(1)).toBe(1200);
  });

  it('turns off delayed retries with false, and checks its options', () => {
    expect(retryPolicy({ immediate: 0, delayed: false }).delayedAttempts).toBe(0);
    expect(() => retryPolicy({ immediate: -1 })).toThrow(ConfigurationError);
    expect(() => retryPolicy({ delayed: { attempts: 1, initialMs: 10, jitter: 2 } })).toThrow(/jitter/);
    expect(() => retryPolicy({ delayed: { attempts: 1, initialMs: 10, factor: 0.5 } })).toThrow(/factor/);
    expect(() => retryPolicy({ delayed: { attempts: 1, initialMs: 100, maxMs: 10 } })).toThrow(/maxMs/);
  });
});
