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

/** What a numeric retry option must be. */
interface NumberRule {
  readonly whole?: boolean;
  readonly min: number;
  /** How the message shows `min`, when it comes from another field. Default: the number. */
  readonly minText?: string;
  readonly max?: number;
}

function ruleText(rule: NumberRule): string {
  const kind = rule.whole === true ? 'a whole number' : 'a number';
  const min = rule.minText ?? String(rule.min);
  return rule.max === undefined ? `${kind} of ${min} or more` : `${kind} from ${min} to ${rule.max}`;
}

function shown(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * Why `value`, the option `field`, breaks `rule`, in words that name the field and what is wrong
 * with it (missing, not a number, NaN, infinite, a fraction, out of range); undefined if it is right.
 */
function numberFault(field: string, value: unknown, rule: NumberRule): string | undefined {
  const must = `retry ${field} must be ${ruleText(rule)}`;
  if (value === undefined) return `retry ${field} is missing: it must be ${ruleText(rule)}`;
  if (typeof value !== 'number') return `${must}, got ${shown(value)}`;
  if (Number.isNaN(value)) return `${must}, got NaN`;
  if (!Number.isFinite(value)) return `${must}, got ${value} (it must be finite)`;
  if (rule.whole === true && !Number.isInteger(value)) return `${must}, got the fraction ${value}`;
  if (value < rule.min || (rule.max !== undefined && value > rule.max)) return `${must}, got ${value}`;
  return undefined;
}

/** Throws a `ConfigurationError` with every fault found, one per field, if there is any. */
function throwFaults(faults: readonly (string | undefined)[]): void {
  const found = faults.filter((fault) => fault !== undefined);
  if (found.length > 0) throw new ConfigurationError(found.join('; '));
}

/** Builds a policy; `random` is injectable for tests. Each fault of `options` names the field that is wrong. */
export function retryPolicy(options: RetryOptions = defaultRetryOptions, random: () => number = Math.random): RetryPolicy {
  if (options === null || typeof options !== 'object')
    throw new ConfigurationError(`retry must be an object such as { immediate: 1, delayed: false }, got ${shown(options)}`);
  checkKnownKeys('retry', options, { immediate: true, delayed: true });
  const immediate = options.immediate ?? 1;
  const delayed = options.delayed === undefined ? defaultRetryOptions.delayed : options.delayed;
  const delayedFault =
    delayed === false || (delayed !== null && typeof delayed === 'object')
      ? undefined
      : `retry delayed must be an object or false, got ${shown(delayed)}`;
  throwFaults([numberFault('immediate', immediate, { whole: true, min: 0 }), delayedFault]);
  if (delayed === false || delayed === undefined) return { immediate, delayedAttempts: 0, delayFor: () => 0 };
  checkKnownKeys('retry delayed', delayed, { attempts: true, initialMs: true, factor: true, maxMs: true, jitter: true });
  const attempts = delayed.attempts;
  const initialMs = delayed.initialMs;
  const factor = delayed.factor ?? 2;
  const maxMs = delayed.maxMs ?? 60 * 60 * 1000;
  const jitter = delayed.jitter ?? 0.2;
  const initialFault = numberFault('delayed.initialMs', initialMs, { whole: true, min: 0 });
  throwFaults([
    numberFault('delayed.attempts', attempts, { whole: true, min: 0 }),
    initialFault,
    numberFault('delayed.factor', factor, { min: 1 }),
    numberFault('delayed.maxMs', maxMs, initialFault === undefined ? { min: initialMs, minText: `initialMs (${initialMs})` } : { min: 0 }),
    numberFault('delayed.jitter', jitter, { min: 0, max: 1 }),
  ]);
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
