import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { retryPolicy, type RetryOptions } from './retry-policy.js';
import { createBus } from '../bus/bus.js';

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

  it('names the field that is wrong: initialMs NaN without attempts says both, not only that attempts is missing', () => {
    const message = messageOf(() => retryPolicy(untyped({ delayed: { initialMs: NaN } })));
    expect(message).toContain('retry delayed.initialMs must be a whole number of 0 or more, got NaN');
    expect(message).toContain('retry delayed.attempts is missing');
    expect(messageOf(() => retryPolicy({ delayed: { attempts: 3, initialMs: NaN } }))).toBe(
      'retry delayed.initialMs must be a whole number of 0 or more, got NaN',
    );
  });

  it.each([
    ['immediate', { immediate: NaN }, 'retry immediate must be a whole number of 0 or more, got NaN'],
    ['immediate', { immediate: -1 }, 'retry immediate must be a whole number of 0 or more, got -1'],
    ['immediate', { immediate: Infinity }, 'retry immediate must be a whole number of 0 or more, got Infinity (it must be finite)'],
    ['immediate', { immediate: '2' }, 'retry immediate must be a whole number of 0 or more, got the string "2"'],
    ['attempts', { delayed: { attempts: NaN, initialMs: 10 } }, 'retry delayed.attempts must be a whole number of 0 or more, got NaN'],
    ['attempts', { delayed: { attempts: -2, initialMs: 10 } }, 'retry delayed.attempts must be a whole number of 0 or more, got -2'],
    [
      'attempts',
      { delayed: { attempts: Infinity, initialMs: 10 } },
      'retry delayed.attempts must be a whole number of 0 or more, got Infinity (it must be finite)',
    ],
    [
      'attempts',
      { delayed: { attempts: 1.5, initialMs: 10 } },
      'retry delayed.attempts must be a whole number of 0 or more, got the fraction 1.5',
    ],
    [
      'attempts',
      { delayed: { attempts: '3', initialMs: 10 } },
      'retry delayed.attempts must be a whole number of 0 or more, got the string "3"',
    ],
    ['initialMs', { delayed: { attempts: 1, initialMs: -5 } }, 'retry delayed.initialMs must be a whole number of 0 or more, got -5'],
    [
      'initialMs',
      { delayed: { attempts: 1, initialMs: Infinity } },
      'retry delayed.initialMs must be a whole number of 0 or more, got Infinity (it must be finite)',
    ],
    ['initialMs', { delayed: { attempts: 1, initialMs: null } }, 'retry delayed.initialMs must be a whole number of 0 or more, got null'],
    ['factor', { delayed: { attempts: 1, initialMs: 10, factor: NaN } }, 'retry delayed.factor must be a number of 1 or more, got NaN'],
    ['factor', { delayed: { attempts: 1, initialMs: 10, factor: -2 } }, 'retry delayed.factor must be a number of 1 or more, got -2'],
    [
      'factor',
      { delayed: { attempts: 1, initialMs: 10, factor: Infinity } },
      'retry delayed.factor must be a number of 1 or more, got Infinity (it must be finite)',
    ],
    [
      'factor',
      { delayed: { attempts: 1, initialMs: 10, factor: {} } },
      'retry delayed.factor must be a number of 1 or more, got an object',
    ],
    [
      'maxMs',
      { delayed: { attempts: 1, initialMs: 10, maxMs: NaN } },
      'retry delayed.maxMs must be a number of initialMs (10) or more, got NaN',
    ],
    [
      'maxMs',
      { delayed: { attempts: 1, initialMs: 10, maxMs: -1 } },
      'retry delayed.maxMs must be a number of initialMs (10) or more, got -1',
    ],
    [
      'maxMs',
      { delayed: { attempts: 1, initialMs: 10, maxMs: Infinity } },
      'retry delayed.maxMs must be a number of initialMs (10) or more, got Infinity (it must be finite)',
    ],
    [
      'maxMs',
      { delayed: { attempts: 1, initialMs: 10, maxMs: true } },
      'retry delayed.maxMs must be a number of initialMs (10) or more, got true',
    ],
    ['jitter', { delayed: { attempts: 1, initialMs: 10, jitter: NaN } }, 'retry delayed.jitter must be a number from 0 to 1, got NaN'],
    ['jitter', { delayed: { attempts: 1, initialMs: 10, jitter: -0.1 } }, 'retry delayed.jitter must be a number from 0 to 1, got -0.1'],
    [
      'jitter',
      { delayed: { attempts: 1, initialMs: 10, jitter: Infinity } },
      'retry delayed.jitter must be a number from 0 to 1, got Infinity (it must be finite)',
    ],
    [
      'jitter',
      { delayed: { attempts: 1, initialMs: 10, jitter: '0.2' } },
      'retry delayed.jitter must be a number from 0 to 1, got the string "0.2"',
    ],
  ])('a bad %s is named: %j', (_field, options, expected) => {
    expect(messageOf(() => retryPolicy(untyped(options)))).toBe(expected);
  });

  it('refuses a retry option that is not an object, and a delayed part that is neither an object nor false', () => {
    expect(messageOf(() => retryPolicy(untyped(3)))).toBe('retry must be an object such as { immediate: 1, delayed: false }, got 3');
    expect(messageOf(() => retryPolicy(untyped({ delayed: true })))).toBe('retry delayed must be an object or false, got true');
    expect(messageOf(() => retryPolicy(untyped({ delayed: null })))).toBe('retry delayed must be an object or false, got null');
  });

  it('createBus names the field too', () => {
    expect(() => createBus({ service: 'shop', transport: 'memory://', retry: untyped({ delayed: { initialMs: NaN } }) })).toThrow(
      /retry delayed\.initialMs must be a whole number of 0 or more, got NaN/,
    );
  });
});

/** Options as untyped JavaScript hands them over. */
function untyped(options: unknown): RetryOptions {
  return options as RetryOptions;
}

function messageOf(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}
