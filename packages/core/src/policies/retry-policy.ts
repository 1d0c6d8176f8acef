/**
 * Retry policies: immediate retries in the same delivery, then delayed redeliveries with
 * exponential backoff, a cap and jitter, then the dead-letter queue. Options are checked when
 * the policy is built.
 *
 * @example
 * ```ts
 * const policy = retryPolicy({ immediate: 2, delayed: { attempts: 3, initialMs: 1000, factor: 4, jitter: 0.2 } });
 * policy.delayFor(1); // about 1000 ms (±20%)
 * ```
 * @module
 */
import { ConfigurationError } from '../errors.js';
import { checkKnownKeys } from '../known-keys.js';

/** Delayed redelivery settings. */
export interface DelayedRetryOptions {
  /** How many delayed redeliveries before the dead-letter queue. */
  readonly attempts: number;
  /** Delay before the first redelivery, ms. */
  readonly initialMs: number;
  /** Growth per redelivery. Default 2. */
  readonly factor?: number;
  /** The largest delay, ms. Default 1 hour. */
  readonly maxMs?: number;
  /** Fraction of each delay that is randomised, 0..1: 0.2 means ±20%. Default 0.2. */
  readonly jitter?: number;
}

/** How a failing message is retried. */
export interface RetryOptions {
  /** Handler re-runs inside the same delivery, at once. Default 1. */
  readonly immediate?: number;
  /** Delayed redeliveries, or `false` for none. */
  readonly delayed?: DelayedRetryOptions | false;
}

/** A checked retry policy. */
export interface RetryPolicy {
  readonly immediate: number;
  readonly delayedAttempts: number;
  /** Delay before delayed redelivery number `n` (1-based). */
  delayFor(n: number): number;
}

/** The default: one immediate retry, then 3 delayed redeliveries after ~1 s, ~5 s, ~25 s. */
export const defaultRetryOptions: RetryOptions = Object.freeze({
  immediate: 1,
  delayed: Object.freeze({ attempts: 3, initialMs: 1000, factor: 5, maxMs: 60 * 60 * 1000, jitter: 0.2 }),
});

function nonNegativeInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`retry ${what} must be a whole number of 0 or more, got ${String(value)}`);
  }
  return value;
}

/** Builds a policy; `random` is injectable for tests. */
export function retryPolicy(options: RetryOptions = defaultRetryOptions, random: () => number = Math.random): RetryPolicy {
  checkKnownKeys('retry', options, { immediate: true, delayed: true });
  const immediate = nonNegativeInt(options.immediate ?? 1, 'immediate');
  const delayed = options.delayed === undefined ? defaultRetryOptions.delayed : options.delayed;
  if (delayed === false) return { immediate, delayedAttempts: 0, delayFor: () => 0 };
  if (delayed === null || typeof delayed !== 'object') throw new ConfigurationError('retry delayed must be an object or false');
  checkKnownKeys('retry delayed', delayed, { attempts: true, initialMs: true, factor: true, maxMs: true, jitter: true });
  const attempts = nonNegativeInt(delayed.attempts, 'delayed.attempts');
  const initialMs = nonNegativeInt(delayed.initialMs, 'delayed.initialMs');
  const factor = delayed.factor ?? 2;
  const maxMs = delayed.maxMs ?? 60 * 60 * 1000;
  const jitter = delayed.jitter ?? 0.2;
  if (typeof factor !== 'number' || !(factor >= 1))
    throw new ConfigurationError(`retry delayed.factor must be 1 or more, got ${String(factor)}`);
  if (typeof maxMs !== 'number' || !(maxMs >= initialMs))
    throw new ConfigurationError(`retry delayed.maxMs must be at least initialMs (${initialMs}), got ${String(maxMs)}`);
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw new ConfigurationError(`retry delayed.jitter must be between 0 and 1, got ${String(jitter)}`);
  return {
    immediate,
    delayedAttempts: attempts,
    delayFor(n) {
      const base = Math.min(maxMs, initialMs * factor ** Math.max(0, n - 1));
      const spread = base * jitter * (2 * random() - 1);
      return Math.max(0, Math.round(base + spread));
    },
  };
}
