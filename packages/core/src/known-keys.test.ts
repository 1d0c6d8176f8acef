import { describe, expect, it } from 'vitest';
import { ConfigurationError } from './errors.js';
import { checkKnownKeys } from './known-keys.js';

interface Options {
  readonly prefetch?: number;
  readonly concurrency?: number;
}
const KNOWN = { prefetch: true, concurrency: true } as const;

describe('checkKnownKeys', () => {
  it('refuses an unknown key, naming it, its owner and the known keys', () => {
    const options = { prefetchh: 10 } as Options;
    expect(() => checkKnownKeys('endpoint payment', options, KNOWN)).toThrow(ConfigurationError);
    expect(() => checkKnownKeys('endpoint payment', options, KNOWN)).toThrow(
      'unknown endpoint payment option "prefetchh"; known: prefetch, concurrency',
    );
  });

  it('refuses an unknown key even when its value is undefined', () => {
    expect(() => checkKnownKeys('endpoint payment', { concurency: undefined } as Options, KNOWN)).toThrow(/"concurency"/);
  });

  it('accepts known keys, an empty object, and leaves non-objects to their reader', () => {
    expect(() => checkKnownKeys('endpoint payment', { prefetch: 1, concurrency: undefined }, KNOWN)).not.toThrow();
    expect(() => checkKnownKeys('endpoint payment', {}, KNOWN)).not.toThrow();
    expect(() => checkKnownKeys('endpoint payment', undefined, KNOWN)).not.toThrow();
    expect(() => checkKnownKeys('endpoint payment', null as unknown as Options, KNOWN)).not.toThrow();
  });

  it('does not take keys of Object.prototype for known ones', () => {
    expect(() => checkKnownKeys('endpoint payment', { toString: 1 } as unknown as Options, KNOWN)).toThrow(/"toString"/);
  });

  it('makes the compiler refuse a list that misses a key of the type', () => {
    const options: Options = {};
    // @ts-expect-error: concurrency is missing from the list
    checkKnownKeys('endpoint payment', options, { prefetch: true });
  });
});
